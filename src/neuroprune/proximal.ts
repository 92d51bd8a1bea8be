/**
 * Proximal steps for the penalties: after the optimizer's step on the task loss, each penalty
 * `lambda * R` is applied as its proximal map `argmin_x 0.5 ||x - v||^2 + lambda * R(x)`,
 * decoupled from the optimizer like AdamW's weight decay (`lambda = lr * beta` or `lr * alpha`).
 *
 * Why: with AdamW, an l1 subgradient is rescaled per weight by `1 / sqrt(v)`, so a weight pushed
 * to zero overshoots by about `lr` every step and oscillates around zero instead of reaching it;
 * on a dense pretrained model no row or column ever becomes zero. A proximal step sets weights to
 * exactly zero, and keeps them there while the task gradient is too weak to pull them out.
 *
 * The operators, each exact (tested against brute-force minimisation):
 * - plain l1 `lambda * sum |x|`: soft-thresholding `sign(v) max(|v| - lambda, 0)`;
 * - Eq. 1, R_mlp: the weighted l1 `lambda * sum_i c_i sum_j |x_ij|` with the preferential-attachment
 *   weights `c_i` (fraction of row `i`'s entries below eps) counted at `v` and held fixed during
 *   the step: row `i` is soft-thresholded by `lambda * c_i`;
 * - Eq. 2, R_attn: `lambda * sqrt(||x||_1)` for each group (column `j` of Q, K and V). Its minimiser is
 *   soft-thresholding of the group by one `tau`: stationarity gives `x_i = v_i - tau sign(x_i)` on
 *   the support with `tau = lambda / (2 sqrt(||x||_1))`, and `|v_i| <= tau` off it. The penalty is
 *   not convex, so `tau` is the global minimiser over `[0, max |v|]` (`tau = max |v|` is x = 0)
 *   of the one-dimensional objective along the soft-thresholding path, found exactly by
 *   `sqrtL1Threshold`. (The half-thresholding operator of Xu et al. 2012 is the one-entry case;
 *   applied to a group's l2 norm it would be the proximal map of `sqrt(||x||_2)`, another penalty.)
 *   No smoothing `delta` is needed: the proximal map handles the kink at zero.
 *
 * Weights are read and written through JavaScript arrays (one pass per matrix): cheap next to a
 * training step on the cpu and wasm backends, a read-back on GPU backends.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, MlpBlock } from '../models/blocks';
import { checkEps, DEFAULT_EPS } from './checks';
import { mlpLinears } from './mlpLinears';

/** What one proximal step did, for the log. */
export interface ProximalResult {
  /** The penalty's value (unweighted R) at the point the step was applied to. */
  value: number;
  /** Weights that were non-zero before the step and are exactly zero after it. */
  zeroed: number;
}

function checkLambda(lambda: number, where: string): void {
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new Error(`${where}: the threshold must be a finite number >= 0, got ${lambda}`);
}

/** `sign(v) max(|v| - t, 0)`, with +0 for a zero result. */
function shrink(v: number, t: number): number {
  const a = Math.abs(v) - t;
  return a > 0 ? (v > 0 ? a : -a) : 0;
}

/** Soft-thresholding, the proximal map of `lambda * ||x||_1`: a new array. */
export function softThreshold(v: ArrayLike<number>, lambda: number): Float64Array {
  checkLambda(lambda, 'softThreshold');
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = shrink(v[i], lambda);
  return out;
}

/**
 * The threshold `tau` of the proximal map of `lambda * sqrt(||x||_1)` at `v`: the map is
 * `sign(v) max(|v| - tau, 0)`, and `tau >= max |v|` means the whole group becomes zero.
 *
 * Along the path `x(tau) = S_tau(v)` the objective is
 * `F(tau) = 0.5 sum min(|v_i|, tau)^2 + lambda sqrt(f(tau))`, `f(tau) = sum max(|v_i| - tau, 0)`,
 * with `F'(tau) = k (tau - lambda / (2 sqrt(f)))` where `k` counts the entries above `tau`. Every
 * minimiser of the full problem lies on this path (see the module comment), so the global one
 * is `x = 0` or a local minimum of `F`: a point where `g(tau) = 4 tau^2 f(tau) - lambda^2` changes
 * sign from - to +. Between consecutive sorted magnitudes `f` is linear (`S_k - k tau`) and `g`
 * a cubic that rises on `[0, 2 S_k / (3k)]` and falls after, so each piece has at most one such
 * root, found by bisection; `F` is compared at each and at `x = 0`. Cost: one sort of the group.
 */
export function sqrtL1Threshold(v: ArrayLike<number>, lambda: number): number {
  checkLambda(lambda, 'sqrtL1Threshold');
  const a: number[] = [];
  for (let i = 0; i < v.length; i++) { const m = Math.abs(v[i]); if (m > 0) a.push(m); }
  const n = a.length;
  if (n === 0 || lambda === 0) return 0;
  const sorted = Float64Array.from(a).sort().reverse(); // descending
  // tail[k] = sum of squares of sorted[k..n-1]: the entries at or below tau on piece k.
  const tail = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) tail[i] = tail[i + 1] + sorted[i] * sorted[i];
  let bestTau = sorted[0];
  let best = 0.5 * tail[0]; // x = 0
  let s = 0;
  for (let k = 1; k <= n; k++) {
    s += sorted[k - 1];
    // Piece k: tau in [lo, hi], the k largest magnitudes above tau; f = s - k tau.
    const lo = k < n ? sorted[k] : 0;
    const hi = sorted[k - 1];
    const peak = (2 * s) / (3 * k);
    const riseHi = Math.min(hi, peak);
    if (riseHi < lo) continue;
    const g = (t: number) => 4 * t * t * (s - k * t) - lambda * lambda;
    if (!(g(lo) <= 0 && g(riseHi) >= 0)) continue;
    let l = lo;
    let h = riseHi;
    for (let it = 0; it < 200 && h - l > 1e-16 * h; it++) {
      const mid = 0.5 * (l + h);
      if (g(mid) < 0) l = mid; else h = mid;
    }
    const tau = h;
    const f = Math.max(0, s - k * tau);
    const value = 0.5 * (k * tau * tau + tail[k]) + lambda * Math.sqrt(f);
    if (value < best) { best = value; bestTau = tau; }
  }
  return bestTau;
}

/** The proximal map of `lambda * sqrt(||x||_1)`: a new array. */
export function proxSqrtL1(v: ArrayLike<number>, lambda: number): Float64Array {
  const tau = sqrtL1Threshold(v, lambda);
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = shrink(v[i], tau);
  return out;
}

function read(w: tf.Variable): Float32Array {
  return w.dataSync() as Float32Array;
}

function write(w: tf.Variable, values: Float32Array): void {
  const t = tf.tensor(values, w.shape, 'float32');
  w.assign(t);
  t.dispose();
}

/**
 * Row-wise soft-thresholding of one `[out, in]` matrix in place: `rowThreshold` sees a row's l1
 * norm, its count of entries below eps and its length, and gives the row's threshold and its
 * weight in the penalty. Returns `sum_i weight_i * ||row_i||_1` at the input and the count of
 * newly zeroed entries.
 */
function shrinkRows(w: tf.Variable, rowThreshold: (abs: number, small: number, cols: number) => { t: number; weight: number }, eps: number): ProximalResult {
  const [rows, cols] = w.shape as [number, number];
  const values = Float32Array.from(read(w));
  const threshold = Math.fround(eps);
  let value = 0;
  let zeroed = 0;
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    let abs = 0;
    let small = 0;
    for (let j = 0; j < cols; j++) {
      const a = Math.abs(values[off + j]);
      abs += a;
      small += a < threshold ? 1 : 0;
    }
    const { t, weight } = rowThreshold(abs, small, cols);
    value += weight * abs;
    if (t === 0) continue;
    for (let j = 0; j < cols; j++) {
      const x = values[off + j];
      const y = shrink(x, t);
      if (y === 0 && x !== 0) zeroed++;
      values[off + j] = y;
    }
  }
  write(w, values);
  return { value, zeroed };
}

function add(a: ProximalResult, b: ProximalResult): ProximalResult {
  return { value: a.value + b.value, zeroed: a.zeroed + b.zeroed };
}

/**
 * Proximal step of `lambda * R_mlp` (Eq. 1) over the blocks: each row `i` of the input, output
 * and gate maps is soft-thresholded by `lambda * c_i`, where `c_i` is the fraction of the row's
 * entries with `|w| < eps` (float32 comparison, as in `mlpPreferentialL1`), counted before the
 * step and held fixed during it. `value` is R_mlp at the point the step was applied to.
 */
export function proximalMlpPreferential(blocks: readonly MlpBlock[], lambda: number, options: { eps?: number } = {}): ProximalResult {
  checkLambda(lambda, 'proximalMlpPreferential');
  const eps = options.eps ?? DEFAULT_EPS;
  checkEps(eps, 'proximalMlpPreferential');
  let r: ProximalResult = { value: 0, zeroed: 0 };
  for (const b of blocks) {
    for (const l of mlpLinears(b)) {
      r = add(r, shrinkRows(l.weight, (_abs, small, cols) => ({ t: lambda * (small / cols), weight: small / cols }), eps));
    }
  }
  return r;
}

/** Proximal step of `lambda * sum |w|` over the given maps' weights (the l1 baseline). */
export function proximalL1(linears: readonly Linear[], lambda: number): ProximalResult {
  checkLambda(lambda, 'proximalL1');
  let r: ProximalResult = { value: 0, zeroed: 0 };
  for (const l of linears) r = add(r, shrinkRows(l.weight, () => ({ t: lambda, weight: 1 }), DEFAULT_EPS));
  return r;
}

/**
 * Proximal step of `lambda * sum_j sqrt(||group_j||_1)` where group `j` is column `j` of every
 * given map (all `[rows, in]` with the same `in`). Returns `sum_j sqrt(||group_j||_1)` at the input.
 */
function proximalColumnGroups(maps: readonly Linear[], lambda: number): ProximalResult {
  const inDim = maps[0].weight.shape[1] as number;
  for (const m of maps) {
    if (m.weight.rank !== 2 || m.weight.shape[1] !== inDim) {
      throw new Error(`proximalAttentionGroups: ${m.weight.name} is [${m.weight.shape}], expected [rows, ${inDim}] like the other maps of its group`);
    }
  }
  const mats = maps.map((m) => Float32Array.from(read(m.weight)));
  const rowsOf = maps.map((m) => m.weight.shape[0] as number);
  const size = rowsOf.reduce((a, b) => a + b, 0);
  const group = new Float64Array(size);
  let value = 0;
  let zeroed = 0;
  for (let j = 0; j < inDim; j++) {
    let p = 0;
    let s = 0;
    mats.forEach((values, m) => {
      for (let i = 0; i < rowsOf[m]; i++) { const x = values[i * inDim + j]; group[p++] = x; s += Math.abs(x); }
    });
    value += Math.sqrt(s);
    if (s === 0) continue;
    const tau = sqrtL1Threshold(group, lambda);
    if (tau === 0) continue;
    mats.forEach((values, m) => {
      for (let i = 0; i < rowsOf[m]; i++) {
        const x = values[i * inDim + j];
        const y = shrink(x, tau);
        if (y === 0 && x !== 0) zeroed++;
        values[i * inDim + j] = y;
      }
    });
  }
  maps.forEach((m, i) => write(m.weight, mats[i]));
  return { value, zeroed };
}

/**
 * Proximal step of `lambda * R_attn` (Eq. 2, without the smoothing delta) over the blocks: the
 * group of input dimension `j` is column `j` of Q, K and V together. Cross-attention blocks
 * have two families of groups, as in `attentionGroupL12`: Q's columns alone (decoder stream) and
 * K/V's columns together (encoder stream). `value` is R_attn (delta = 0) at the input.
 */
export function proximalAttentionGroups(blocks: readonly AttentionBlock[], lambda: number): ProximalResult {
  checkLambda(lambda, 'proximalAttentionGroups');
  let r: ProximalResult = { value: 0, zeroed: 0 };
  for (const b of blocks) {
    if (b.kind === 'cross') {
      r = add(r, proximalColumnGroups([b.query], lambda));
      r = add(r, proximalColumnGroups([b.key, b.value], lambda));
    } else {
      r = add(r, proximalColumnGroups([b.query, b.key, b.value], lambda));
    }
  }
  return r;
}
