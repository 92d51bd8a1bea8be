import { describe, expect, it } from 'vitest';
import type { ScatterTrace } from '../../src/viz/figure';
import { paretoFrontier, sparsityMetricFigure } from '../../src/viz/sweep';

describe('sparsityMetricFigure', () => {
  const points = [
    { mode: 'l1', sparsity: 0.5, metric: 0.8 },
    { mode: 'neuroprune', sparsity: 0.6, metric: 0.85, label: 'a=1e-4' },
    { mode: 'l1', sparsity: 0.2, metric: 0.9 },
    { mode: 'neuroprune', sparsity: 0.3, metric: 0.84 },
    { mode: 'finetune', sparsity: 0, metric: 0.91 },
  ];

  it('draws one marker trace per mode sorted by sparsity, with a frontier per mode', () => {
    const fig = sparsityMetricFigure(points, { metricName: 'accuracy' });
    const markers = fig.data.filter((t) => (t as ScatterTrace).mode === 'markers') as ScatterTrace[];
    expect(markers.map((t) => t.name)).toEqual(['l1', 'neuroprune', 'finetune']);
    expect(markers[0].x).toEqual([0.2, 0.5]);
    expect(markers[0].y).toEqual([0.9, 0.8]);
    expect(markers[1].text).toEqual(['', 'a=1e-4']);
    const frontiers = fig.data.filter((t) => (t as ScatterTrace).mode === 'lines') as ScatterTrace[];
    expect(frontiers).toHaveLength(2); // finetune has a single point
    expect(fig.layout.xaxis?.tickformat).toBe('.0%');
    expect(fig.layout.yaxis?.title?.text).toBe('accuracy');
    expect(sparsityMetricFigure(points, { frontier: false }).data).toHaveLength(3);
  });

  it('keeps only undominated points on the frontier', () => {
    const pts = [{ sparsity: 0.1, metric: 0.9 }, { sparsity: 0.2, metric: 0.7 }, { sparsity: 0.3, metric: 0.8 }, { sparsity: 0.5, metric: 0.6 }];
    expect(paretoFrontier(pts)).toEqual([{ sparsity: 0.1, metric: 0.9 }, { sparsity: 0.3, metric: 0.8 }, { sparsity: 0.5, metric: 0.6 }]);
    expect(paretoFrontier(pts, false)).toEqual([{ sparsity: 0.5, metric: 0.6 }]);
  });

  it('rejects sparsity outside [0, 1]', () => {
    expect(() => sparsityMetricFigure([{ mode: 'l1', sparsity: 55, metric: 1 }])).toThrow(/point 0 \(l1\) has sparsity 55/);
  });
});
