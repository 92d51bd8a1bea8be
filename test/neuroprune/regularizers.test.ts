import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import type { AttentionBlock, MlpBlock } from '../../src/models/blocks';
import {
  attentionGroupL12,
  attentionGroupL12Value,
  mlpPreferentialL1,
  mlpPreferentialL1Value,
  plainL1,
  plainL1Value,
} from '../../src/neuroprune';
import { randomAttention, randomMlp, setRows } from './helpers';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

function lin(w: number[][], bias = false) {
  return { weight: tf.variable(tf.tensor2d(w)), bias: bias ? tf.variable(tf.zeros([w.length])) : null };
}

function handMlp(): MlpBlock {
  return {
    name: 'mlp', layer: 0, activation: 'gelu',
    input: lin([[0, 2, -1], [0.00001, 0, 3]]), // [de=2, d=3]
    output: lin([[1, 0], [0, 0], [-2, 0.5]]), // [d=3, de=2]
  };
}

function handAttn(): AttentionBlock {
  return {
    name: 'attn', layer: 0, numHeads: 1, headSize: 2, headIds: [0], originalNumHeads: 1,
    query: lin([[1, 0], [-1, 0]]), key: lin([[0, 0], [2, 0]]), value: lin([[0, 0], [0, 0]]),
    output: lin([[0.5, -0.25], [0, 1]]), inputIndex: null,
  };
}

/** Central differences of `f` with respect to every entry of `v` with |w| > skipBelow (others: NaN). */
function finiteDiff(f: () => number, v: tf.Variable, h: number, skipBelow: number): number[] {
  const base = v.dataSync().slice();
  const out: number[] = [];
  for (let i = 0; i < base.length; i++) {
    if (base[i] !== 0 && Math.abs(base[i]) < skipBelow) { out.push(NaN); continue; }
    const set = (x: number) => { const c = base.slice(); c[i] = x; const t = tf.tensor(c, v.shape); v.assign(t); t.dispose(); };
    set(base[i] + h); const up = f();
    set(base[i] - h); const down = f();
    out.push((up - down) / (2 * h));
  }
  const t = tf.tensor(base, v.shape); v.assign(t); t.dispose();
  return out;
}

function checkGrads(loss: () => tf.Scalar, value: () => number, vars: tf.Variable[], skipBelow: number): number {
  const { value: l, grads } = tf.variableGrads(loss, vars);
  l.dispose();
  let worst = 0;
  for (const v of vars) {
    const g = grads[v.name].dataSync();
    const fd = finiteDiff(value, v, 1e-3, skipBelow);
    fd.forEach((e, i) => {
      if (Number.isNaN(e)) return;
      const err = Math.abs(e - g[i]) / Math.max(1, Math.abs(g[i]));
      worst = Math.max(worst, err);
    });
  }
  Object.values(grads).forEach((g) => g.dispose());
  return worst;
}

describe('R_mlp (Eq. 1, preferential attachment)', () => {
  it('matches a hand computation', () => {
    const b = handMlp();
    // Win row 0: 1 of 3 entries zero -> (1/3)*3 = 1; row 1: 2 of 3 below 1e-4 -> (2/3)*3.00001.
    // Wout row 0: (1/2)*1; row 1: (2/2)*0; row 2: (0/2)*2.5.
    const expected = 1 + (2 / 3) * 3.00001 + 0.5;
    expect(mlpPreferentialL1Value([b])).toBeCloseTo(expected, 5);
    // A larger eps counts more entries: Win row 0 now has 1/3 still (|-1| and 2 are large).
    expect(mlpPreferentialL1Value([b], { eps: 0.75 })).toBeCloseTo(1 + (2 / 3) * 3.00001 + 0.5 + (1 / 2) * 2.5, 5);
  });

  it('has the gradient of the count-held-constant loss (central differences)', () => {
    const b = randomMlp({ d: 5, de: 7, seed: 3 });
    setRows(b.input.weight, [1, 4], null); // whole rows zero: weight 1 on that neuron, |w|' = 0 at 0
    const zeroSome = tf.tidy(() => tf.where(tf.less(tf.abs(b.output.weight), 0.15), tf.zerosLike(b.output.weight), b.output.weight));
    b.output.weight.assign(zeroSome); zeroSome.dispose();
    const worst = checkGrads(() => mlpPreferentialL1([b]), () => mlpPreferentialL1Value([b]), [b.input.weight, b.output.weight], 0.01);
    expect(worst).toBeLessThan(2e-3);
  });

  it('rejects eps <= 0', () => {
    expect(() => mlpPreferentialL1([handMlp()], { eps: 0 })).toThrow(/eps must be a finite number > 0/);
    expect(() => mlpPreferentialL1([handMlp()], { eps: -1 })).toThrow(/eps/);
  });
});

describe('R_attn (Eq. 2, group l_1/2)', () => {
  it('matches a hand computation', () => {
    const b = handAttn();
    // Column 0: |1|+|-1| + |0|+|2| + 0 = 4; column 1: 0. sqrt(4 + d) + sqrt(0 + d).
    expect(attentionGroupL12Value([b])).toBeCloseTo(Math.sqrt(4 + 1e-8) + Math.sqrt(1e-8), 5);
    expect(attentionGroupL12Value([b], { delta: 0.25 })).toBeCloseTo(Math.sqrt(4.25) + 0.5, 5);
  });

  it('has finite gradients on an all-zero group and matches central differences', () => {
    const b = randomAttention({ d: 6, heads: 2, headSize: 2, seed: 11 });
    for (const l of [b.query, b.key, b.value]) {
      const t = tf.tidy(() => tf.mul(l.weight, tf.tensor2d([[1, 1, 0, 1, 1, 1]]))); // column 2 all zero
      l.weight.assign(t); t.dispose();
    }
    const vars = [b.query.weight, b.key.weight, b.value.weight];
    const { value, grads } = tf.variableGrads(() => attentionGroupL12([b]), vars);
    value.dispose();
    for (const v of vars) {
      const g = grads[v.name].dataSync();
      expect(g.every(Number.isFinite)).toBe(true);
      for (let r = 0; r < 4; r++) expect(g[r * 6 + 2]).toBe(0);
    }
    Object.values(grads).forEach((g) => g.dispose());
    const worst = checkGrads(() => attentionGroupL12([b]), () => attentionGroupL12Value([b]), vars, 0.01);
    expect(worst).toBeLessThan(2e-3);
  });

  it('rejects delta <= 0', () => {
    expect(() => attentionGroupL12([handAttn()], { delta: 0 })).toThrow(/delta must be/);
  });
});

describe('plain l1 (baseline)', () => {
  it('sums |w| over Q, K, V, O and MLP in/out, without biases', () => {
    const a = handAttn();
    const m = handMlp();
    const attnSum = 2 + 2 + 0 + 1.75;
    const mlpSum = 6.00001 + 3.5;
    expect(plainL1Value([a], [m])).toBeCloseTo(attnSum + mlpSum, 5);
  });

  it('matches central differences', () => {
    const a = randomAttention({ d: 4, heads: 2, headSize: 2, seed: 5 });
    const m = randomMlp({ d: 4, de: 6, seed: 6 });
    const vars = [a.query.weight, a.output.weight, m.input.weight];
    expect(checkGrads(() => plainL1([a], [m]), () => plainL1Value([a], [m]), vars, 0.01)).toBeLessThan(2e-3);
  });
});

describe('no tensor leaks', () => {
  it('keeps tf.memory().numTensors flat across gradient steps of all three', () => {
    const a = randomAttention({ d: 8, heads: 2, headSize: 4, seed: 1 });
    const m = randomMlp({ d: 8, de: 16, seed: 2 });
    const vars = [a.query.weight, a.key.weight, a.value.weight, a.output.weight, m.input.weight, m.output.weight];
    const step = () => {
      const { value, grads } = tf.variableGrads(
        () => tf.addN([attentionGroupL12([a]), mlpPreferentialL1([m]), plainL1([a], [m])]) as tf.Scalar,
        vars,
      );
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      attentionGroupL12Value([a]); mlpPreferentialL1Value([m]); plainL1Value([a], [m]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });
});
