import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { AdamW } from '../../src/train/adamw';
import { linearWarmupDecay } from '../../src/train/schedule';
import { clipByGlobalNorm } from '../../src/train/clip';

const fixture = JSON.parse(readFileSync(join(__dirname, '../fixtures/adamw.json'), 'utf8'));

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

describe('AdamW', () => {
  it('matches torch.optim.AdamW over three steps (decay on the weight, none on the bias)', () => {
    const params = new Map<string, tf.Variable>([
      ['layer.weight', tf.variable(tf.tensor(fixture.init.w))],
      ['layer.bias', tf.variable(tf.tensor(fixture.init.b))],
    ]);
    const opt = new AdamW({ weightDecay: fixture.weight_decay });
    fixture.grads.forEach((g: { w: number[][]; b: number[] }, i: number) => {
      const grads = new Map<string, tf.Tensor>([['layer.weight', tf.tensor(g.w)], ['layer.bias', tf.tensor(g.b)]]);
      opt.apply(params, grads, fixture.lrs[i]);
      grads.forEach((t) => t.dispose());
    });
    const w = params.get('layer.weight')!.arraySync() as number[][];
    const b = params.get('layer.bias')!.arraySync() as number[];
    w.flat().forEach((v, i) => expect(Math.abs(v - fixture.final.w.flat()[i])).toBeLessThan(1e-6));
    b.forEach((v, i) => expect(Math.abs(v - fixture.final.b[i])).toBeLessThan(1e-6));
    opt.dispose();
    params.forEach((p) => p.dispose());
  });

  it('round-trips its state and follows a row gather', () => {
    const p = new Map([['x.weight', tf.variable(tf.ones([3, 2]))]]);
    const opt = new AdamW();
    const g = new Map<string, tf.Tensor>([['x.weight', tf.tensor2d([[1, 2], [3, 4], [5, 6]])]]);
    opt.apply(p, g, 0.1);
    const before = tf.memory().numTensors;
    opt.remap('x.weight', (m) => tf.gather(m, [0, 2]));
    expect(tf.memory().numTensors).toBe(before);
    expect(opt.moments('x.weight')!.m.arraySync()).toEqual([[0.1 * 1, 0.1 * 2].map((v) => Math.fround(v)), [0.1 * 5, 0.1 * 6].map((v) => Math.fround(v))].map((r) => r.map((v) => expect.closeTo(v, 6))));
    const copy = new Map([...opt.toTensors()].map(([k, t]) => [k, t.clone()]));
    const restored = new AdamW();
    restored.loadTensors(opt.step, copy);
    expect(restored.step).toBe(1);
    expect(restored.moments('x.weight')!.v.arraySync()).toEqual(opt.moments('x.weight')!.v.arraySync());
    expect(() => new AdamW().loadTensors(1, new Map([['m.a', tf.zeros([1])]]))).toThrow(/a has m but not v/);
    [opt, restored].forEach((o) => o.dispose());
    g.forEach((t) => t.dispose());
    p.forEach((t) => t.dispose());
  });

  it('refuses out-of-range hyperparameters', () => {
    expect(() => new AdamW({ beta1: 1 })).toThrow(/beta1/);
    expect(() => new AdamW({ weightDecay: -1 })).toThrow(/weightDecay/);
  });
});

describe('schedule and clipping', () => {
  it('warms up linearly, then decays linearly to zero (transformers get_linear_schedule_with_warmup)', () => {
    expect(linearWarmupDecay(0, 1, 4, 10)).toBe(0);
    expect(linearWarmupDecay(2, 1, 4, 10)).toBe(0.5);
    expect(linearWarmupDecay(4, 1, 4, 10)).toBe(1);
    expect(linearWarmupDecay(7, 1, 4, 10)).toBe(0.5);
    expect(linearWarmupDecay(10, 1, 4, 10)).toBe(0);
  });

  it('clips by global norm: [3, 4] with max 1 becomes [0.6, 0.8]', () => {
    const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([3])], ['b', tf.tensor1d([4])]]);
    const { grads: out, norm } = clipByGlobalNorm(grads, 1);
    expect(norm).toBeCloseTo(5, 5);
    expect(out.get('a')!.dataSync()[0]).toBeCloseTo(0.6, 5);
    expect(out.get('b')!.dataSync()[0]).toBeCloseTo(0.8, 5);
    const small = new Map<string, tf.Tensor>([['a', tf.tensor1d([0.1])]]);
    expect(clipByGlobalNorm(small, 1).grads).toBe(small);
  });
});
