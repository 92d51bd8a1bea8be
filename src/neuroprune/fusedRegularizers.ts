/**
 * R_mlp's and R_attn's value and gradient in one pass over each weight matrix, in plain
 * JavaScript over the tensor's data, for the cpu and wasm backends.
 *
 * Why: written with TF.js ops, each term is a chain of element-wise kernels (abs, less, cast,
 * mean, sum, mul, sign, ...) whose backward pass runs a second chain; on wasm that costs about
 * 35 ns per weight and per step, which for a BERT layer is as much as a third of the training
 * step's matmuls. The fused form reads every weight once to get the value and writes the
 * gradient once: `sign(w) * c_i` for R_mlp, `sign(w) / (2 sqrt(s_j + delta))` for R_attn, with
 * the subgradient 0 at w = 0 as `absZeroSubgradient`. The gradient is computed with the value
 * (the forward pass) and handed to the backward pass, which only scales it by the upstream
 * gradient.
 *
 * On wasm with the native addon, and on the native backend (src/backend/kernels/training.ts),
 * the passes run in C++ on the tensors' memory: the value in the forward pass, and in the backward pass the gradient times the upstream
 * scalar, written straight into a wasm tensor (no copy through JavaScript, no separate scaling).
 * On cpu, or on wasm without the addon, in JavaScript over `dataSync()`.
 *
 * On GPU or native backends (`tensorflow`, `webgl`) reading tensors back to JavaScript would stall
 * the device, so `useFusedRegularizers()` says no there and the op-based forms are used.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * How many times the JavaScript passes have run in this process (the native ones are counted in
 * `trainingKernelCalls`): tests use them to check which implementation computed a term.
 */
export const fusedRegularizerCalls = { mlp: 0, attn: 0 };

/** True on the backends whose tensors live in JavaScript-reachable memory. */
export function useFusedRegularizers(): boolean {
  const b = tf.getBackend();
  return b === 'cpu' || b === 'wasm' || b === 'native';
}

function data(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/** The native kernel when it is registered for the current backend (wasm with the addon, native). */
function nativeKernel(name: string, ...xs: tf.Tensor[]): boolean {
  return xs.every((x) => x.dtype === 'float32') && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * Runs a native regularizer: the value now, the gradient (`dy * dR/dw`, from the saved weights)
 * in the backward pass. The saved weights are zero-copy references, not copies.
 */
function runNative(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number>, save: tf.GradSaveFunc) {
  const keys = Object.keys(inputs);
  save(keys.map((k) => inputs[k]));
  return {
    value: tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const named: Record<string, tf.Tensor> = { dy };
      keys.forEach((k, i) => { named[k] = saved[i]; });
      const g = tf.engine().runKernel(`${name}Grad`, named as unknown as tf.NamedTensorMap, attrs);
      return Array.isArray(g) ? (g as tf.Tensor[]) : [g as tf.Tensor];
    },
  };
}

/**
 * `sum_i (n_i / fan_in) * sum_j |W[i, j]|` for one `[out, in]` matrix, where `n_i` counts the
 * entries of row `i` with `|w| < eps`, held constant (no gradient through the count). The
 * comparison is in float32 (`|w| < fround(eps)`), as on every other path.
 */
export function preferentialRowL1Fused(w: tf.Tensor, eps: number): tf.Scalar {
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    if (nativeKernel('NeuropruneRegMlp', x)) return runNative('NeuropruneRegMlp', { x }, { eps }, save);
    fusedRegularizerCalls.mlp++;
    const [rows, cols] = x.shape as [number, number];
    const values = data(x);
    // The weights are float32 and so is eps on the ops and native paths: compare with eps rounded
    // to float32, or a weight stored as fround(eps) would count here and not there.
    const threshold = Math.fround(eps);
    const grad = new Float32Array(values.length);
    let total = 0;
    for (let i = 0; i < rows; i++) {
      const off = i * cols;
      let small = 0;
      let abs = 0;
      for (let j = 0; j < cols; j++) {
        const a = Math.abs(values[off + j]);
        abs += a;
        small += a < threshold ? 1 : 0;
      }
      const c = small / cols;
      total += c * abs;
      if (c === 0) continue;
      // Math.sign(0) is 0: the subgradient that keeps a zero weight at zero.
      for (let j = 0; j < cols; j++) grad[off + j] = c * Math.sign(values[off + j]) + 0; // + 0 turns -0 into 0
    }
    return {
      value: tf.scalar(total),
      gradFunc: (dy: tf.Tensor) => [tf.mul(dy, tf.tensor(grad, x.shape, 'float32'))],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(w) as tf.Scalar;
}

/**
 * `sum_j sqrt(sum_i |Wq[i,j]| + |Wk[i,j]| + |Wv[i,j]| + delta)` for one attention block's Q, K and V
 * (`[rows, in]` each, same `in`).
 */
export function attentionGroupFused(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, delta: number): tf.Scalar {
  const f = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, save: tf.GradSaveFunc) => {
    if (nativeKernel('NeuropruneRegAttn', a, b, c)) return runNative('NeuropruneRegAttn', { q: a, k: b, v: c }, { delta }, save);
    fusedRegularizerCalls.attn++;
    const inDim = a.shape[1] as number;
    const mats = [a, b, c].map((m) => ({ shape: m.shape, values: data(m) }));
    const colSums = new Float64Array(inDim);
    for (const { values } of mats) {
      for (let off = 0; off < values.length; off += inDim) {
        for (let j = 0; j < inDim; j++) colSums[j] += Math.abs(values[off + j]);
      }
    }
    let total = 0;
    const slope = new Float64Array(inDim);
    for (let j = 0; j < inDim; j++) {
      const r = Math.sqrt(colSums[j] + delta);
      total += r;
      slope[j] = 1 / (2 * r);
    }
    const grads = mats.map(({ values }) => {
      const g = new Float32Array(values.length);
      for (let off = 0; off < values.length; off += inDim) {
        for (let j = 0; j < inDim; j++) g[off + j] = slope[j] * Math.sign(values[off + j]) + 0;
      }
      return g;
    });
    return {
      value: tf.scalar(total),
      gradFunc: (dy: tf.Tensor) => grads.map((g, i) => tf.mul(dy, tf.tensor(g, mats[i].shape, 'float32'))),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(q, k, v) as tf.Scalar;
}
