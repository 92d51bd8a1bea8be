/**
 * Generation for encoder-decoders (src/models/generation.ts over T5's key/value cache) against
 * transformers 4.57's `generate` (fixtures: scripts/make_t5_generation_fixtures.py): greedy and
 * beam search token-identical, beam scores within 1e-4, on tiny random T5 v1.0 and v1.1, on a
 * T5 with heads removed (encoder heads as transformers' prune_heads, decoder self- and
 * cross-attention heads as transformers with them switched off) and on a T5 compacted after
 * zeroing MLP neurons and cross-attention inputs; the cached decoder's logits equal to the
 * uncached teacher-forced forward within 1e-5; no tensor left behind.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { loadNativeBlas } from '../../src/backend/kernels';
import { loadCheckpoint } from '../../src/checkpoint';
import { compactModel, removeHeads } from '../../src/neuroprune';
import type { AttentionBlock, Linear } from '../../src/models/blocks';
import type { T5Model } from '../../src/models/t5';
import { generate, generateWithScores, type GenerateOptions } from '../../src/models/generation';

const nativeBuilt = loadNativeBlas().ok;
if (!nativeBuilt) console.log('generation tests on the native backend skipped: the native addon is not built (npm run build:native)');
const FIXTURES = path.join(__dirname, '..', 'fixtures');

interface Case {
  name: string;
  options: { num_beams: number; max_new_tokens?: number; max_length?: number; length_penalty?: number; early_stopping?: boolean | 'never'; eos_token_id?: number };
  sequences: number[][];
  scores: number[] | null;
}
interface ModelCases { fixture: string; change: 'pruned' | 'dead' | null; eos_token_id: number; cases: Case[] }
interface Fixture { pad_token_id: number; input_ids: number[][]; attention_mask: number[][]; models: ModelCases[] }
interface Dead { stack: 'encoder' | 'decoder'; layer: number; what: 'wi_0' | 'wi_1' | 'wo' | 'qkv' | 'q' | 'kv'; index: number[] }

const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 't5-generation.json'), 'utf8')) as Fixture;
/** The fixture's inputs without their padding (generate pads them again). */
const INPUTS = fixture.input_ids.map((row, i) => row.filter((_, j) => fixture.attention_mask[i][j] === 1));

const measured: string[] = [];
afterAll(() => { if (measured.length) console.log(measured.join('\n')); });

/** Removes the given original heads from a block outright (no merge). */
function dropHeads(block: AttentionBlock, heads: number[]): void {
  const survivor = block.headIds.findIndex((h) => !heads.includes(h));
  removeHeads(block, block.headIds.map((h, i) => (heads.includes(h) ? survivor : i)), { merge: false });
}

/** Zeroes rows (axis 0) or columns (axis 1) of a weight in place. */
function zero(l: Linear, index: number[], axis: 0 | 1): void {
  const [r, c] = l.weight.shape;
  const kept = tf.tidy(() => {
    const n = axis === 0 ? r : c;
    const m = tf.sub(1, tf.sum(tf.oneHot(index, n), 0));
    return tf.mul(l.weight, axis === 0 ? m.reshape([n, 1]) : m.reshape([1, n]));
  });
  l.weight.assign(kept);
  kept.dispose();
}

/** A fixture model, with the structural change its cases were generated on. */
function load(entry: Pick<ModelCases, 'fixture' | 'change'>): T5Model {
  const dir = path.join(FIXTURES, entry.fixture);
  const model = loadCheckpoint(dir).model as unknown as T5Model;
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as {
    pruned_heads: Record<string, number[]>; masked_decoder_heads: Record<'self' | 'cross', Record<string, number[]>>; dead: Dead[];
  };
  if (entry.change === 'pruned') {
    const encoder = model.attentionBlocks().filter((b) => b.stack === 'encoder');
    for (const [layer, heads] of Object.entries(ref.pruned_heads)) dropHeads(encoder[Number(layer)], heads);
    for (const kind of ['self', 'cross'] as const) {
      const blocks = model.attentionBlocks().filter((b) => b.stack === 'decoder' && b.kind === kind);
      for (const [layer, heads] of Object.entries(ref.masked_decoder_heads[kind])) dropHeads(blocks[Number(layer)], heads);
    }
  } else if (entry.change === 'dead') {
    for (const d of ref.dead) {
      if (d.what === 'qkv' || d.what === 'q' || d.what === 'kv') {
        const block = model.attentionBlocks().find((b) => b.stack === d.stack && b.kind === 'cross' && b.layer === d.layer)!;
        for (const l of { qkv: [block.query, block.key, block.value], q: [block.query], kv: [block.key, block.value] }[d.what]) zero(l, d.index, 1);
        continue;
      }
      const block = model.mlpBlocks().find((b) => b.stack === d.stack && b.layer === d.layer)!;
      if (d.what === 'wo') zero(block.output, d.index, 1);
      else zero(d.what === 'wi_0' ? block.gate! : block.input, d.index, 0);
    }
    compactModel(model);
  }
  return model;
}

function optionsOf(c: Case): GenerateOptions {
  const o = c.options;
  return {
    numBeams: o.num_beams,
    ...(o.max_new_tokens !== undefined ? { maxNewTokens: o.max_new_tokens } : {}),
    ...(o.max_length !== undefined ? { maxLength: o.max_length } : {}),
    ...(o.length_penalty !== undefined ? { lengthPenalty: o.length_penalty } : {}),
    ...(o.early_stopping !== undefined ? { earlyStopping: o.early_stopping } : {}),
    ...(o.eos_token_id !== undefined ? { eosTokenId: o.eos_token_id } : {}),
  };
}

/**
 * transformers' row without the decoder start token, cut after its first EOS; what follows the
 * EOS must be transformers' padding (the pad id, or in beam search the fill value, which is the
 * EOS id when the pad id is 0).
 */
function expectedRow(row: number[], eos: number): number[] {
  const gen = row.slice(1);
  const end = gen.indexOf(eos);
  if (end < 0) return gen;
  const tail = gen.slice(end + 1);
  expect(tail.every((t) => t === fixture.pad_token_id || t === eos)).toBe(true);
  return gen.slice(0, end + 1);
}

const label = (m: Pick<ModelCases, 'fixture' | 'change'>) => `${m.fixture}${m.change ? ` (${m.change})` : ''}`;

describe('the generation fixtures exercise EOS', () => {
  for (const m of fixture.models) {
    it(`${label(m)}: some rows end at EOS early, some run to the maximum length`, () => {
      for (const kind of ['greedy', 'beam'] as const) {
        const rows = m.cases.filter((c) => (c.options.num_beams > 1) === (kind === 'beam'))
          .flatMap((c) => c.sequences.map((r) => ({ r, eos: c.options.eos_token_id ?? 1, max: c.options.max_new_tokens ?? (c.options.max_length ?? 20) - 1 })));
        const early = rows.filter(({ r, eos, max }) => r.slice(1).includes(eos) && r.slice(1).indexOf(eos) + 1 < max);
        const full = rows.filter(({ r, eos, max }) => r.length - 1 === max && !r.slice(1).includes(eos));
        expect(early.length, `${kind} rows ending early`).toBeGreaterThan(0);
        expect(full.length, `${kind} rows reaching the maximum`).toBeGreaterThan(0);
      }
    });
  }
  it('the three stopping rules of beam search give different rows on some fixture case (so each is checked)', () => {
    const byRule = (rule: boolean | 'never') => fixture.models.flatMap((m) => m.cases
      .filter((c) => c.name.endsWith('10 new') && c.options.early_stopping === rule).map((c) => JSON.stringify(c.sequences)));
    const [on, off, never] = [byRule(true), byRule(false), byRule('never')];
    expect(on.length).toBeGreaterThan(0);
    expect(on.some((x, i) => x !== off[i])).toBe(true);
    expect(off.some((x, i) => x !== never[i])).toBe(true);
  });
});

for (const backend of ['native', 'cpu'] as const) {
  describe.skipIf(backend === 'native' && !nativeBuilt)(`generation on ${backend}`, () => {
    for (const m of fixture.models) {
      it(`${label(m)}: greedy and beam search as transformers' generate (tokens identical, beam scores within 1e-4)`, async () => {
        await initBackend({ force: backend });
        const model = load(m);
        const before = tf.memory().numTensors;
        let worst = 0;
        for (const c of m.cases) {
          const eos = c.options.eos_token_id ?? 1;
          const { sequences, scores } = generateWithScores(model, INPUTS, optionsOf(c));
          expect(sequences, c.name).toEqual(c.sequences.map((r) => expectedRow(r, eos)));
          if (c.scores) {
            expect(scores).not.toBeNull();
            for (let i = 0; i < c.scores.length; i++) worst = Math.max(worst, Math.abs(scores![i] - c.scores[i]));
          } else {
            expect(scores).toBeNull();
          }
        }
        measured.push(`generation ${label(m)} on ${backend}: ${m.cases.length} cases token-identical, beam scores max|diff| ${worst.toExponential(2)}`);
        expect(worst).toBeLessThanOrEqual(1e-4);
        expect(tf.memory().numTensors).toBe(before);
        model.dispose();
      });
    }

    for (const m of fixture.models) {
      it(`${label(m)}: the cached decoder's logits equal the uncached forward's within 1e-5`, async () => {
        await initBackend({ force: backend });
        const model = load(m);
        const before = tf.memory().numTensors;
        // Teacher-force the greedy outputs of the fixture's first case through both paths.
        const steps = 8;
        const decoderIds = fixture.models[0].cases[0].sequences.map((r) => r.slice(0, steps));
        const ids = tf.tensor2d(fixture.input_ids, undefined, 'int32');
        const mask = tf.tensor2d(fixture.attention_mask, undefined, 'int32');
        const dec = tf.tensor2d(decoderIds, undefined, 'int32');
        const full = model.forward({ inputIds: ids, attentionMask: mask, decoderInputIds: dec }).logits;
        const fullValues = full.arraySync();
        const state = model.encode(ids, mask);
        let worst = 0;
        for (let t = 0; t < steps; t++) {
          const logits = tf.tidy(() => model.decodeStep(tf.tensor1d(decoderIds.map((r) => r[t]), 'int32'), state));
          const got = logits.arraySync();
          logits.dispose();
          got.forEach((row, b) => row.forEach((x, v) => { worst = Math.max(worst, Math.abs(x - fullValues[b][t][v])); }));
        }
        state.dispose();
        tf.dispose([ids, mask, dec, full]);
        measured.push(`cached vs uncached decoder ${label(m)} on ${backend}: max|diff| logits ${worst.toExponential(2)} over ${steps} steps`);
        expect(worst).toBeLessThanOrEqual(1e-5);
        expect(tf.memory().numTensors).toBe(before);
        model.dispose();
      });
    }
  });
}

describe('generate options', () => {
  it('splitting the inputs into smaller batches gives the same rows (beam search and greedy)', async () => {
    await initBackend({ force: 'cpu' });
    const model = load({ fixture: 'tiny-t5-v11', change: null });
    const c = fixture.models[1].cases.find((x) => x.options.num_beams === 4)!;
    expect(generate(model, INPUTS, { ...optionsOf(c), batchSize: 2 })).toEqual(generate(model, INPUTS, optionsOf(c)));
    const greedy = fixture.models[1].cases[1];
    expect(generate(model, INPUTS, { ...optionsOf(greedy), batchSize: 1 })).toEqual(greedy.sequences.map((r) => expectedRow(r, greedy.options.eos_token_id!)));
    model.dispose();
  });

  it('refuses bad options, naming them', async () => {
    await initBackend({ force: 'cpu' });
    const model = load({ fixture: 'tiny-t5', change: null });
    expect(() => generate(model, INPUTS, { maxNewTokens: 0 })).toThrow(/'maxNewTokens' is 0/);
    expect(() => generate(model, INPUTS, { maxLength: 1 })).toThrow(/'maxLength' is 1/);
    expect(() => generate(model, INPUTS, { numBeams: 2.5 })).toThrow(/'numBeams' is 2.5/);
    expect(() => generate(model, INPUTS, { numBeams: 61 })).toThrow(/numBeams 61 exceeds the vocabulary \(60 tokens\)/);
    expect(() => generate(model, INPUTS, { earlyStopping: 'sometimes' as never })).toThrow(/'earlyStopping' is sometimes/);
    expect(() => generate(model, [[3, -1]], { maxNewTokens: 2 })).toThrow(/input row 0 position 1 is -1/);
    model.dispose();
  });
});
