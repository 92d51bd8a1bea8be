import { describe, expect, it } from 'vitest';
import { percentTickFormat, type BarTrace, type ScatterTrace } from '../../src/viz/figure';
import { aggregateSeries, seriesFigure } from '../../src/viz/series';
import { sparsityMetricFigure } from '../../src/viz/sweep';
import { degreeHistogramFigure } from '../../src/viz/degree';
import { headGraphFigure } from '../../src/viz/headGraph';

describe('aggregateSeries and seriesFigure', () => {
  const samples = [
    { group: 'l1', key: 'b=0.1', x: 0.5, y: 1 }, { group: 'l1', key: 'b=0.1', x: 0.7, y: 2 },
    { group: 'l1', key: 'b=0.1', x: 0.6, y: 3 }, { group: 'l1', key: 'b=0.1', x: 0.6, y: 4 },
    { group: 'np', key: 'b=0.1', x: 0.2, y: 9 }, { group: 'l1', key: 'b=0.01', x: 0.1, y: 5 },
  ];
  it('gives the mean and sample sd per (group, key), sorted by x within a group', () => {
    const agg = aggregateSeries(samples);
    expect(agg.map((p) => [p.group, p.key, p.n])).toEqual([['l1', 'b=0.01', 1], ['l1', 'b=0.1', 4], ['np', 'b=0.1', 1]]);
    // numpy: np.std([1,2,3,4], ddof=1) = 1.2909944487358056; np.std([.5,.7,.6,.6], ddof=1) = 0.08164965809277258
    expect(agg[1].y).toBeCloseTo(2.5, 12);
    expect(agg[1].ySd).toBeCloseTo(1.2909944487358056, 12);
    expect(agg[1].x).toBeCloseTo(0.6, 12);
    expect(agg[1].xSd).toBeCloseTo(0.08164965809277258, 12);
    expect(agg[0].ySd).toBe(0);
  });
  it('draws error bars only for groups with repeats, percent ticks when asked', () => {
    const fig = seriesFigure(samples, { xTitle: 'sparsity', yTitle: 'sd', xPercent: true });
    const [l1, np] = fig.data as ScatterTrace[];
    expect(l1.error_y?.array).toEqual([0, expect.closeTo(1.29099, 4)]);
    expect(np.error_y).toBeUndefined();
    expect(fig.layout.xaxis?.tickformat).toBe('.0%');
  });
  it('rejects non-finite values naming the sample', () => {
    expect(() => aggregateSeries([{ group: 'a', x: 1, y: NaN }])).toThrow(/sample 0 \(a\)/);
  });
});

describe('percentTickFormat', () => {
  it('adds decimals as the span narrows, so that nearby ticks differ', () => {
    expect(percentTickFormat([0, 0.9])).toBe('.0%');
    expect(percentTickFormat([0.72, 0.75])).toBe('.1%');
    expect(percentTickFormat([0.728, 0.731])).toBe('.2%');
  });
});

describe('sparsityMetricFigure with seeds', () => {
  it('averages repeats, draws sd error bars and a vh frontier', () => {
    const pts = [
      { mode: 'np', key: 'a', sparsity: 0.5, metric: 0.9 }, { mode: 'np', key: 'a', sparsity: 0.7, metric: 0.8 },
      { mode: 'np', key: 'b', sparsity: 0.9, metric: 0.7 },
    ];
    const fig = sparsityMetricFigure(pts, { sparsityName: 'structured sparsity' });
    const [markers, frontier] = fig.data as ScatterTrace[];
    expect(markers.x).toEqual([expect.closeTo(0.6, 12), 0.9]);
    expect(markers.y).toEqual([expect.closeTo(0.85, 12), 0.7]);
    expect(markers.error_y?.array[0]).toBeCloseTo(Math.sqrt(0.005), 12);
    expect(frontier.line?.shape).toBe('vh');
    expect(frontier.x).toEqual([expect.closeTo(0.6, 12), 0.9]);
    expect(fig.layout.xaxis?.title?.text).toBe('structured sparsity');
    expect(fig.layout.xaxis?.tickformat).toBe('.0%');
  });
});

describe('degreeHistogramFigure', () => {
  it('counts fractions of nodes in shared bins, degree 0 included', () => {
    const fig = degreeHistogramFigure([{ name: 'a', degrees: [0, 0, 1, 5] }, { name: 'b', degrees: [5, 5] }], { bins: 3 });
    const [a, b] = fig.data as BarTrace[];
    // max 5 -> width ceil(6/3) = 2: bins [0,1], [2,3], [4,5]
    expect(a.y).toEqual([0.75, 0, 0.25]);
    expect(b.y).toEqual([0, 0, 1]);
    expect(a.x).toEqual([0.5, 2.5, 4.5]);
  });
});

describe('headGraphFigure', () => {
  const d = [[0, 0.01, 0.5], [0.01, 0, 0.5], [0.5, 0.5, 0]];
  it('joins heads within theta, fills the kept ones and draws an arrow per merge', () => {
    const fig = headGraphFigure(d, { theta: 0.05, kept: [1, 2], into: [1, 1, 2], headIds: [3, 4, 7] });
    const names = fig.data.map((t) => t.name);
    expect(names).toContain('kept (dominating set)');
    const edges = fig.data[0] as ScatterTrace;
    expect(edges.x.filter((v) => !Number.isNaN(v))).toHaveLength(2); // one edge
    const arrows = fig.layout.annotations!.filter((a) => a.showarrow);
    expect(arrows).toHaveLength(1);
    const pruned = fig.data.find((t) => t.name === 'pruned') as ScatterTrace;
    // the arrow starts at the pruned head (position 0) and ends at its replacement (position 1)
    expect([arrows[0].ax, arrows[0].ay]).toEqual([pruned.x[0], pruned.y[0]]);
    expect(fig.layout.annotations!.filter((a) => !a.showarrow).map((a) => a.text)).toEqual(['<b>3</b>', '<b>4</b>', '<b>7</b>']);
  });
  it('rejects a ragged matrix', () => {
    expect(() => headGraphFigure([[0, 1], [1]], { theta: 0.1 })).toThrow(/row 1 has 1 entries, expected 2/);
  });
});
