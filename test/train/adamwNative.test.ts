import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { loadNativeBlas, trainingKernelCalls } from '../../src/backend/kernels';
import { AdamW } from '../../src/train/adamw';

const fixture = JSON.parse(readFileSync(join(__dirname, '../fixtures/adamw.json'), 'utf8'));
const native = loadNativeBlas().ok;

afterAll(() => tf.disposeVariables());

function runFixture(): { w: number[]; b: number[]; calls: number } {
  const params = new Map<string, tf.Variable>([
    ['layer.weight', tf.variable(tf.tensor(fixture.init.w))],
    ['layer.bias', tf.variable(tf.tensor(fixture.init.b))],
  ]);
  const opt = new AdamW({ weightDecay: fixture.weight_decay });
  const calls = trainingKernelCalls.adamw;
  const before = tf.memory().numTensors;
  fixture.grads.forEach((g: { w: number[][]; b: number[] }, i: number) => {
    const grads = new Map<string, tf.Tensor>([['layer.weight', tf.tensor(g.w)], ['layer.bias', tf.tensor(g.b)]]);
    opt.apply(params, grads, fixture.lrs[i]);
    grads.forEach((t) => t.dispose());
    // Two moments per parameter are created by the first step; none after.
    expect(tf.memory().numTensors).toBe(before + 4);
  });
  const out = {
    w: Array.from(params.get('layer.weight')!.dataSync()),
    b: Array.from(params.get('layer.bias')!.dataSync()),
    calls: trainingKernelCalls.adamw - calls,
  };
  opt.dispose();
  params.forEach((p) => p.dispose());
  expect(tf.memory().numTensors).toBe(before - 2);
  return out;
}

// The same checks on both backends that run AdamW in the addon: on wasm with the native kernels,
// and on the native backend (which exists only when the addon is built).
for (const backend of ['wasm', 'native'] as const) {
  describe.skipIf(backend === 'native' && !native)(`AdamW on ${backend}`, () => {
    beforeEach(async () => {
      await initBackend({ force: backend });
    });

    it('matches torch.optim.AdamW over three steps (native update when the addon is built)', () => {
      const { w, b, calls } = runFixture();
      w.forEach((v, i) => expect(Math.abs(v - fixture.final.w.flat()[i])).toBeLessThan(1e-6));
      b.forEach((v, i) => expect(Math.abs(v - fixture.final.b[i])).toBeLessThan(1e-6));
      expect(calls).toBe(native ? 2 * fixture.grads.length : 0);
    });

    it.runIf(native)('does not change tensors that share a buffer with the parameter or the moments', () => {
      const p = tf.variable(tf.ones([4, 3]));
      const view = tf.reshape(p, [12]); // shares p's buffer
      const params = new Map([['x.weight', p]]);
      const opt = new AdamW();
      const g = new Map<string, tf.Tensor>([['x.weight', tf.fill([4, 3], 0.5)]]);
      opt.apply(params, g, 0.1);
      const m0 = opt.moments('x.weight')!.m;
      const mCopy = m0.clone(); // zero-copy clone: shares m's buffer
      const mBefore = Array.from(mCopy.dataSync());
      opt.apply(params, g, 0.1);
      expect(Array.from(view.dataSync())).toEqual(new Array(12).fill(1));
      expect(Array.from(mCopy.dataSync())).toEqual(mBefore);
      expect(p.dataSync()[0]).toBeLessThan(1);
      const id = p.dataId;
      // On native, dataSync() is the tensor's own array: one kept across a step must not change.
      const held = p.dataSync();
      const heldBefore = Array.from(held);
      opt.apply(params, g, 0.1);
      if (backend === 'wasm') {
        // The parameter (a fresh buffer after the first step) is now updated in place.
        expect(p.dataId).toBe(id);
      } else {
        expect(p.dataId).not.toBe(id);
        expect(Array.from(held)).toEqual(heldBefore);
        expect(p.dataSync()[0]).toBeLessThan(heldBefore[0]);
      }
      [view, mCopy].forEach((t) => t.dispose());
      g.forEach((t) => t.dispose());
      opt.dispose();
      p.dispose();
    });
  });
}
