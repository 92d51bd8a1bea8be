import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import type { AttentionBlock } from '../../src/models/blocks';
import { attention } from '../../src/models/layers';
import {
  eliminateRedundantHeads,
  headDistances,
  headSimilarity,
  planHeadTarget,
  pruneHeadsToTarget,
} from '../../src/neuroprune';
import { keepHeads } from '../../src/baselines/removal';
import { duplicateHead, maxAbsDiff, randomAttention, randomTensor, rng } from './helpers';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

const x = (d: number) => randomTensor([2, 5, d], rng(99), 1);
const mask = () => tf.tensor4d([0, 0, 0, 0, 0, 0, 0, 0, -1e9, -1e9], [2, 1, 1, 5]);

function run(block: AttentionBlock): tf.Tensor {
  return tf.tidy(() => attention(block, { x: x(block.output.weight.shape[0] as number), additiveMask: mask() }));
}

/** A block whose three heads are pairwise at l-infinity distance exactly 1 (dh = 1, d = 4). */
function equidistant(layer = 0): AttentionBlock {
  const l = (rows: number[][]) => ({ weight: tf.variable(tf.tensor2d(rows)), bias: null });
  const zero = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]];
  return {
    name: `eq.${layer}`, stack: 'encoder', kind: 'self', layer, numHeads: 3, headSize: 1, headIds: [0, 1, 2], originalNumHeads: 3,
    query: l([[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]), key: l(zero), value: l(zero),
    output: l([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]), inputIndex: null,
  };
}

describe('head similarity (Algorithm 2)', () => {
  it('uses the l-infinity distance between Q/K/V slices', () => {
    const d = headDistances(equidistant());
    expect(d).toEqual([[0, 1, 1], [1, 0, 1], [1, 1, 0]]);
    expect(headSimilarity(equidistant(), { theta: 0.99 }).flat().filter(Boolean).length).toBe(3);
    expect(headSimilarity(equidistant(), { theta: 1 }).flat().every(Boolean)).toBe(true);
    expect(() => headSimilarity(equidistant(), { theta: -0.1 })).toThrow(/theta must be a number >= 0/);
  });

  it('has nothing to compare in a layer that lost every head (a closed CoFI layer gate)', () => {
    const b = randomAttention({ d: 8, heads: 2, headSize: 4, seed: 5 });
    keepHeads(b, []);
    expect(b.query.weight.shape).toEqual([0, 8]);
    expect(headDistances(b)).toEqual([]);
    expect(headSimilarity(b, { theta: 0.1 })).toEqual([]);
    const none = eliminateRedundantHeads(b, { theta: 0.1 });
    expect([none.headsBefore, none.headsAfter, none.eliminated, none.changes]).toEqual([0, 0, [], []]);
  });
});

describe('redundant-head elimination', () => {
  it('removes an exact duplicate head with the same outputs (merge into Wo)', () => {
    const b = randomAttention({ d: 16, heads: 4, headSize: 4, seed: 3 });
    duplicateHead(b, 3, 1); // head 1 := head 3, weights and biases
    const before = run(b);
    const res = eliminateRedundantHeads(b, { theta: 0 });
    expect(res.eliminated).toEqual([{ head: 1, into: 3 }]); // the later head survives
    expect(b.numHeads).toBe(3);
    expect(b.headIds).toEqual([0, 2, 3]);
    expect(b.query.weight.shape).toEqual([12, 16]);
    expect(b.query.bias!.shape).toEqual([12]);
    expect(b.output.weight.shape).toEqual([16, 12]);
    const after = run(b);
    const diff = maxAbsDiff(before, after);
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([before, after]);
  });

  it('without merging, removes exactly the head\'s contribution', () => {
    const b = randomAttention({ d: 16, heads: 4, headSize: 4, seed: 4 });
    duplicateHead(b, 2, 0);
    // Expected: the dense block with head 0's columns of Wo zeroed.
    const wo = b.output.weight.clone();
    const zeroed = tf.tidy(() => tf.mul(wo, tf.concat([tf.zeros([1, 4]), tf.ones([1, 12])], 1)));
    b.output.weight.assign(zeroed);
    const expected = run(b);
    b.output.weight.assign(wo);
    const merged = run(b);
    const res = eliminateRedundantHeads(b, { theta: 0, merge: false });
    expect(res.eliminated).toEqual([{ head: 0, into: 2 }]);
    expect(res.merged).toBe(false);
    const after = run(b);
    expect(maxAbsDiff(after, expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(after, merged)).toBeGreaterThan(1e-3); // the ablation does change outputs
    tf.dispose([wo, zeroed, expected, merged, after]);
  });

  it('keeps original ids across rounds and never removes the last head', () => {
    const b = randomAttention({ d: 8, heads: 4, headSize: 2, seed: 5 });
    duplicateHead(b, 0, 2);
    eliminateRedundantHeads(b, { theta: 0 });
    expect(b.headIds).toEqual([1, 2, 3]);
    // A huge theta makes every head similar to every other: one survives, the last.
    const res = eliminateRedundantHeads(b, { theta: 1e9, strategy: 'exact' });
    expect(b.numHeads).toBe(1);
    expect(b.headIds).toEqual([3]);
    expect(res.eliminated.map((e) => e.into)).toEqual([3, 3]);
    expect(eliminateRedundantHeads(b, { theta: 1e9 }).eliminated).toEqual([]);
    const y = run(b);
    expect(y.shape).toEqual([2, 5, 8]);
    y.dispose();
  });

  it('does not leak tensors', () => {
    const b = randomAttention({ d: 8, heads: 4, headSize: 2, seed: 6 });
    duplicateHead(b, 0, 1);
    const before = tf.memory().numTensors;
    eliminateRedundantHeads(b, { theta: 0 });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('target number of heads', () => {
  it('chooses a theta per layer that keeps the requested count', () => {
    for (const strategy of ['paper', 'exact'] as const) {
      const blocks = [0, 1].map((l) => randomAttention({ d: 8, heads: 6, headSize: 2, seed: 20 + l, layer: l }));
      const plan = planHeadTarget(blocks, { heads: [4, 2], strategy });
      expect(plan.met).toBe(true);
      expect(plan.kept).toEqual([4, 2]);
      const { eliminations } = pruneHeadsToTarget(blocks, { heads: [4, 2], strategy });
      expect(blocks.map((b) => b.numHeads)).toEqual([4, 2]);
      expect(eliminations[1].eliminated.length).toBe(4);
    }
  });

  /**
   * Four heads (dh = 1, d = 4) whose query rows sit on a line at spacing `step`: pairwise distances
   * are exact multiples of `step`. With the exact (minimum dominating set) strategy a layer keeps
   * 4 heads below theta = step, 2 in [step, 2 step) (a path of four), 1 from 2 step on.
   */
  function onALine(layer: number, step: number): AttentionBlock {
    const l = (rows: number[][]) => ({ weight: tf.variable(tf.tensor2d(rows)), bias: null });
    const zero = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
    return {
      name: `line.${layer}`, stack: 'encoder', kind: 'self', layer, numHeads: 4, headSize: 1, headIds: [0, 1, 2, 3], originalNumHeads: 4,
      query: l([0, 1, 2, 3].map((i) => [i * step, 0, 0, 0])), key: l(zero), value: l(zero),
      output: l(zero.map(() => [1, 1, 1, 1])), inputIndex: null,
    };
  }

  it('chooses one global theta for a total', () => {
    // Steps 1, 3, 5: totals by theta are 12 (<1), 10 ([1,2)), 9 ([2,3)), 7 ([3,5)), 5 ([5,6)), 4 ([6,10)), 3.
    const blocks = () => [onALine(0, 1), onALine(1, 3), onALine(2, 5)];
    const plan = planHeadTarget(blocks(), { heads: 7, scope: 'global', strategy: 'exact' });
    expect(plan.met).toBe(true);
    expect(plan.kept).toEqual([1, 2, 4]);
    expect(new Set(plan.theta).size).toBe(1);
    expect(plan.theta[0]).toBeGreaterThanOrEqual(3);
    expect(plan.theta[0]).toBeLessThan(5);
    expect(planHeadTarget(blocks(), { heads: 5, scope: 'global', strategy: 'exact' }).kept).toEqual([1, 2, 2]);
    // 8 lies between two reachable totals: not met, both neighbours named.
    const miss = planHeadTarget(blocks(), { heads: 8, scope: 'global', strategy: 'exact' });
    expect(miss.met).toBe(false);
    expect(miss.message).toMatch(/no single theta keeps exactly 8 heads in total; nearest reachable: 9 and 7/);
    // Applied: every layer pruned at that one theta.
    const applied = blocks();
    const { eliminations } = pruneHeadsToTarget(applied, { heads: 7, scope: 'global', strategy: 'exact' });
    expect(applied.map((b) => b.numHeads)).toEqual([1, 2, 4]);
    expect(new Set(eliminations.map((e) => e.theta)).size).toBe(1);
  });

  it('says when a count cannot be reached, and refuses impossible requests', () => {
    const plan = planHeadTarget([equidistant()], { heads: 2 });
    expect(plan.met).toBe(false);
    expect(plan.message).toMatch(/no theta keeps exactly 2 of 3 heads; nearest reachable: 3 and 1/);
    expect(plan.kept).toEqual([3]);
    expect(() => pruneHeadsToTarget([equidistant()], { heads: 2 })).toThrow(/nearest reachable/);
    const b = equidistant();
    const { plan: p2 } = pruneHeadsToTarget([b], { heads: 2, ifUnreachable: 'closest' });
    expect(p2.met).toBe(false);
    expect(b.numHeads).toBe(3);
    expect(planHeadTarget([equidistant()], { heads: 1 }).kept).toEqual([1]);
    expect(() => planHeadTarget([equidistant()], { heads: 0 })).toThrow(/outside \[1, 3\]/);
    expect(() => planHeadTarget([equidistant()], { heads: 4 })).toThrow(/outside \[1, 3\]/);
    expect(() => planHeadTarget([equidistant(0), equidistant(1)], { heads: 1, scope: 'global' })).toThrow(/outside \[2, 6\]/);
  });
});
