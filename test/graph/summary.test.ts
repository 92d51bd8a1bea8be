import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { summarizeModelGraphs } from '../../src/graph/summary';
import { leveledAttention, mlpBlock, model } from './blocks';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

describe('summarizeModelGraphs', () => {
  it('reports heads, edges, components and degree statistics per layer as plain JSON', () => {
    const d = 4;
    const attn = [leveledAttention([0, 0.01, 0.5, 0.9], 1, 0), leveledAttention([0, 1, 2, 3], 1, 1)];
    const dense = tf.ones([8, d]) as tf.Tensor2D;
    const mlp = [
      mlpBlock(tf.ones([8, d]) as tf.Tensor2D, tf.ones([d, 8]) as tf.Tensor2D, 0),
      mlpBlock(tf.concat([tf.ones([2, d]), tf.zeros([6, d])]) as tf.Tensor2D, tf.ones([d, 8]) as tf.Tensor2D, 1),
    ];
    dense.dispose();
    const before = tf.memory().numTensors;
    const s = summarizeModelGraphs(model(attn, mlp, d), { theta: 0.05 });
    expect(tf.memory().numTensors).toBe(before);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(s.eps).toBe(1e-4);
    expect(s.layers.map((l) => l.layer)).toEqual([0, 1]);

    const a0 = s.layers[0].attention!;
    expect(a0.heads).toBe(4);
    expect(a0.edges).toBe(1);
    expect(a0.components).toBe(3);
    expect(a0.componentSizes).toEqual([2, 1, 1]);
    expect(a0.isolatedHeads).toBe(2);
    expect(a0.nearestDistance.min).toBeCloseTo(0.01, 6);
    expect(s.layers[1].attention!.edges).toBe(0);

    const m0 = s.layers[0].mlp!;
    expect(m0.edges).toBe(2 * d * 8);
    expect(m0.density).toBe(1);
    expect(m0.hidden.gini).toBe(0);
    expect(m0.hidden.powerLaw).toBeNull(); // every neuron has the same degree
    const m1 = s.layers[1].mlp!;
    expect(m1.hiddenIn.isolated).toBe(6);
    expect(m1.hidden.mean).toBe(5); // out-degree 4 for all 8, in-degree 4 for 2: 40 / 8
    expect(m1.hiddenIn.topShare).toBe(0.5); // the top ceil(0.8) = 1 neuron holds 4 of 8
    expect(a0.density).toBeCloseTo(1 / 6, 12); // 1 of 4 * 3 / 2 pairs
    expect(a0.keptAtTheta).toBe(3); // heads 0 and 1 merge
    expect(m0.hidden.maxDegree).toBe(2 * d);
    expect(m0.hidden.fullFraction).toBe(1); // dense: every neuron full
    expect(m1.hiddenIn.fullFraction).toBe(0.25);
    expect(m1.hiddenIn.emptyFraction).toBe(0.75);
    expect(m1.hiddenOut.fullFraction).toBe(1);
    expect(m1.hiddenOut.gini).toBe(0);
    // Pooled over the two layers: 16 neurons, in-degrees 4 (10 of them) and 0 (6).
    expect(s.model!.hiddenIn.count).toBe(16);
    expect(s.model!.hiddenIn.emptyFraction).toBe(6 / 16);
    expect(s.model!.hiddenIn.std).toBeCloseTo(Math.sqrt((10 * 16) / 16 - (40 / 16) ** 2), 12);
    expect(s.model!.hidden.powerLaw).toBeNull(); // pooled statistics carry no fit
    expect(s.totals).toEqual({ heads: 8, originalHeads: 8, headEdges: 1, mlpEdges: 64 + 8 + 32, mlpDenseEdges: 128, hiddenNeurons: 16, isolatedHiddenNeurons: 0 });
  });

  it('requires theta >= 0', () => {
    expect(() => summarizeModelGraphs(model([], [], 4), { theta: Number.NaN })).toThrow(/theta/);
  });
});
