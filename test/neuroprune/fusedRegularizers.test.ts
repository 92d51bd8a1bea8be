import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { installWasmKernels, loadNativeBlas, trainingKernelCalls } from '../../src/backend/kernels';
import { attentionGroupL12, mlpPreferentialL1, type RegularizerImplementation } from '../../src/neuroprune';
import type { AttentionBlock, MlpBlock } from '../../src/models/blocks';
import { randomAttention, randomMlp, rng } from './helpers';

/** Random blocks with some exact zeros and some entries below eps, so every branch is taken. */
function blocks(seed: number): { attn: AttentionBlock; mlp: MlpBlock } {
  const r = rng(seed);
  const attn = randomAttention({ heads: 3, headSize: 4, d: 10, seed });
  const mlp = randomMlp({ d: 10, de: 14, seed: seed + 1 });
  for (const l of [attn.query, attn.key, attn.value, mlp.input, mlp.output]) {
    l.weight.assign(tf.tidy(() => {
      const u = tf.tensor(Array.from({ length: l.weight.size }, () => r()), l.weight.shape);
      // a third of the entries exactly zero, a third tiny (below eps = 1e-2), the rest as they are
      return tf.where(tf.less(u, -0.33), tf.zerosLike(u), tf.where(tf.less(u, 0.33), tf.mul(l.weight, 1e-3), l.weight));
    }));
  }
  return { attn, mlp };
}

function valueAndGrads(f: () => tf.Scalar, vars: tf.Variable[]): { value: number; grads: Float32Array[] } {
  const { value, grads } = tf.variableGrads(f, vars);
  const out = { value: value.dataSync()[0], grads: vars.map((v) => Float32Array.from(grads[v.name].dataSync() as Float32Array)) };
  value.dispose();
  tf.dispose(grads);
  return out;
}

afterAll(() => tf.disposeVariables());

const native = loadNativeBlas().ok;

// 'wasm' runs the native kernels when the addon is built; 'wasm-js' the JavaScript pass on wasm.
describe.each(['cpu', 'wasm', 'wasm-js'] as const)('fused regularizers on %s', (mode) => {
  it('give the values and gradients of the op-based forms', async () => {
    await initBackend({ force: mode === 'cpu' ? 'cpu' : 'wasm' });
    if (mode === 'wasm-js') installWasmKernels('wasm');
    const calls = { ...trainingKernelCalls };
    try {
      for (const seed of [1, 2, 3]) compare(seed);
    } finally {
      if (mode === 'wasm-js') installWasmKernels();
    }
    const nativeRan = mode === 'wasm' && native;
    // Three seeds, two evaluations each (one with gradients), of two MLP matrices and one attention block.
    expect(trainingKernelCalls.regMlp - calls.regMlp).toBe(nativeRan ? 3 * 2 * 2 : 0);
    expect(trainingKernelCalls.regMlpGrad - calls.regMlpGrad).toBe(nativeRan ? 3 * 2 : 0);
    expect(trainingKernelCalls.regAttn - calls.regAttn).toBe(nativeRan ? 3 * 2 : 0);
    expect(trainingKernelCalls.regAttnGrad - calls.regAttnGrad).toBe(nativeRan ? 3 : 0);
  });

  function compare(seed: number): void {
    const { attn, mlp } = blocks(seed * 10);
    const before = tf.memory().numTensors;
    const run = (impl: RegularizerImplementation) => ({
      // Scaled, as in the loss, so the upstream gradient is not 1 (and negative, to check signs).
      mlp: valueAndGrads(() => tf.mul(-2.5, mlpPreferentialL1([mlp], { eps: 1e-2, implementation: impl })), [mlp.input.weight, mlp.output.weight]),
      attn: valueAndGrads(() => tf.mul(-2.5, attentionGroupL12([attn], { implementation: impl })), [attn.query.weight, attn.key.weight, attn.value.weight]),
    });
    const ops = run('ops');
    const fused = run('fused');
    expect(tf.memory().numTensors).toBe(before);
    for (const k of ['mlp', 'attn'] as const) {
      expect(fused[k].value).toBeCloseTo(ops[k].value, 4);
      fused[k].grads.forEach((g, i) => g.forEach((v, j) => expect(Math.abs(v - ops[k].grads[i][j])).toBeLessThan(1e-4)));
    }
    // Exact zeros keep a zero gradient (the subgradient 0 at 0); the native kernels never give -0
    // (the JavaScript pass multiplies by the upstream gradient, which gives -0 when it is negative).
    const w = mlp.input.weight.dataSync();
    fused.mlp.grads[0].forEach((g, j) => { if (w[j] === 0) expect(mode === 'wasm' && native ? Object.is(g, 0) : g === 0).toBe(true); });
    // The value alone (no gradient tape) leaves nothing behind either.
    tf.tidy(() => tf.add(mlpPreferentialL1([mlp], { eps: 1e-2, implementation: 'fused' }), attentionGroupL12([attn], { implementation: 'fused' }))).dispose();
    expect(tf.memory().numTensors).toBe(before);
  }
});
