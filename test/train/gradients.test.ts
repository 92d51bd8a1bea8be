import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { loadNativeBlas } from '../../src/backend/kernels';
import { BertForSequenceClassification, bertLoss } from '../../src/models/bert';
import { attentionGroupL12, mlpPreferentialL1 } from '../../src/neuroprune/regularizers';
import { variableGrads } from '../../src/train/gradients';
import { peakBufferBytes } from './liveBytes';
import { paddedBatch, tinyBertConfig } from './tinyBert';
import { webgpuAvailability } from '../backend/webgpuAvailable';

// 2 layers of width 16, 4 heads, 3 labels.
const tiny = tinyBertConfig(40, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32, max_position_embeddings: 16, num_labels: 3 });

function expectClose(actual: ArrayLike<number>, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, 4));
}

function expectSameGradients(ours: tf.NamedTensorMap, theirs: tf.NamedTensorMap): void {
  expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
  for (const [name, g] of Object.entries(theirs)) {
    expect(ours[name].shape, name).toEqual(g.shape);
    // The same kernels in the same order: the same bits.
    expect(Array.from(ours[name].dataSync()), name).toEqual(Array.from(g.dataSync()));
  }
}

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

const webgpu = webgpuAvailability('gradients');
for (const backend of ['cpu', 'wasm', 'native', 'webgpu'] as const) describe.skipIf((backend === 'native' && !loadNativeBlas().ok) || (backend === 'webgpu' && !webgpu.ok))(`variableGrads on ${backend}`, () => {
  beforeAll(async () => { await initBackend({ force: backend }); });
  afterAll(async () => { await initBackend({ force: 'cpu' }); });

  it("gives tf.variableGrads's value and gradients, bit for bit, for a BERT step with dropout and both penalties", () => {
    const model = BertForSequenceClassification.random(tiny, { seed: 1 });
    const inputs = paddedBatch();
    const labels = tf.tensor1d([0, 2, 1], 'int32');
    const vars = [...model.namedParameters().values()];
    const loss = () => tf.tidy(() => {
      const task = bertLoss(model, model.forward(inputs, { training: true, dropoutSeed: 5 }).logits, labels);
      return tf.addN([task, tf.mul(attentionGroupL12(model.attentionBlocks()), 1e-3), tf.mul(mlpPreferentialL1(model.mlpBlocks()), 1e-3)]) as tf.Scalar;
    });
    const before = tf.memory().numTensors;
    const ours = variableGrads(loss, vars);
    const theirs = tf.variableGrads(loss, vars);
    expect(ours.value.dataSync()[0]).toBe(theirs.value.dataSync()[0]);
    expectSameGradients(ours.grads, theirs.grads);
    // Every parameter gets a gradient (embeddings through gather's gradient included).
    expect(Object.keys(ours.grads).length).toBe(vars.length);
    tf.dispose([ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads)]);
    // Nothing of the tape outlives the call.
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([inputs.inputIds, inputs.attentionMask, inputs.tokenTypeIds, labels]);
    model.dispose();
  });
});

describe('variableGrads', () => {
  it('handles a tensor used twice, a gradient returned unchanged for two inputs, broadcasting and unconnected or frozen variables', () => {
    const a = tf.variable(tf.tensor2d([[1, -2, 3], [0.5, 4, -1]]), true, 'vg_a');
    const b = tf.variable(tf.tensor1d([0.1, 0.2, 0.3]), true, 'vg_b');
    const unused = tf.variable(tf.scalar(1), true, 'vg_unused');
    const frozen = tf.variable(tf.scalar(2), false, 'vg_frozen');
    // Its gradient function hands the same `dy` object to both inputs.
    const passThrough = tf.customGrad(((x: tf.Tensor, y: tf.Tensor) => ({
      value: tf.add(x, y),
      gradFunc: (dy: tf.Tensor) => [dy, dy],
    })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, y: tf.Tensor) => tf.Tensor;
    const f = () => tf.tidy(() => {
      const s = tf.add(a, b); // b broadcast over rows
      const t = passThrough(s, tf.mul(s, s)); // s used three times
      return tf.sum(tf.mul(passThrough(t, t), frozen)) as tf.Scalar;
    });
    const vars = [a, b, unused, frozen];
    const before = tf.memory().numTensors;
    // (tf.variableGrads itself fails here: it disposes the shared dy while the other input holds it.)
    const ours = variableGrads(f, vars);
    // L = 2 * sum(t + t) with t = s + s^2, s = a + b: dL/ds = 4 (1 + 2 s); b's gradient sums over rows.
    const s = [[1.1, -1.8, 3.3], [0.6, 4.2, -0.7]];
    const dA = s.map((row) => row.map((x) => 4 * (1 + 2 * x)));
    expect(Object.keys(ours.grads).sort()).toEqual(['vg_a', 'vg_b']);
    expectClose(ours.grads.vg_a.dataSync(), dA.flat());
    expectClose(ours.grads.vg_b.dataSync(), [0, 1, 2].map((j) => dA[0][j] + dA[1][j]));
    tf.dispose([ours.value, ...Object.values(ours.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, unused, frozen]);
  });

  it('refuses a non-scalar loss and a loss no variable reaches', () => {
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'vg_v');
    expect(() => variableGrads(() => tf.mul(v, 2) as unknown as tf.Scalar, [v])).toThrow(/scalar/);
    expect(() => variableGrads(() => tf.scalar(3), [v])).toThrow(/no variable is connected/);
    v.dispose();
  });

  it("releases saved activations and consumed gradients during the backward pass (peak well under tf.variableGrads's)", () => {
    // A deep chain: tf.variableGrads holds every saved activation and every intermediate gradient
    // to the end; released as it goes, the backward pass never holds much more than the forward's.
    const n = 24, width = 64, rows = 256;
    const ws = Array.from({ length: n }, (_, i) => tf.variable(tf.randomNormal([width, width], 0, 0.2, 'float32', i), true, `vg_chain${i}`));
    const x = tf.randomNormal([rows, width], 0, 1, 'float32', 99);
    const f = () => tf.tidy(() => {
      let h: tf.Tensor = x;
      for (const w of ws) h = tf.tanh(tf.matMul(h, w));
      return tf.mean(tf.square(h)) as tf.Scalar;
    });
    let ours: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
    let theirs: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
    const oursPeak = peakBufferBytes(() => { ours = variableGrads(f, ws); });
    const theirsPeak = peakBufferBytes(() => { theirs = tf.variableGrads(f, ws); });
    expectSameGradients(ours!.grads, theirs!.grads);
    const activation = rows * width * 4;
    // The forward pass holds 2 activations per layer (the product and tanh's output) until it
    // returns; the tape keeps one (tanh's output). tf.variableGrads then adds the gradients of
    // both, all kept to the end (3.4 per layer measured); released as they are consumed, the
    // backward pass stays under the forward's peak (2 per layer).
    console.log(`chain of ${n}: peak ${(oursPeak / activation).toFixed(2)} activations, tf.variableGrads ${(theirsPeak / activation).toFixed(2)}`);
    expect(theirsPeak).toBeGreaterThan(3 * n * activation);
    expect(oursPeak).toBeLessThan(2.2 * n * activation);
    tf.dispose([x, ...ws, ours!.value, theirs!.value, ...Object.values(ours!.grads), ...Object.values(theirs!.grads)]);
  });

  it('still finds the engine members it reads (TF.js internals)', () => {
    const engine = tf.engine() as unknown as Record<string, unknown> & { state: Record<string, unknown> };
    for (const m of ['scopedRun', 'startTape', 'endTape', 'tidy', 'trackTensor']) expect(typeof engine[m], m).toBe('function');
    expect(engine.state).toHaveProperty('activeTape');
    expect(engine.state).toHaveProperty('gradientDepth');
  });
});
