/**
 * The hard-concrete distribution of Louizos, Welling & Kingma (2018), as CoFI (Xia, Zhong & Chen,
 * 2022) uses it for its structured L0 gates.
 *
 * A gate with location `logAlpha` draws `u ~ U(eps, 1-eps)`, then
 *   s = sigmoid((log u - log(1-u) + logAlpha) / T),   z = clip(s * (r - l) + l, 0, 1)
 * with temperature `T = 2/3` and the stretch limits `l = -0.1`, `r = 1.1`, so that `z` is exactly 0
 * or 1 with positive probability. The probability that a gate is open (its expected L0 norm) has
 * the closed form `P(z != 0) = 1 - Q(0) = sigmoid(logAlpha - T * log(-l / r))`, the quantity that
 * CoFI's expected model size sums; as in CoFI's code, `Q(0)` is clamped to `[1e-6, 1 - 1e-6]`.
 *
 * At evaluation CoFI uses deterministic gates (its `_deterministic_z`, after Wang et al. 2020):
 * the expected number of closed gates of a group, rounded, are set to 0 (those of the smallest
 * soft value), and the others keep the soft value `sigmoid(logAlpha / T * 0.8)`. A group of one
 * gate (a whole layer) is 0 when its expected count of closed gates rounds to 1, else that soft value.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/random';

export const HARD_CONCRETE = {
  /** Lower stretch limit l. */
  limitLow: -0.1,
  /** Upper stretch limit r. */
  limitHigh: 1.1,
  /** Temperature T (CoFI's default, 2/3). */
  temperature: 2 / 3,
  /** Clamp of the CDF and of the uniform noise, as CoFI's code. */
  epsilon: 1e-6,
  /** Factor of the soft value of a deterministic gate (CoFI's `magical_number`, from Wang et al. 2020). */
  softFactor: 0.8,
  /** Range CoFI clamps every logAlpha to after each step: [log 0.01, log 100]. */
  logAlphaMin: Math.log(1e-2),
  logAlphaMax: Math.log(1e2),
} as const;

const { limitLow: L, limitHigh: R, temperature: T, epsilon: EPS } = HARD_CONCRETE;

/** `log(-l / r)`: the shift of the closed-form open probability. */
const SHIFT = Math.log(-L / R);

/** `P(z != 0)` of gates with these locations, as a number (host side). */
export function openProbability(logAlpha: number, temperature = T): number {
  const cdf = 1 / (1 + Math.exp(-(temperature * SHIFT - logAlpha)));
  // CoFI: cdf_qz(0) = sigmoid(logit((0 - l) / (r - l)) * T - logAlpha), clamped; logit((0 - l)/(r - l)) = log(-l / r).
  return 1 - Math.min(1 - EPS, Math.max(EPS, cdf));
}

/** `P(z != 0)` elementwise, differentiable in `logAlpha`. */
export function openProbabilityTensor(logAlpha: tf.Tensor, temperature = T): tf.Tensor {
  return tf.tidy(() => tf.sub(1, tf.clipByValue(tf.sigmoid(tf.sub(temperature * SHIFT, logAlpha)), EPS, 1 - EPS)));
}

/** Uniform noise in `[eps, 1 - eps]` of a shape, from a seeded stream. */
export function uniformNoise(shape: number[], rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = EPS + (1 - 2 * EPS) * rng.next();
  return tf.tensor(values, shape);
}

/** A sample of the gates `z` for noise `u` (same shape as `logAlpha`), differentiable in `logAlpha`. */
export function sampleGates(logAlpha: tf.Tensor, u: tf.Tensor, temperature = T): tf.Tensor {
  return tf.tidy(() => {
    const logit = tf.sub(tf.log(u), tf.log(tf.sub(1, u)));
    const s = tf.sigmoid(tf.div(tf.add(logit, logAlpha), temperature));
    return tf.clipByValue(tf.add(tf.mul(s, R - L), L), 0, 1);
  });
}

/** CoFI's deterministic gates of one group (see the module comment). */
export function deterministicGates(logAlpha: ArrayLike<number>, temperature = T): Float32Array {
  const n = logAlpha.length;
  let open = 0;
  for (let i = 0; i < n; i++) open += openProbability(logAlpha[i], temperature);
  const closed = roundHalfEven(n - open);
  const soft = Float32Array.from(logAlpha, (a) => 1 / (1 + Math.exp(-(a / temperature) * HARD_CONCRETE.softFactor)));
  if (closed <= 0) return soft;
  // The `closed` smallest soft values go to 0 (ties broken by position, as a stable sort does).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => soft[a] - soft[b] || a - b);
  for (let i = 0; i < Math.min(closed, n); i++) soft[order[i]] = 0;
  return soft;
}

/** Python's `round`: halves go to the even neighbour (CoFI rounds the expected count of closed gates with it). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
