import { beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { loadBertCheckpoint, saveBertCheckpoint } from '../../src/checkpoint';
import type { BertForSequenceClassification } from '../../src/models/bert';
import type { AttentionBlock, MlpBlock } from '../../src/models/blocks';
import { attention, mlp } from '../../src/models/layers';
import {
  compactAttentionInputs,
  compactionConfig,
  compactMlp,
  compactModel,
  eliminateRedundantHeads,
  sparsityReport,
} from '../../src/neuroprune';
import { duplicateHead, maxAbsDiff, modelOf, randomAttention, randomMlp, randomTensor, rng, setRows } from './helpers';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

function zeroColumns(v: tf.Variable, cols: number[]): void {
  const t = tf.tidy(() => {
    const m = Array.from({ length: v.shape[1] as number }, (_, j) => (cols.includes(j) ? 0 : 1));
    return tf.mul(v, tf.tensor2d([m]));
  });
  v.assign(t);
  t.dispose();
}

const mlpOut = (b: MlpBlock, x: tf.Tensor) => tf.tidy(() => mlp(b, x));
const attnOut = (b: AttentionBlock, x: tf.Tensor) => tf.tidy(() => attention(b, { x }));

describe('MLP compaction', () => {
  for (const activation of ['gelu', 'relu', 'gelu_new'] as const) {
    it(`removes dead neurons and folds constant ones into the bias (${activation})`, () => {
      const b = randomMlp({ d: 8, de: 12, seed: 1, activation });
      const x = randomTensor([2, 3, 8], rng(2), 1);
      setRows(b.input.weight, [1, 4, 7], null); // incoming rows zero: 1 and 7 still emit act(b_in)
      zeroColumns(b.output.weight, [2, 4]); // outgoing columns zero
      const before = mlpOut(b, x);
      const res = compactMlp(b);
      expect(res).toMatchObject({ before: 12, after: 8, folded: 2 });
      expect(b.input.weight.shape).toEqual([8, 8]);
      expect(b.input.bias!.shape).toEqual([8]);
      expect(b.output.weight.shape).toEqual([8, 8]);
      expect(b.originalIntermediateSize).toBe(12);
      const after = mlpOut(b, x);
      expect(maxAbsDiff(before, after)).toBeLessThan(1e-5);
      tf.dispose([x, before, after]);
    });
  }

  it('keeps one zero neuron when every neuron is dead, and is a no-op when none is', () => {
    const b = randomMlp({ d: 4, de: 5, seed: 3 });
    const x = randomTensor([1, 2, 4], rng(4), 1);
    expect(compactMlp(b)).toMatchObject({ before: 5, after: 5 });
    expect(b.originalIntermediateSize).toBeUndefined();
    setRows(b.input.weight, [0, 1, 2, 3, 4], null);
    const before = mlpOut(b, x);
    expect(compactMlp(b)).toMatchObject({ after: 1, folded: 5 });
    const after = mlpOut(b, x);
    expect(maxAbsDiff(before, after)).toBeLessThan(1e-5);
    tf.dispose([x, before, after]);
  });
});

describe('attention input compaction', () => {
  it('drops input dimensions no Q/K/V column reads, composing inputIndex', () => {
    const b = randomAttention({ d: 8, heads: 2, headSize: 3, seed: 5 });
    const x = randomTensor([2, 4, 8], rng(6), 1);
    for (const l of [b.query, b.key, b.value]) zeroColumns(l.weight, [0, 3, 5]);
    zeroColumns(b.key.weight, [2]); // only K: dimension 2 is still read by Q and V
    const before = attnOut(b, x);
    expect(compactAttentionInputs(b)).toMatchObject({ before: 8, after: 5 });
    expect(b.inputIndex).toEqual([1, 2, 4, 6, 7]);
    expect(b.query.weight.shape).toEqual([6, 5]);
    const mid = attnOut(b, x);
    expect(maxAbsDiff(before, mid)).toBeLessThan(1e-5);
    // Second round: compacted column 2 is original dimension 4.
    for (const l of [b.query, b.key, b.value]) zeroColumns(l.weight, [2]);
    const before2 = attnOut(b, x);
    compactAttentionInputs(b);
    expect(b.inputIndex).toEqual([1, 2, 6, 7]);
    const after = attnOut(b, x);
    expect(maxAbsDiff(before2, after)).toBeLessThan(1e-5);
    tf.dispose([x, before, mid, before2, after]);
  });

  it('compacts a model, reports its config layout, and does not leak', () => {
    const attn = [randomAttention({ d: 6, heads: 2, headSize: 2, seed: 7 })];
    const mlps = [randomMlp({ d: 6, de: 10, seed: 8 })];
    for (const l of [attn[0].query, attn[0].key, attn[0].value]) zeroColumns(l.weight, [5]);
    setRows(mlps[0].input.weight, [0, 9], null);
    const model = modelOf(attn, mlps, 6);
    const n = tf.memory().numTensors;
    const res = compactModel(model);
    expect(tf.memory().numTensors).toBe(n);
    expect(res.mlp[0].after).toBe(8);
    expect(compactionConfig(model)).toEqual({ intermediate_sizes: [8], attention_input_index: [[0, 1, 2, 3, 4]] });
  });
});

describe('compacted BERT checkpoints', () => {
  it('save and load with the same outputs', () => {
    const fixture = path.join(__dirname, '..', 'fixtures', 'tiny-bert');
    const { model } = loadBertCheckpoint(fixture);
    const inputs = {
      inputIds: tf.tensor2d([[2, 15, 37, 8, 3, 0], [2, 44, 3, 0, 0, 0]], [2, 6], 'int32'),
      attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], [2, 6], 'int32'),
    };
    const logits = (m: BertForSequenceClassification) => m.forward(inputs).logits;
    const dense = logits(model);

    // Prune: a duplicate head merged away, dead neurons and input dimensions compacted.
    const [a0, a1] = model.attentionBlocks();
    const [m0, m1] = model.mlpBlocks();
    duplicateHead(a0, 3, 0);
    setRows(m0.input.weight, [0, 5, 6, 7], null);
    zeroColumns(m1.output.weight, [1, 2, 3]);
    for (const l of [a1.query, a1.key, a1.value]) zeroColumns(l.weight, [4, 9, 31]);
    const beforeCompaction = logits(model);
    eliminateRedundantHeads(a0, { theta: 0 });
    compactModel(model);
    const compacted = logits(model);
    const diffCompaction = maxAbsDiff(beforeCompaction, compacted);
    expect(diffCompaction).toBeLessThan(1e-5);
    expect(a0.numHeads).toBe(3);
    expect(m0.input.weight.shape).toEqual([60, 32]);
    expect(m1.input.weight.shape).toEqual([61, 32]);
    expect(a1.inputIndex).toHaveLength(29);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-compact-'));
    try {
      saveBertCheckpoint(model, dir);
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(cfg.neuroprune.intermediate_sizes).toEqual([60, 61]);
      expect(cfg.neuroprune.attention_input_index[0]).toBeNull();
      expect(cfg.neuroprune.attention_input_index[1]).toEqual(a1.inputIndex);
      expect(cfg.pruned_heads).toEqual({ '0': [0] });
      const { model: loaded } = loadBertCheckpoint(dir);
      const reloaded = logits(loaded);
      expect(maxAbsDiff(compacted, reloaded)).toBeLessThan(1e-5);
      expect(loaded.mlpBlocks()[1].input.weight.shape).toEqual([61, 32]);
      // Sparsity still counts against the dense model when told its shape.
      const report = sparsityReport(loaded, {
        dense: { hiddenSize: 32, attention: [{ numHeads: 4, headSize: 8 }, { numHeads: 4, headSize: 8 }], intermediateSizes: [64, 64] },
      });
      expect(report.total).toBe(2 * (4 * 32 * 32 + 2 * 64 * 32));
      expect(report.headsKept).toBe(7);
      loaded.dispose();
      tf.dispose(reloaded);

      // The dense export: original shapes, zeros in place of what was removed, same outputs.
      const denseDir = path.join(dir, 'dense');
      saveBertCheckpoint(model, denseDir, { dense: true });
      const denseCfg = JSON.parse(fs.readFileSync(path.join(denseDir, 'config.json'), 'utf8'));
      expect(denseCfg.pruned_heads).toBeUndefined();
      expect(denseCfg.neuroprune).toBeUndefined();
      const { model: expanded } = loadBertCheckpoint(denseDir);
      expect(expanded.attentionBlocks().map((b) => b.numHeads)).toEqual([4, 4]);
      expect(expanded.mlpBlocks().map((b) => b.input.weight.shape[0])).toEqual([64, 64]);
      expect(expanded.attentionBlocks()[1].query.weight.shape).toEqual([32, 32]);
      const expandedLogits = logits(expanded);
      expect(maxAbsDiff(compacted, expandedLogits)).toBeLessThan(1e-5);
      expanded.dispose();
      tf.dispose(expandedLogits);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    model.dispose();
    tf.dispose([dense, beforeCompaction, compacted, inputs.inputIds, inputs.attentionMask]);
  });
});
