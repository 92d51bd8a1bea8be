/**
 * `GatherV2` over typed arrays, for the `native` backend: each selected slice is one typed-array
 * copy. The cpu backend's kernel reads and writes every element through TensorBuffer coordinates
 * (an index conversion and an allocation per element), which made the embedding lookups of a
 * training step cost more than its LayerNorms.
 *
 * Handles `batchDims` 0 (every gather the models do); other cases go to the cpu kernel.
 */
import type { WasmBackendLike, WasmTensorInfo } from './matmul';

type KernelArgs = { inputs: Record<string, WasmTensorInfo | undefined>; backend: WasmBackendLike; attrs: Record<string, unknown> };
type KernelImpl = (args: KernelArgs) => WasmTensorInfo | WasmTensorInfo[];

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

export function typedArrayGather(fallback: KernelImpl): KernelImpl {
  return (args) => {
    const { x, indices } = args.inputs as { x: WasmTensorInfo; indices: WasmTensorInfo };
    const batchDims = Number(args.attrs.batchDims ?? 0);
    const rank = x.shape.length;
    let axis = Number(args.attrs.axis ?? 0);
    if (axis < 0) axis += rank;
    if (batchDims !== 0 || x.dtype === 'string' || x.dtype === 'complex64' || indices.dtype !== 'int32' || axis < 0 || axis >= rank) return fallback(args);
    const { backend } = args;
    const outer = prod(x.shape.slice(0, axis)), dim = x.shape[axis], inner = prod(x.shape.slice(axis + 1));
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const idx = backend.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < idx.length; i++) {
      if (idx[i] < 0 || idx[i] >= dim) {
        throw new Error(`GatherV2: index ${idx[i]} (entry ${i} of indices [${indices.shape}]) is outside [0, ${dim - 1}] of axis ${axis} of x [${x.shape}]`);
      }
    }
    const out = backend.makeOutput(outShape, x.dtype);
    const src = backend.typedArrayFromHeap(x), dst = backend.typedArrayFromHeap(out);
    const n = idx.length;
    let o = 0;
    for (let a = 0; a < outer; a++) {
      const base = a * dim * inner;
      for (let i = 0; i < n; i++, o += inner) {
        const from = base + idx[i] * inner;
        if (inner >= 16) dst.set(src.subarray(from, from + inner), o);
        else for (let j = 0; j < inner; j++) dst[o + j] = src[from + j];
      }
    }
    return out;
  };
}
