import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { loadBertCheckpoint } from '../../src/checkpoint';
import type { Linear, PrunableModel } from '../../src/models/blocks';
import { magnitudePrune } from '../../src/neuroprune';

// A checkpoint with heads already removed (pruned_heads), so removed entries must count as zeros.
const PRUNED = join(__dirname, '..', 'fixtures', 'tiny-bert-pruned');

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

interface Entry { layer: number; matrix: number; index: number; magnitude: number }

function linearsByLayer(model: PrunableModel): { layer: number; linear: Linear }[] {
  return [
    ...model.attentionBlocks().flatMap((b) => [b.query, b.key, b.value, b.output].map((linear) => ({ layer: b.layer, linear }))),
    ...model.mlpBlocks().flatMap((b) => [b.input, b.output].map((linear) => ({ layer: b.layer, linear }))),
  ];
}

function entries(model: PrunableModel): Entry[] {
  return linearsByLayer(model).flatMap(({ layer, linear }, matrix) =>
    Array.from(linear.weight.dataSync() as Float32Array, (v, index) => ({ layer, matrix, index, magnitude: Math.abs(v) })));
}

/** Dense prunable entries per layer from the config: 4 d^2 attention + 2 d de MLP. */
function denseTotal(config: { hidden_size: number; intermediate_size: number }): number {
  return 4 * config.hidden_size ** 2 + 2 * config.hidden_size * config.intermediate_size;
}

describe('magnitudePrune', () => {
  for (const sparsity of [0.3, 0.75]) {
    it(`global ${sparsity}: exactly round(s * total) zeros, and they are the smallest-magnitude weights (brute force)`, () => {
      const { model, config } = loadBertCheckpoint(PRUNED);
      const before = entries(model);
      const total = config.num_hidden_layers * denseTotal(config);
      const removed = total - before.length;
      expect(removed).toBeGreaterThan(0);
      const r = magnitudePrune(model, { sparsity });
      const after = entries(model);
      const zerosNow = after.filter((e) => e.magnitude === 0).length;
      expect(zerosNow + removed).toBe(Math.round(sparsity * total));
      expect(r.zeros).toBe(Math.round(sparsity * total));
      // Brute force: the stored entries sorted by magnitude; the first m are the ones now zero, the rest unchanged.
      const m = Math.round(sparsity * total) - removed;
      const order = before.map((e, i) => i).sort((a, b) => before[a].magnitude - before[b].magnitude);
      const expectedZero = new Set(order.slice(0, m));
      after.forEach((e, i) => {
        if (expectedZero.has(i)) expect(e.magnitude).toBe(0);
        else expect(e.magnitude).toBe(before[i].magnitude);
      });
      model.dispose();
    });
  }

  it('layer: every layer reaches its own exact count with its own smallest weights', () => {
    const { model, config } = loadBertCheckpoint(PRUNED);
    const before = entries(model);
    const r = magnitudePrune(model, { sparsity: 0.6, scope: 'layer' });
    const after = entries(model);
    expect(r.parts.map((p) => p.layer)).toEqual([0, 1]);
    for (const layer of [0, 1]) {
      const idx = before.flatMap((e, i) => (e.layer === layer ? [i] : []));
      const removed = denseTotal(config) - idx.length;
      const m = Math.round(0.6 * denseTotal(config)) - removed;
      const order = idx.slice().sort((a, b) => before[a].magnitude - before[b].magnitude);
      const expectedZero = new Set(order.slice(0, m));
      for (const i of idx) expect(after[i].magnitude).toBe(expectedZero.has(i) ? 0 : before[i].magnitude);
    }
    expect(r.zeros).toBe(2 * Math.round(0.6 * denseTotal(config)));
    // Global pruning at the same target would spread the zeros otherwise: the layers' shares differ.
    const { model: other } = loadBertCheckpoint(PRUNED);
    const g = magnitudePrune(other, { sparsity: 0.6 });
    const perLayer = [0, 1].map((layer) => entries(other).filter((e) => e.layer === layer && e.magnitude === 0).length);
    expect(perLayer[0]).not.toBe(perLayer[1]);
    expect(g.zeros).toBe(Math.round(0.6 * 2 * denseTotal(config)));
    model.dispose();
    other.dispose();
  });

  it('refuses a target below the zeros already there, naming the layer', () => {
    const { model } = loadBertCheckpoint(PRUNED);
    magnitudePrune(model, { sparsity: 0.5, scope: 'layer' });
    expect(() => magnitudePrune(model, { sparsity: 0.2, scope: 'layer' })).toThrow(/^layer 0: projectToSparsity: target 0.2 means/);
    model.dispose();
  });
});
