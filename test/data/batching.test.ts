import { describe, expect, it } from 'vitest';

import { deriveSeed, makeBatches, mulberry32, padBatch, permutation, planBatches, type EncodedExample } from '../../src/data';

function examples(lengths: number[]): EncodedExample[] {
  return lengths.map((n, i) => ({
    inputIds: Array.from({ length: n }, (_, k) => 100 + k),
    tokenTypeIds: Array.from({ length: n }, (_, k) => (k >= n - 1 ? 1 : 0)),
    label: i % 3,
  }));
}

describe('seeded PRNG', () => {
  it('mulberry32 is reproducible and uniform-ish', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 2000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 2000 }, () => b.next()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.5, 1);
    expect(mulberry32(1).uint32()).not.toBe(mulberry32(2).uint32());
    // Pinned values: the reference mulberry32 gives 0.26642920868471265, 0.0003297457005828619,
    // 0.2232720274478197 for seed 0. The stream must never change silently (it seeds data).
    const r = mulberry32(0);
    expect([r.uint32(), r.uint32(), r.uint32()]).toEqual([1144304738, 1416247, 958946056]);
  });
  it('permutation is a permutation; derived seeds differ by stream', () => {
    const p = permutation(100, mulberry32(3));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(deriveSeed(7, 0)).not.toBe(deriveSeed(7, 1));
    expect(deriveSeed(7, 1)).toBe(deriveSeed(7, 1));
  });
});

describe('length-bucketed batching', () => {
  const lens = Array.from({ length: 103 }, (_, i) => 3 + ((i * 37) % 29));
  const exs = examples(lens);

  it('covers every example exactly once, deterministically from the seed', () => {
    const plan = planBatches(lens, { batchSize: 8, seed: 5 });
    expect(plan.flat().sort((a, b) => a - b)).toEqual(lens.map((_, i) => i));
    expect(planBatches(lens, { batchSize: 8, seed: 5 })).toEqual(plan);
    expect(planBatches(lens, { batchSize: 8, seed: 6 })).not.toEqual(plan);
    expect(planBatches(lens, { batchSize: 8, seed: 5, epoch: 1 })).not.toEqual(plan);
    expect(planBatches(lens, { batchSize: 8, seed: 5, dropLast: true }).flat()).toHaveLength(96);
  });

  it('sorting within buckets cuts padding', () => {
    const padded = (sort: boolean): number =>
      makeBatches(exs, { batchSize: 8, seed: 1, sortByLength: sort }).reduce((s, b) => s + b.size * b.seqLen, 0);
    expect(padded(true)).toBeLessThan(0.8 * padded(false));
  });

  it('without shuffling keeps input order (no sorting) and pads each batch to its own max', () => {
    const batches = makeBatches(exs, { batchSize: 10, shuffle: false, sortByLength: false, padId: 0 });
    expect(Array.from(batches[0]!.indices)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(batches[0]!.seqLen).toBe(Math.max(...lens.slice(0, 10)));
    expect(batches[10]!.size).toBe(3);
  });

  it('pads ids with padId, type ids with 0, mask marks tokens; labels typed as asked', () => {
    const b = padBatch(examples([2, 4, 3]), [0, 1, 2], { padId: 7, padToMultipleOf: 8, labelType: 'float' });
    expect(b.seqLen).toBe(8);
    expect(Array.from(b.inputIds.subarray(0, 8))).toEqual([100, 101, 7, 7, 7, 7, 7, 7]);
    expect(Array.from(b.tokenTypeIds.subarray(0, 8))).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(b.attentionMask.subarray(8, 16))).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    expect(b.labels).toBeInstanceOf(Float32Array);
    expect(Array.from(b.labels)).toEqual([0, 1, 2]);
    expect(padBatch(examples([2]), [0]).labels).toBeInstanceOf(Int32Array);
  });
});
