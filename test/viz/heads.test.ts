import { describe, expect, it } from 'vitest';
import type { BarTrace, HeatmapTrace, ScatterTrace } from '../../src/viz/figure';
import { headSimilarityHeatmap, headsPerLayerFigure } from '../../src/viz/heads';

describe('headsPerLayerFigure', () => {
  it('stacks kept and pruned heads per layer, in layer order', () => {
    const fig = headsPerLayerFigure([{ layer: 1, heads: 2, originalHeads: 4 }, { layer: 0, heads: 4, originalHeads: 4 }]);
    const [kept, pruned] = fig.data as BarTrace[];
    expect(kept.type).toBe('bar');
    expect(kept.x).toEqual([0, 1]);
    expect(kept.y).toEqual([4, 2]);
    expect(pruned.name).toBe('pruned');
    expect(pruned.y).toEqual([0, 2]);
    expect(fig.layout.barmode).toBe('stack');
    expect(fig.layout.title?.text).toBe('Heads per layer (6 of 8 kept)');
  });

  it('draws only kept bars when the original counts are unknown, and checks counts', () => {
    expect(headsPerLayerFigure([{ layer: 0, heads: 3 }]).data).toHaveLength(1);
    expect(() => headsPerLayerFigure([{ layer: 2, heads: 3, originalHeads: 2 }])).toThrow(/layer 2 has 3 heads but originalHeads 2/);
  });
});

describe('headSimilarityHeatmap', () => {
  const dist = [
    [0, 0.1, 0.9],
    [0.1, 0, 0.8],
    [0.9, 0.8, 0],
  ];

  it('draws the distances with head-id tick labels and head 0 on top', () => {
    const fig = headSimilarityHeatmap(dist, { headIds: [0, 3, 5] });
    const h = fig.data[0] as HeatmapTrace;
    expect(h.type).toBe('heatmap');
    expect(h.z).toEqual(dist);
    expect(h.x).toEqual([0, 1, 2]);
    expect(h.zmin).toBe(0);
    expect(fig.layout.xaxis?.ticktext).toEqual(['h0', 'h3', 'h5']);
    expect(fig.layout.yaxis?.autorange).toBe('reversed');
  });

  it('marks similar pairs (both orders) and the kept heads', () => {
    const fig = headSimilarityHeatmap(dist, { theta: 0.1, kept: [1, 2] });
    const pairs = fig.data[1] as ScatterTrace;
    expect(pairs.x).toEqual([1, 0]);
    expect(pairs.y).toEqual([0, 1]);
    const kept = fig.data[2] as ScatterTrace;
    expect(kept.name).toBe('kept');
    expect(kept.x).toEqual([1, 2]);
    expect(() => headSimilarityHeatmap(dist, { kept: [3] })).toThrow(/kept head 3/);
    expect(() => headSimilarityHeatmap([[0, 1]])).toThrow(/row 0 has 2 entries/);
  });
});
