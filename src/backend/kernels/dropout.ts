/**
 * Dropout from a counter-based hash, the same on every backend.
 *
 * Why not `tf.dropout`: it draws a uniform tensor in JavaScript (seedrandom's alea, one call per
 * element), then runs Add, Floor and RealDiv over it to make the multiplier and Multiply to apply
 * it, and keeps the multiplier and the input alive for the backward pass. In a MiniLM training
 * step at 32 x 128 on the native backend that was a third of the time (the cpu backend's Floor
 * alone 2 s; BENCHMARKS.md, "Per kernel on native") and two float tensors per dropout site.
 *
 * Here element `i` of a call with seed `s` is kept when `fmix32(fmix32(s ^ 0x5bd1e995) +
 * i * 0x9e3779b1) >>> 8 >= round(rate * 2^24)` (murmur3's finaliser: a bijection of 32-bit
 * words, so the kept fraction is `1 - rate` to within 2^-24 over any long run) and scaled by
 * `fround(1 / (1 - rate))`. Nothing is stored: the gradient is the same function applied to `dy`
 * with the same seed. The native addon runs it in one pass (`NeuropruneDropout`, on the native
 * backend and on wasm with the addon); elsewhere the same hash builds the mask in JavaScript, so
 * every backend draws the same masks (a model trained on one backend can be checked on another).
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from './native';
import type { WasmBackendLike, WasmTensorInfo } from './matmul';

export const DROPOUT_KERNELS = ['NeuropruneDropout'] as const;

type Kernel = (args: { inputs: Record<string, WasmTensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> }) => WasmTensorInfo;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The integer threshold and the scale of a rate in [0, 1). */
export function dropoutParams(rate: number): { threshold: number; scale: number } {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  return { threshold: Math.round(rate * 2 ** 24), scale: Math.fround(1 / (1 - rate)) };
}

/** The multiplier of element i (`scale` or 0), for the backends without the addon. */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const { threshold, scale } = dropoutParams(rate);
  const s = fmix32((seed ^ 0x5bd1e995) >>> 0);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (fmix32((s + Math.imul(i, 0x9e3779b1)) >>> 0) >>> 8 >= threshold) out[i] = scale;
  }
  return out;
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`dropout seed must be an integer in [0, 2^32), got ${seed}`);
}

/** The kernel over a backend's float32 memory (the wasm heap, or the native backend's arrays). */
export function dropoutKernels(blas: NativeBlas): Record<(typeof DROPOUT_KERNELS)[number], Kernel> {
  return {
    NeuropruneDropout: ({ inputs: { x }, backend, attrs }) => {
      const { threshold, scale } = dropoutParams(attrs.rate as number);
      const y = backend.makeOutput(x.shape, 'float32');
      const n = x.shape.reduce((a, b) => a * b, 1);
      // Views after the allocation (it may grow the wasm heap).
      if (n > 0) blas.dropout(backend.typedArrayFromHeap(x) as Float32Array, backend.typedArrayFromHeap(y) as Float32Array, n, attrs.seed as number, threshold, scale);
      return y;
    },
  };
}

function apply(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (x.dtype === 'float32' && tf.getKernel('NeuropruneDropout', tf.getBackend()) !== undefined) {
    return tf.engine().runKernel('NeuropruneDropout', { x } as unknown as tf.NamedTensorMap, { rate, seed }) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(x, tf.tensor(dropoutMask(x.size, rate, seed), x.shape, 'float32')));
}

/**
 * Inverted dropout of `x` at `rate` with mask `seed` (an integer in [0, 2^32)): each element kept
 * with probability `1 - rate` and scaled by `1 / (1 - rate)`, the same mask on every backend.
 */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  checkSeed(seed);
  dropoutParams(rate);
  if (rate === 0) return x.clone();
  const f = tf.customGrad(((xx: tf.Tensor) => ({
    value: apply(xx, rate, seed),
    gradFunc: (dy: tf.Tensor) => apply(dy, rate, seed),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}
