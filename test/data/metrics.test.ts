import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { accuracy, averageRanks, f1, matthewsCorrcoef, pearson, spearman } from '../../src/data';

interface Fixture {
  classification: { y_true: number[]; y_pred: number[]; accuracy: number; f1: number | null; mcc: number }[];
  regression: { x: number[]; y: number[]; pearson: number | null; spearman: number | null }[];
}
const fx = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'metrics', 'expected.json'), 'utf8'),
) as Fixture;

/** null in the fixture stands for NaN (JSON has none). */
const close = (got: number, want: number | null): void => {
  if (want === null) expect(got).toBeNaN();
  else expect(got).toBeCloseTo(want, 12);
};

describe('metrics against scikit-learn / scipy', () => {
  it.each(fx.classification.map((c, i) => [i, c] as const))('classification case %i', (_, c) => {
    close(accuracy(c.y_true, c.y_pred), c.accuracy);
    close(matthewsCorrcoef(c.y_true, c.y_pred), c.mcc);
    if (c.f1 !== null) close(f1(c.y_true, c.y_pred), c.f1);
  });
  it.each(fx.regression.map((c, i) => [i, c] as const))('regression case %i', (_, c) => {
    close(pearson(c.x, c.y), c.pearson);
    close(spearman(c.x, c.y), c.spearman);
  });
});

describe('metrics by hand', () => {
  it('accuracy and F1 of the positive class', () => {
    // tp=2 (i=0,3), fp=1 (i=2), fn=1 (i=1), tn=1: F1 = 4/(4+1+1)
    const t = [1, 1, 0, 1, 0];
    const p = [1, 0, 1, 1, 0];
    expect(accuracy(t, p)).toBeCloseTo(3 / 5, 15);
    expect(f1(t, p)).toBeCloseTo(2 / 3, 15);
    expect(f1([0, 0], [0, 0])).toBe(0);
  });
  it('MCC: (tp*tn - fp*fn) / sqrt(...) for two classes, 0 on constant predictions', () => {
    const t = [1, 1, 0, 1, 0];
    const p = [1, 0, 1, 1, 0];
    expect(matthewsCorrcoef(t, p)).toBeCloseTo((2 * 1 - 1 * 1) / Math.sqrt(3 * 3 * 2 * 2), 15);
    expect(matthewsCorrcoef([0, 1, 0, 1], [1, 1, 1, 1])).toBe(0);
    expect(matthewsCorrcoef([1, 1, 1], [0, 1, 0])).toBe(0);
    expect(matthewsCorrcoef([0, 1, 0, 1], [1, 0, 1, 0])).toBeCloseTo(-1, 15);
  });
  it('Spearman averages tied ranks', () => {
    expect(Array.from(averageRanks([10, 20, 20, 5]))).toEqual([2, 3.5, 3.5, 1]);
    // ranks x = 1,2,3,4; y = 4,2.5,2.5,1 -> r = -0.9486832980505138 (hand: cov -4.5 / sqrt(5*4.5))
    expect(spearman([1, 2, 3, 4], [4, 3, 3, 1])).toBeCloseTo(-4.5 / Math.sqrt(5 * 4.5), 15);
    expect(pearson([1, 2, 3], [2, 4, 6])).toBe(1);
    expect(pearson([1, 2, 3], [5, 5, 5])).toBeNaN();
  });
  it('rejects mismatched or empty inputs', () => {
    expect(() => accuracy([1], [1, 0])).toThrow(/yTrue has 1 values, yPred 2/);
    expect(() => f1([], [])).toThrow(/no values/);
  });
});
