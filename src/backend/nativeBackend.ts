/**
 * The `native` TF.js backend: tensors in ordinary memory (the cpu backend's typed arrays), the hot
 * kernels in the OpenBLAS addon (`native/blas.cc`).
 *
 * Why a backend and not more wasm kernels: the wasm backend keeps every tensor in one 32-bit
 * WebAssembly.Memory, so a process dies near 4 GiB (MiniLM at 32 x 128, BERT-base above 5 x 128).
 * The cpu backend (`@tensorflow/tfjs-backend-cpu`) stores each tensor in its own typed array, which
 * has no such ceiling; its kernels are plain JavaScript. This backend is that class, registered
 * under its own name with every kernel the cpu backend registers, and with the addon's kernels
 * registered over the hot ones. The addon's functions take Float32Arrays, so they run zero-copy on
 * the backend's arrays (`backend.data.get(dataId).values`), exactly as they run on views of the
 * wasm heap: the kernels of `kernels/` are written once against `HeapBackend` (make an output, view
 * a tensor's floats) and this module adapts the cpu backend to it (`TypedArrayHeap`).
 *
 * A consequence of tensors living in JavaScript arrays, as on the cpu backend: `dataSync()` returns
 * the tensor's own buffer, not a copy; the buffer of a tensor is never written after its kernel
 * returns, except AdamW's moments (see kernels/training.ts). The addon kernels' float32 outputs
 * reuse the arrays of disposed tensors (`bufferPool.ts`), except arrays anything outside the
 * backend may still see.
 */
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeBlas } from './kernels/native';
import { nativeBatchMatMul, nativeFusedMatMul, type WasmBackendLike, type WasmTensorInfo } from './kernels/matmul';
import { FUSED_KERNELS, wasmFusedKernels } from './kernels/fused';
import { heapScatterNd, nativeSum } from './kernels/reduce';
import { TRAINING_KERNELS, registerTrainingBlas, wasmTrainingKernels } from './kernels/training';
import { ELEMENTWISE_KERNELS, elementwiseKernels } from './kernels/elementwise';
import { typedArrayGather } from './kernels/gather';
import { DROPOUT_KERNELS, dropoutKernels } from './kernels/dropout';
import { unsortedSegmentSum } from './segmentSumWasm';
import { PooledCpuBackend } from './bufferPool';

export const NATIVE_BACKEND = 'native';

type HeapArgs = { inputs: Record<string, WasmTensorInfo | undefined>; backend: WasmBackendLike; attrs: Record<string, unknown> };
type HeapKernel = (args: HeapArgs) => WasmTensorInfo | WasmTensorInfo[];
/** A kernel with one output (what the matmul, Sum and gather adapters fall back to). */
type SingleOutputKernel = (args: HeapArgs) => WasmTensorInfo;

/**
 * The cpu backend seen through the interface the kernels of `kernels/` use on the wasm heap. Views
 * are the tensors' own arrays (never detached: nothing here grows a shared memory).
 */
export class TypedArrayHeap implements WasmBackendLike {
  constructor(readonly backend: MathBackendCPU) {}

  makeOutput(shape: number[], dtype: tf.DataType): WasmTensorInfo {
    const n = shape.reduce((a, b) => a * b, 1);
    // Float32 outputs reuse the arrays of disposed tensors where the backend pools them (bufferPool.ts).
    const pooled = this.backend instanceof PooledCpuBackend && dtype === 'float32';
    const values = dtype === 'int32' ? new Int32Array(n) : dtype === 'bool' ? new Uint8Array(n)
      : pooled ? (this.backend as PooledCpuBackend).allocateFloat32(n) : new Float32Array(n);
    return this.backend.makeTensorInfo(shape, dtype, values) as WasmTensorInfo;
  }

  typedArrayFromHeap(info: WasmTensorInfo): Float32Array | Int32Array | Uint8Array {
    const v = (this.backend.data.get(info.dataId) as { values: unknown }).values;
    if (v == null) throw new Error(`native backend: tensor [${info.shape}] (${info.dtype}) has no data`);
    const matches = info.dtype === 'float32' ? v instanceof Float32Array : info.dtype === 'int32' ? v instanceof Int32Array
      : info.dtype === 'bool' ? v instanceof Uint8Array : false;
    if (matches) return v as Float32Array | Int32Array | Uint8Array;
    // The cpu backend's Cast from int32 to float32 shares the int32 tensor's buffer (no encoding
    // loss), so a float32 tensor may hold an Int32Array; and a tensor written from a plain array
    // holds that array. Kernels read such an input through a converted copy: not stored back,
    // since the buffer belongs to the other tensor too.
    const arr = v as ArrayLike<number>;
    return info.dtype === 'int32' ? Int32Array.from(arr) : info.dtype === 'bool' ? Uint8Array.from(arr) : Float32Array.from(arr);
  }

  disposeData(dataId: object): boolean {
    return this.backend.disposeData(dataId);
  }

  refCount(dataId: object): number {
    return this.backend.refCount(dataId);
  }

  incRef(dataId: object): void {
    this.backend.incRef(dataId);
  }
}

const heaps = new WeakMap<object, TypedArrayHeap>();

/** The adapter of a native backend instance (one per instance). */
export function heapOf(backend: object): TypedArrayHeap {
  let h = heaps.get(backend);
  if (!h) {
    h = new TypedArrayHeap(backend as MathBackendCPU);
    heaps.set(backend, h);
  }
  return h;
}

/** A kernel written against `HeapBackend`, called with the native backend. */
function adapt(kernel: HeapKernel): tf.KernelFunc {
  return ((args: { inputs: Record<string, WasmTensorInfo>; backend: object; attrs: Record<string, unknown> }) =>
    kernel({ inputs: args.inputs, attrs: args.attrs, backend: heapOf(args.backend) })) as unknown as tf.KernelFunc;
}

/** The cpu kernel `name`, callable from inside an adapted kernel (its backend is the adapter). */
function cpuFallback(name: string): SingleOutputKernel {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`cpu kernel ${name} is not registered: @tensorflow/tfjs-backend-cpu did not load`);
  return (args) => k.kernelFunc({
    inputs: args.inputs as unknown as tf.NamedTensorInfoMap,
    attrs: args.attrs as unknown as tf.NamedAttrMap,
    backend: (args.backend as TypedArrayHeap).backend,
  }) as unknown as WasmTensorInfo;
}

function put(name: string, kernelFunc: tf.KernelFunc): void {
  if (tf.getKernel(name, NATIVE_BACKEND)) tf.unregisterKernel(name, NATIVE_BACKEND);
  tf.registerKernel({ kernelName: name, backendName: NATIVE_BACKEND, kernelFunc });
}

let registeredWith: NativeBlas | undefined;

/** The kernels this backend runs in the addon (or in one typed-array pass) instead of the cpu backend's JavaScript. */
export function nativeBackendKernels(): string[] {
  return ['BatchMatMul', '_FusedMatMul', 'Sum', 'ScatterNd', 'GatherV2', 'UnsortedSegmentSum', ...FUSED_KERNELS, ...DROPOUT_KERNELS, ...TRAINING_KERNELS, ...ELEMENTWISE_KERNELS];
}

/**
 * Registers the `native` backend (idempotent): the cpu backend's class and kernels, with the
 * addon's kernels over the hot ones. Needs the addon: without it this backend would be the cpu
 * backend under another name, and the report would claim a speed it does not have.
 */
export function registerNativeBackend(blas: NativeBlas): void {
  if (registeredWith === blas && tf.findBackendFactory(NATIVE_BACKEND)) return;
  if (!blas.regMlp || !blas.regAttn || !blas.adamw) {
    throw new Error('native addon lacks the training kernels (built from an older native/blas.cc): run npm run build:native');
  }
  if (tf.findBackendFactory(NATIVE_BACKEND)) tf.removeBackend(NATIVE_BACKEND);
  tf.registerBackend(NATIVE_BACKEND, () => {
    const backend = new PooledCpuBackend();
    // The cpu backend prints a banner advising tfjs-node on first use; the report says what runs.
    (backend as unknown as { firstUse: boolean }).firstUse = false;
    return backend;
  }, 0);
  for (const k of tf.getKernelsForBackend('cpu')) put(k.kernelName, k.kernelFunc);
  const fn = (k: HeapKernel) => adapt(k);
  put('BatchMatMul', fn(nativeBatchMatMul(blas, cpuFallback('BatchMatMul')) as HeapKernel));
  put('_FusedMatMul', fn(nativeFusedMatMul(blas, cpuFallback('_FusedMatMul')) as HeapKernel));
  put('Sum', fn(nativeSum(blas, cpuFallback('Sum')) as HeapKernel));
  // The embedding gradient: one pass over typed arrays instead of the cpu kernel's TensorBuffer walk.
  put('ScatterNd', fn(heapScatterNd(cpuFallback('ScatterNd'), blas) as HeapKernel));
  put('GatherV2', fn(typedArrayGather(cpuFallback('GatherV2')) as HeapKernel));
  // tf.gather's own gradient (a compacted attention block gathers its kept input dims).
  put('UnsortedSegmentSum', fn(unsortedSegmentSum as unknown as HeapKernel));
  const fused = wasmFusedKernels(blas);
  for (const name of FUSED_KERNELS) put(name, fn(fused[name] as HeapKernel));
  const training = wasmTrainingKernels(blas);
  for (const name of TRAINING_KERNELS) put(name, fn(training[name] as HeapKernel));
  const dropout = dropoutKernels(blas);
  for (const name of DROPOUT_KERNELS) put(name, fn(dropout[name] as HeapKernel));
  const elementwise = elementwiseKernels(blas, cpuFallback);
  for (const name of ELEMENTWISE_KERNELS) put(name, fn(elementwise[name] as HeapKernel));
  registerTrainingBlas(NATIVE_BACKEND, blas, (backend) => heapOf(backend));
  registeredWith = blas;
}
