/** Head importance (sum |Wo| leaving a head) and the relative importance of removed heads. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { headImportance, removedHeadImportance } from '../../src/baselines/headImportance';
import { keepHeads } from '../../src/baselines/removal';
import { BertForSequenceClassification } from '../../src/models/bert';
import { BertTaskModel } from '../../src/train/bertTask';
import { tinyBertConfig } from '../train/tinyBert';

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

const model = () => new BertTaskModel(BertForSequenceClassification.random(tinyBertConfig(40, { hidden_size: 12, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 8 }), { seed: 5 }));

/** By hand: for head h, the sum over rows i and its columns c of |Wo[i][c]|. */
function byHand(wo: number[][], heads: number, dh: number): number[] {
  return Array.from({ length: heads }, (_, h) => wo.reduce((s, row) => s + row.slice(h * dh, (h + 1) * dh).reduce((a, v) => a + Math.abs(v), 0), 0));
}

describe('head importance', () => {
  it('is the sum of the absolute output weights in each head\'s columns', () => {
    const m = model();
    for (const b of m.attentionBlocks()) {
      const expected = byHand(b.output.weight.arraySync() as number[][], 3, 4);
      headImportance(b).forEach((v, h) => expect(v).toBeCloseTo(expected[h], 4));
    }
    m.dispose();
  });

  it('relative importance of removed heads: their mean over the layer mean, in the reference; ids follow headIds', () => {
    const reference = model();
    const pruned = model();
    // Make layer 0's heads clearly ordered: head h's columns scaled by h + 1.
    for (const m of [reference, pruned]) {
      const wo = m.attentionBlocks()[0].output.weight;
      wo.assign(tf.tidy(() => tf.mul(wo, tf.tensor1d(Array.from({ length: 12 }, (_, c) => Math.floor(c / 4) + 1)))));
    }
    keepHeads(pruned.attentionBlocks()[0], [1, 2]);
    keepHeads(pruned.attentionBlocks()[1], []);
    const r = removedHeadImportance(reference, pruned);
    const imp0 = byHand(reference.attentionBlocks()[0].output.weight.arraySync() as number[][], 3, 4);
    expect(r[0].removed).toEqual([0]);
    expect(r[0].relative!).toBeCloseTo(imp0[0] / ((imp0[0] + imp0[1] + imp0[2]) / 3), 4);
    expect(r[0].relative!).toBeLessThan(1);
    // Every head removed: the ratio of means is exactly 1.
    expect(r[1].removed).toEqual([0, 1, 2]);
    expect(r[1].relative!).toBeCloseTo(1, 6);
    // Nothing removed: no ratio.
    expect(removedHeadImportance(reference, reference)[0].relative).toBeNull();
    // A pruned model is not a reference for its own starting model.
    expect(() => removedHeadImportance(pruned, reference)).toThrow(/reference lacks/);
    reference.dispose();
    pruned.dispose();
  });
});
