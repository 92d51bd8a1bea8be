/**
 * The gate distributions against their closed forms, and their gradients by finite differences.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { deterministicGates, HARD_CONCRETE, openProbability, openProbabilityTensor, roundHalfEven, sampleGates, uniformNoise } from '../../src/baselines/hardConcrete';
import { annealedTemperature, gumbelNoise, gumbelSoftTopK, topK } from '../../src/baselines/gumbelTopK';
import { mulberry32 } from '../../src/util/random';

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

describe('hard concrete', () => {
  it('the fraction of open sampled gates matches the closed form P(z != 0) = sigmoid(logAlpha - T log(-l/r))', () => {
    const n = 200_000;
    for (const a of [-2, 0, 0.7, 3]) {
      const z = tf.tidy(() => sampleGates(tf.fill([n], a), uniformNoise([n], mulberry32(7))));
      const data = Array.from(z.dataSync());
      z.dispose();
      const open = data.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0) / n;
      const closedForm = 1 / (1 + Math.exp(-(a - HARD_CONCRETE.temperature * Math.log(0.1 / 1.1))));
      expect(openProbability(a)).toBeCloseTo(closedForm, 6);
      // Binomial standard error at n = 2e5 is at most 0.0011: 4 of them.
      expect(Math.abs(open - closedForm)).toBeLessThan(0.0045);
      // Gates are in [0, 1], and both ends have mass for a moderate location.
      expect(data.reduce((m, v) => Math.min(m, v), Infinity)).toBeGreaterThanOrEqual(0);
      expect(data.reduce((m, v) => Math.max(m, v), -Infinity)).toBeLessThanOrEqual(1);
    }
  });

  it('P(z != 0) follows CoFI\'s clamp of the CDF to [1e-6, 1 - 1e-6]', () => {
    expect(openProbability(100)).toBeCloseTo(1 - 1e-6, 9);
    expect(openProbability(-100)).toBeCloseTo(1e-6, 9);
  });

  it('gradients of P(z != 0) and of a sample in logAlpha match central differences', () => {
    const a = tf.tensor1d([-1.3, 0.2, 1.9]);
    const u = tf.tensor1d([0.3, 0.55, 0.8]);
    const f = (x: tf.Tensor) => tf.add(tf.sum(openProbabilityTensor(x)), tf.sum(tf.mul(sampleGates(x, u), tf.tensor1d([1, 2, 3])))) as tf.Scalar;
    const g = tf.grad(f)(a).dataSync();
    const h = 1e-2;
    const base = a.dataSync();
    base.forEach((_, i) => {
      const shift = (d: number) => { const v = Float32Array.from(base); v[i] += d; return tf.tidy(() => f(tf.tensor1d(v)).dataSync()[0]); };
      const fd = (shift(h) - shift(-h)) / (2 * h);
      expect(Math.abs(g[i] - fd)).toBeLessThan(2e-3 + 1e-2 * Math.abs(fd));
    });
  });

  it('deterministic gates close round(expected closed count) gates, those of the smallest location, and keep the soft value of the others', () => {
    const locs = [4.6, -3, 2, -4, 0.1];
    const expectedClosed = locs.reduce((s, a) => s + 1 - openProbability(a), 0);
    const z = deterministicGates(locs);
    const closed = Array.from(z).filter((v) => v === 0).length;
    expect(closed).toBe(roundHalfEven(expectedClosed));
    expect(z[1]).toBe(0);
    expect(z[3]).toBe(0);
    expect(z[0]).toBeCloseTo(1 / (1 + Math.exp(-(4.6 / (2 / 3)) * 0.8)), 6);
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    // A group of one gate: closed when its open probability is below one half.
    expect(deterministicGates([-3])[0]).toBe(0);
    expect(deterministicGates([3])[0]).toBeGreaterThan(0.9);
  });
});

describe('Gumbel-soft top-k', () => {
  it('the relaxed mask sums to k at every temperature, with nonnegative entries', () => {
    const w = tf.tensor1d([0.3, -1.2, 2.0, 0.1, 0.9, -0.4, 1.5, 0]);
    for (const k of [1, 3, 5, 8]) {
      for (const t of [1000, 1, 0.1, 1e-8]) {
        const m = tf.tidy(() => gumbelSoftTopK(w, k, t, gumbelNoise(8, mulberry32(k * 31 + Math.round(Math.log(t))))));
        const v = Array.from(m.dataSync());
        m.dispose();
        expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(k, 4);
        // (At moderate temperatures an entry may exceed 1: the relaxation bounds the sum, not each entry.)
        for (const x of v) expect(x).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('at a very low temperature the mask is the hard top-k of logits plus noise', () => {
    const w = tf.tensor1d([0.3, -1.2, 2.0, 0.1, 0.9, -0.4]);
    const g = gumbelNoise(6, mulberry32(5));
    const r = tf.add(w, g).dataSync();
    const m = gumbelSoftTopK(w, 3, 1e-6, g).dataSync();
    const top = new Set(topK(r, 3));
    m.forEach((v, i) => expect(v).toBeCloseTo(top.has(i) ? 1 : 0, 5));
  });

  it('at a high temperature each entry tends to k/n (the marginals are uniform)', () => {
    const w = tf.tensor1d([0.3, -1.2, 2.0, 0.1]);
    const m = gumbelSoftTopK(w, 2, 1e6, gumbelNoise(4, mulberry32(2))).dataSync();
    m.forEach((v) => expect(v).toBeCloseTo(0.5, 4));
  });

  it('the gradient of a weighted mask in the logits matches central differences', () => {
    const w = tf.tensor1d([0.3, -0.2, 0.5, 0.1, -0.4]);
    const g = gumbelNoise(5, mulberry32(9));
    const weights = tf.tensor1d([1, -2, 0.5, 3, 1.5]);
    const f = (x: tf.Tensor) => tf.sum(tf.mul(gumbelSoftTopK(x as tf.Tensor1D, 2, 0.7, g), weights)) as tf.Scalar;
    const grad = tf.grad(f)(w).dataSync();
    const base = w.dataSync();
    const h = 1e-2;
    base.forEach((_, i) => {
      const at = (d: number) => { const v = Float32Array.from(base); v[i] += d; return tf.tidy(() => f(tf.tensor1d(v)).dataSync()[0]); };
      const fd = (at(h) - at(-h)) / (2 * h);
      expect(Math.abs(grad[i] - fd)).toBeLessThan(3e-3 + 2e-2 * Math.abs(fd));
    });
    // The mask's sum is constant (k), so the gradient of the plain sum is zero: not a vacuous check of the above.
    const flat = tf.grad((x: tf.Tensor) => tf.sum(gumbelSoftTopK(x as tf.Tensor1D, 2, 0.7, g)) as tf.Scalar)(w).dataSync();
    flat.forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-5));
    expect(Math.max(...Array.from(grad, Math.abs))).toBeGreaterThan(0.05);
  });

  it('the temperature falls geometrically from t0 to t1 over the cooldown, then stays', () => {
    expect(annealedTemperature(0, 1000, 1e-8, 100)).toBeCloseTo(1000, 6);
    expect(annealedTemperature(50, 1000, 1e-8, 100)).toBeCloseTo(Math.sqrt(1000 * 1e-8), 10);
    expect(annealedTemperature(100, 1000, 1e-8, 100)).toBe(1e-8);
    expect(annealedTemperature(500, 1000, 1e-8, 100)).toBe(1e-8);
  });
});
