/**
 * The Gumbel-soft top-k relaxation that Differentiable Subset Pruning (Li, Cotterell & Sachan,
 * 2021) puts on head logits, after Xie & Ermon (2019), "Reparameterizable subset sampling via
 * continuous relaxations".
 *
 * Perturb the logits with Gumbel noise, `r = w + g`, `g = -log(-log u)`; then k rounds of a
 * tempered softmax, each round discounting what earlier rounds took:
 *   p_1 = softmax(r / t);   r <- r + log(max(1 - p_j, tiny)),  p_{j+1} = softmax(r / t)
 * The relaxed k-hot mask is `sum_j p_j`: nonnegative entries that sum to exactly k, since each
 * `p_j` sums to 1 (at moderate temperatures one entry may exceed 1: the relaxation bounds the
 * sum, not each entry). As `t -> 0` it tends to the hard top-k of `r`, so
 * the temperature is annealed geometrically from `t0` to `t1` over the first `cooldown` steps
 * (DSP's schedule), and the heads kept at the end are the k largest logits.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/random';

/** The smallest positive normal float32: the floor of `1 - p` before its log (DSP uses float64's). */
const TINY = 1.1754943508222875e-38;

/** Gumbel(0, 1) noise of length n from a seeded stream. */
export function gumbelNoise(n: number, rng: Rng): tf.Tensor1D {
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // u in [1e-12, 1): next() is in [0, 1) with 32-bit resolution, so log(u) < 0 and g is finite.
    const u = 1e-12 + (1 - 1e-12) * rng.next();
    g[i] = -Math.log(-Math.log(u));
  }
  return tf.tensor1d(g);
}

/** The relaxed k-hot mask of `logits` (1-D) for Gumbel noise `gumbel` at temperature `t` (> 0). */
export function gumbelSoftTopK(logits: tf.Tensor1D, k: number, temperature: number, gumbel: tf.Tensor1D): tf.Tensor1D {
  const n = logits.shape[0];
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new Error(`gumbelSoftTopK: k must be an integer in [1, ${n}], got ${k}`);
  if (!(temperature > 0)) throw new Error(`gumbelSoftTopK: temperature must be > 0, got ${temperature}`);
  return tf.tidy(() => {
    let r: tf.Tensor1D = tf.add(logits, gumbel);
    let p = tf.softmax(tf.div(r, temperature)) as tf.Tensor1D;
    let mask: tf.Tensor1D = p;
    for (let j = 1; j < k; j++) {
      r = tf.add(r, tf.log(tf.maximum(tf.sub(1, p), TINY)));
      p = tf.softmax(tf.div(r, temperature)) as tf.Tensor1D;
      mask = tf.add(mask, p);
    }
    return mask;
  });
}

/** DSP's temperature at `step`: geometric from `t0` to `t1` over `cooldown` steps, then `t1`. */
export function annealedTemperature(step: number, t0: number, t1: number, cooldown: number): number {
  if (cooldown <= 0 || step >= cooldown) return t1;
  return Math.exp(Math.log(t0) - (step / cooldown) * (Math.log(t0) - Math.log(t1)));
}

/** Positions of the k largest values (ties to the lower position), ascending. */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}
