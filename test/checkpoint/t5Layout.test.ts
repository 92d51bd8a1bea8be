/**
 * A pruned and compacted T5 as an ordinary checkpoint: the `neuroprune` layout per stack and kind
 * (src/models/t5.ts, `T5Layout`), written by `saveModelDir` without `dense`, reloads into the same
 * shapes with the same logits; a checkpoint with transformers' `pruned_heads` (written by
 * scripts/make_t5_pruned_fixture.py with transformers' own `prune_heads`) loads with transformers'
 * logits; the dense export loads in transformers (opt-in, NEUROPRUNE_PYTHON_CHECKS=1).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { loadCheckpoint, saveModelDir, t5Architecture } from '../../src/checkpoint';
import type { Linear } from '../../src/models/blocks';
import type { T5Model } from '../../src/models/t5';
import { compactModel, removeHeads } from '../../src/neuroprune';
import { maxAbsDiff } from '../models/helpers';
import { FIXTURES } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const PYTHON = process.env.PYTHON ?? 'python3';

interface Dead { stack: 'encoder' | 'decoder'; layer: number; what: 'wi_0' | 'wi_1' | 'wo' | 'qkv' | 'q' | 'kv'; index: number[] }
interface Reference {
  input_ids: number[][]; attention_mask: number[][]; decoder_input_ids: number[][]; decoder_attention_mask: number[][];
  logits: number[][][]; dead?: Dead[];
}

function reference(fixture: string): Reference {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, fixture, 'reference.json'), 'utf8')) as Reference;
}

function inputsOf(ref: Reference) {
  const int = (x: number[][]) => tf.tensor2d(x, undefined, 'int32');
  return {
    inputIds: int(ref.input_ids), attentionMask: int(ref.attention_mask),
    decoderInputIds: int(ref.decoder_input_ids), decoderAttentionMask: int(ref.decoder_attention_mask),
  };
}

function logitsOf(model: T5Model, ref: Reference): Float32Array {
  const inputs = inputsOf(ref);
  const { logits } = model.forward(inputs);
  const out = logits.dataSync() as Float32Array;
  tf.dispose([logits, ...Object.values(inputs)]);
  return out;
}

/** Zeroes rows (axis 0) or columns (axis 1) of a weight in place. */
function zero(l: Linear, index: number[], axis: 0 | 1): void {
  const [r, c] = l.weight.shape;
  const next = tf.tidy(() => {
    const n = axis === 0 ? r : c;
    const m = tf.sub(1, tf.sum(tf.oneHot(index, n), 0));
    return tf.mul(l.weight, axis === 0 ? m.reshape([n, 1]) : m.reshape([1, n]));
  });
  l.weight.assign(next);
  next.dispose();
}

/**
 * tiny-t5-v11 with heads removed in every stack and kind (merged and not), the fixture's dead
 * neurons and cross-attention input dimensions zeroed, then compacted.
 */
function prunedT5(): { model: T5Model; ref: Reference } {
  const ref = reference('tiny-t5-v11');
  const model = loadCheckpoint(path.join(FIXTURES, 'tiny-t5-v11')).model as unknown as T5Model;
  const mlps = model.mlpBlocks();
  const attention = model.attentionBlocks();
  for (const d of ref.dead!) {
    if (d.what === 'qkv' || d.what === 'q' || d.what === 'kv') {
      const b = attention.find((x) => x.stack === d.stack && x.kind === 'cross' && x.layer === d.layer)!;
      const maps = { qkv: [b.query, b.key, b.value], q: [b.query], kv: [b.key, b.value] }[d.what];
      for (const l of maps) zero(l, d.index, 1);
      continue;
    }
    const b = mlps.find((x) => x.stack === d.stack && x.layer === d.layer)!;
    if (d.what === 'wo') zero(b.output, d.index, 1);
    else zero(d.what === 'wi_0' ? b.gate! : b.input, d.index, 0);
  }
  const find = (stack: string, kind: string, layer: number) => attention.find((b) => b.stack === stack && b.kind === kind && b.layer === layer)!;
  removeHeads(find('encoder', 'self', 1), [0, 0, 2, 3]); // head 1 merged into head 0
  removeHeads(find('decoder', 'self', 0), [2, 1, 2, 3]); // head 0 merged into head 2
  removeHeads(find('decoder', 'cross', 2), [0, 1, 0, 0], { merge: false });
  removeHeads(find('decoder', 'cross', 1), [3, 1, 2, 3]);
  compactModel(model);
  return { model, ref };
}

describe('a pruned and compacted T5 as an ordinary checkpoint', () => {
  it('records heads, MLP widths and input dimensions per stack and kind, and reloads into the same shapes with the same logits', async () => {
    await initBackend({ force: 'cpu' });
    const before = tf.memory().numTensors;
    const { model, ref } = prunedT5();
    const expected = logitsOf(model, ref);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't5-layout-'));
    try {
      saveModelDir(t5Architecture, model, dir);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, any>;
      // Dense sizes stay; transformers' pruned_heads is not written (no T5 class of 4.57 loads it).
      expect(config.num_heads).toBe(4);
      expect(config.d_ff).toBe(32);
      expect(config.pruned_heads).toBeUndefined();
      const np = config.neuroprune;
      expect(np.encoder.self.pruned_heads).toEqual({ 1: [1] });
      expect(np.decoder.self.pruned_heads).toEqual({ 0: [0] });
      expect(np.decoder.cross.pruned_heads).toEqual({ 1: [0], 2: [2, 3] });
      // Dead neurons (make_t5_fixtures.py's DEAD): encoder 0 loses 4 gate rows, encoder 1 3 input rows,
      // decoder 0 3 output columns, decoder 2 neurons 7, 8, 9 and 10.
      expect(np.encoder.intermediate_sizes).toEqual([28, 29]);
      expect(np.decoder.intermediate_sizes).toEqual([29, 32, 28]);
      // Cross-attention inputs: Q's decoder dimensions and K/V's encoder dimensions apart.
      const without = (gone: number[]) => Array.from({ length: 16 }, (_, j) => j).filter((j) => !gone.includes(j));
      expect(np.decoder.cross.attention_input_index).toEqual([without([0, 9]), without([3, 7, 15]), null]);
      expect(np.decoder.cross.context_input_index).toEqual([null, without([3, 7, 15]), without([4, 5, 12])]);
      expect(np.encoder.self.attention_input_index).toBeUndefined();

      const reloaded = loadCheckpoint(dir).model as unknown as T5Model;
      const shapes = (m: T5Model) => [...m.namedParameters()].map(([n, v]) => `${n}:${v.shape.join('x')}`);
      expect(shapes(reloaded)).toEqual(shapes(model));
      expect(reloaded.attentionBlocks().map((b) => b.headIds)).toEqual(model.attentionBlocks().map((b) => [...b.headIds].sort((x, y) => x - y)));
      const got = logitsOf(reloaded, ref);
      expect(maxAbsDiff(got, Array.from(expected))).toBeLessThanOrEqual(1e-5);
      // Saved again, the same config: the layout is read back exactly.
      const again = path.join(dir, 'again');
      saveModelDir(t5Architecture, reloaded, again);
      expect(JSON.parse(fs.readFileSync(path.join(again, 'config.json'), 'utf8'))).toEqual(config);
      reloaded.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("loads transformers' pruned_heads (encoder self-attention, tiny-t5-pruned) with transformers' logits", async () => {
    await initBackend({ force: 'cpu' });
    const ref = reference('tiny-t5-pruned');
    const model = loadCheckpoint(path.join(FIXTURES, 'tiny-t5-pruned')).model as unknown as T5Model;
    expect(model.attentionBlocks().filter((b) => b.stack === 'encoder').map((b) => b.headIds)).toEqual([[1, 3], [0, 1, 2]]);
    expect(model.currentConfig().neuroprune).toEqual({ encoder: { self: { pruned_heads: { 0: [0, 2], 1: [3] } } } });
    expect(maxAbsDiff(logitsOf(model, ref), ref.logits)).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });
});

describe('T5 layouts the loader refuses, naming the file and the field', () => {
  const withConfig = (edit: (c: Record<string, any>) => void): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't5-layout-config-'));
    fs.cpSync(path.join(FIXTURES, 'tiny-t5'), dir, { recursive: true });
    const file = path.join(dir, 'config.json');
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, any>;
    edit(c);
    fs.writeFileSync(file, JSON.stringify(c));
    return dir;
  };
  const cases: [string, (c: Record<string, any>) => void, RegExp][] = [
    ['encoder heads in both pruned_heads and the layout', (c) => { c.pruned_heads = { 0: [1] }; c.neuroprune = { encoder: { self: { pruned_heads: { 1: [0] } } } }; }, /config\.json.*'pruned_heads' and 'neuroprune\.encoder\.self\.pruned_heads'/s],
    ['a decoder layer beyond num_decoder_layers', (c) => { c.neuroprune = { decoder: { cross: { pruned_heads: { 3: [0] } } } }; }, /config\.json.*'neuroprune\.decoder\.cross\.pruned_heads'.*layer 3/s],
    ['a cross-attention record in the encoder', (c) => { c.neuroprune = { encoder: { cross: {} } }; }, /config\.json.*'neuroprune\.encoder' has 'cross'/s],
    ['an MLP wider than d_ff', (c) => { c.neuroprune = { decoder: { intermediate_sizes: [32, 33, 32] } }; }, /config\.json.*'neuroprune\.decoder\.intermediate_sizes'.*0\.\.32/s],
    ['an input index outside d_model', (c) => { c.neuroprune = { encoder: { self: { attention_input_index: [[0, 16], null] } } }; }, /config\.json.*'neuroprune\.encoder\.self\.attention_input_index'.*0\.\.15/s],
    ['a context index on a self-attention', (c) => { c.neuroprune = { decoder: { self: { context_input_index: [null, null, null] } } }; }, /config\.json.*'neuroprune\.decoder\.self' has 'context_input_index'/s],
  ];
  for (const [label, edit, message] of cases) {
    it(label, () => {
      const dir = withConfig(edit);
      try {
        expect(() => loadCheckpoint(dir)).toThrow(message);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe.skipIf(process.env.NEUROPRUNE_PYTHON_CHECKS !== '1')('transformers loads the pruned T5 neuroprune saves', () => {
  it('tiny-t5-v11 pruned and compacted: the dense export gives the same logits in transformers', async () => {
    await initBackend({ force: 'cpu' });
    const { model, ref } = prunedT5();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-hf-t5-'));
    try {
      const expectedFile = path.join(dir, 'expected.json');
      const batch = { input_ids: ref.input_ids, attention_mask: ref.attention_mask, decoder_input_ids: ref.decoder_input_ids, decoder_attention_mask: ref.decoder_attention_mask };
      fs.writeFileSync(expectedFile, JSON.stringify({ ...batch, logits: Array.from(logitsOf(model, ref)) }));
      saveModelDir(t5Architecture, model, path.join(dir, 'dense'), { dense: true });
      const run = spawnSync(PYTHON, [path.join(ROOT, 'scripts', 'check_hf_load.py'), path.join(dir, 'dense'), expectedFile], { encoding: 'utf8', timeout: 120_000 });
      expect(run.status, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { max_abs_diff: number; num_heads: number[]; transformers_version: string };
      console.log(`tiny-t5-v11 pruned, dense export in transformers ${out.transformers_version}: live heads ${out.num_heads}, max|diff| ${out.max_abs_diff}`);
      expect(out.num_heads).toEqual(model.attentionBlocks().map((b) => b.numHeads));
      expect(out.max_abs_diff).toBeLessThanOrEqual(1e-4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
  });
});
