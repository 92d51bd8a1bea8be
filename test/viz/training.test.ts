import { describe, expect, it } from 'vitest';
import type { ScatterTrace } from '../../src/viz/figure';
import { parseEpochLog, trainingCurvesFigure } from '../../src/viz/training';

const log = [
  { kind: 'step', epoch: 1, step: 1, taskLoss: 0.9 },
  { kind: 'epoch', epoch: 1, step: 10, taskLoss: 0.7, dev: { accuracy: 0.6, f1: 0.5 }, sparsity: { eps: 1e-4, unstructuredFraction: 0.1 } },
  { kind: 'epoch', epoch: 2, step: 20, taskLoss: 0.5, dev: { accuracy: 0.7, f1: 0.6 }, sparsity: { eps: 1e-4, unstructuredFraction: 0.3 } },
].map((r) => JSON.stringify(r)).join('\n') + '\n{"kind":"ep';

describe('training curves', () => {
  it('parses epoch lines, skipping step lines and a cut last line', () => {
    const recs = parseEpochLog(log);
    expect(recs.map((r) => r.epoch)).toEqual([1, 2]);
    expect(() => parseEpochLog('{bad\n{"epoch":1}')).toThrow(/line 1 is not JSON/);
  });

  it('stacks loss, primary metric and sparsity panels on a shared epoch axis', () => {
    const fig = trainingCurvesFigure([{ name: 'run A', records: parseEpochLog(log) }, { name: 'run B', records: parseEpochLog(log).slice(0, 1) }]);
    const ts = fig.data as ScatterTrace[];
    expect(ts).toHaveLength(6);
    expect(ts.map((t) => t.yaxis)).toEqual(['y', 'y2', 'y3', 'y', 'y2', 'y3']);
    expect(ts[0].x).toEqual([1, 2]);
    expect(ts[0].y).toEqual([0.7, 0.5]);
    expect(ts[1].y).toEqual([0.6, 0.7]);
    expect(ts[2].y).toEqual([0.1, 0.3]);
    expect(ts.filter((t) => t.showlegend).map((t) => t.name)).toEqual(['run A', 'run B']);
    expect(fig.layout.yaxis2?.title?.text).toBe('accuracy');
    expect(fig.layout.yaxis3?.title?.text).toBe('sparsity (unstructuredFraction)');
    expect(fig.layout.yaxis?.domain).toEqual([0.7, 1]);
  });

  it('uses the requested metric and sparsity field', () => {
    const fig = trainingCurvesFigure([{ name: 'r', records: parseEpochLog(log) }], { metric: 'f1', sparsityKey: 'eps' });
    expect((fig.data[1] as ScatterTrace).y).toEqual([0.5, 0.6]);
    expect((fig.data[2] as ScatterTrace).y).toEqual([1e-4, 1e-4]);
  });
});
