import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/train/options';
import type { SetupValue } from '../../src/train/runIdentity';
import { canonicalJson, defaultGrid, expandGrid, paperGrid, parseNumberList, parseShard, pointKey, shardOf, sweepSettings, type SweepSettings } from '../../src/train/sweep';

describe('sweep grids', () => {
  it('expands the paper grid: 1 finetune + 49 l1 + 147 neuroprune points', () => {
    const points = expandGrid(paperGrid());
    expect(points.filter((p) => p.mode === 'finetune')).toHaveLength(1);
    expect(points.filter((p) => p.mode === 'l1')).toHaveLength(49);
    expect(points.filter((p) => p.mode === 'neuroprune')).toHaveLength(147);
    expect(new Set(points.map((p) => p.id)).size).toBe(points.length);
  });

  it('the default grid is 11 runs: finetune, magnitude at each target, l1 and neuroprune over 2 x 2 at one theta', () => {
    const points = expandGrid(defaultGrid(0.3));
    expect(points.map((p) => p.id)).toEqual([
      'finetune:a=0:b=0:t=0', 'magnitude:a=0:b=0:t=0:s=0.5', 'magnitude:a=0:b=0:t=0:s=0.8',
      'l1:a=0.0001:b=0.01:t=0', 'l1:a=0.0001:b=0.1:t=0', 'l1:a=0.001:b=0.01:t=0', 'l1:a=0.001:b=0.1:t=0',
      'neuroprune:a=0.0001:b=0.01:t=0.3', 'neuroprune:a=0.0001:b=0.1:t=0.3', 'neuroprune:a=0.001:b=0.01:t=0.3', 'neuroprune:a=0.001:b=0.1:t=0.3',
    ]);
    expect(points.find((p) => p.mode === 'magnitude')?.sparsity).toBe(0.5);
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

describe('sweep point identity', () => {
  const settings = (o: Partial<typeof DEFAULT_TRAIN_OPTIONS> = {}, s: Record<string, SetupValue> = {}): SweepSettings => sweepSettings(
    { '--task': 'negation', '--glue-dir': null, '--model': null, '--config': null, '--max-length': null, '--limit-train': null, '--limit-dev': null, ...s },
    { ...DEFAULT_TRAIN_OPTIONS, ...o },
  );
  const [point] = expandGrid({ modes: ['neuroprune'], alphas: [1e-3], betas: [1e-2], thetas: [0.2], sparsities: [] });

  it('the key changes with every setting that changes a result, and not with the progress bar or key order', () => {
    const k = pointKey(point, settings());
    expect(pointKey(point, settings({ progress: false }))).toBe(k);
    expect(k.startsWith(point.id + '#')).toBe(true);
    const changed = [
      settings({ seed: 1 }), settings({ epochs: 4 }), settings({ learningRate: 1e-4 }), settings({ batchSize: 8 }),
      settings({ eps: 1e-3 }), settings({ compact: false }), settings({ clipScope: 'total' }),
      settings({}, { '--task': 'rte' }), settings({}, { '--limit-train': 100 }), settings({}, { '--max-length': 64 }), settings({}, { '--model': '/m' }),
      settings({}, { tokenizer: 'another' }),
    ];
    const keys = changed.map((s) => pointKey(point, s));
    expect(new Set([k, ...keys]).size).toBe(changed.length + 1);
    // Magnitude points differ by their target sparsity; points without one keep the keys they had.
    const [m50, m80] = expandGrid({ modes: ['magnitude'], alphas: [], betas: [], thetas: [], sparsities: [0.5, 0.8] });
    expect(pointKey(m50, settings())).not.toBe(pointKey(m80, settings()));
    expect(pointKey(point, settings())).toBe(pointKey({ ...point, sparsity: undefined }, settings()));
  });

  it('canonicalJson sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}');
    expect(canonicalJson({ a: 1, b: { x: 1, y: 2 } })).toBe(canonicalJson({ b: { y: 2, x: 1 }, a: 1 }));
  });
});
