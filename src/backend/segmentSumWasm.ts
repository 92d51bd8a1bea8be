/**
 * `UnsortedSegmentSum` for the wasm backend, and for the native backend (through its typed-array
 * adapter, src/backend/nativeBackend.ts).
 *
 * tfjs-backend-wasm 4.22 registers no `UnsortedSegmentSum`, yet it is the gradient of
 * `gather`, so every embedding lookup needs it to train. The cpu backend's kernel makes one masked
 * reduction over all of `x` per segment (the gradient of a compacted attention block's input
 * gather costs hundreds of passes). The kernel here is a plain scatter-add over the tensors'
 * memory: no copy, O(size of x).
 */
import * as tf from '@tensorflow/tfjs';

interface WasmTensorInfo { dataId: object; shape: number[]; dtype: tf.DataType }
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): WasmTensorInfo;
  typedArrayFromHeap(info: WasmTensorInfo): Float32Array | Int32Array | Uint8Array;
}

export function unsortedSegmentSum(args: {
  inputs: { x: WasmTensorInfo; segmentIds: WasmTensorInfo };
  backend: WasmBackendLike;
  attrs: { numSegments: number };
}): WasmTensorInfo {
  const { inputs: { x, segmentIds }, backend, attrs: { numSegments } } = args;
  // segmentIds covers the leading dims of x; each id selects a slice of `inner` values.
  const outer = segmentIds.shape.reduce((a, b) => a * b, 1);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Every view only after the allocation: growing the wasm memory detaches the views taken
  // before it (their reads give undefined), and a large numSegments grows it.
  const ids = backend.typedArrayFromHeap(segmentIds);
  const xs = backend.typedArrayFromHeap(x);
  const os = backend.typedArrayFromHeap(out);
  os.fill(0);
  for (let i = 0; i < outer; i++) {
    const seg = ids[i];
    // Ids outside [0, numSegments) are dropped, as TensorFlow does.
    if (seg < 0 || seg >= numSegments) continue;
    const src = i * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) os[dst + j] += xs[src + j];
  }
  return out;
}

let registered = false;

/** Registers the kernel once; a no-op when a later tfjs release already provides it. */
export function registerWasmSegmentSum(): void {
  if (registered || tf.getKernel('UnsortedSegmentSum', 'wasm') !== undefined) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
  });
  registered = true;
}
