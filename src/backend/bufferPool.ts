/**
 * The `native` backend's class: the cpu backend, with the float32 outputs of the addon's kernels
 * drawn from a pool of the arrays that disposed tensors left behind.
 *
 * Why: every kernel output on the cpu backend is a new typed array. Node allocates a large one
 * with calloc, which hands out fresh pages from the kernel (zeroed on first touch, one page fault
 * per 4 KiB) and returns them when V8 collects the array. A MiniLM forward pass took about 90,000
 * page faults (350 MB of first touches) against 150 on wasm, whose heap is reused, and was slower
 * than wasm although each product was faster. Reusing the arrays of disposed tensors, unzeroed
 * (the kernels of `kernels/` write every element of their outputs, as they must on the wasm heap,
 * whose allocations are not zeroed either), removes both the faults and the zeroing.
 *
 * An array may be reused only when nothing else can still see it. The pool reuses only arrays it
 * handed out itself, attached to exactly one tensor, and never:
 * - an array `dataSync()`/`data()`/`bufferSync()` returned (the cpu backend hands out the tensor's
 *   own array, and callers keep it after disposing the tensor);
 * - an array some kernel attached to a second tensor, or whose memory a view attached to another
 *   tensor shares (the cpu backend's Slice returns a `subarray` of its input);
 * - an array of a tensor whose data are not float32 or that arrived from outside (`tf.tensor(a)`
 *   may keep the caller's `a`).
 * test/backend/bufferPool.test.ts checks each rule; the pool holds at most `maxBytes` at once.
 */
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

/** Arrays below this many floats come from malloc's free lists, not fresh pages: not pooled. */
export const MIN_POOLED_FLOATS = 4096;
/** The most the pool keeps, in bytes, unless `NEUROPRUNE_POOL_MB` says otherwise. */
export const DEFAULT_POOL_BYTES = 512 * 2 ** 20;

type Values = tf.backend_util.BackendValues;

export class PooledCpuBackend extends MathBackendCPU {
  /** Free arrays by length, the most recently freed last. */
  private readonly free = new Map<number, Float32Array[]>();
  private freeBytes = 0;
  /** Handed out by `allocateFloat32`, not yet attached to a tensor. */
  private readonly handedOut = new WeakSet<Float32Array>();
  /** Attached to exactly one tensor: reusable when that tensor's data go. */
  private readonly owned = new WeakSet<Float32Array>();
  /** Seen outside the backend, or shared: never reused. */
  private readonly exposed = new WeakSet<Float32Array>();
  private readonly ownerOfBuffer = new WeakMap<ArrayBufferLike, Float32Array>();
  /** Counters for tests and benchmarks. */
  readonly poolStats = { reused: 0, allocated: 0, recycled: 0, dropped: 0 };

  constructor(readonly maxBytes = poolBytesFromEnv()) {
    super();
  }

  /** A float32 array of `n` elements, contents undefined: the caller writes every element. */
  allocateFloat32(n: number): Float32Array {
    if (n >= MIN_POOLED_FLOATS) {
      const list = this.free.get(n);
      const reused = list?.pop();
      if (reused) {
        this.freeBytes -= reused.byteLength;
        this.handedOut.add(reused);
        this.poolStats.reused++;
        return reused;
      }
    }
    const a = new Float32Array(n);
    if (n >= MIN_POOLED_FLOATS) {
      this.handedOut.add(a);
      this.poolStats.allocated++;
    }
    return a;
  }

  private noteAttached(values: Values | undefined): void {
    if (!(values instanceof Float32Array)) return;
    if (this.handedOut.has(values)) {
      this.handedOut.delete(values);
      this.owned.add(values);
      this.ownerOfBuffer.set(values.buffer, values);
      return;
    }
    // A second tensor on an owned array, or a view into one: the owner is shared from now on.
    const owner = this.owned.has(values) ? values : this.ownerOfBuffer.get(values.buffer);
    if (owner) this.exposed.add(owner);
  }

  private noteExposed(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    const owner = this.owned.has(values) ? values : this.ownerOfBuffer.get(values.buffer);
    if (owner) this.exposed.add(owner);
  }

  // Every tensor's data arrive through `write` or `move` (`makeTensorInfo` calls `write`).
  override write(values: Values, shape: number[], dtype: tf.DataType): tf.DataId {
    this.noteAttached(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: tf.DataId, values: Values, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.noteAttached(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: tf.DataId): Values {
    const values = super.readSync(dataId);
    this.noteExposed(values);
    return values;
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.has(dataId) ? (this.data.get(dataId) as { values?: Values }).values : undefined;
    const gone = super.disposeData(dataId, force);
    if (gone && values instanceof Float32Array && this.owned.has(values) && !this.exposed.has(values)) this.recycle(values);
    return gone;
  }

  private recycle(a: Float32Array): void {
    this.owned.delete(a);
    if (this.freeBytes + a.byteLength > this.maxBytes) { this.poolStats.dropped++; return; }
    let list = this.free.get(a.length);
    if (!list) { list = []; this.free.set(a.length, list); }
    list.push(a);
    this.freeBytes += a.byteLength;
    this.poolStats.recycled++;
  }

  /** Bytes held by free arrays. */
  pooledBytes(): number {
    return this.freeBytes;
  }

  /** Lets the free arrays go (to the garbage collector). */
  emptyPool(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  override dispose(): void {
    this.emptyPool();
    super.dispose();
  }
}

function poolBytesFromEnv(): number {
  const mb = process.env.NEUROPRUNE_POOL_MB;
  if (mb === undefined || mb === '') return DEFAULT_POOL_BYTES;
  const n = Number(mb);
  if (!Number.isFinite(n) || n < 0) throw new Error(`NEUROPRUNE_POOL_MB must be a number of megabytes >= 0, got "${mb}"`);
  return n * 2 ** 20;
}
