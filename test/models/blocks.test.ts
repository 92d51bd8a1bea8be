import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { BertForSequenceClassification, type BertConfig } from '../../src/models/bert';
import { replaceVariable } from '../../src/util/variables';
import { compactMlp, eliminateRedundantHeads } from '../../src/neuroprune';

beforeAll(async () => { await initBackend({ force: 'cpu' }); });
afterEach(() => { vi.restoreAllMocks(); });

const config = (): BertConfig => ({
  vocab_size: 20, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 12,
  hidden_act: 'gelu', hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, max_position_embeddings: 16,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
});

/** Three prune rounds on a fresh model (same seed): the query weight's variable name after each. */
function pruneRounds(): string[] {
  const model = BertForSequenceClassification.random(config(), { seed: 1 });
  const block = model.attentionBlocks()[0];
  const names = [block.query.weight.name];
  for (let round = 0; round < 3; round++) {
    eliminateRedundantHeads(block, { theta: round === 2 ? 1e9 : 0, strategy: 'exact' });
    // Zero one MLP neuron per round so that compaction also replaces variables.
    const mlp = model.mlpBlocks()[0];
    const w = tf.tidy(() => tf.concat([tf.zeros([1, 8]), tf.slice(mlp.input.weight, [1, 0], [-1, -1])], 0));
    mlp.input.weight.assign(w);
    w.dispose();
    compactMlp(mlp);
    names.push(block.query.weight.name, mlp.input.weight.name);
  }
  model.dispose();
  return names;
}

describe('replaceVariable', () => {
  it('names the new variable after the parameter with a bounded, reproducible suffix, without Math.random', () => {
    const random = vi.spyOn(Math, 'random');
    const v = tf.variable(tf.ones([4, 2]), true, 'layer.0.query.weight_m7');
    let w = v;
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      const g = tf.slice(w, [0, 0], [1, 2]);
      w = replaceVariable(w, g);
      g.dispose();
      names.push(w.name);
    }
    expect(names).toEqual([1, 2, 3, 4, 5].map((n) => `layer.0.query.weight_m7_r${n}`));
    expect(random).not.toHaveBeenCalled();
    w.dispose();
  });

  it('gives each replaced parameter of a pruned model a name of bounded length, the same in every run', () => {
    const random = vi.spyOn(Math, 'random');
    const a = pruneRounds();
    const b = pruneRounds();
    expect(random).not.toHaveBeenCalled();
    // Models differ only in their uid (m<n>); the suffixes that pruning adds are the same.
    const strip = (names: string[]) => names.map((n) => n.replace(/_m\d+/, '_m'));
    expect(strip(b)).toEqual(strip(a));
    for (const n of a) expect(n).toMatch(/^bert\.encoder\.layer\.0\.(attention\.self\.query|intermediate\.dense)\.weight_m\d+(_r\d+)?$/);
  });

  it('never reuses the name of a live variable', () => {
    const taken = tf.variable(tf.zeros([1]), true, 'w_r1');
    const v = tf.variable(tf.zeros([2]), true, 'w');
    const next = replaceVariable(v, tf.zeros([3]));
    expect(next.name).toBe('w_r2');
    tf.dispose([taken, next]);
  });
});
