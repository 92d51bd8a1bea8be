/**
 * Head similarity (Algorithm 2): heads whose Q/K/V slices are close in l-infinity distance.
 *
 * `A_h` is the `[3*dh, d]` slice made of head `h`'s rows of `Wq`, `Wk` and `Wv`. Two heads are
 * similar when `max |A_a - A_b| <= theta`, entry by entry; every head is similar to itself.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock } from '../models/blocks';
import { checkTheta } from './checks';

/** A symmetric boolean matrix over the heads of one layer, indexed by current head position. */
export type SimilarityMatrix = boolean[][];

export interface HeadDistanceOptions {
  /**
   * Also compare the Q/K/V biases of the heads (as three more columns of `A_h`). Default false:
   * the paper compares weights only. With true, a distance of 0 means the heads compute exactly
   * the same context, so merging them is exact.
   */
  includeBias?: boolean;
}

/** `[k, 3*dh*d(+3*dh)]`: row `h` is head `h`'s slice `A_h`, flattened. */
function headSlices(block: AttentionBlock, includeBias: boolean): tf.Tensor2D {
  const { numHeads: k, headSize: dh } = block;
  return tf.tidy(() => {
    const parts = [block.query, block.key, block.value].map((l) => {
      let w: tf.Tensor = l.weight.reshape([k, dh, -1]);
      if (includeBias) {
        const b = l.bias ? l.bias.reshape([k, dh, 1]) : tf.zeros([k, dh, 1]);
        w = tf.concat([w, b], 2);
      }
      return w.reshape([k, -1]);
    });
    return tf.concat(parts, 1) as tf.Tensor2D;
  });
}

/**
 * Pairwise l-infinity distances between the heads of a block, `[k][k]` with zeros on the
 * diagonal. One `[k, n]` reduction per head keeps memory at `O(k * n)`.
 */
export function headDistances(block: AttentionBlock, options: HeadDistanceOptions = {}): number[][] {
  const k = block.numHeads;
  const expected = k * block.headSize;
  for (const l of [block.query, block.key, block.value]) {
    if (l.weight.shape[0] !== expected) {
      throw new Error(`headDistances ${block.name}: ${l.weight.name} is [${l.weight.shape}], expected ${expected} rows (${k} heads x ${block.headSize})`);
    }
  }
  // A layer can lose every head (a baseline's closed attention-layer gate): nothing to compare.
  if (k === 0) return [];
  const flat = tf.tidy(() => {
    const a = headSlices(block, options.includeBias ?? false);
    const rows: tf.Tensor[] = [];
    for (let h = 0; h < k; h++) {
      rows.push(tf.max(tf.abs(tf.sub(a, a.slice([h, 0], [1, -1]))), 1));
    }
    return tf.stack(rows);
  });
  const data = flat.dataSync();
  flat.dispose();
  const d: number[][] = [];
  for (let a = 0; a < k; a++) {
    d.push([]);
    for (let b = 0; b < k; b++) {
      // Symmetrise: the two reductions are the same numbers, but say so explicitly.
      d[a].push(a === b ? 0 : Math.max(data[a * k + b], data[b * k + a]));
    }
  }
  return d;
}

/** `S[a][b] = distance[a][b] <= theta`, `S[a][a] = true`. */
export function similarityFromDistances(distances: readonly (readonly number[])[], theta: number): SimilarityMatrix {
  checkTheta(theta, 'similarityFromDistances');
  return distances.map((row, a) => row.map((v, b) => a === b || v <= theta));
}

export interface SimilarityOptions extends HeadDistanceOptions {
  /** Largest l-infinity distance at which two heads are similar; >= 0, no default. */
  theta: number;
}

/** Algorithm 2's similarity matrix for one block. */
export function headSimilarity(block: AttentionBlock, options: SimilarityOptions): SimilarityMatrix {
  checkTheta(options.theta, `headSimilarity ${block.name}`);
  return similarityFromDistances(headDistances(block, options), options.theta);
}

/** True when some pair of distinct heads is similar (Algorithm 2 prunes nothing otherwise). */
export function hasSimilarPair(s: SimilarityMatrix): boolean {
  return s.some((row, a) => row.some((v, b) => v && a !== b));
}
