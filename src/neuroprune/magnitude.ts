/**
 * Magnitude pruning to an exact sparsity: the standard control of every equal-sparsity comparison
 * (fine-tune, then zero the smallest weights), for any checkpoint.
 *
 * What is prunable is what sparsity is counted over (src/neuroprune/sparsity.ts): the weight
 * matrices of every attention block (Q, K, V, O) and MLP block (in, out); not biases, not
 * LayerNorm, not the embeddings, not the task head. Sparsity is the fraction of the dense model's
 * prunable entries that are exactly zero, heads, neurons and input dimensions already removed
 * counting as zeros.
 *
 * - `global`: one magnitude threshold over all prunable matrices: exactly `round(s * total)` zeros.
 * - `layer`: each layer (its attention and MLP blocks) on its own: exactly `round(s * total_l)`
 *   zeros in layer l, so every layer keeps the same share (the total is then the sum of the
 *   rounded per-layer counts).
 *
 * Ties at the threshold are broken in a fixed order (block order, then row-major), so a run is
 * reproducible. Nothing is un-zeroed: a model that already holds more zeros than the target is refused.
 */
import type { PrunableModel } from '../models/blocks';
import { captureDenseShape, projectToSparsity, type DenseShape, type ProjectionResult } from './sparsity';

export type MagnitudeScope = 'global' | 'layer';
export const MAGNITUDE_SCOPES: readonly MagnitudeScope[] = ['global', 'layer'];

export interface MagnitudePruneOptions {
  /** Target fraction of exact zeros among the dense prunable entries, in [0, 1]. */
  sparsity: number;
  /** One threshold for the whole model (`global`, default) or one per layer (`layer`). */
  scope?: MagnitudeScope;
  /** Dense reference sizes; default: read from the blocks. */
  dense?: DenseShape;
}

export interface MagnitudePruneResult {
  scope: MagnitudeScope;
  /** Entries set to zero by this call. */
  zeroed: number;
  /** Exact zeros (removed entries included) over dense prunable entries, after the call. */
  sparsity: number;
  zeros: number;
  total: number;
  /** Per layer (in `layer` scope; one entry for the whole model in `global` scope): threshold, zeros and total. */
  parts: ({ layer: number | null } & ProjectionResult)[];
}

/** Zeroes the smallest-magnitude prunable weights of `model` to exactly the target sparsity (see the module comment). */
export function magnitudePrune(model: PrunableModel, options: MagnitudePruneOptions): MagnitudePruneResult {
  const scope = options.scope ?? 'global';
  if (!MAGNITUDE_SCOPES.includes(scope)) throw new Error(`magnitudePrune: scope must be one of ${MAGNITUDE_SCOPES.join(', ')}, got ${String(scope)}`);
  const dense = options.dense ?? captureDenseShape(model);
  let parts: MagnitudePruneResult['parts'];
  if (scope === 'global') {
    parts = [{ layer: null, ...projectToSparsity(model, { sparsity: options.sparsity, dense }) }];
  } else {
    const attention = model.attentionBlocks();
    const mlp = model.mlpBlocks();
    const layers = [...new Set([...attention, ...mlp].map((b) => b.layer))].sort((a, b) => a - b);
    parts = layers.map((layer) => {
      // One layer as a model of its own: the projection's exact count then holds per layer.
      const ai = attention.flatMap((b, i) => (b.layer === layer ? [i] : []));
      const mi = mlp.flatMap((b, i) => (b.layer === layer ? [i] : []));
      const view: PrunableModel = { hiddenSize: model.hiddenSize, attentionBlocks: () => ai.map((i) => attention[i]), mlpBlocks: () => mi.map((i) => mlp[i]) };
      const layerDense: DenseShape = { hiddenSize: dense.hiddenSize, attention: ai.map((i) => dense.attention[i]), intermediateSizes: mi.map((i) => dense.intermediateSizes[i]) };
      try {
        return { layer, ...projectToSparsity(view, { sparsity: options.sparsity, dense: layerDense }) };
      } catch (err) {
        throw new Error(`layer ${layer}: ${(err as Error).message}`);
      }
    });
  }
  const zeros = parts.reduce((n, p) => n + p.zeros, 0);
  const total = parts.reduce((n, p) => n + p.total, 0);
  return { scope, zeroed: parts.reduce((n, p) => n + p.zeroed, 0), sparsity: zeros / total, zeros, total, parts };
}
