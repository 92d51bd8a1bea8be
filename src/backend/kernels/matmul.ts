/**
 * `BatchMatMul` and `_FusedMatMul` for the wasm backend.
 *
 * Two implementations, chosen once at install time:
 * - native: OpenBLAS sgemm (through the `native/` addon) runs in place on the wasm heap views of
 *   the operands. Transposes are sgemm flags, so the gradient products (`transposeA` for weight
 *   gradients, `transposeB` for the forward pass of `[out, in]` weights) cost what a plain product
 *   costs, and batch entries and large products are split over the cores.
 * - wasm: the backend's own kernel is fast only without transposes (XNNPACK's plain path), so a
 *   transposed operand is first materialised with the wasm `Transpose` kernel (a few ms for a
 *   2048x384 matrix, against ~0.5-1.2 s for the transposed product itself).
 *
 * Batch dimensions broadcast as in NumPy (`[2,1,..] x [1,3,..] -> [2,3,..]`).
 */
import * as tf from '@tensorflow/tfjs';
import { ACTIVATION_CODES, type NativeBlas } from './native';

export interface WasmTensorInfo { dataId: object; shape: number[]; dtype: tf.DataType }
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): WasmTensorInfo;
  /**
   * A view of the tensor on the wasm heap, valid only until the next allocation: an allocation
   * may grow the memory, which detaches every view taken before it. Every kernel here takes its
   * views after its last `makeOutput` (test/backend/heapGrowth.test.ts grows the heap at each).
   */
  typedArrayFromHeap(info: WasmTensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}
type KernelArgs = { inputs: Record<string, WasmTensorInfo | undefined>; backend: WasmBackendLike; attrs: Record<string, unknown> };
type KernelImpl = (args: KernelArgs) => WasmTensorInfo;

interface ProductShape {
  m: number; n: number; k: number;
  /** Output shape, batch dims broadcast. */
  outShape: number[];
  /** Element offsets of each batch entry's A and B matrix. */
  aOffsets: Int32Array;
  bOffsets: Int32Array;
}

function broadcastShapes(a: number[], b: number[], what: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${what}: batch dims [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Offsets of each output batch entry into an operand with batch dims `dims` (broadcast to `out`). */
function batchOffsets(dims: number[], out: number[], matrixSize: number): Int32Array {
  const total = out.reduce((p, d) => p * d, 1);
  const offsets = new Int32Array(total);
  const rank = out.length;
  // Strides of the operand in matrices, 0 along broadcast dims.
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    const d = dims[dims.length - rank + i] ?? 1;
    strides[i] = d === 1 ? 0 : s;
    s *= d;
  }
  const idx = new Array<number>(rank).fill(0);
  for (let t = 0; t < total; t++) {
    let o = 0;
    for (let i = 0; i < rank; i++) o += idx[i] * strides[i];
    offsets[t] = o * matrixSize;
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < out[i]) break;
      idx[i] = 0;
    }
  }
  return offsets;
}

export function productShape(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean, what: string): ProductShape {
  if (aShape.length < 2 || bShape.length < 2) throw new Error(`${what}: operands must have rank >= 2, got [${aShape}] and [${bShape}]`);
  const ra = aShape.length, rb = bShape.length;
  const m = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const ka = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const kb = transposeB ? bShape[rb - 1] : bShape[rb - 2];
  const n = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  if (ka !== kb) {
    throw new Error(`${what}: inner shapes (${ka}) and (${kb}) of [${aShape}] and [${bShape}] (transposeA=${transposeA}, transposeB=${transposeB}) must match`);
  }
  const batchA = aShape.slice(0, -2), batchB = bShape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB, what);
  return {
    m, n, k: ka,
    outShape: [...batch, m, n],
    aOffsets: batchOffsets(batchA, batch, m * ka),
    bOffsets: batchOffsets(batchB, batch, ka * n),
  };
}

function f32(view: Float32Array | Int32Array | Uint8Array, name: string): Float32Array {
  if (!(view instanceof Float32Array)) throw new Error(`native matmul: ${name} is not float32`);
  return view;
}

/** Native `BatchMatMul`; `fallback` handles what it does not (non-float32). */
export function nativeBatchMatMul(blas: NativeBlas, fallback: KernelImpl): KernelImpl {
  return (args) => {
    const { a, b } = args.inputs as { a: WasmTensorInfo; b: WasmTensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const transposeA = args.attrs.transposeA === true, transposeB = args.attrs.transposeB === true;
    const p = productShape(a.shape, b.shape, transposeA, transposeB, 'BatchMatMul');
    const { backend } = args;
    const out = backend.makeOutput(p.outShape, 'float32');
    // Views only after makeOutput: an allocation may grow (and detach) the heap.
    blas.gemm(
      f32(backend.typedArrayFromHeap(a), 'a'), f32(backend.typedArrayFromHeap(b), 'b'), f32(backend.typedArrayFromHeap(out), 'out'),
      p.aOffsets, p.bOffsets, p.m, p.n, p.k, transposeA, transposeB, null, 0, 0,
    );
    return out;
  };
}

/**
 * Native `_FusedMatMul`: bias over the output columns and every activation. PReLU with per-column
 * (or scalar) weights is applied here in JS after the product: TF.js 4.22's own wasm kernel gets
 * PReLU-with-bias wrong (it disagrees with the cpu backend). Other shapes go to `fallback`.
 */
export function nativeFusedMatMul(blas: NativeBlas, fallback: KernelImpl): KernelImpl {
  return (args) => {
    const { a, b, bias, preluActivationWeights: prelu } = args.inputs as { a: WasmTensorInfo; b: WasmTensorInfo; bias?: WasmTensorInfo; preluActivationWeights?: WasmTensorInfo };
    const activation = String(args.attrs.activation ?? 'linear');
    const code = activation === 'prelu' ? ACTIVATION_CODES.linear : ACTIVATION_CODES[activation];
    const transposeA = args.attrs.transposeA === true, transposeB = args.attrs.transposeB === true;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || code === undefined) return fallback(args);
    const p = productShape(a.shape, b.shape, transposeA, transposeB, '_FusedMatMul');
    // Only a bias / PReLU weights over the output columns fuse; other broadcasts take the reference path.
    const perColumn = (t: WasmTensorInfo | undefined, allowScalar: boolean) => {
      if (!t) return true;
      const sz = t.shape.reduce((x, y) => x * y, 1);
      return t.dtype === 'float32' && (sz === p.n || (allowScalar && sz === 1)) && t.shape.slice(0, -1).every((d) => d === 1);
    };
    if (!perColumn(bias, false) || (activation === 'prelu' ? !prelu || !perColumn(prelu, true) : prelu != null)) return fallback(args);
    const { backend } = args;
    const out = backend.makeOutput(p.outShape, 'float32');
    const alpha = typeof args.attrs.leakyreluAlpha === 'number' ? args.attrs.leakyreluAlpha : 0.2;
    const o = f32(backend.typedArrayFromHeap(out), 'out');
    blas.gemm(
      f32(backend.typedArrayFromHeap(a), 'a'), f32(backend.typedArrayFromHeap(b), 'b'), o,
      p.aOffsets, p.bOffsets, p.m, p.n, p.k, transposeA, transposeB,
      bias ? f32(backend.typedArrayFromHeap(bias), 'bias') : null, code, alpha,
    );
    if (activation === 'prelu' && prelu) {
      const w = f32(backend.typedArrayFromHeap(prelu), 'preluActivationWeights');
      const scalar = w.length === 1;
      for (let i = 0, j = 0; i < o.length; i++, j = j + 1 === p.n ? 0 : j + 1) {
        if (o[i] < 0) o[i] *= scalar ? w[0] : w[j];
      }
    }
    return out;
  };
}

/** Swaps the last two dims with the backend's own `Transpose` kernel. */
function transposeLast2(x: WasmTensorInfo, backend: WasmBackendLike): WasmTensorInfo {
  const kernel = tf.getKernel('Transpose', 'wasm');
  if (!kernel) throw new Error('wasm Transpose kernel is not registered');
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return kernel.kernelFunc({ inputs: { x } as unknown as tf.NamedTensorInfoMap, backend: backend as unknown as tf.KernelBackend, attrs: { perm } }) as unknown as WasmTensorInfo;
}

/**
 * Pure-wasm product: transposes first, then the backend's fast plain kernel. Batch broadcasting
 * other than "equal or one side 1" (which the wasm kernel handles) is left to it as well.
 */
export function wasmTransposeFirst(original: KernelImpl): KernelImpl {
  return (args) => {
    const transposeA = args.attrs.transposeA === true, transposeB = args.attrs.transposeB === true;
    const { a, b } = args.inputs as { a: WasmTensorInfo; b: WasmTensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const { backend } = args;
    const plain = args.inputs.bias == null && (args.attrs.activation ?? 'linear') === 'linear';
    if (plain) {
      // TF.js's wasm kernel reads uninitialised memory when the inner dim is 0 and divides by
      // zero on an empty batch: those products are zeros (or empty) by definition.
      const p = productShape(a.shape, b.shape, transposeA, transposeB, 'BatchMatMul');
      if (p.k === 0 || p.aOffsets.length === 0 || p.m === 0 || p.n === 0) {
        const out = backend.makeOutput(p.outShape, 'float32');
        backend.typedArrayFromHeap(out).fill(0);
        return out;
      }
    }
    if (!transposeA && !transposeB) return original(args);
    const temps: WasmTensorInfo[] = [];
    const at = transposeA ? transposeLast2(a, backend) : a;
    if (transposeA) temps.push(at);
    const bt = transposeB ? transposeLast2(b, backend) : b;
    if (transposeB) temps.push(bt);
    try {
      return original({ ...args, inputs: { ...args.inputs, a: at, b: bt }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}
