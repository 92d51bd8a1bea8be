import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../../src/backend';

function embeddingGrad(): Float32Array {
  return tf.tidy(() => {
    const table = tf.tensor2d(Array.from({ length: 24 }, (_, i) => (i % 7) - 3), [6, 4]);
    const ids = tf.tensor2d([[1, 2, 5], [1, 0, 1]], [2, 3], 'int32');
    const upstream = tf.tensor3d(Array.from({ length: 24 }, (_, i) => i / 10), [2, 3, 4]);
    const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, ids), upstream)))(table);
    return g.dataSync() as Float32Array;
  });
}

describe('backend selection', () => {
  it('picks wasm here (native packages absent) and reports why the better ones were skipped', async () => {
    const report = await initBackend({ force: undefined });
    const lines = describeBackend(report);
    expect(lines[0]).toMatch(/^backend: (gpu|node|wasm|cpu) /);
    for (const s of report.skipped) expect(s.reason).not.toContain('\n');
    expect(tf.getBackend()).toBe(report.tfName);
  });

  it('refuses an unknown NEUROPRUNE_BACKEND value', async () => {
    const saved = process.env.NEUROPRUNE_BACKEND;
    process.env.NEUROPRUNE_BACKEND = 'tpu';
    try {
      await expect(initBackend({})).rejects.toThrow(/NEUROPRUNE_BACKEND=tpu/);
    } finally {
      if (saved === undefined) delete process.env.NEUROPRUNE_BACKEND; else process.env.NEUROPRUNE_BACKEND = saved;
    }
  });

  it('names a forced backend that does not load', async () => {
    const nativeInstalled = await import('@tensorflow/tfjs-node' as string).then(() => true, () => false);
    if (nativeInstalled) return; // on a machine with tfjs-node this force succeeds
    await expect(initBackend({ force: 'node' })).rejects.toThrow(/backend 'node' was forced but did not load/);
  });

  it('embedding gradients (UnsortedSegmentSum) agree on wasm and cpu', async () => {
    await initBackend({ force: 'cpu' });
    const onCpu = embeddingGrad();
    await initBackend({ force: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    const onWasm = embeddingGrad();
    // Same sums, possibly in another order: equal up to float reassociation.
    onWasm.forEach((v, i) => expect(Math.abs(v - onCpu[i])).toBeLessThanOrEqual(1e-6));
    // Row 1 is gathered three times: its gradient is the sum of the three upstream slices.
    expect(onCpu[4]).toBeCloseTo(0.0 + 1.2 + 2.0, 5);
  });
});
