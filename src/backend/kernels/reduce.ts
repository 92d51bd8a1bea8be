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

/**
 * `ScatterNd` (scatter-add into zeros) over the wasm heap or the native backend's arrays. TF.js
 * 4.22's wasm kernel reads out of bounds on large outputs: a BERT-base embedding gradient
 * (30522 x 768 rows) crashes it, while MiniLM's (30522 x 384) does not. One pass over the updates,
 * like the cpu backend: in the addon when given (float32), else in JS.
 */
export function heapScatterNd(fallback: KernelImpl, blas?: NativeBlas): KernelImpl {
  return (args) => {
    const { indices, updates } = args.inputs as { indices: WasmTensorInfo; updates: WasmTensorInfo };
    const shape = args.attrs.shape as number[];
    if (indices.dtype !== 'int32' || (updates.dtype !== 'float32' && updates.dtype !== 'int32')) return fallback(args);
    const { backend } = args;
    const sliceRank = indices.shape.length > 1 ? indices.shape[indices.shape.length - 1] : 1;
    const sliceSize = shape.slice(sliceRank).reduce((a, b) => a * b, 1);
    const numSlices = shape.slice(0, sliceRank).reduce((a, b) => a * b, 1);
    const strides = new Array<number>(sliceRank);
    for (let i = sliceRank - 1, s = 1; i >= 0; i--) { strides[i] = s; s *= shape[i]; }
    if (blas && updates.dtype === 'float32') {
      // The slice of each update, then one native pass (zero fill and row adds; it checks the rows).
      const idx = backend.typedArrayFromHeap(indices) as Int32Array;
      const numUpdates = sliceRank === 0 ? 0 : idx.length / sliceRank;
      const rows = new Int32Array(numUpdates);
      for (let u = 0; u < numUpdates; u++) {
        let flat = 0;
        for (let j = 0; j < sliceRank; j++) flat += idx[u * sliceRank + j] * strides[j];
        // Out of range in int32 too: the addon then reports the row as outside.
        rows[u] = flat >= 0 && flat < numSlices ? flat : -1;
      }
      const out = backend.makeOutput(shape, 'float32');
      try {
        blas.scatterAddRows(rows, backend.typedArrayFromHeap(updates) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array, sliceSize, numSlices);
      } catch (err) {
        backend.disposeData(out.dataId);
        throw new Error(`ScatterNd: updates [${updates.shape}] into [${shape}]: ${(err as Error).message}`);
      }
      return out;
    }
    const out = backend.makeOutput(shape, updates.dtype);
    const o = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
    o.fill(0);
    const idx = backend.typedArrayFromHeap(indices) as Int32Array;
    const upd = backend.typedArrayFromHeap(updates) as Float32Array | Int32Array;
    const numUpdates = sliceRank === 0 ? 0 : idx.length / sliceRank;
    for (let u = 0; u < numUpdates; u++) {
      let flat = 0;
      for (let j = 0; j < sliceRank; j++) flat += idx[u * sliceRank + j] * strides[j];
      if (flat < 0 || flat >= numSlices) {
        backend.disposeData(out.dataId);
        throw new Error(`ScatterNd: index [${Array.from(idx.subarray(u * sliceRank, (u + 1) * sliceRank))}] is outside shape [${shape}]`);
      }
      const dst = flat * sliceSize, src = u * sliceSize;
      for (let k = 0; k < sliceSize; k++) o[dst + k] += upd[src + k];
    }
    return out;
  };
}
