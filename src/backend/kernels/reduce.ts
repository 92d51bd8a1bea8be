/**
 * `Sum` and `Identity` for the wasm backend.
 *
 * - Sum (native): TF.js's wasm Sum transposes the input whenever the reduced axes are not the
 *   innermost, so every bias gradient (a sum of `dy [tokens, out]` over its rows) pays a full
 *   transpose first. Here any contiguous block of axes is reduced in place in one pass.
 * - Identity (both paths): TF.js clones every tensor it saves for the backward pass through
 *   `Identity`, which on wasm copies the data (hundreds of copies per training step). Tensors are
 *   immutable, so the clone can share the buffer with a reference count, as `Reshape` already does.
 */
import type { NativeBlas } from './native';
import type { WasmBackendLike, WasmTensorInfo } from './matmul';

type KernelArgs = { inputs: Record<string, WasmTensorInfo | undefined>; backend: WasmBackendLike; attrs: Record<string, unknown> };
type KernelImpl = (args: KernelArgs) => WasmTensorInfo;

export function nativeSum(blas: NativeBlas, fallback: KernelImpl): KernelImpl {
  return (args) => {
    const x = args.inputs.x as WasmTensorInfo;
    const rank = x.shape.length;
    const raw = args.attrs.axis;
    // No axis means every axis.
    const list = raw == null ? x.shape.map((_, i) => i) : (Array.isArray(raw) ? raw : [raw]).map((a) => Number(a));
    if (x.dtype !== 'float32' || rank === 0 || list.length === 0 || list.some((a) => !Number.isInteger(a) || a < -rank || a >= rank)) return fallback(args);
    const axes = [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
    // Only a contiguous block of axes maps onto [outer, r, inner].
    if (axes.some((a, i) => i > 0 && a !== axes[i - 1] + 1)) return fallback(args);
    const first = axes[0], last = axes[axes.length - 1];
    const prod = (s: number[]) => s.reduce((p, d) => p * d, 1);
    const outer = prod(x.shape.slice(0, first)), r = prod(x.shape.slice(first, last + 1)), inner = prod(x.shape.slice(last + 1));
    const outShape = args.attrs.keepDims === true
      ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
      : [...x.shape.slice(0, first), ...x.shape.slice(last + 1)];
    const { backend } = args;
    const out = backend.makeOutput(outShape, 'float32');
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    if (outer * inner === 0) return out;
    if (r === 0) {
      o.fill(0);
      return out;
    }
    blas.sumAxis(backend.typedArrayFromHeap(x) as Float32Array, o, outer, r, inner);
    return out;
  };
}

interface RefCounting { incRef(dataId: object): void }

/** Identity without a copy: the output shares the input's buffer (reference counted). */
export function zeroCopyIdentity(fallback: KernelImpl): KernelImpl {
  return (args) => {
    const x = args.inputs.x as WasmTensorInfo;
    if (x.dtype === 'string') return fallback(args);
    (args.backend as unknown as RefCounting).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}
