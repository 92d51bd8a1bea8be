/**
 * Fused transformer ops with hand-written gradients: exact GELU, softmax over the last axis,
 * LayerNorm over the last axis.
 *
 * TF.js builds each from several ops (GELU's autodiff through `erf` is ~10 passes over the
 * activations, LayerNorm's ~15), so on the wasm backend they cost more than the products around
 * them. When the native addon is active, each forward and each gradient is one pass in C++
 * (registered as wasm kernels `Neuroprune*`); on any other backend, or without the addon, the
 * same functions compose TF.js ops, with GELU's gradient in closed form (no second `erf`).
 * Results agree with the plain compositions to float32 rounding (see test/backend).
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from './native';
import type { WasmBackendLike, WasmTensorInfo } from './matmul';

export const FUSED_KERNELS = [
  'NeuropruneGelu', 'NeuropruneGeluGrad', 'NeuropruneSoftmax', 'NeuropruneSoftmaxGrad',
  'NeuropruneLayerNorm', 'NeuropruneLayerNormGrad',
] as const;

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function available(name: (typeof FUSED_KERNELS)[number], ...xs: tf.Tensor[]): boolean {
  return xs.every((x) => x.dtype === 'float32') && tf.getKernel(name, tf.getBackend()) !== undefined;
}

type Kernel = (args: { inputs: Record<string, WasmTensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> }) => WasmTensorInfo | WasmTensorInfo[];

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The kernels over the wasm heap, calling into the addon. Views are taken after every allocation. */
export function wasmFusedKernels(blas: NativeBlas): Record<(typeof FUSED_KERNELS)[number], Kernel> {
  const view = (backend: WasmBackendLike, t: WasmTensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  const lastDim = (shape: number[]) => (shape.length === 0 ? 1 : shape[shape.length - 1]);
  return {
    NeuropruneGelu: ({ inputs: { x }, backend }) => {
      const y = backend.makeOutput(x.shape, 'float32');
      const n = size(x.shape);
      if (n > 0) blas.gelu(view(backend, x), view(backend, y), n);
      return y;
    },
    NeuropruneGeluGrad: ({ inputs: { dy, x }, backend }) => {
      const dx = backend.makeOutput(x.shape, 'float32');
      const n = size(x.shape);
      if (n > 0) blas.geluGrad(view(backend, dy), view(backend, x), view(backend, dx), n);
      return dx;
    },
    NeuropruneSoftmax: ({ inputs: { x }, backend }) => {
      const y = backend.makeOutput(x.shape, 'float32');
      const cols = lastDim(x.shape), n = size(x.shape);
      if (n > 0) blas.softmax(view(backend, x), view(backend, y), n / cols, cols);
      return y;
    },
    NeuropruneSoftmaxGrad: ({ inputs: { dy, y }, backend }) => {
      const dx = backend.makeOutput(y.shape, 'float32');
      const cols = lastDim(y.shape), n = size(y.shape);
      if (n > 0) blas.softmaxGrad(view(backend, dy), view(backend, y), view(backend, dx), n / cols, cols);
      return dx;
    },
    NeuropruneLayerNorm: ({ inputs: { x, gamma, beta }, backend, attrs }) => {
      const cols = lastDim(x.shape), n = size(x.shape), rows = cols === 0 ? 0 : n / cols;
      const y = backend.makeOutput(x.shape, 'float32');
      const mean = backend.makeOutput([...x.shape.slice(0, -1), 1], 'float32');
      const rstd = backend.makeOutput([...x.shape.slice(0, -1), 1], 'float32');
      if (n > 0) {
        blas.layerNorm(view(backend, x), view(backend, gamma), view(backend, beta), view(backend, y), view(backend, mean),
          view(backend, rstd), rows, cols, attrs.epsilon as number);
      }
      return [y, mean, rstd];
    },
    NeuropruneLayerNormGrad: ({ inputs: { dy, x, mean, rstd, gamma }, backend }) => {
      const cols = lastDim(x.shape), n = size(x.shape), rows = cols === 0 ? 0 : n / cols;
      const dx = backend.makeOutput(x.shape, 'float32');
      const dgamma = backend.makeOutput(gamma.shape, 'float32');
      const dbeta = backend.makeOutput(gamma.shape, 'float32');
      if (n > 0) {
        blas.layerNormGrad(view(backend, dy), view(backend, x), view(backend, mean), view(backend, rstd), view(backend, gamma),
          view(backend, dx), view(backend, dgamma), view(backend, dbeta), rows, cols);
      } else {
        view(backend, dgamma).fill(0);
        view(backend, dbeta).fill(0);
      }
      return [dx, dgamma, dbeta];
    },
  };
}

/** `tf.customGrad` with the arity written out (its own typing takes a rest parameter). */
function custom<F extends (...xs: tf.Tensor[]) => tf.Tensor>(f: (...args: never[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] }): F {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as F;
}

function run(name: (typeof FUSED_KERNELS)[number], inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap);
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

/** The gradient of exact GELU at `x` applied to `dy`: `dy * (Phi(x) + x * phi(x))`, one native pass where registered. */
export function geluGrad(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  if (available('NeuropruneGeluGrad', x, dy)) return run('NeuropruneGeluGrad', { dy, x })[0];
  return tf.tidy(() => {
    const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
    const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI);
    return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
  });
}

/** Exact (erf) GELU, `x * Phi(x)`, with the closed-form gradient `Phi(x) + x * phi(x)`. */
export const gelu = custom<(x: tf.Tensor) => tf.Tensor>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  if (available('NeuropruneGelu', x)) {
    save([x]);
    return {
      value: run('NeuropruneGelu', { x })[0],
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => geluGrad(saved[0], dy),
    };
  }
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, [xs, c]: tf.Tensor[]) => {
      const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI);
      return tf.mul(dy, tf.add(c, tf.mul(xs, pdf)));
    },
  };
});

/** Softmax over the last axis; the gradient `y * (dy - sum(dy * y))` in one pass when native. */
export const softmaxLastAxis = custom<(x: tf.Tensor) => tf.Tensor>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const native = available('NeuropruneSoftmax', x);
  const y = native ? run('NeuropruneSoftmax', { x })[0] : tf.softmax(x, -1);
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, [ys]: tf.Tensor[]) => {
      if (native && available('NeuropruneSoftmaxGrad', dy)) return run('NeuropruneSoftmaxGrad', { dy, y: ys })[0];
      return tf.mul(ys, tf.sub(dy, tf.sum(tf.mul(dy, ys), -1, true)));
    },
  };
});

/** The reference LayerNorm (TF.js ops, autodiff gradient). */
export function layerNormReference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon))), gamma), beta);
}

/**
 * LayerNorm over the last axis: one pass forward (saving per-row mean and 1/std), one pass back.
 * Falls back to `layerNormReference` where the fused kernels are not registered.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const d = x.shape[x.shape.length - 1];
  if (!available('NeuropruneLayerNorm', x, gamma, beta) || gamma.size !== d || beta.size !== d) {
    return layerNormReference(x, gamma, beta, epsilon);
  }
  const g1 = gamma.rank === 1 ? gamma : gamma.reshape([d]);
  const b1 = beta.rank === 1 ? beta : beta.reshape([d]);
  const f = custom<(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor>((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, rstd] = run('NeuropruneLayerNorm', { x: xx, gamma: gg, beta: bb }, { epsilon });
    save([xx, mean, rstd, gg]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [xs, m, r, gs]: tf.Tensor[]) => run('NeuropruneLayerNormGrad', { dy, x: xs, mean: m, rstd: r, gamma: gs }),
    };
  });
  return f(x, g1, b1);
}
