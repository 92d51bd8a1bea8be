import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { loadNativeBlas } from '../../src/backend/kernels';
import { MIN_POOLED_FLOATS, PooledCpuBackend } from '../../src/backend/bufferPool';
import { values } from './values';

const built = loadNativeBlas().ok;
const N = 2 * MIN_POOLED_FLOATS; // pooled size: [rows, 64]
const rows = N / 64;

function backend(): PooledCpuBackend {
  const b = tf.backend();
  if (!(b instanceof PooledCpuBackend)) throw new Error(`expected the native backend's class, got ${tf.getBackend()}`);
  return b;
}

/** A float32 output of the addon (the Add kernel): its array comes from the pool. */
function kernelOutput(seed: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.tensor2d(values(N, seed), [rows, 64]), tf.tensor2d(values(N, seed + 1), [rows, 64])));
}

/** Runs kernels of the same size until the pool has handed out every free array again, overwriting them. */
function churn(): void {
  for (let i = 0; i < 6; i++) tf.dispose(kernelOutput(100 + i));
}

describe.skipIf(!built)('the native backend reuses arrays only when nothing else sees them', () => {
  beforeAll(async () => { await initBackend({ force: 'native' }); });
  afterAll(async () => { await initBackend({ force: 'cpu' }); });

  it('reuses the array of a disposed kernel output, and the reused output is right', () => {
    const first = kernelOutput(1);
    first.dispose();
    const before = { ...backend().poolStats };
    const again = kernelOutput(3);
    expect(backend().poolStats.reused).toBeGreaterThan(before.reused);
    const expected = values(N, 3).map((v, i) => v + values(N, 4)[i]);
    expect(Array.from(again.dataSync())).toEqual(Array.from(expected));
    again.dispose();
  });

  it('never reuses an array dataSync() returned, even after the tensor is disposed', () => {
    const t = kernelOutput(5);
    const seen = t.dataSync();
    const copy = Float32Array.from(seen);
    t.dispose();
    churn();
    expect(Array.from(seen)).toEqual(Array.from(copy));
  });

  it('never reuses an array whose memory a view (a contiguous slice) still shows', () => {
    const t = kernelOutput(7);
    const head = tf.slice(t, [0, 0], [rows / 2, 64]); // the cpu backend's Slice: a subarray of t's array
    const copy = Float32Array.from(t.dataSync()).slice(0, N / 2);
    // dataSync above exposed t already; make a fresh one and slice it without reading it.
    t.dispose();
    const u = kernelOutput(9);
    const uHead = tf.slice(u, [0, 0], [rows / 2, 64]);
    u.dispose();
    churn();
    const expected = values(N, 9).map((v, i) => v + values(N, 10)[i]).slice(0, N / 2);
    expect(Array.from(uHead.dataSync())).toEqual(Array.from(expected));
    expect(Array.from(head.dataSync())).toEqual(Array.from(copy));
    tf.dispose([head, uHead]);
  });

  it("never reuses a caller's array (tf.tensor keeps it) nor one attached to two tensors", () => {
    const mine = values(N, 11);
    const copy = Float32Array.from(mine);
    tf.tensor2d(mine, [rows, 64]).dispose();
    churn();
    expect(Array.from(mine)).toEqual(Array.from(copy));

    const b = backend();
    const shared = b.allocateFloat32(N).fill(2);
    const id1 = b.write(shared, [N], 'float32');
    const id2 = b.write(shared, [N], 'float32');
    const pooled = b.pooledBytes();
    b.disposeData(id1);
    expect(b.pooledBytes()).toBe(pooled);
    churn();
    expect(Array.from(b.readSync(id2) as Float32Array).every((v) => v === 2)).toBe(true);
    b.disposeData(id2);
  });

  it('holds at most maxBytes', () => {
    const small = new PooledCpuBackend(N * 4); // room for one array
    const ids = [0, 1, 2].map(() => small.write(small.allocateFloat32(N), [N], 'float32'));
    ids.forEach((id) => small.disposeData(id));
    expect(small.pooledBytes()).toBe(N * 4);
    expect(small.poolStats.dropped).toBe(2);
    small.dispose();
    expect(small.pooledBytes()).toBe(0);
  });
});
