import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { loadBertCheckpoint } from '../../src/checkpoint';
import { pairwiseHeadDistances, quantile, relativeTheta } from '../../src/neuroprune';

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

describe('theta relative to the model', () => {
  it('quantile interpolates linearly between order statistics, as numpy.quantile', () => {
    // numpy.quantile([3,1,4,1,5,9,2,6], [0, 0.05, 0.3, 0.5, 1]) = [1, 1, 2.1, 3.5, 9]
    const xs = [3, 1, 4, 1, 5, 9, 2, 6];
    expect([0, 0.05, 0.3, 0.5, 1].map((q) => quantile(xs, q))).toEqual([1, 1, expect.closeTo(2.1, 12), 3.5, 9]);
    expect(() => quantile(xs, 1.5)).toThrow('quantile: q must be in [0, 1], got 1.5');
  });

  it('pools the pairwise l-infinity head distances of every layer, computed by brute force from the weights', () => {
    const { model } = loadBertCheckpoint(join(__dirname, '..', 'fixtures', 'tiny-bert'));
    const blocks = model.attentionBlocks();
    const brute: number[] = [];
    for (const b of blocks) {
      const [q, k, v] = [b.query, b.key, b.value].map((l) => l.weight.arraySync() as number[][]);
      const rows = (h: number) => [q, k, v].flatMap((w) => w.slice(h * b.headSize, (h + 1) * b.headSize));
      for (let i = 0; i < b.numHeads; i++) for (let j = i + 1; j < b.numHeads; j++) {
        const a = rows(i);
        const c = rows(j);
        let d = 0;
        a.forEach((r, ri) => r.forEach((x, ci) => { d = Math.max(d, Math.abs(x - c[ri][ci])); }));
        brute.push(d);
      }
    }
    const pooled = pairwiseHeadDistances(blocks);
    expect(pooled).toHaveLength(blocks.length * 6);
    pooled.forEach((d, i) => expect(d).toBeCloseTo(brute[i], 6));
    const r = relativeTheta(blocks, 0.25);
    expect(r.theta).toBeCloseTo(quantile(brute, 0.25), 6);
    expect(r.min).toBeCloseTo(Math.min(...brute), 6);
    // At the q-quantile, at least a share q of the pairs are within theta: the threshold always reaches some pairs.
    expect(brute.filter((d) => d <= r.theta + 1e-6).length / brute.length).toBeGreaterThanOrEqual(0.25);
    model.dispose();
  });
});
