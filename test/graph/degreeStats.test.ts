import { describe, expect, it } from 'vitest';
import { basicStats, degreeHistogram, giniCoefficient, summarizeDegrees, topShare } from '../../src/graph/degreeStats';

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

  it('summarizes count, spread, isolated nodes and the fit', () => {
    expect(basicStats([4, 1, 3, 2])).toEqual({ count: 4, min: 1, max: 4, mean: 2.5, median: 2.5, std: Math.sqrt(1.25) });
    const s = summarizeDegrees([0, 2, 2, 2]);
    expect(s.isolated).toBe(1);
    expect(s.powerLaw).toBeNull();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
