import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { componentSizes, headGraph, headGraphFromDistances, similarityOfGraph } from '../../src/graph/headGraph';
import { findDominatingPaper, isDominatingSet } from '../../src/neuroprune/dominating';
import { headSimilarity } from '../../src/neuroprune/similarity';
import { leveledAttention } from './blocks';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

describe('head graph', () => {
  it('joins heads within theta and keeps the distance on the edge', () => {
    // Heads 0,1,2 within 0.05 of each other in a chain, head 3 far away.
    const block = leveledAttention([0, 0.04, 0.08, 1], 2);
    const g = headGraph(block, { theta: 0.05 });
    expect(g.order).toBe(4);
    expect(g.edges().map((e) => g.extremities(e).join('-')).sort()).toEqual(['0-1', '1-2']);
    expect(g.getEdgeAttribute('0', '1', 'distance')).toBeCloseTo(0.04, 6);
    expect(g.mapNodes((n) => g.degree(n))).toEqual([1, 2, 1, 0]);
    expect(componentSizes(g)).toEqual([3, 1]);
    // Algorithm 3 keeps head 1 (its row contains rows 0 and 2) and head 3, and merges 0 and 2 into 1.
    expect(g.getNodeAttributes('3')).toEqual({ position: 3, headId: 3, kept: true, mergeInto: 3 });
    expect(g.mapNodes((_, a) => [a.kept, a.mergeInto])).toEqual([[false, 1], [true, 1], [false, 1], [true, 3]]);
  });

  it('has theta = 0 join exact duplicates only', () => {
    const g = headGraph(leveledAttention([0.3, 0.3, 0.5], 1), { theta: 0 });
    expect(g.size).toBe(1);
    expect(g.hasEdge('0', '1')).toBe(true);
  });

  it('checks dominating sets through its similarity matrix, and the kept heads dominate the graph', () => {
    const block = leveledAttention([0, 0.04, 0.08, 1, 1.01], 2);
    const g = headGraph(block, { theta: 0.05 });
    const s = similarityOfGraph(g);
    expect(s).toEqual(headSimilarity(block, { theta: 0.05 }));
    expect(isDominatingSet(s, [1, 3])).toBe(true);
    expect(isDominatingSet(s, [1, 4])).toBe(true);
    expect(isDominatingSet(s, [0, 3])).toBe(false); // head 2 is not next to 0
    expect(() => isDominatingSet(s, [7])).toThrow(/head 7 is not a position of the 5-head similarity matrix/);
    const { kept } = findDominatingPaper(s);
    expect(isDominatingSet(s, kept)).toBe(true);
    expect(g.filterNodes((_, a) => a.kept).map(Number)).toEqual(kept);
  });

  it('rejects bad theta and asymmetric or ragged distances', () => {
    expect(() => headGraphFromDistances([[0]], { theta: -1 })).toThrow(/theta/);
    expect(() => headGraphFromDistances([[0, 1], [2, 0]], { theta: 1 })).toThrow(/not symmetric at \(0, 1\)/);
    expect(() => headGraphFromDistances([[0, 1], [1]], { theta: 1 })).toThrow(/row 1 has 1 entries/);
    expect(() => headGraphFromDistances([[0]], { theta: 1, headIds: [0, 1] })).toThrow(/2 head ids for 1 heads/);
  });
});
