import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import * as path from 'node:path';
import { loadCheckpoint } from '../../src/checkpoint';
import type { AttentionBlock, MlpBlock, PrunableModel } from '../../src/models/blocks';
import {
  captureDenseShape,
  compactModel,
  eliminateRedundantHeads,
  projectToSparsity,
  removeHeads,
  sparsityReport,
} from '../../src/neuroprune';
import { duplicateHead, modelOf, randomAttention, randomMlp, setRows } from './helpers';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

function lin(w: number[][]) {
  return { weight: tf.variable(tf.tensor2d(w)), bias: null };
}

describe('sparsity accounting', () => {
  it('counts unstructured and structured zeros of a hand-made layer', () => {
    // d = 2, one head of size 2; MLP width 2.
    const attn: AttentionBlock = {
      name: 'a', stack: 'encoder', kind: 'self', layer: 0, numHeads: 1, headSize: 2, headIds: [0], originalNumHeads: 1,
      query: lin([[0, 1], [0, 2]]), // column 0 all zero: 2 structured, 2 zero
      key: lin([[1, 1], [1, 0.00005]]), // one entry below eps: 1 zero, 0 structured
      value: lin([[0, 0], [1, 1]]), // row 0 zero: 2 structured
      output: lin([[1, 1], [1, 1]]),
      inputIndex: null,
    };
    const m: MlpBlock = { name: 'm', stack: 'encoder', kind: 'mlp', layer: 0, activation: 'relu', input: lin([[0, 0], [0, 3]]), output: lin([[1, 1], [1, 1]]) };
    // MLP in: row 0 zero and column 0 zero: structured = 2 + 2 - 1 = 3, zero = 3.
    const r = sparsityReport(modelOf([attn], [m], 2));
    expect(r.total).toBe(24);
    expect(r.zero).toBe(2 + 1 + 2 + 3);
    expect(r.structured).toBe(2 + 2 + 3);
    expect(r.unstructuredFraction).toBeCloseTo(8 / 24, 10);
    expect(r.layers).toHaveLength(1);
    expect(r.layers[0].structuredFraction).toBeCloseTo(7 / 24, 10);
    expect(r.headsKept).toBe(1);
    expect(sparsityReport(modelOf([attn], [m], 2), { eps: 1e-6 }).zero).toBe(2 + 0 + 2 + 3);
    expect(() => sparsityReport(modelOf([attn], [m], 2), { eps: 0 })).toThrow(/eps must be/);
  });

  it('counts removed heads, neurons and input dimensions as zeros against the dense model', () => {
    const a = randomAttention({ d: 8, heads: 4, headSize: 2, seed: 1 });
    const m = randomMlp({ d: 8, de: 16, seed: 2 });
    const model = modelOf([a], [m], 8);
    const dense = captureDenseShape(model);
    const r0 = sparsityReport(model);
    expect(r0.total).toBe(4 * 8 * 8 + 2 * 16 * 8);
    expect(r0.structured).toBe(0);

    duplicateHead(a, 0, 1);
    eliminateRedundantHeads(a, { theta: 0 }); // one head: 4 matrices x 2 x 8 entries gone
    setRows(m.input.weight, [3, 4, 5, 6], null); // 4 neurons: 2 x 4 x 8 entries
    compactModel(model);
    const r = sparsityReport(model);
    expect(r.total).toBe(r0.total);
    expect(r.structured).toBe(4 * 2 * 8 + 2 * 4 * 8);
    expect(r.zero).toBe(r.structured);
    expect(r.blocks[0].heads).toEqual({ kept: 3, original: 4, ids: [1, 2, 3] }); // the later copy survives
    expect(r.blocks[1].neurons).toEqual({ kept: 12, original: 16 });
    expect(sparsityReport(model, { dense }).total).toBe(r0.total);
  });

  it('projects to an exact target sparsity, ties included', () => {
    const a = randomAttention({ d: 8, heads: 2, headSize: 4, seed: 3 });
    const m = randomMlp({ d: 8, de: 12, seed: 4 });
    const model = modelOf([a], [m], 8);
    // Many equal magnitudes: the count must still be exact.
    const tied = tf.tidy(() => tf.mul(tf.sign(m.input.weight), 0.25));
    m.input.weight.assign(tied);
    tied.dispose();
    const total = 4 * 64 + 2 * 96;
    for (const s of [0.1, 0.3, 0.37, 0.5, 0.9]) {
      const res = projectToSparsity(model, { sparsity: s });
      expect(res.zeros).toBe(Math.round(s * total));
      const exactZeros = sparsityReport(model, { eps: 1e-30 }).zero;
      expect(exactZeros).toBe(Math.round(s * total));
    }
    expect(() => projectToSparsity(model, { sparsity: 0.2 })).toThrow(/already has/);
    expect(() => projectToSparsity(model, { sparsity: 1.5 })).toThrow(/in \[0, 1\]/);
    projectToSparsity(model, { sparsity: 1 });
    expect(sparsityReport(model).unstructuredFraction).toBe(1);
  });

  it('counts removed entries toward a projection target', () => {
    const a = randomAttention({ d: 8, heads: 4, headSize: 2, seed: 5 });
    const m = randomMlp({ d: 8, de: 8, seed: 6 });
    const model = modelOf([a], [m], 8);
    const dense = captureDenseShape(model);
    duplicateHead(a, 2, 3);
    eliminateRedundantHeads(a, { theta: 0 }); // 64 of 384 entries gone
    const res = projectToSparsity(model, { sparsity: 0.5, dense });
    expect(res.zeros).toBe(192);
    expect(res.zeroed).toBe(192 - 64);
    expect(sparsityReport(model, { dense, eps: 1e-30 }).zero).toBe(192);
  });
});

describe('sparsity per stack and kind (T5)', () => {
  it('groups encoder self, decoder self and cross attention and each stack\'s MLPs apart, and keys layers by stack', async () => {
    const model = loadCheckpoint(path.join(__dirname, '..', 'fixtures', 'tiny-t5')).model as unknown as PrunableModel & { dispose(): void };
    const blocks = model.attentionBlocks();
    const find = (stack: string, kind: string, layer: number) => blocks.find((b) => b.stack === stack && b.kind === kind && b.layer === layer)!;
    removeHeads(find('encoder', 'self', 0), [0, 0, 2, 3]);
    removeHeads(find('decoder', 'cross', 0), [0, 1, 1, 1]);
    removeHeads(find('decoder', 'self', 2), [3, 3, 3, 3]);
    // A tiny eps: the random weights then have no near-zeros, and every zero is a removed entry.
    const r = sparsityReport(model, { eps: 1e-9 });
    expect(r.groups.map((g) => `${g.stack}.${g.role}`)).toEqual(['encoder.self', 'encoder.mlp', 'decoder.self', 'decoder.cross', 'decoder.mlp']);
    const heads = Object.fromEntries(r.groups.map((g) => [`${g.stack}.${g.role}`, g.headsPerLayer]));
    expect(heads).toEqual({ 'encoder.self': [3, 4], 'encoder.mlp': [], 'decoder.self': [4, 4, 1], 'decoder.cross': [2, 4, 4], 'decoder.mlp': [] });
    expect(r.groups.find((g) => g.role === 'mlp' && g.stack === 'decoder')!.neuronsPerLayer).toEqual([32, 32, 32]);
    // d_model 16, 4 heads of 6: each attention has 4 x 24 x 16 dense entries, each MLP 2 x 32 x 16.
    expect(r.groups.map((g) => g.total)).toEqual([2 * 4 * 24 * 16, 2 * 2 * 32 * 16, 3 * 4 * 24 * 16, 3 * 4 * 24 * 16, 3 * 2 * 32 * 16]);
    expect(r.groups.reduce((s, g) => s + g.total, 0)).toBe(r.total);
    // A removed head's entries are zeros of its own group only.
    expect(r.groups.find((g) => g.role === 'cross')!.zero).toBe(2 * 4 * 6 * 16);
    // Layers by stack: the decoder's layer 0 (self 4 + cross 2) is not added to the encoder's (3).
    expect(r.layers.map((l) => `${l.stack}${l.layer}:${l.headsKept}/${l.headsOriginal}`)).toEqual(['encoder0:3/4', 'encoder1:4/4', 'decoder0:6/8', 'decoder1:8/8', 'decoder2:5/8']);
    expect(r.headsKept).toBe(26);
    model.dispose();
  });
});
