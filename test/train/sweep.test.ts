import { describe, expect, it } from 'vitest';
import { expandGrid, paperGrid, parseNumberList, parseShard, shardOf } from '../../src/train/sweep';

describe('sweep grids', () => {
  it('expands the paper grid: 1 finetune + 49 l1 + 147 neuroprune points', () => {
    const points = expandGrid(paperGrid());
    expect(points.filter((p) => p.mode === 'finetune')).toHaveLength(1);
    expect(points.filter((p) => p.mode === 'l1')).toHaveLength(49);
    expect(points.filter((p) => p.mode === 'neuroprune')).toHaveLength(147);
    expect(new Set(points.map((p) => p.id)).size).toBe(points.length);
  });

  it('shards partition the grid: every point in exactly one shard', () => {
    const points = expandGrid(paperGrid());
    const shards = [0, 1, 2].map((index) => shardOf(points, { index, count: 3 }));
    expect(shards.flat().map((p) => p.id).sort()).toEqual(points.map((p) => p.id).sort());
    expect(Math.max(...shards.map((s) => s.length)) - Math.min(...shards.map((s) => s.length))).toBeLessThanOrEqual(1);
  });

  it('parses shards and lists, and names what is wrong', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    expect(() => parseShard('5/5')).toThrow(/0 <= i < n/);
    expect(() => parseShard('two')).toThrow(/i\/n/);
    expect(parseNumberList('1e-5, 0.1', 'alpha')).toEqual([1e-5, 0.1]);
    expect(() => parseNumberList('1e-5,x', 'alpha')).toThrow(/alpha/);
  });
});
