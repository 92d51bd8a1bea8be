import { describe, expect, it } from 'vitest';
import { fitPowerLaw, hurwitzZeta, powerLawCcdf, samplePowerLaw, seededRandom } from '../../src/graph/powerLaw';

describe('hurwitzZeta', () => {
  it('matches known values of the Riemann zeta and a direct sum', () => {
    expect(hurwitzZeta(2, 1)).toBeCloseTo(Math.PI ** 2 / 6, 12);
    expect(hurwitzZeta(4, 1)).toBeCloseTo(Math.PI ** 4 / 90, 12);
    expect(hurwitzZeta(3, 1)).toBeCloseTo(1.2020569031595942, 12);
    // zeta(s, q) - zeta(s, q + 1) = q^-s
    expect(hurwitzZeta(2.5, 7) - hurwitzZeta(2.5, 8)).toBeCloseTo(7 ** -2.5, 14);
    expect(hurwitzZeta(1.1, 1)).toBeCloseTo(10.5844484649508, 9);
  });

  it('rejects s <= 1 and q <= 0', () => {
    expect(() => hurwitzZeta(1, 1)).toThrow(/s must be > 1/);
    expect(() => hurwitzZeta(2, 0)).toThrow(/q must be > 0/);
  });
});

describe('fitPowerLaw', () => {
  it('recovers known exponents from exact discrete samples (xmin fixed)', () => {
    for (const [alpha, xmin, seed] of [[2.5, 1, 1], [2.0, 3, 2], [2.8, 2, 3]] as const) {
      const xs = samplePowerLaw(4000, alpha, xmin, seededRandom(seed));
      const fit = fitPowerLaw(xs, { xmin })!;
      expect(fit.xmin).toBe(xmin);
      expect(fit.nTail).toBe(4000);
      // sigma = (alpha - 1) / sqrt(n) ~ 0.02-0.04; allow four sigma.
      expect(Math.abs(fit.alpha - alpha)).toBeLessThan(4 * fit.sigma);
    }
  });

  it('chooses xmin by KS distance when the body below it is not a power law', () => {
    const rand = seededRandom(7);
    const tail = samplePowerLaw(3000, 2.5, 8, rand);
    // Body: 2000 samples spread uniformly over 1..7, far flatter than the law.
    const body = Array.from({ length: 2000 }, () => 1 + Math.floor(rand() * 7));
    const fit = fitPowerLaw([...body, ...tail])!;
    expect(fit.xmin).toBeGreaterThanOrEqual(7);
    expect(fit.xmin).toBeLessThanOrEqual(10);
    expect(Math.abs(fit.alpha - 2.5)).toBeLessThan(0.15);
    expect(fit.ks).toBeLessThan(0.03);
  });

  it('drops zeros, and returns null when no tail has two distinct values', () => {
    expect(fitPowerLaw(Array(100).fill(64))).toBeNull();
    expect(fitPowerLaw([0, 0, 1, 2, 3, 4, 5])).toBeNull(); // fewer than minTail samples
    const fit = fitPowerLaw([0, 0, 0, ...samplePowerLaw(500, 2.2, 1, seededRandom(4))])!;
    expect(fit.zeros).toBe(3);
    expect(fit.n).toBe(500);
  });

  it('rejects non-integer samples and bad options', () => {
    expect(() => fitPowerLaw([1, 2.5])).toThrow(/sample 1 is 2.5/);
    expect(() => fitPowerLaw([1, 2], { minTail: 0 })).toThrow(/minTail/);
    expect(() => fitPowerLaw([1, 2], { alphaRange: [2, 1] })).toThrow(/alphaRange/);
    expect(() => fitPowerLaw([1, 2], { xmin: 0 })).toThrow(/xmin/);
  });

  it('has a CCDF that is 1 at xmin and decreases', () => {
    const fit = { alpha: 2.5, xmin: 3 };
    expect(powerLawCcdf(fit, 3)).toBe(1);
    expect(powerLawCcdf(fit, 4)).toBeCloseTo(1 - 3 ** -2.5 / hurwitzZeta(2.5, 3), 12);
    expect(powerLawCcdf(fit, 100)).toBeLessThan(powerLawCcdf(fit, 10));
  });
});
