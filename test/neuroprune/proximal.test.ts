/**
 * The proximal operators against brute-force minimisation of `0.5 ||x - v||^2 + lambda * penalty(x)`
 * (a grid search refined by zooming), and the one-entry case of the group operator against the
 * closed-form half-thresholding operator of Xu et al. (2012).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import type { AttentionBlock, Linear, MlpBlock } from '../../src/models/blocks';
import {
  proximalAttentionGroups, proximalL1, proximalMlpPreferential, proxSqrtL1, softThreshold, sqrtL1Threshold,
} from '../../src/neuroprune/proximal';
import { attentionGroupL12Value, mlpPreferentialL1Value, plainL1Value } from '../../src/neuroprune';
import { rng } from './helpers';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

type Penalty = (x: ArrayLike<number>) => number;
const objective = (x: ArrayLike<number>, v: ArrayLike<number>, lambda: number, penalty: Penalty) => {
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (x[i] - v[i]) ** 2;
  return 0.5 * q + lambda * penalty(x);
};
const l1: Penalty = (x) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]);
  return s;
};
const sqrtL1: Penalty = (x) => Math.sqrt(l1(x));

/**
 * Global minimum by brute force: a grid of `points` per axis over the box `[-m, m]^n`
 * (m = max |v|, where every minimiser lies), then 12 rounds of a 9-point-per-axis grid zoomed
 * around the best point found. Returns the best point and its objective.
 */
function bruteForce(v: number[], lambda: number, penalty: Penalty, points: number): { x: Float64Array; value: number } {
  const n = v.length;
  const m = Math.max(...v.map(Math.abs), 1e-9);
  let center = new Float64Array(n);
  let half = m;
  let per = points;
  let best = { x: new Float64Array(n), value: objective(new Float64Array(n), v, lambda, penalty) };
  for (let round = 0; round < 13; round++) {
    const step = (2 * half) / (per - 1);
    const idx = new Array(n).fill(0);
    const x = new Float64Array(n);
    for (;;) {
      for (let i = 0; i < n; i++) x[i] = center[i] - half + idx[i] * step;
      const f = objective(x, v, lambda, penalty);
      if (f < best.value) best = { x: Float64Array.from(x), value: f };
      let i = 0;
      while (i < n && ++idx[i] === per) { idx[i] = 0; i++; }
      if (i === n) break;
    }
    center = Float64Array.from(best.x);
    half = 2 * step;
    per = 9;
  }
  return best;
}

/** Test vectors: random, with a dominant entry among small ones (several local minima), and all-small. */
function vectors(n: number, seed: number): number[][] {
  const r = rng(seed);
  const out: number[][] = [];
  for (let t = 0; t < 8; t++) out.push(Array.from({ length: n }, () => r()));
  out.push([1, ...Array.from({ length: n - 1 }, () => 0.05 * r())]);
  out.push(Array.from({ length: n }, () => 0.01 * r()));
  out.push([0.3, -0.3, ...Array.from({ length: n - 2 }, () => 0.3)].slice(0, n));
  return out;
}

const LAMBDAS = [1e-3, 0.05, 0.2, 0.5, 1, 2];

/** Radial half-thresholding of the group's l2 norm: the proximal map of sqrt(||x||_2), not of sqrt(||x||_1). */
function radialHalfThreshold(v: number[], lambda: number): Float64Array {
  const r = Math.hypot(...v);
  const x1 = halfThresholdXu(r, 2 * lambda);
  return Float64Array.from(v.map((a) => (r === 0 ? 0 : (a / r) * x1)));
}

/** Xu et al. (2012), Theorem 1: argmin_x (x - v)^2 + mu |x|^{1/2}, in closed form. */
function halfThresholdXu(v: number, mu: number): number {
  const threshold = (Math.cbrt(54) / 4) * mu ** (2 / 3);
  if (Math.abs(v) <= threshold) return 0;
  const phi = Math.acos((mu / 8) * (Math.abs(v) / 3) ** -1.5);
  return (2 / 3) * v * (1 + Math.cos((2 * Math.PI) / 3 - (2 / 3) * phi));
}

describe('softThreshold', () => {
  it('is the minimiser of 0.5 (x - v)^2 + lambda |x| (brute force)', () => {
    for (const v of vectors(2, 1)) {
      for (const lambda of LAMBDAS) {
        const x = softThreshold(v, lambda);
        const b = bruteForce(v, lambda, l1, 101);
        expect(objective(x, v, lambda, l1)).toBeLessThanOrEqual(b.value + 1e-12);
        for (let i = 0; i < v.length; i++) expect(Math.abs(x[i] - b.x[i])).toBeLessThan(1e-5);
      }
    }
  });
});

describe('proxSqrtL1 (the proximal map of lambda * sqrt(||x||_1))', () => {
  it('is the global minimiser, checked by brute force in 1 to 3 dimensions', () => {
    for (const n of [1, 2, 3]) {
      for (const v of vectors(n, 10 + n)) {
        for (const lambda of LAMBDAS) {
          const x = proxSqrtL1(v, lambda);
          const b = bruteForce(v, lambda, sqrtL1, n === 3 ? 31 : 101);
          const fx = objective(x, v, lambda, sqrtL1);
          // Nothing the search finds is lower than the operator's point; and the search finds its value.
          expect(fx, `v=${v} lambda=${lambda}`).toBeLessThanOrEqual(b.value + 1e-10);
          expect(b.value - fx).toBeLessThan(1e-6);
        }
      }
    }
  });

  it('finds the global minimum where a first local minimum is not it', () => {
    // One large entry among many small ones. Iterating tau <- lambda / (2 sqrt(f(tau))) from 0
    // stops at the first local minimum, which keeps every entry; shrinking past the small
    // entries is lower: a solver that stops at the first stationary point is wrong here.
    const v = [1, ...Array.from({ length: 400 }, () => 0.1)];
    const lambda = 0.5;
    const x = proxSqrtL1(v, lambda);
    let tau = 0;
    for (let it = 0; it < 1000; it++) tau = lambda / (2 * Math.sqrt(v.reduce((s, a) => s + Math.max(Math.abs(a) - tau, 0), 0)));
    const first = softThreshold(v, tau);
    expect(first.filter((a) => a !== 0).length).toBe(401);
    // Brute force over the threshold itself, the one-dimensional path every minimiser lies on.
    const along = (t: number) => {
      let q = 0; let f = 0;
      for (const a of v) { const m = Math.min(Math.abs(a), t); q += m * m; f += Math.abs(a) - m; }
      return 0.5 * q + lambda * Math.sqrt(f);
    };
    let best = Infinity;
    let at = 0;
    for (let t = 0; t <= 1; t += 1e-4) { const f = along(t); if (f < best) { best = f; at = t; } }
    for (let t = Math.max(0, at - 2e-4); t <= at + 2e-4; t += 1e-7) best = Math.min(best, along(t));
    expect(objective(x, v, lambda, sqrtL1)).toBeLessThanOrEqual(best + 1e-9);
    expect(objective(x, v, lambda, sqrtL1)).toBeLessThan(objective(first, v, lambda, sqrtL1) - 0.1);
    expect(x.filter((a) => a !== 0).length).toBe(1);
  });

  it('reduces to the half-thresholding operator of Xu et al. (2012) for one entry', () => {
    const r = rng(3);
    for (let t = 0; t < 200; t++) {
      const v = 2 * r();
      const lambda = 0.5 * (r() + 1);
      const [x] = proxSqrtL1([v], lambda);
      expect(x).toBeCloseTo(halfThresholdXu(v, 2 * lambda), 9);
    }
  });

  it('a wrong operator fails the same brute-force check (radial half-thresholding of the l2 norm)', () => {
    let worst = 0;
    for (const v of vectors(2, 12)) {
      for (const lambda of LAMBDAS) {
        const b = bruteForce(v, lambda, sqrtL1, 101);
        worst = Math.max(worst, objective(radialHalfThreshold(v, lambda), v, lambda, sqrtL1) - b.value);
      }
    }
    expect(worst).toBeGreaterThan(1e-3);
  });

  it('is zero at zero and the identity at lambda = 0; refuses a negative threshold', () => {
    expect(sqrtL1Threshold([0, 0, 0], 1)).toBe(0);
    expect([...proxSqrtL1([0.5, -0.25], 0)]).toEqual([0.5, -0.25]);
    expect(() => sqrtL1Threshold([1], -1)).toThrow(/sqrtL1Threshold: the threshold must be a finite number >= 0, got -1/);
  });
});

function variable(rows: number[][]): tf.Variable {
  return tf.variable(tf.tensor2d(rows));
}
const lin = (rows: number[][]): Linear => ({ weight: variable(rows), bias: null });
const mat = (l: Linear) => l.weight.arraySync() as number[][];

function randomRows(rows: number, cols: number, seed: number, zeros: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (j < (i * zeros) % (cols + 1) ? (j % 2 ? 1e-5 : 0) : r())));
}

describe('proximalMlpPreferential (Eq. 1)', () => {
  it('soft-thresholds row i by lambda * c_i, c_i counted before the step, matching brute force per entry', () => {
    const de = 5; const d = 6;
    const inRows = randomRows(de, d, 7, 2);
    const outRows = randomRows(d, de, 8, 1);
    const block: MlpBlock = { name: 'mlp', stack: 'encoder', kind: 'mlp', layer: 0, activation: 'gelu', input: lin(inRows), output: lin(outRows) };
    const rBefore = mlpPreferentialL1Value([block], { eps: 1e-4 });
    const lambda = 0.7;
    const result = proximalMlpPreferential([block], lambda, { eps: 1e-4 });
    expect(result.value).toBeCloseTo(rBefore, 5);
    let zeroed = 0;
    for (const [before, after] of [[inRows, mat(block.input)], [outRows, mat(block.output)]] as const) {
      before.forEach((row, i) => {
        const c = row.filter((a) => Math.abs(a) < Math.fround(1e-4)).length / row.length;
        row.forEach((v, j) => {
          // The weighted l1 separates by entry: minimise 0.5 (x - v)^2 + lambda c |x| for each.
          const b = bruteForce([v], lambda * c, l1, 2001);
          expect(Math.abs(after[i][j] - b.x[0]), `row ${i} col ${j}`).toBeLessThan(1e-6);
          if (v !== 0 && after[i][j] === 0) zeroed++;
        });
      });
    }
    expect(result.zeroed).toBe(zeroed);
    expect(zeroed).toBeGreaterThan(0);
  });

  it('shrinks the gate of a gated MLP like the input map, and leaves dense rows alone', () => {
    const gate = lin([[0, 0, 0.5], [0.3, -0.2, 0.1]]);
    const block: MlpBlock = {
      name: 'mlp', stack: 'decoder', kind: 'mlp', layer: 0, activation: 'relu',
      gate, input: lin([[1, 1, 1], [1, 1, 1]]), output: lin([[1, 1], [1, 1], [1, 1]]),
    };
    proximalMlpPreferential([block], 0.3);
    // Gate row 0 has 2 of 3 entries below eps: c = 2/3, threshold 0.2. Row 1 has none: untouched.
    expect(mat(gate)[0][2]).toBeCloseTo(0.3, 6);
    expect(mat(gate)[1]).toEqual([0.30000001192092896, -0.20000000298023224, 0.10000000149011612]);
    expect(mat(block.input)).toEqual([[1, 1, 1], [1, 1, 1]]);
  });
});

describe('proximalAttentionGroups (Eq. 2)', () => {
  function block(kind: 'self' | 'cross', seed: number): AttentionBlock {
    const r = rng(seed);
    const m = (rows: number) => lin(Array.from({ length: rows }, () => Array.from({ length: 4 }, () => 0.3 * r())));
    return {
      name: 'attn', stack: 'decoder', kind, layer: 0, numHeads: 1, headSize: 1, headIds: [0], originalNumHeads: 1,
      query: m(1), key: m(1), value: m(1), output: lin([[1]]), inputIndex: null,
    };
  }

  it('maps each Q/K/V input column to the brute-force minimiser of its group', () => {
    const b = block('self', 21);
    const q = mat(b.query); const k = mat(b.key); const v = mat(b.value);
    const lambda = 0.05;
    const before = attentionGroupL12Value([b], { delta: 1e-30 });
    const result = proximalAttentionGroups([b], lambda);
    expect(result.value).toBeCloseTo(before, 5);
    let kept = 0;
    for (let j = 0; j < 4; j++) {
      const group = [q[0][j], k[0][j], v[0][j]];
      const after = [mat(b.query)[0][j], mat(b.key)[0][j], mat(b.value)[0][j]];
      const brute = bruteForce(group, lambda, sqrtL1, 61);
      expect(objective(after, group, lambda, sqrtL1)).toBeLessThanOrEqual(brute.value + 1e-6);
      if (after.some((a) => a !== 0)) kept++;
    }
    // The threshold is large enough to switch some input dimensions off and small enough to keep some.
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(4);
  });

  it('cross-attention: Q columns and K/V columns are separate groups', () => {
    const b = block('cross', 22);
    const q = mat(b.query); const k = mat(b.key); const v = mat(b.value);
    const lambda = 0.1;
    proximalAttentionGroups([b], lambda);
    for (let j = 0; j < 4; j++) {
      expect(mat(b.query)[0][j]).toBeCloseTo(proxSqrtL1([q[0][j]], lambda)[0], 6);
      const kv = proxSqrtL1([k[0][j], v[0][j]], lambda);
      expect(mat(b.key)[0][j]).toBeCloseTo(kv[0], 6);
      expect(mat(b.value)[0][j]).toBeCloseTo(kv[1], 6);
    }
  });
});

describe('proximalL1', () => {
  it('soft-thresholds every entry and reports plain l1 at the input', () => {
    const a = lin([[0.5, -0.05], [0.2, 0]]);
    const before = plainL1Value([], [{ name: 'm', stack: 'encoder', kind: 'mlp', layer: 0, activation: 'gelu', input: a, output: lin([[0]]) }]);
    const r = proximalL1([a], 0.1);
    expect(r.value).toBeCloseTo(before, 6);
    expect(r.zeroed).toBe(1);
    const got = mat(a);
    expect(got[0][0]).toBeCloseTo(0.4, 6);
    expect(got[0][1]).toBe(0);
    expect(got[1][0]).toBeCloseTo(0.1, 6);
  });

  it('leaves no tensor behind', () => {
    const a = lin([[0.5, -0.05], [0.2, 0]]);
    const b = lin([[0.1, 0.2]]);
    const n = tf.memory().numTensors;
    proximalL1([a], 0.1);
    proximalMlpPreferential([{ name: 'm', stack: 'encoder', kind: 'mlp', layer: 0, activation: 'gelu', input: a, output: b }], 0.1);
    expect(tf.memory().numTensors).toBe(n);
  });
});
