import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { CheckpointError, encodeSafetensors, LabelCountError, loadBertCheckpoint, saveBertCheckpoint, serializeBertConfig } from '../../src/checkpoint';
import { BertForSequenceClassification, type BertConfig } from '../../src/models/bert';

const dirs: string[] = [];
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'np-labels-')); dirs.push(d); return d; };

beforeAll(async () => { await initBackend({ force: 'cpu' }); });
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

const config = (numLabels: number): BertConfig => ({
  vocab_size: 30, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 16,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: numLabels,
});

function saved(numLabels: number): string {
  const model = BertForSequenceClassification.random(config(numLabels), { seed: 2 });
  const dir = tmp();
  saveBertCheckpoint(model, dir);
  model.dispose();
  return dir;
}

/** A bare `BertModel` directory: no `bert.` prefix, no pooler, no classifier. */
function bare(): string {
  const model = BertForSequenceClassification.random(config(2), { seed: 2 });
  const tensors = [...model.namedParameters()]
    .filter(([name]) => name.startsWith('bert.') && !name.startsWith('bert.pooler.'))
    .map(([name, v]) => ({ name: name.slice('bert.'.length), shape: v.shape, data: Float32Array.from(v.dataSync() as Float32Array) }));
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  const cfg = serializeBertConfig(model.config);
  delete cfg.id2label; delete cfg.label2id;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  model.dispose();
  return dir;
}

describe('label count of a checkpoint against the task', () => {
  it('refuses a classifier with another number of labels, naming the checkpoint and both counts, before any tensor exists', () => {
    const dir = saved(4);
    for (const extra of [{}, { initMissingHead: true }]) {
      const before = tf.memory().numTensors;
      let caught: unknown;
      try {
        loadBertCheckpoint(dir, { numLabels: 2, ...extra }).model.dispose();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(LabelCountError);
      expect(caught).toBeInstanceOf(CheckpointError);
      expect((caught as LabelCountError).checkpointLabels).toBe(4);
      expect((caught as LabelCountError).requestedLabels).toBe(2);
      expect((caught as Error).message).toContain(dir);
      expect((caught as Error).message).toMatch(/a 4-label classifier, 2 labels asked for; pass reinitClassifier/);
      expect((caught as Error).message.split('\n')).toHaveLength(1);
      expect(tf.memory().numTensors).toBe(before);
    }
    // The same count loads as it is.
    const same = loadBertCheckpoint(dir, { numLabels: 4 });
    expect(same.initialised).toEqual([]);
    expect(same.replacedClassifier).toBeUndefined();
    same.model.dispose();
  });

  it('replaces the classifier only when asked, says so, and keeps every other weight', () => {
    const dir = saved(4);
    const original = loadBertCheckpoint(dir).model;
    const { model, initialised, replacedClassifier } = loadBertCheckpoint(dir, { numLabels: 2, reinitClassifier: true });
    expect(replacedClassifier).toEqual({ from: 4, to: 2 });
    expect(initialised).toEqual(['classifier.weight', 'classifier.bias']);
    expect(model.config.num_labels).toBe(2);
    expect(model.classifier.weight.shape).toEqual([2, 8]);
    const a = original.namedParameters();
    for (const [name, v] of model.namedParameters()) {
      if (name.startsWith('classifier.')) continue;
      expect(Array.from(v.dataSync()), name).toEqual(Array.from(a.get(name)!.dataSync()));
    }
    original.dispose();
    model.dispose();
  });

  it('gives a bare BertModel a fresh head of the asked size, without asking for reinitClassifier', () => {
    const { model, initialised, replacedClassifier } = loadBertCheckpoint(bare(), { numLabels: 3, initMissingHead: true });
    expect(replacedClassifier).toBeUndefined();
    expect(initialised).toEqual(['bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias']);
    expect(model.classifier.weight.shape).toEqual([3, 8]);
    model.dispose();
  });
});
