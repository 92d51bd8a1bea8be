import { describe, expect, it } from 'vitest';
import { fitPowerLaw, samplePowerLaw, seededRandom } from '../../src/graph/powerLaw';
import { degreeDistributionFigure } from '../../src/viz/degree';
import type { ScatterTrace } from '../../src/viz/figure';

describe('degreeDistributionFigure', () => {
  it('plots the empirical CCDF on log-log axes, leaving degree 0 out', () => {
    const fig = degreeDistributionFigure([{ name: 'dense', degrees: [0, 1, 1, 2, 4] }]);
    expect(fig.layout.xaxis?.type).toBe('log');
    expect(fig.layout.yaxis?.type).toBe('log');
    expect(fig.data).toHaveLength(1);
    const t = fig.data[0] as ScatterTrace;
    expect(t.type).toBe('scatter');
    expect(t.mode).toBe('markers');
    expect(t.x).toEqual([1, 2, 4]);
    expect(t.y).toEqual([1, 0.5, 0.25]);
    expect(t.name).toBe('dense (1 at degree 0 not shown)');
    expect(JSON.parse(JSON.stringify(fig))).toEqual(fig);
  });

  it('plots the pmf when asked', () => {
    const t = degreeDistributionFigure([{ name: 's', degrees: [1, 1, 2, 4] }], { kind: 'pmf' }).data[0] as ScatterTrace;
    expect(t.y).toEqual([0.5, 0.25, 0.25]);
  });

  it('overlays the fitted power law as a dashed line starting at xmin, following the data', () => {
    const degrees = samplePowerLaw(3000, 2.5, 2, seededRandom(11));
    const fit = fitPowerLaw(degrees)!;
    const fig = degreeDistributionFigure([{ name: 'a', degrees, fit }, { name: 'b', degrees: [3, 3, 3], fit: null }]);
    expect(fig.data).toHaveLength(3);
    const [emp, line] = fig.data as ScatterTrace[];
    expect(line.mode).toBe('lines');
    expect(line.line?.dash).toBe('dash');
    expect(line.line?.color).toBe(emp.marker?.color);
    expect(line.name).toContain(`α = ${fit.alpha.toFixed(2)}`);
    expect(line.x[0]).toBe(fit.xmin);
    expect(line.x[line.x.length - 1]).toBe(Math.max(...degrees));
    // At xmin the line is the tail's share of the nodes; it matches the empirical CCDF there.
    const at = emp.x.indexOf(fit.xmin);
    expect(line.y[0]).toBeCloseTo(emp.y[at], 12);
    // In between, the line follows the data within a few percent where the tail is well populated.
    const x10 = emp.x.indexOf(10);
    const l10 = line.x.indexOf(10);
    if (x10 >= 0 && l10 >= 0) expect(Math.abs(Math.log(line.y[l10] / emp.y[x10]))).toBeLessThan(0.15);
    // Decreasing.
    for (let i = 1; i < line.y.length; i++) expect(line.y[i]).toBeLessThan(line.y[i - 1]);
  });

  it('rejects negative degrees and unknown kinds', () => {
    expect(() => degreeDistributionFigure([{ name: 'x', degrees: [1, -1] }])).toThrow(/series 'x' has degree -1 at 1/);
    expect(() => degreeDistributionFigure([], { kind: 'cdf' as 'ccdf' })).toThrow(/kind/);
  });
});
