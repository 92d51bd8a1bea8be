/**
 * The NeuroPrune regularizers (Eq. 1 and Eq. 2 of the paper) and the plain l1 baseline.
 *
 * Each `*` function returns a scalar tensor meant to be called inside a `tf.variableGrads` /
 * `optimizer.minimize` loss closure: it reads the blocks' current variables, so gradients flow to
 * them. Each `*Value` twin returns a plain number for logging and disposes everything it made.
 * Orientation is `weight[out, in]`, as Hugging Face stores weights.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, MlpBlock } from '../models/blocks';
import { mlpLinears } from './mlpLinears';
import { checkEps, DEFAULT_EPS } from './checks';
import { attentionGroupFused, preferentialRowL1Fused, useFusedRegularizers } from './fusedRegularizers';

export { DEFAULT_EPS } from './checks';

/**
 * Default smoothing of the square root in Eq. 2. `d/ds sqrt(s + delta) = 1 / (2 sqrt(s + delta))`
 * is bounded by `1 / (2 sqrt(delta))` = 5e3 at `delta = 1e-8`: finite in float32 when a whole
 * column group is zero (the unsmoothed slope is infinite there and the step would be NaN/Inf),
 * yet small enough that once a group holds any weight of magnitude >= 1e-6 the smoothing changes
 * its slope by under 1%. The value carries a constant offset of `sqrt(delta)` = 1e-4 per input
 * dimension, which has no gradient.
 */
export const DEFAULT_DELTA = 1e-8;

/**
 * How a regularizer is computed: `ops` (TF.js kernels, any backend), `fused` (one JavaScript pass
 * per matrix for value and gradient, see fusedRegularizers.ts), or `auto` (default): fused on
 * the cpu and wasm backends, ops elsewhere. Both give the same values and gradients.
 */
export type RegularizerImplementation = 'auto' | 'ops' | 'fused';

export interface MlpRegularizerOptions {
  /** Magnitude below which an incoming weight counts as zero in a neuron's count. Default 1e-4. */
  eps?: number;
  implementation?: RegularizerImplementation;
}

export interface AttentionRegularizerOptions {
  /** Smoothing added under the square root; must be > 0. Default 1e-8 (see DEFAULT_DELTA). */
  delta?: number;
  implementation?: RegularizerImplementation;
}

function fused(implementation: RegularizerImplementation | undefined): boolean {
  const i = implementation ?? 'auto';
  return i === 'fused' || (i === 'auto' && useFusedRegularizers());
}

/**
 * `|x|` with the subgradient 0 at 0 (`sign(x) * dy`). TF.js's own `abs` has gradient -1 at
 * exactly 0 (`step(x, -1)`), which would push every weight that pruning set to zero back out of
 * zero, and with Eq. 2's `1 / (2 sqrt(delta))` slope push it hard. Zero is the minimiser of
 * `|x|`, and 0 is the subgradient that keeps it there.
 *
 * The sign comes from two comparisons, not `tf.sign`: TF.js 4.22's wasm `Sign` returns 0 for
 * |x| up to float32's epsilon (1.19e-7), which would give those weights no gradient on wasm only.
 */
export function absZeroSubgradient(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad(((t: tf.Tensor, save: tf.GradSaveFunc) => {
    save([t]);
    return {
      value: tf.abs(t),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const sign = tf.sub(tf.cast(tf.greater(saved[0], 0), 'float32'), tf.cast(tf.less(saved[0], 0), 'float32'));
        return [tf.mul(dy, sign)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}

/**
 * Per-row fraction of entries with `|w| < eps`, as a constant: the custom gradient is zero, so no
 * gradient flows through the count (TF.js has no gradient for `less`, and Eq. 1 holds the
 * neuron weights fixed within a step anyway).
 */
function rowZeroFraction(w: tf.Tensor, eps: number): tf.Tensor {
  const f = tf.customGrad(((x: tf.Tensor) => ({
    // float32 on both sides, as on the fused and native paths.
    value: tf.mean(tf.cast(tf.less(tf.abs(x), tf.scalar(Math.fround(eps), 'float32')), 'float32'), 1),
    gradFunc: () => [tf.zerosLike(x)],
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(w);
}

/** One linear map's preferential-attachment term: `sum_i (n_i / fan_in) * sum_j |W[i, j]|`. */
function preferentialTerm(w: tf.Tensor, eps: number): tf.Tensor {
  return tf.sum(tf.mul(rowZeroFraction(w, eps), tf.sum(absZeroSubgradient(w), 1)));
}

/**
 * Eq. 1, R_mlp, summed over the blocks: for `Win [de, d]` and `Wout [d, de]`, each output neuron
 * (row) is weighted by the fraction of its incoming weights below `eps`, counted from the current
 * weights and held constant. A gated MLP's gate `[de, d]` is a third map with its own term, read
 * like `Win` (each hidden neuron weighted by the fraction of its small gate weights). Biases are
 * not regularized. "Below" is `|w| < fround(eps)` in float32
 * on every implementation (ops, fused JavaScript, native), so they agree at the boundary.
 */
export function mlpPreferentialL1(blocks: readonly MlpBlock[], options: MlpRegularizerOptions = {}): tf.Scalar {
  const eps = options.eps ?? DEFAULT_EPS;
  checkEps(eps, 'mlpPreferentialL1');
  const term = fused(options.implementation) ? preferentialRowL1Fused : preferentialTerm;
  return tf.tidy(() => {
    let total: tf.Tensor = tf.scalar(0);
    for (const b of blocks) {
      for (const l of mlpLinears(b)) total = tf.add(total, term(l.weight, eps));
    }
    return total as tf.Scalar;
  });
}

/**
 * Eq. 2, R_attn, summed over the blocks: `sum_j sqrt(sum_i |Wq[i,j]| + |Wk[i,j]| + |Wv[i,j]| + delta)`.
 * The group of input dimension `j` is column `j` of Q, K and V together. After compaction the
 * removed input dimensions are simply absent (their groups were zero).
 *
 * Cross-attention (`kind: 'cross'`): Q reads the decoder stream and K/V the encoder stream, so
 * column `j` of Q and column `j` of K/V belong to different input dimensions. The reading taken:
 * two families of groups, `sum_j sqrt(sum_i |Wq[i,j]| + delta)` over the decoder dimensions and
 * `sum_j sqrt(sum_i |Wk[i,j]| + |Wv[i,j]| + delta)` over the encoder dimensions, each switching
 * off one input dimension of one stream as a whole (compaction removes them separately,
 * `inputIndex` and `contextInputIndex`). Cross blocks use the op form, not the fused pass.
 */
export function attentionGroupL12(blocks: readonly AttentionBlock[], options: AttentionRegularizerOptions = {}): tf.Scalar {
  const delta = options.delta ?? DEFAULT_DELTA;
  if (!(delta > 0) || !Number.isFinite(delta)) {
    throw new Error(`attentionGroupL12: delta must be a finite number > 0, got ${delta}`);
  }
  const useFused = fused(options.implementation);
  return tf.tidy(() => {
    let total: tf.Tensor = tf.scalar(0);
    for (const b of blocks) {
      if (b.kind === 'cross') {
        const group = (ls: Linear[]) => tf.sum(tf.sqrt(tf.add(tf.addN(ls.map((l) => tf.sum(absZeroSubgradient(l.weight), 0))), delta)));
        total = tf.add(total, tf.add(group([b.query]), group([b.key, b.value])));
        continue;
      }
      if (useFused) {
        total = tf.add(total, attentionGroupFused(b.query.weight, b.key.weight, b.value.weight, delta));
        continue;
      }
      const colSums = tf.addN([
        tf.sum(absZeroSubgradient(b.query.weight), 0),
        tf.sum(absZeroSubgradient(b.key.weight), 0),
        tf.sum(absZeroSubgradient(b.value.weight), 0),
      ]);
      total = tf.add(total, tf.sum(tf.sqrt(tf.add(colSums, delta))));
    }
    return total as tf.Scalar;
  });
}

/** The paper's baseline: `sum |w|` over Q, K, V, O and the MLP in/out weights (no biases). */
export function plainL1(attn: readonly AttentionBlock[], mlp: readonly MlpBlock[]): tf.Scalar {
  return tf.tidy(() => {
    const terms: tf.Tensor[] = [tf.scalar(0)];
    for (const b of attn) for (const l of [b.query, b.key, b.value, b.output]) terms.push(tf.sum(absZeroSubgradient(l.weight)));
    for (const b of mlp) for (const l of mlpLinears(b)) terms.push(tf.sum(absZeroSubgradient(l.weight)));
    return tf.addN(terms) as tf.Scalar;
  });
}

function toNumber(f: () => tf.Scalar): number {
  const t = f();
  try {
    return t.dataSync()[0];
  } finally {
    t.dispose();
  }
}

/** R_mlp as a number, for logging. */
export function mlpPreferentialL1Value(blocks: readonly MlpBlock[], options: MlpRegularizerOptions = {}): number {
  return toNumber(() => mlpPreferentialL1(blocks, options));
}

/** R_attn as a number, for logging. */
export function attentionGroupL12Value(blocks: readonly AttentionBlock[], options: AttentionRegularizerOptions = {}): number {
  return toNumber(() => attentionGroupL12(blocks, options));
}

/** Plain l1 as a number, for logging. */
export function plainL1Value(attn: readonly AttentionBlock[], mlp: readonly MlpBlock[]): number {
  return toNumber(() => plainL1(attn, mlp));
}
