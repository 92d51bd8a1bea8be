import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { CheckpointError, loadBertCheckpoint, saveBertCheckpoint } from '../../src/checkpoint';
import { main } from '../../src/cli/main';
import { summarizeModelGraphs } from '../../src/graph';
import { BertForSequenceClassification, type BertConfig } from '../../src/models/bert';
import { compactModel, eliminateRedundantHeads, sparsityReport } from '../../src/neuroprune';
import { editConfig } from './helpers';

const dirs: string[] = [];
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'np-dense-widths-')); dirs.push(d); return d; };

beforeAll(async () => { await initBackend({ force: 'cpu' }); });
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

const config = (): BertConfig => ({
  vocab_size: 40, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 32,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
});

/** Zeroes the first `n` rows of a variable (dead MLP neurons or dead input dimensions). */
function zeroRows(v: tf.Variable, n: number, axis: 0 | 1 = 0): void {
  const t = tf.tidy(() => {
    const size = v.shape[axis] as number;
    const keep = tf.concat([tf.zeros([n]), tf.ones([size - n])]);
    return tf.mul(v, axis === 0 ? keep.reshape([size, 1]) : keep.reshape([1, size]));
  });
  v.assign(t);
  t.dispose();
}

/** A model with heads removed, MLP neurons and attention inputs compacted away: its report in memory, then saved. */
function prunedCheckpoint(): { dir: string; report: ReturnType<typeof sparsityReport>; widths: number[] } {
  const model = BertForSequenceClassification.random(config(), { seed: 5 });
  eliminateRedundantHeads(model.attentionBlocks()[0], { theta: 1e9 });
  const [m0, m1] = model.mlpBlocks();
  zeroRows(m0.input.weight, 24);
  zeroRows(m1.output.weight, 8, 1);
  const a1 = model.attentionBlocks()[1];
  for (const l of [a1.query, a1.key, a1.value]) zeroRows(l.weight, 4, 1);
  compactModel(model);
  expect(model.mlpBlocks().map((b) => b.input.weight.shape[0])).toEqual([8, 24]);
  const report = sparsityReport(model);
  const widths = summarizeModelGraphs(model, { theta: 0.2 }).layers.map((l) => l.mlp!.originalIntermediateSize);
  const dir = tmp();
  saveBertCheckpoint(model, dir);
  model.dispose();
  return { dir, report, widths };
}

async function analyzeJson(dir: string): Promise<{ sparsity: ReturnType<typeof sparsityReport> }> {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')); });
  try {
    expect(await main(['analyze', '--model', dir, '--json'])).toBe(0);
  } finally {
    log.mockRestore();
  }
  return JSON.parse(out.join('\n'));
}

describe('original dense widths of a pruned checkpoint', () => {
  it('the library and the CLI count sparsity against the same dense model, the one before pruning', async () => {
    const { dir, report, widths } = prunedCheckpoint();
    expect(report.total).toBe(2 * (4 * 16 * 16 + 2 * 32 * 16));

    const { model } = loadBertCheckpoint(dir);
    const library = sparsityReport(model);
    expect(model.mlpBlocks().map((b) => b.originalIntermediateSize)).toEqual([32, 32]);
    expect(summarizeModelGraphs(model, { theta: 0.2 }).layers.map((l) => l.mlp!.originalIntermediateSize)).toEqual(widths);
    model.dispose();
    const cli = (await analyzeJson(dir)).sparsity;
    for (const r of [library, cli]) {
      expect(r.total).toBe(report.total);
      expect(r.present).toBe(report.present);
      expect(r.unstructuredFraction).toBe(report.unstructuredFraction);
      expect(r.structuredFraction).toBe(report.structuredFraction);
      expect(r.headsOriginal).toBe(report.headsOriginal);
    }
  });

  it('stays the dense model through a second round of compaction and save', () => {
    const { dir, report } = prunedCheckpoint();
    const { model } = loadBertCheckpoint(dir);
    zeroRows(model.mlpBlocks()[1].input.weight, 4);
    compactModel(model);
    const again = tmp();
    saveBertCheckpoint(model, again);
    const before = sparsityReport(model);
    model.dispose();
    const { model: reloaded } = loadBertCheckpoint(again);
    const after = sparsityReport(reloaded);
    expect(after.total).toBe(report.total);
    expect(after.present).toBe(before.present);
    expect(after.unstructuredFraction).toBe(before.unstructuredFraction);
    reloaded.dispose();
  });

  it('refuses a layout wider than the dense model it claims to come from', () => {
    const { dir } = prunedCheckpoint();
    editConfig(dir, (c) => { c.intermediate_size = 16; });
    expect(() => loadBertCheckpoint(dir)).toThrow(CheckpointError);
    expect(() => loadBertCheckpoint(dir)).toThrow(/neuroprune\.intermediate_sizes\[1\]' is 24, wider than intermediate_size 16/);
  });
});
