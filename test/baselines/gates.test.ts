/**
 * Gates in the forward pass (weight substitution), CoFI's removal to an ordinary smaller
 * checkpoint, and DSP's exact head count, on small BERTs.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { CofiGates, disposeGates, openHeads } from '../../src/baselines/cofi';
import { foldGates, substituteGates, type ModelGates } from '../../src/baselines/gates';
import { deterministicGates } from '../../src/baselines/hardConcrete';
import { keepHeads, removeClosed } from '../../src/baselines/removal';
import { trainBaseline } from '../../src/baselines/train';
import { loadBertCheckpoint } from '../../src/checkpoint';
import { sparsityReport } from '../../src/neuroprune';
import { BertTaskModel, batchInputs } from '../../src/train/bertTask';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/train/options';
import { builtinTask, taskData } from '../../src/train/taskData';
import { tinyBertTaskModel } from '../train/tinyBert';

const task = builtinTask();
const data = taskData(task, { batchSize: 16, seed: 7, padId: task.tokenizer.special.pad, limitTrain: 64, limitDev: 48 });
const newModel = (seed = 0) => {
  const m = tinyBertTaskModel(task.tokenizer.vocabSize, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 });
  // Nonzero biases everywhere, so that a gate that forgot a bias would show.
  if (seed) for (const v of m.namedVariables().values()) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', seed++))));
  return m;
};
const batch = data.devBatches()[0];
const logits = (m: BertTaskModel) => tf.tidy(() => m.bert.forward(batchInputs(batch)).logits.arraySync() as number[][]);
const close = (a: number[][], b: number[][], tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  a.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - b[i][j])).toBeLessThan(tol)));
};

const dirs: string[] = [];
beforeAll(async () => { await initBackend({ force: 'cpu' }); });
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('gates in the forward pass', () => {
  it('a closed head gate computes what removing the head computes, and the variables come back after the call', () => {
    const m = newModel(11);
    const before = m.namedVariables();
    const gates: ModelGates = { attention: [{ heads: tf.tensor1d([1, 0, 1, 0]) }, { heads: tf.tensor1d([0, 1, 1, 1]) }], mlp: [] };
    const sub = substituteGates(m, gates);
    const gated = logits(m);
    sub.restore();
    tf.dispose(sub.created);
    disposeGates(gates);
    const after = m.namedVariables();
    for (const [k, v] of before) expect(after.get(k)).toBe(v);
    const plain = logits(m);
    expect(Math.max(...plain.flat().map((v, i) => Math.abs(v - gated.flat()[i])))).toBeGreaterThan(1e-4);
    // The independent path: the toolkit's head removal (without merging).
    keepHeads(m.bert.layers[0].attention, [0, 2]);
    keepHeads(m.bert.layers[1].attention, [1, 2, 3]);
    close(logits(m), gated);
    m.dispose();
  });

  it('closed neuron, MLP-layer and hidden gates compute what zeroing the weights they gate computes', () => {
    const m = newModel(21);
    const neurons = Array.from({ length: 32 }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const hidden = Array.from({ length: 16 }, (_, i) => (i % 5 === 1 ? 0 : 1));
    const gates: ModelGates = {
      attention: [{ layer: tf.scalar(0) }, undefined], mlp: [{ neurons: tf.tensor1d(neurons) }, { layer: tf.scalar(0) }], hidden: tf.tensor1d(hidden),
    };
    const sub = substituteGates(m, gates);
    const gated = logits(m);
    sub.restore();
    tf.dispose(sub.created);
    disposeGates(gates);
    // Zero by hand: layer 0's attention output, neuron columns of layer 0's MLP output, layer 1's MLP output,
    // and every read (columns) and write (rows, bias entries) of the closed hidden dimensions.
    const zero = (v: tf.Variable, f: (idx: number[]) => boolean) => {
      const a = v.arraySync() as number[] | number[][];
      const out = Array.isArray(a[0]) ? (a as number[][]).map((row, i) => row.map((x, j) => (f([i, j]) ? 0 : x))) : (a as number[]).map((x, i) => (f([i]) ? 0 : x));
      v.assign(tf.tensor(out as number[], v.shape));
    };
    const closedDim = (j: number) => hidden[j] === 0;
    const [l0, l1] = m.bert.layers;
    zero(l0.attention.output.weight, () => true); zero(l0.attention.output.bias!, () => true);
    zero(l0.mlp.output.weight, ([i, j]) => neurons[j] === 0 || closedDim(i)); zero(l0.mlp.output.bias!, ([i]) => closedDim(i));
    zero(l1.mlp.output.weight, () => true); zero(l1.mlp.output.bias!, () => true);
    for (const l of [l0, l1]) {
      for (const lin of [l.attention.query, l.attention.key, l.attention.value, l.mlp.input]) zero(lin.weight, ([, j]) => closedDim(j));
    }
    zero(l1.attention.output.weight, ([i]) => closedDim(i)); zero(l1.attention.output.bias!, ([i]) => closedDim(i));
    close(logits(m), gated);
    m.dispose();
  });

  it('the gradient of the loss in a head gate matches a central difference through the whole model', () => {
    const m = newModel(31);
    const z = tf.variable(tf.tensor1d([0.9, 0.4, 0.7, 0.2]));
    const loss = () => {
      const sub = substituteGates(m, { attention: [{ heads: z }, undefined], mlp: [] });
      try { return m.taskLoss(batch, { training: false, seed: 0 }); } finally { sub.restore(); }
    };
    const { grads } = tf.variableGrads(loss, [z]);
    const g = grads[z.name].dataSync();
    const base = z.dataSync().slice();
    const h = 1e-2;
    for (let i = 0; i < 4; i++) {
      const at = (d: number) => { const v = Float32Array.from(base); v[i] += d; z.assign(tf.tensor1d(v)); return tf.tidy(() => loss().dataSync()[0]); };
      const fd = (at(h) - at(-h)) / (2 * h);
      expect(Math.abs(g[i] - fd)).toBeLessThan(1e-3 + 2e-2 * Math.abs(fd));
    }
    m.dispose();
  });
});

describe('CoFI', () => {
  it('expected size equals the parameter count of the open structures when every gate is surely open or closed', () => {
    const m = newModel();
    const cofi = new CofiGates(m);
    const L = 2, H = 4, d = 16, dh = 4, de = 32;
    // Open: heads 0,1 of layer 0 and all of layer 1; neurons 0..9 of layer 0, none of layer 1 (MLP layer closed); hidden 0..11.
    cofi.head[0].assign(tf.tensor1d([50, 50, -50, -50]));
    cofi.head[1].assign(tf.fill([4], 50));
    cofi.headLayer!.assign(tf.fill([2], 50));
    cofi.intermediate[0].assign(tf.tensor1d(Array.from({ length: de }, (_, i) => (i < 10 ? 50 : -50))));
    cofi.intermediate[1].assign(tf.fill([de], 50));
    cofi.mlp!.assign(tf.tensor1d([50, -50]));
    cofi.hidden!.assign(tf.tensor1d(Array.from({ length: d }, (_, i) => (i < 12 ? 50 : -50))));
    const size = cofi.expectedSize().dataSync()[0];
    // CoFI: hidden x (heads x (4 d dh + 4 dh) / d + neurons x 2), with P clamped at 1 - 1e-6 / 1e-6.
    const heads = 6, neurons = 10, hidden = 12;
    expect(size / (hidden * (heads * (4 * d * dh + 4 * dh) / d + neurons * 2))).toBeCloseTo(1, 3);
    expect(cofi.prunableSize()).toBe(L * (H * (4 * d * dh + 4 * dh) + 2 * d * de + 5 * d));
    cofi.dispose();
    m.dispose();
  });

  it('deterministic gates folded and removed give a smaller ordinary checkpoint with the gated model\'s logits', async () => {
    const m = newModel(41);
    const cofi = new CofiGates(m, { seed: 3 });
    cofi.head[0].assign(tf.tensor1d([4, -4, 3, 2]));
    cofi.head[1].assign(tf.tensor1d([4, 4, 4, 4]));
    cofi.headLayer!.assign(tf.tensor1d([4, -4]));
    cofi.intermediate[0].assign(tf.tensor1d(Array.from({ length: 32 }, (_, i) => (i % 4 === 0 ? -4 : 3 + i / 32))));
    cofi.hidden!.assign(tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i === 5 || i === 9 ? -4 : 4))));
    const g = cofi.deterministic();
    expect(deterministicGates(cofi.head[0].dataSync())[1]).toBe(0);
    const openNeurons = Array.from(deterministicGates(cofi.intermediate[0].dataSync())).filter((v) => v !== 0).length;
    const openDims = Array.from(deterministicGates(cofi.hidden!.dataSync())).filter((v) => v !== 0).length;
    expect(openNeurons).toBeLessThan(32);
    expect(openDims).toBe(14);
    const sub = substituteGates(m, g);
    const gated = logits(m);
    sub.restore();
    tf.dispose(sub.created);
    const keep = openHeads(g, [4, 4]);
    expect(keep).toEqual([[0, 2, 3], []]);
    foldGates(m, g);
    disposeGates(g);
    const { record } = removeClosed(m, keep);
    close(logits(m), gated);
    expect(record.headsKept).toEqual([[0, 2, 3], []]);
    expect(record.mlpWidths[0]).toBe(openNeurons);
    expect(record.attentionInputs[0]).toBe(openDims);
    const r = sparsityReport(m);
    expect(r.headsKept).toBe(3);
    const dir = mkdtempSync(join(tmpdir(), 'np-cofi-'));
    dirs.push(dir);
    m.save(dir);
    const loaded = new BertTaskModel(loadBertCheckpoint(dir).model);
    close(logits(loaded), gated);
    expect(loaded.bert.layers[1].attention.numHeads).toBe(0);
    expect(loaded.bert.layers[0].mlp.input.weight.shape).toEqual([openNeurons, 16]);
    expect(loaded.bert.layers[0].attention.query.weight.shape).toEqual([12, 14]);
    loaded.dispose();
    cofi.dispose();
    m.dispose();
  });
});

describe('DSP', () => {
  it('keeps exactly K heads over the model, removes the rest, and saves a loadable checkpoint', async () => {
    for (const k of [1, 3, 6]) {
      const dir = mkdtempSync(join(tmpdir(), 'np-dsp-'));
      dirs.push(dir);
      const before = tf.memory().numTensors;
      const r = await trainBaseline({
        model: newModel(), data, ops: neuropruneOps(), runDir: dir,
        options: { ...DEFAULT_TRAIN_OPTIONS, mode: 'dsp', epochs: 2, batchSize: 16, progress: false },
        method: { kind: 'dsp', targetHeads: k, gateLearningRate: 0.5, initialTemperature: 1000, finalTemperature: 1e-8, cooldownFraction: 2 / 3 },
      });
      const heads = r.model.attentionBlocks().reduce((s, b) => s + b.numHeads, 0);
      expect(heads).toBe(k);
      expect(r.epochs).toHaveLength(2);
      const last = r.epochs[1].sparsity as { headsKept: number };
      expect(last.headsKept).toBe(k);
      const trained = logits(r.model as BertTaskModel);
      r.model.dispose();
      // Nothing leaks: the gates, the optimizers' moments and the step temporaries are gone.
      expect(tf.memory().numTensors).toBe(before);
      const loaded = new BertTaskModel(loadBertCheckpoint(join(dir, 'checkpoint')).model);
      expect(loaded.attentionBlocks().reduce((s, b) => s + b.numHeads, 0)).toBe(k);
      close(logits(loaded), trained);
      loaded.dispose();
    }
  });
});
