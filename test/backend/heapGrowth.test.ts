/**
 * Every custom wasm kernel must take its views of the heap after its last allocation: an
 * allocation may grow the wasm memory, which detaches every view taken before it (reads give
 * `undefined`, writes vanish). Here the heap is grown at every `makeOutput` of a kernel call, and
 * each kernel must give bit for bit what it gives without growth.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../src/backend';
import { values } from './values';
import { installWasmKernels, loadNativeBlas, nativeAdamWUpdate, trainingKernelCalls } from '../../src/backend/kernels';

interface Heap { HEAPU8: Uint8Array; _malloc(n: number): number; _free(p: number): void }
interface Info { dataId: object; shape: number[]; dtype: tf.DataType }
interface Backend {
  wasm: Heap;
  makeOutput(shape: number[], dtype: tf.DataType, ...rest: unknown[]): Info;
  readSync(dataId: object): ArrayLike<number>;
  disposeData(dataId: object): boolean;
}

const native = loadNativeBlas();
const backend = () => tf.backend() as unknown as Backend;

/**
 * Blocks that fill the heap's holes and free top, never freed: with the free space kept small,
 * each forced growth is emscripten's minimum step (20%, at most 96 MB) instead of a doubling.
 */
const ballast: number[] = [];
let growths = 0;

/** Grows the wasm memory once, detaching every view taken before. */
function growHeap(): void {
  const heap = backend().wasm;
  const before = heap.HEAPU8.buffer;
  let request = 1 << 16;
  let last = 0;
  while (heap.HEAPU8.buffer === before) {
    last = heap._malloc(request);
    if (last === 0) throw new Error(`wasm heap could not grow past ${heap.HEAPU8.length} bytes`);
    ballast.push(last);
    if (heap.HEAPU8.buffer === before) request *= 2;
  }
  // The new space starts after the block that grew the heap: fill all of it but a little.
  const rest = heap.HEAPU8.length - (last + request) - (1 << 13);
  const grown = heap.HEAPU8.buffer;
  if (rest > 0) {
    const p = heap._malloc(rest);
    if (p !== 0) ballast.push(p);
  }
  if (heap.HEAPU8.buffer !== grown) throw new Error('the ballast grew the heap: the test helper misjudged the free space');
  growths++;
}

/**
 * Replaces the wasm backend by a new instance (a new 16 MB heap), so that the growths of one case
 * do not add up over the file (emscripten grows by at least 20% a time, and TF.js's own wasm
 * kernels fail on heaps past 2 GB). The kernel registrations are per backend name and stay.
 */
async function freshWasmBackend(): Promise<void> {
  const factory = tf.findBackendFactory('wasm');
  if (!factory) throw new Error('the wasm backend is not registered');
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', factory);
  if (!(await tf.setBackend('wasm'))) throw new Error('a fresh wasm backend did not initialise');
  ballast.length = 0;
}

/** Runs `f` with the heap grown right after every `makeOutput`; returns how many there were. */
function growingAtEveryAllocation<T>(f: () => T): { result: T; allocations: number } {
  const b = backend();
  const own = Object.prototype.hasOwnProperty.call(b, 'makeOutput');
  const original = b.makeOutput;
  let allocations = 0;
  b.makeOutput = function (this: Backend, ...args: Parameters<Backend['makeOutput']>) {
    const out = original.apply(this, args);
    allocations++;
    growHeap();
    return out;
  };
  try {
    return { result: f(), allocations };
  } finally {
    if (own) b.makeOutput = original;
    else delete (b as Partial<Backend>).makeOutput;
  }
}

/** Calls a registered wasm kernel directly and copies its outputs out (then frees them). */
function callKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): number[][] {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  const infos: Record<string, Info> = {};
  for (const [k, t] of Object.entries(inputs)) infos[k] = { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
  const out = kernel.kernelFunc({ inputs: infos as unknown as tf.NamedTensorInfoMap, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap });
  const list = (Array.isArray(out) ? out : [out]) as unknown as Info[];
  return list.map((o) => {
    const data = Array.from(backend().readSync(o.dataId));
    backend().disposeData(o.dataId);
    return data;
  });
}


type Case = [name: string, kernel: string, inputs: () => Record<string, tf.Tensor>, attrs?: Record<string, unknown>];

const shared: Case[] = [
  ['UnsortedSegmentSum', 'UnsortedSegmentSum',
    () => ({ x: tf.tensor2d(values(12, 1), [4, 3]), segmentIds: tf.tensor1d([1, 0, 1, 3], 'int32') }), { numSegments: 5 }],
  ['ScatterNd', 'ScatterNd',
    () => ({ indices: tf.tensor2d([[1], [3], [1]], [3, 1], 'int32'), updates: tf.tensor2d(values(6, 2), [3, 2]) }), { shape: [5, 2] }],
  ['BatchMatMul (transposeA, transposeB)', 'BatchMatMul',
    () => ({ a: tf.tensor3d(values(24, 3), [2, 3, 4]), b: tf.tensor3d(values(30, 4), [2, 5, 3]) }), { transposeA: true, transposeB: true }],
  ['BatchMatMul with an empty inner dim', 'BatchMatMul',
    () => ({ a: tf.zeros([1, 3, 0]), b: tf.zeros([1, 0, 2]) }), { transposeA: false, transposeB: false }],
  ['_FusedMatMul + bias + relu (transposeB)', '_FusedMatMul',
    () => ({ a: tf.tensor3d(values(12, 5), [1, 3, 4]), b: tf.tensor3d(values(20, 6), [1, 5, 4]), bias: tf.tensor1d(values(5, 7)) }),
    { transposeA: false, transposeB: true, activation: 'relu' }],
];

const nativeOnly: Case[] = [
  ['_FusedMatMul + bias + prelu', '_FusedMatMul',
    () => ({ a: tf.tensor3d(values(12, 5), [1, 3, 4]), b: tf.tensor3d(values(20, 6), [1, 4, 5]), bias: tf.tensor1d(values(5, 7)),
      preluActivationWeights: tf.tensor1d(values(5, 8)) }),
    { transposeA: false, transposeB: false, activation: 'prelu' }],
  ['Sum over a middle axis', 'Sum', () => ({ x: tf.tensor3d(values(24, 9), [2, 3, 4]) }), { axis: [1], keepDims: false }],
  ['NeuropruneGelu', 'NeuropruneGelu', () => ({ x: tf.tensor2d(values(12, 10), [3, 4]) })],
  ['NeuropruneGeluGrad', 'NeuropruneGeluGrad', () => ({ dy: tf.tensor2d(values(12, 11), [3, 4]), x: tf.tensor2d(values(12, 10), [3, 4]) })],
  ['NeuropruneSoftmax', 'NeuropruneSoftmax', () => ({ x: tf.tensor2d(values(12, 12), [3, 4]) })],
  ['NeuropruneSoftmaxGrad', 'NeuropruneSoftmaxGrad', () => ({ dy: tf.tensor2d(values(12, 13), [3, 4]), y: tf.tensor2d(values(12, 14), [3, 4]) })],
  ['NeuropruneLayerNorm', 'NeuropruneLayerNorm',
    () => ({ x: tf.tensor2d(values(12, 15), [3, 4]), gamma: tf.tensor1d(values(4, 16)), beta: tf.tensor1d(values(4, 17)) }), { epsilon: 1e-5 }],
  ['NeuropruneLayerNormGrad', 'NeuropruneLayerNormGrad',
    () => ({ dy: tf.tensor2d(values(12, 18), [3, 4]), x: tf.tensor2d(values(12, 15), [3, 4]), mean: tf.tensor2d(values(3, 19), [3, 1]),
      rstd: tf.tensor2d(values(3, 20).map((v) => 1 + v * v), [3, 1]), gamma: tf.tensor1d(values(4, 16)) })],
  ['NeuropruneRegMlp', 'NeuropruneRegMlp', () => ({ x: tf.tensor2d(values(12, 21).map((v) => (v > 0.5 ? 0 : v)), [3, 4]) }), { eps: 1e-4 }],
  ['NeuropruneRegMlpGrad', 'NeuropruneRegMlpGrad',
    () => ({ x: tf.tensor2d(values(12, 21).map((v) => (v > 0.5 ? 0 : v)), [3, 4]), dy: tf.scalar(0.5) }), { eps: 1e-4 }],
  ['NeuropruneRegAttn', 'NeuropruneRegAttn',
    () => ({ q: tf.tensor2d(values(8, 22), [2, 4]), k: tf.tensor2d(values(8, 23), [2, 4]), v: tf.tensor2d(values(8, 24), [2, 4]) }), { delta: 1e-8 }],
  ['NeuropruneRegAttnGrad', 'NeuropruneRegAttnGrad',
    () => ({ q: tf.tensor2d(values(8, 22), [2, 4]), k: tf.tensor2d(values(8, 23), [2, 4]), v: tf.tensor2d(values(8, 24), [2, 4]), dy: tf.scalar(2) }),
    { delta: 1e-8 }],
];

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
});
afterAll(() => {
  installWasmKernels();
});

describe('UnsortedSegmentSum (the gradient of gather) when its output grows the heap', () => {
  it('sums into a large numSegments', () => {
    installWasmKernels('wasm');
    const heapBytes = backend().wasm.HEAPU8.length;
    // An output larger than the whole heap must grow it while the kernel runs.
    const numSegments = Math.ceil(heapBytes / 4) + 1024;
    const buffer = backend().wasm.HEAPU8.buffer;
    const head = tf.tidy(() => {
      const out = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([0, 1, 2, numSegments - 1], 'int32'), numSegments);
      const d = out.dataSync();
      return [d[0], d[1], d[2], d[numSegments - 1], d[numSegments - 2]];
    });
    expect(backend().wasm.HEAPU8.buffer).not.toBe(buffer);
    expect(head).toEqual([1, 2, 3, 4, 0]);
  });
});

const modes = ['native', 'wasm'] as const;
describe.each(modes)('%s kernels with the heap grown at every allocation', (mode) => {
  const available = mode === 'wasm' || native.ok;
  beforeAll(() => {
    if (available) expect(installWasmKernels(mode).mode).toBe(mode);
  });
  beforeEach(freshWasmBackend);

  for (const [name, kernel, inputs, attrs] of mode === 'native' ? [...shared, ...nativeOnly] : shared) {
    it.skipIf(!available)(`${name}${available ? '' : ` (skipped: ${native.ok ? '' : native.reason})`}`, () => {
      const ins = inputs();
      try {
        const plain = callKernel(kernel, ins, attrs);
        const before = growths;
        const { result, allocations } = growingAtEveryAllocation(() => callKernel(kernel, ins, attrs));
        expect(allocations).toBeGreaterThan(0);
        expect(growths - before).toBe(allocations);
        expect(result).toEqual(plain);
        // The kernel computed something: not all zeros (the symptom of a detached view).
        expect(plain.flat().some((v) => v !== 0) || kernel === 'BatchMatMul').toBe(true);
      } finally {
        tf.dispose(Object.values(ins));
      }
    });
  }

  if (mode === 'native') it.skipIf(!available)(`the native AdamW update of a parameter whose buffers are shared${available ? '' : ' (skipped: no addon)'}`, () => {
    const p = tf.variable(tf.tensor1d(values(64, 30)));
    const m = tf.tensor1d(values(64, 31)), v = tf.tensor1d(values(64, 32).map((x) => x * x)), g = tf.tensor1d(values(64, 33));
    const step = { lr: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: 3 };
    const run = (grow: boolean) => {
      const pv = tf.variable(p.clone());
      // Clones share the buffers (zero-copy Identity): the update must first copy each into its own.
      const mc = m.clone(), vc = v.clone(), keepM = mc.clone(), keepV = vc.clone(), keepP = pv.clone();
      const calls = trainingKernelCalls.adamw;
      const update = () => nativeAdamWUpdate(pv, mc, vc, g, step);
      const res = grow ? growingAtEveryAllocation(update) : { result: update(), allocations: 0 };
      expect(trainingKernelCalls.adamw).toBe(calls + 1);
      const out = [pv, res.result!.m, res.result!.v].map((t) => Array.from(t.dataSync()));
      // The tensors that shared the buffers are untouched.
      expect(Array.from(keepM.dataSync())).toEqual(Array.from(m.dataSync()));
      expect(Array.from(keepV.dataSync())).toEqual(Array.from(v.dataSync()));
      expect(Array.from(keepP.dataSync())).toEqual(Array.from(p.dataSync()));
      tf.dispose([pv, mc, vc, keepM, keepV, keepP, res.result!.m, res.result!.v]);
      return { out, allocations: res.allocations };
    };
    const plain = run(false);
    const grown = run(true);
    expect(grown.allocations).toBe(3);
    expect(grown.out).toEqual(plain.out);
    expect(plain.out[0]).not.toEqual(Array.from(p.dataSync()));
    tf.dispose([p, m, v, g]);
  });
});
