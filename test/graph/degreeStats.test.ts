import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { basicStats, degreeHistogram, giniCoefficient, summarizeDegrees, topShare } from '../../src/graph/degreeStats';

/** NumPy's statistics of the fixture sequences (scripts/make_powerlaw_fixtures.py): Gini by mean absolute difference. */
const REF = JSON.parse(readFileSync(join(__dirname, '../fixtures/powerlaw/expected.json'), 'utf8')) as {
  sequences: { name: string; degrees: number[]; maxDegree: number; stats: { mean: number; std: number; gini: number; topShare: number; fullFraction: number; emptyFraction: number } }[];
};

describe('degree statistics', () => {
  it('histograms degrees in ascending order', () => {
    expect(degreeHistogram([3, 1, 3, 0, 3])).toEqual({ degree: [0, 1, 3], count: [1, 1, 3] });
  });

  it('gives Gini 0 for equal degrees and (n-1)/n when one node holds everything', () => {
    expect(giniCoefficient([5, 5, 5, 5])).toBe(0);
    expect(giniCoefficient([0, 0, 0, 8])).toBeCloseTo(3 / 4, 12);
    expect(giniCoefficient([])).toBe(0);
    expect(giniCoefficient([1, 2, 3, 4])).toBeCloseTo(0.25, 12);
    expect(() => giniCoefficient([-1, 2])).toThrow(/>= 0/);
  });

  it('computes the share of the top 10% (rounded up)', () => {
    const uniform = Array(20).fill(4);
    expect(topShare(uniform)).toBeCloseTo(0.1, 12);
    const skewed = [...Array(18).fill(1), 41, 41]; // top 2 of 20 hold 82 of 100
    expect(topShare(skewed)).toBeCloseTo(0.82, 12);
    expect(topShare([1, 2, 3], 0.1)).toBeCloseTo(0.5, 12); // ceil(0.3) = 1 node
    expect(topShare([0, 0])).toBe(0);
    expect(() => topShare([1], 0)).toThrow(/fraction/);
  });

  it('summarizes count, spread, isolated and full nodes and the fit', () => {
    expect(basicStats([4, 1, 3, 2])).toEqual({ count: 4, min: 1, max: 4, mean: 2.5, median: 2.5, std: Math.sqrt(1.25) });
    const s = summarizeDegrees([0, 2, 2, 2], { maxDegree: 4 });
    expect(s.isolated).toBe(1);
    expect(s.emptyFraction).toBe(0.25);
    expect(s.fullFraction).toBe(0);
    expect(s.powerLaw).toBeNull();
    expect(s.comparisons).toEqual([]);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(summarizeDegrees([0, 4, 4, 1], { maxDegree: 4, powerLaw: false }).fullFraction).toBe(0.5);
    expect(() => summarizeDegrees([5], { maxDegree: 4 })).toThrow(/degree of 5 exceeds maxDegree 4/);
  });

  it('agrees with NumPy on sd, Gini, top-10% share and the full and empty shares of the fixture sequences', () => {
    for (const r of REF.sequences) {
      const s = summarizeDegrees(r.degrees, { maxDegree: r.maxDegree, powerLaw: false });
      expect(s.mean).toBeCloseTo(r.stats.mean, 10);
      expect(s.std, r.name).toBeCloseTo(r.stats.std, 10);
      expect(s.gini, r.name).toBeCloseTo(r.stats.gini, 10);
      expect(s.topShare, r.name).toBeCloseTo(r.stats.topShare, 10);
      expect(s.fullFraction, r.name).toBeCloseTo(r.stats.fullFraction, 12);
      expect(s.emptyFraction, r.name).toBeCloseTo(r.stats.emptyFraction, 12);
    }
    // Not vacuous: the capped sequence has a pile at its cap, the bimodal one empty neurons.
    expect(REF.sequences.find((r) => r.name.startsWith('capped'))!.stats.fullFraction).toBeGreaterThan(0.04);
    expect(REF.sequences.find((r) => r.name.startsWith('bimodal'))!.stats.emptyFraction).toBeGreaterThan(0.05);
  });
});
