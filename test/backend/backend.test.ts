import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../../src/backend';
import { loadNativeBlas } from '../../src/backend/kernels';
import { gpuDeviceNode } from '../../src/backend/webgpu';
import { webgpuAvailability } from './webgpuAvailable';

function embeddingGrad(): Float32Array {
  return tf.tidy(() => {
    const table = tf.tensor2d(Array.from({ length: 24 }, (_, i) => (i % 7) - 3), [6, 4]);
    const ids = tf.tensor2d([[1, 2, 5], [1, 0, 1]], [2, 3], 'int32');
    const upstream = tf.tensor3d(Array.from({ length: 24 }, (_, i) => i / 10), [2, 3, 4]);
    const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, ids), upstream)))(table);
    return g.dataSync() as Float32Array;
  });
}

/** Whether an optional package is installed (resolvable from here). */
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const PACKAGES = { gpu: '@tensorflow/tfjs-node-gpu', node: '@tensorflow/tfjs-node' } as const;
const nativeBlas = loadNativeBlas();
// Automatic selection takes webgpu only on a hardware adapter; lavapipe is skipped with a reason.
const webgpu = webgpuAvailability('backend');
const hardwareGpu = webgpu.ok && !webgpu.reason.includes('software rasteriser');

describe('backend selection', () => {
  it('picks the first backend that loads: native when the addon is built, else wasm, when the TF.js native packages are absent', async () => {
    const forced = process.env.NEUROPRUNE_BACKEND;
    const report = await initBackend({ force: undefined });
    const lines = describeBackend(report);
    expect(tf.getBackend()).toBe(report.tfName);
    for (const s of report.skipped) expect(s.reason).not.toContain('\n');
    if (forced) {
      expect(report.picked).toBe(forced.trim().toLowerCase());
      expect(report.reason).toBe('forced');
      return;
    }
    if (!installed(PACKAGES.gpu) && !installed(PACKAGES.node) && hardwareGpu) {
      expect(report.picked).toBe('webgpu');
      expect(report.skipped.map((s) => s.backend)).toEqual(['gpu', 'node']);
      expect(lines[0]).toBe(`backend: webgpu (${webgpu.reason}) (best backend that loaded)`);
    } else if (!installed(PACKAGES.gpu) && !installed(PACKAGES.node)) {
      // The better backends were tried, in order, and each skip names its package (or the addon,
      // or why webgpu was passed over: a software adapter only, or none).
      const betterSkipped = nativeBlas.ok ? ['gpu', 'node', 'webgpu'] : ['gpu', 'node', 'webgpu', 'native'];
      expect(report.skipped.map((s) => s.backend)).toEqual(betterSkipped);
      report.skipped.filter((s) => s.backend === 'gpu' || s.backend === 'node').forEach((s) => expect(s.reason).toContain(PACKAGES[s.backend as 'gpu' | 'node']));
      const webgpuSkip = report.skipped.find((s) => s.backend === 'webgpu')!.reason;
      // Without a GPU device node Dawn is not loaded; with one, only a hardware adapter is taken.
      if (gpuDeviceNode() === undefined) expect(webgpuSkip).toMatch(/^no GPU device \(.*\); NEUROPRUNE_BACKEND=webgpu uses a software adapter/);
      else if (webgpu.ok) expect(webgpuSkip).toMatch(/^only a software adapter \(.+\); NEUROPRUNE_BACKEND=webgpu uses it$/);
      else expect(webgpuSkip).toMatch(/adapter|webgpu/);
      expect(lines.slice(-betterSkipped.length)).toEqual(report.skipped.map((s) => `backend: skipped ${s.backend}: ${s.reason}`));
      if (nativeBlas.ok) {
        expect(report.picked).toBe('native');
        expect(lines[0]).toMatch(/^backend: native \(OpenBLAS [^,]*, \d+ threads?\) \(best backend that loaded\)$/);
        expect(lines.some((l) => l.includes('WARNING'))).toBe(false);
      } else {
        // No addon: the native backend's skip says why, and wasm's warning says what it costs.
        expect(report.picked).toBe('wasm');
        expect(report.skipped.find((s) => s.backend === 'native')!.reason).toBe((nativeBlas as { reason: string }).reason);
        expect(lines[0]).toMatch(/^backend: wasm \(\+ .*\) \(best backend that loaded\)$/);
        expect(report.kernels?.mode).toBe(process.env.NEUROPRUNE_KERNELS ? report.kernels?.mode : 'wasm');
        expect(lines.some((l) => l.startsWith('backend: WARNING: native OpenBLAS kernels not in use'))).toBe(!process.env.NEUROPRUNE_KERNELS);
      }
    } else {
      // A native package is installed: the pick is one of the native backends, or it was skipped with a reason.
      expect(['gpu', 'node', 'native', 'wasm']).toContain(report.picked);
      if (report.picked === 'native' || report.picked === 'wasm') expect(report.skipped.map((s) => s.backend).slice(0, 2)).toEqual(['gpu', 'node']);
      else expect(report.tfName).toBe('tensorflow');
    }
  });

  it('wasm stays available when forced, with the native kernels installed over its own', async () => {
    const report = await initBackend({ force: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    if (!process.env.NEUROPRUNE_KERNELS) expect(report.kernels?.mode).toBe(nativeBlas.ok ? 'native' : 'wasm');
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

  it('names a forced backend that does not load (or, with both native packages installed, loads the forced one)', async () => {
    const missing = (['node', 'gpu'] as const).find((b) => !installed(PACKAGES[b]));
    if (missing) {
      await expect(initBackend({ force: missing })).rejects.toThrow(new RegExp(`backend '${missing}' was forced but did not load: .*${PACKAGES[missing]}`));
      return;
    }
    const report = await initBackend({ force: 'node' });
    expect([report.picked, report.reason, tf.getBackend()]).toEqual(['node', 'forced', 'tensorflow']);
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
