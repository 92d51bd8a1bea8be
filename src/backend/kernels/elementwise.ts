/**
 * Elementwise arithmetic (Add, Sub, Mul, RealDiv with NumPy broadcasting) and Transpose in the
 * native addon, for the `native` backend.
 *
 * Why: the cpu backend runs them in JavaScript, and whenever an operand broadcasts (every bias
 * add, the attention mask, the embeddings' position rows) or a transpose is not trivial (every
 * split and merge of attention heads, forward and backward) it converts each element's index to
 * coordinates with two small allocations: 100-200 ns per element, more than the products around
 * them (BENCHMARKS.md, "Per kernel on native"). The addon collapses the dims and runs contiguous
 * loops over both cores. Other dtypes go to the cpu backend's kernels.
 *
 * The wasm backend has its own C++ kernels for these and does not use this module.
 */
import type { NativeBlas } from './native';
import type { WasmBackendLike, WasmTensorInfo } from './matmul';

type KernelArgs = { inputs: Record<string, WasmTensorInfo | undefined>; backend: WasmBackendLike; attrs: Record<string, unknown> };
type KernelImpl = (args: KernelArgs) => WasmTensorInfo | WasmTensorInfo[];

export const ELEMENTWISE_KERNELS = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Transpose'] as const;
type Name = (typeof ELEMENTWISE_KERNELS)[number];

const OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;

/** NumPy broadcast of two shapes, or undefined when they do not broadcast (the fallback then reports it). */
export function broadcastShape(a: number[], b: number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1, db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out.push(da === 1 ? db : da);
  }
  return out;
}

const padded = (shape: number[], rank: number) => Int32Array.from([...Array(rank - shape.length).fill(1), ...shape]);

/** A Float32Array over an int32 tensor's memory (Transpose moves 4-byte elements whatever they mean). */
function asF32(v: Float32Array | Int32Array | Uint8Array): Float32Array {
  return v instanceof Float32Array ? v : new Float32Array(v.buffer, v.byteOffset, v.length);
}

export function elementwiseKernels(blas: NativeBlas, fallback: (name: string) => KernelImpl): Record<Name, KernelImpl> {
  const binary = (name: keyof typeof OPS): KernelImpl => {
    const orig = fallback(name);
    return (args) => {
      const { a, b } = args.inputs as { a: WasmTensorInfo; b: WasmTensorInfo };
      const shape = a.dtype === 'float32' && b.dtype === 'float32' ? broadcastShape(a.shape, b.shape) : undefined;
      if (!shape) return orig(args);
      const { backend } = args;
      const out = backend.makeOutput(shape, 'float32');
      blas.binary(backend.typedArrayFromHeap(a) as Float32Array, backend.typedArrayFromHeap(b) as Float32Array,
        backend.typedArrayFromHeap(out) as Float32Array, OPS[name], Int32Array.from(shape), padded(a.shape, shape.length), padded(b.shape, shape.length));
      return out;
    };
  };
  const transposeOrig = fallback('Transpose');
  const transpose: KernelImpl = (args) => {
    const x = args.inputs.x as WasmTensorInfo;
    const perm = (args.attrs.perm as number[]).map((p) => (p < 0 ? p + x.shape.length : p));
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return transposeOrig(args);
    const { backend } = args;
    const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
    blas.transpose(asF32(backend.typedArrayFromHeap(x)), asF32(backend.typedArrayFromHeap(out)), Int32Array.from(x.shape), Int32Array.from(perm));
    return out;
  };
  return { Add: binary('Add'), Sub: binary('Sub'), Multiply: binary('Multiply'), RealDiv: binary('RealDiv'), Transpose: transpose };
}
