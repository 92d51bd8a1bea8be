/**
 * Head-similarity thresholds relative to a model's own scale.
 *
 * Algorithm 2 merges heads whose Q/K/V slices are within `theta` in l-infinity, an absolute
 * number, but the l-infinity distance between two heads is set by the largest weights of the
 * model, which differ by model: pretrained all-MiniLM-L6-v2's heads are 0.40-0.90 apart (per layer
 * median 0.48-0.66), the built-in small BERT's 0.20-0.31, so the paper's 0.15-0.25 removes no head
 * of MiniLM, ever. A threshold taken as a quantile of the starting model's pairwise head
 * distances means the same on both: the 0.05-quantile is 0.450 on MiniLM and 0.207 on the
 * built-in model (where the fixed default was 0.2). Merging happens when training (and R_attn)
 * brings heads closer than the closest few pairs of the start.
 */
import type { AttentionBlock } from '../models/blocks';
import { headDistances, type HeadDistanceOptions } from './similarity';

/** The distances `d(a, b)`, `a < b`, between the heads of every block, pooled. */
export function pairwiseHeadDistances(blocks: readonly AttentionBlock[], options: HeadDistanceOptions = {}): number[] {
  const out: number[] = [];
  for (const b of blocks) {
    const d = headDistances(b, options);
    for (let i = 0; i < d.length; i++) for (let j = i + 1; j < d.length; j++) out.push(d[i][j]);
  }
  return out;
}

/** The q-quantile of values with linear interpolation between order statistics (numpy's default). */
export function quantile(values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile: q must be in [0, 1], got ${q}`);
  if (values.length === 0) throw new Error('quantile: no values');
  const s = [...values].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (pos - lo) * (s[hi] - s[lo]);
}

export interface RelativeTheta {
  theta: number;
  quantile: number;
  /** Smallest and largest pairwise distance of the model. */
  min: number;
  max: number;
  pairs: number;
}

/**
 * Theta as the `q`-quantile of the pairwise head distances of `blocks` (all layers pooled).
 * Throws when no block has two heads (there is nothing to compare).
 */
export function relativeTheta(blocks: readonly AttentionBlock[], q: number, options: HeadDistanceOptions = {}): RelativeTheta {
  const d = pairwiseHeadDistances(blocks, options);
  if (d.length === 0) throw new Error('relativeTheta: no layer has two heads to compare');
  return { theta: quantile(d, q), quantile: q, min: Math.min(...d), max: Math.max(...d), pairs: d.length };
}
