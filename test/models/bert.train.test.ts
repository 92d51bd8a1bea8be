import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { loadNativeBlas } from '../../src/backend/kernels';
import { loadBertCheckpoint } from '../../src/checkpoint';
import { webgpuAvailability } from '../backend/webgpuAvailable';
import {
  BertForSequenceClassification, bertLoss, embeddingLookup, bertParameterShapes, sequenceClassificationLoss, type BertConfig,
} from '../../src/models/bert';
import { paddedBatch, tinyBertConfig } from '../train/tinyBert';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

const tiny = tinyBertConfig(40, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32, max_position_embeddings: 16, num_labels: 3 });
const batch = paddedBatch;

beforeAll(async () => { await initBackend({ force: 'wasm' }); });

const webgpu = webgpuAvailability('bert.train');
/** The backends that exist here: native needs the addon, webgpu a Vulkan adapter (lavapipe will do). */
const absent = (backend: string) => (backend === 'native' && !loadNativeBlas().ok) || (backend === 'webgpu' && !webgpu.ok);

// On wasm and, where the addon is built, on the native backend (the same kernels over typed
// arrays); on webgpu, TF.js's own kernels where the toolkit's are CPU-only.
for (const backend of ['wasm', 'native', 'webgpu'] as const) describe.skipIf(absent(backend))(`training step on ${backend}`, () => {
  beforeAll(async () => { await initBackend({ force: backend }); });
  afterAll(async () => { await initBackend({ force: 'wasm' }); });

  it('leaves tf.memory().numTensors unchanged (forward, backward, optimizer apply)', () => {
    const model = BertForSequenceClassification.random(tiny, { seed: 1, dropoutSeed: 2 });
    const inputs = batch();
    const labels = tf.tensor1d([0, 2, 1], 'int32');
    const optimizer = tf.train.adam(1e-3);
    const vars = model.trainableVariables();
    const step = (): number => {
      const { value, grads } = tf.variableGrads(() => {
        const { logits } = model.forward(inputs, { training: true });
        return bertLoss(model, logits, labels);
      }, vars);
      // Every parameter, embeddings included (gather's gradient on wasm), receives a gradient.
      expect(Object.keys(grads).length).toBe(vars.length);
      // The typings ask for variables; the optimizer only reads the names and the gradient values.
      optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    };
    step(); // Adam creates its moment variables on the first step.
    const before = tf.memory().numTensors;
    const losses = [step(), step(), step()];
    expect(tf.memory().numTensors).toBe(before);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    optimizer.dispose();
    tf.dispose([labels, ...Object.values(inputs)]);
    model.dispose();
  });

  it('a stateless optimizer keeps the count flat from the first step; the loss falls on a fixed batch', () => {
    const before = tf.memory().numTensors;
    const model = BertForSequenceClassification.random({ ...tiny, num_labels: 1, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }, { seed: 4 });
    const inputs = batch();
    const targets = tf.tensor1d([0.5, -1, 2]);
    const optimizer = tf.train.sgd(0.1);
    const vars = model.trainableVariables();
    const losses: number[] = [];
    const afterModel = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const cost = optimizer.minimize(() => bertLoss(model, model.forward(inputs, { training: true }).logits, targets), true, vars)!;
      losses.push(cost.dataSync()[0]);
      cost.dispose();
      expect(tf.memory().numTensors).toBe(afterModel);
    }
    expect(losses[19]).toBeLessThan(losses[0]);
    optimizer.dispose();
    tf.dispose([targets, ...Object.values(inputs)]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('embedding lookup', () => {
  for (const backend of ['native', 'webgpu', 'wasm', 'cpu'] as const) {
    it.skipIf(absent(backend))(`on ${backend}: same values and gradient as tf.gather, repeated ids summed`, async () => {
      await initBackend({ force: backend });
      tf.tidy(() => {
        const table = tf.tensor2d(Array.from({ length: 18 }, (_, i) => Math.sin(i)), [6, 3]);
        const ids = tf.tensor2d([[1, 2, 1], [5, 1, 0]], undefined, 'int32');
        const up = tf.tensor3d(Array.from({ length: 18 }, (_, i) => i / 7 - 1), [2, 3, 3]);
        const f = (lookup: (t: tf.Tensor) => tf.Tensor) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lookup(t), up)))(table);
        expect(Array.from(embeddingLookup(table, ids).dataSync())).toEqual(Array.from(tf.gather(table, ids).dataSync()));
        const ours = f((t) => embeddingLookup(t, ids)).dataSync();
        const ref = f((t) => tf.gather(t, ids)).dataSync();
        ours.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 6));
      });
      await initBackend({ force: 'wasm' });
    });
  }
});

describe('dropout', () => {
  it('is off in evaluation, seeded in training', () => {
    const { model: a } = loadBertCheckpoint(path.join(FIXTURES, 'tiny-bert'), { dropoutSeed: 7 });
    const { model: b } = loadBertCheckpoint(path.join(FIXTURES, 'tiny-bert'), { dropoutSeed: 7 });
    const inputs = { inputIds: tf.tensor2d([[2, 17, 33, 3]], undefined, 'int32') };
    const run = (m: BertForSequenceClassification, training: boolean) => {
      const { logits } = m.forward(inputs, { training });
      const v = Array.from(logits.dataSync());
      logits.dispose();
      return v;
    };
    const evalA = run(a, false);
    expect(run(a, false)).toEqual(evalA);
    const trainA1 = run(a, true);
    const trainA2 = run(a, true);
    expect(trainA1).not.toEqual(evalA);
    expect(trainA2).not.toEqual(trainA1); // a fresh mask each call
    expect(run(b, true)).toEqual(trainA1); // same seed, same sequence of masks
    inputs.inputIds.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('random initialisation and shapes', () => {
  it('follows HF: N(0, initializer_range), zero biases, unit LayerNorm, zero padding embedding; seeded', () => {
    const m1 = BertForSequenceClassification.random(tiny, { seed: 5 });
    const m2 = BertForSequenceClassification.random(tiny, { seed: 5 });
    const m3 = BertForSequenceClassification.random(tiny, { seed: 6 });
    const p1 = m1.namedParameters();
    expect([...p1.keys()]).toEqual([...bertParameterShapes(tiny).keys()]);
    const w = Array.from(p1.get('bert.encoder.layer.0.intermediate.dense.weight')!.dataSync());
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.003);
    expect(Array.from(p1.get('bert.encoder.layer.0.intermediate.dense.bias')!.dataSync()).every((x) => x === 0)).toBe(true);
    expect(Array.from(p1.get('bert.embeddings.LayerNorm.weight')!.dataSync()).every((x) => x === 1)).toBe(true);
    expect(Array.from(p1.get('bert.embeddings.word_embeddings.weight')!.dataSync().slice(0, 16)).every((x) => x === 0)).toBe(true);
    expect(Array.from(w)).toEqual(Array.from(m2.namedParameters().get('bert.encoder.layer.0.intermediate.dense.weight')!.dataSync()));
    expect(Array.from(w)).not.toEqual(Array.from(m3.namedParameters().get('bert.encoder.layer.0.intermediate.dense.weight')!.dataSync()));
    // Different layers do not share a stream.
    expect(Array.from(p1.get('bert.encoder.layer.0.attention.self.query.weight')!.dataSync()))
      .not.toEqual(Array.from(p1.get('bert.encoder.layer.1.attention.self.query.weight')!.dataSync()));
    for (const m of [m1, m2, m3]) m.dispose();
  });

  it('exposes its blocks; layers may differ in heads and MLP width', () => {
    const cfg: BertConfig = { ...tiny, pruned_heads: { 1: [0, 2] }, neuroprune: { intermediate_sizes: [32, 8] } };
    const model = BertForSequenceClassification.random(cfg, { seed: 1 });
    const [a0, a1] = model.attentionBlocks();
    expect([a0.numHeads, a1.numHeads]).toEqual([4, 2]);
    expect(a1.headIds).toEqual([1, 3]);
    expect(a1.query.weight.shape).toEqual([8, 16]);
    expect(a1.output.weight.shape).toEqual([16, 8]);
    expect(model.mlpBlocks().map((m) => m.input.weight.shape)).toEqual([[32, 16], [8, 16]]);
    expect(model.hiddenSize).toBe(16);
    const inputs = batch();
    const { logits, hiddenStates } = model.forward(inputs, { outputHiddenStates: true });
    expect(logits.shape).toEqual([3, 3]);
    expect(hiddenStates!.map((h) => h.shape)).toEqual([[3, 6, 16], [3, 6, 16], [3, 6, 16]]);
    tf.dispose([logits, ...hiddenStates!, ...Object.values(inputs)]);
    model.dispose();
  });

  it('a layer with every head removed keeps only its output bias', () => {
    const model = BertForSequenceClassification.random({ ...tiny, pruned_heads: { 0: [0, 1, 2, 3] } }, { seed: 1 });
    expect(model.attentionBlocks()[0].query.weight.shape).toEqual([0, 16]);
    const inputs = batch();
    const { logits } = model.forward(inputs);
    expect(Array.from(logits.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([logits, ...Object.values(inputs)]);
    model.dispose();
  });
});

describe('losses', () => {
  it('cross-entropy, MSE and multi-label BCE match hand computations', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([[1, 2, 0], [0, 0, 3]]);
      const ce = sequenceClassificationLoss(logits, tf.tensor1d([1, 2], 'int32'), { problemType: 'single_label_classification' }).dataSync()[0];
      const lse = (xs: number[]) => Math.log(xs.reduce((a, x) => a + Math.exp(x), 0));
      expect(ce).toBeCloseTo(((lse([1, 2, 0]) - 2) + (lse([0, 0, 3]) - 3)) / 2, 5);
      const mse = sequenceClassificationLoss(tf.tensor2d([[1], [2]]), tf.tensor1d([0, 4]), { problemType: 'regression' }).dataSync()[0];
      expect(mse).toBeCloseTo((1 + 4) / 2, 6);
      const bce = sequenceClassificationLoss(tf.tensor2d([[0, 2]]), tf.tensor2d([[1, 0]]), { problemType: 'multi_label_classification' }).dataSync()[0];
      expect(bce).toBeCloseTo((Math.log(2) + Math.log(1 + Math.exp(2))) / 2, 5);
    });
  });
});
