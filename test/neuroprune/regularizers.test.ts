import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { installWasmKernels, loadNativeBlas, trainingKernelCalls } from '../../src/backend/kernels';
import { fusedRegularizerCalls } from '../../src/neuroprune/fusedRegularizers';
import type { AttentionBlock, MlpBlock } from '../../src/models/blocks';
import {
  attentionGroupL12,
  attentionGroupL12Value,
  mlpPreferentialL1,
  mlpPreferentialL1Value,
  plainL1,
  plainL1Value,
  type RegularizerImplementation,
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
    name: 'mlp', stack: 'encoder', kind: 'mlp', layer: 0, activation: 'gelu',
    input: lin([[0, 2, -1], [0.00001, 0, 3]]), // [de=2, d=3]
    output: lin([[1, 0], [0, 0], [-2, 0.5]]), // [d=3, de=2]
  };
}

function handAttn(): AttentionBlock {
  return {
    name: 'attn', stack: 'encoder', kind: 'self', layer: 0, numHeads: 1, headSize: 2, headIds: [0], originalNumHeads: 1,
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

  it('rejects delta <= 0', () => {
    expect(() => attentionGroupL12([handAttn()], { delta: 0 })).toThrow(/delta must be/);
  });
});

/**
 * Every way a regularizer can be computed, and the counters that tell which one ran: `ops`
 * (TF.js kernels), the fused JavaScript pass, and the native kernels (wasm with the addon).
 */
interface Path {
  name: string;
  backend: 'cpu' | 'wasm';
  kernels?: 'wasm' | 'native';
  implementation: RegularizerImplementation;
  runs: 'ops' | 'js' | 'native';
}
const nativeLoad = loadNativeBlas();
const paths: Path[] = [
  { name: 'ops on cpu', backend: 'cpu', implementation: 'ops', runs: 'ops' },
  { name: 'fused JavaScript on cpu', backend: 'cpu', implementation: 'fused', runs: 'js' },
  { name: 'auto on cpu', backend: 'cpu', implementation: 'auto', runs: 'js' },
  { name: 'ops on wasm', backend: 'wasm', kernels: 'wasm', implementation: 'ops', runs: 'ops' },
  { name: 'fused JavaScript on wasm (no addon kernels)', backend: 'wasm', kernels: 'wasm', implementation: 'fused', runs: 'js' },
  { name: 'native kernels on wasm', backend: 'wasm', kernels: 'native', implementation: 'fused', runs: 'native' },
];

async function usePath(p: Path): Promise<void> {
  await initBackend({ force: p.backend });
  if (p.kernels) expect(installWasmKernels(p.kernels).mode).toBe(p.kernels);
}

/** Runs `f` and checks, from the call counters, that `p`'s implementation (and only it) ran. */
function onPath<T>(p: Path, f: () => T): T {
  const js = { ...fusedRegularizerCalls };
  const nat = { ...trainingKernelCalls };
  const out = f();
  const jsRan = fusedRegularizerCalls.mlp + fusedRegularizerCalls.attn - js.mlp - js.attn;
  const nativeRan = trainingKernelCalls.regMlp + trainingKernelCalls.regMlpGrad + trainingKernelCalls.regAttn + trainingKernelCalls.regAttnGrad
    - nat.regMlp - nat.regMlpGrad - nat.regAttn - nat.regAttnGrad;
  expect({ js: jsRan > 0, native: nativeRan > 0 }).toEqual({ js: p.runs === 'js', native: p.runs === 'native' });
  return out;
}

/** The float32 numbers next to `x` (a float32 value). */
function float32Neighbours(x: number): { below: number; above: number } {
  const f = new Float32Array([x]);
  const bits = new Int32Array(f.buffer);
  bits[0] -= 1;
  const below = f[0];
  bits[0] += 2;
  return { below, above: f[0] };
}

afterAll(async () => {
  await initBackend({ force: 'wasm' });
  installWasmKernels();
  await initBackend({ force: 'cpu' });
});

describe.each(paths)('R_mlp and R_attn through $name', (p) => {
  const available = p.runs !== 'native' || nativeLoad.ok;
  const skipped = available ? '' : ` (skipped: ${nativeLoad.ok ? '' : nativeLoad.reason})`;

  it.skipIf(!available)(`R_mlp has the gradient of the count-held-constant loss (central differences)${skipped}`, async () => {
    await usePath(p);
    const b = randomMlp({ d: 5, de: 7, seed: 3 });
    setRows(b.input.weight, [1, 4], null); // whole rows zero: weight 1 on that neuron, |w|' = 0 at 0
    const zeroSome = tf.tidy(() => tf.where(tf.less(tf.abs(b.output.weight), 0.15), tf.zerosLike(b.output.weight), b.output.weight));
    b.output.weight.assign(zeroSome); zeroSome.dispose();
    const opts = { implementation: p.implementation };
    const worst = onPath(p, () => checkGrads(() => mlpPreferentialL1([b], opts), () => mlpPreferentialL1Value([b], opts),
      [b.input.weight, b.output.weight], 0.01));
    expect(worst).toBeLessThan(2e-3);
  });

  it.skipIf(!available)(`R_attn has finite gradients on an all-zero group and matches central differences${skipped}`, async () => {
    await usePath(p);
    const b = randomAttention({ d: 6, heads: 2, headSize: 2, seed: 11 });
    for (const l of [b.query, b.key, b.value]) {
      const t = tf.tidy(() => tf.mul(l.weight, tf.tensor2d([[1, 1, 0, 1, 1, 1]]))); // column 2 all zero
      l.weight.assign(t); t.dispose();
    }
    const vars = [b.query.weight, b.key.weight, b.value.weight];
    const opts = { implementation: p.implementation };
    onPath(p, () => {
      const { value, grads } = tf.variableGrads(() => attentionGroupL12([b], opts), vars);
      value.dispose();
      for (const v of vars) {
        const g = grads[v.name].dataSync();
        expect(g.every(Number.isFinite)).toBe(true);
        for (let r = 0; r < 4; r++) expect(g[r * 6 + 2]).toBe(0);
      }
      Object.values(grads).forEach((g) => g.dispose());
    });
    const worst = onPath(p, () => checkGrads(() => attentionGroupL12([b], opts), () => attentionGroupL12Value([b], opts), vars, 0.01));
    expect(worst).toBeLessThan(2e-3);
  });

  // |w| < eps is one float32 comparison on every path: a weight stored as fround(eps) is not
  // below eps, the float32 number under it is, whatever eps's float64 value.
  for (const eps of [1e-4, 0.3, 1e-8]) {
    it.skipIf(!available)(`R_mlp counts |w| < eps in float32 at the boundary |w| = fround(${eps})${skipped}`, async () => {
      await usePath(p);
      const at = Math.fround(eps);
      const { below, above } = float32Neighbours(at);
      // One candidate per row, the rest of the row large: a row counts 1/4 iff its candidate is small.
      const rows = [at, -at, below, -below, above, -above];
      const w = tf.variable(tf.tensor2d(rows.flatMap((x) => [x, 1, -2, 3]), [rows.length, 4]));
      const block: MlpBlock = {
        name: 'mlp', stack: 'encoder', kind: 'mlp', layer: 0, activation: 'gelu',
        input: { weight: w, bias: null },
        output: { weight: tf.variable(tf.ones([1, 1])), bias: null },
      };
      const opts = { eps, implementation: p.implementation };
      const { value, grad } = onPath(p, () => {
        const { value: v, grads } = tf.variableGrads(() => mlpPreferentialL1([block], opts), [w]);
        const out = { value: v.dataSync()[0], grad: Array.from(grads[w.name].dataSync()) };
        v.dispose();
        tf.dispose(grads);
        return out;
      });
      const counted = [false, false, true, true, false, false];
      const expectedGrad = rows.flatMap((x, i) => (counted[i] ? [Math.sign(x) * 0.25, 0.25, -0.25, 0.25] : [0, 0, 0, 0]));
      expect(grad).toEqual(expectedGrad);
      expect(value).toBeCloseTo(2 * 0.25 * (6 + below), 5);
      tf.dispose([w, block.output.weight]);
    });
  }
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
