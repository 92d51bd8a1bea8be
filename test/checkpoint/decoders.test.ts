/**
 * OPT and GPT-2 checkpoints: load, prune through the blocks, save, load again; the dense export;
 * GPT-2's fused, transposed `c_attn` in the file; errors that name the file and the tensor.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { CheckpointError, loadCheckpoint, saveModelDir, architectureOf } from '../../src/checkpoint';
import type { DecoderModel } from '../../src/models/decoder';
import { attentionGroupL12Value, mlpPreferentialL1Value } from '../../src/neuroprune';
import { fixtureBatch, logitsOf, pruneThroughBlocks } from './decoderHelpers';
import { copyFixture, editConfig, FIXTURES, splitSafetensors } from './helpers';

beforeAll(async () => { await initBackend({ force: 'wasm' }); });

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-decoder-'));

function load(dir: string): { model: DecoderModel; modelType: string } {
  const { model, modelType } = loadCheckpoint(dir);
  return { model: model as unknown as DecoderModel, modelType };
}

function save(model: DecoderModel, modelType: string, dir: string, dense = false): void {
  saveModelDir(architectureOf(modelType), model as never, dir, { dense });
}

const fileShapes = (dir: string) => {
  const { header } = splitSafetensors(fs.readFileSync(path.join(dir, 'model.safetensors')));
  return Object.fromEntries(Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, v]) => [k, (v as { shape: number[] }).shape]));
};

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

for (const fixture of ['tiny-opt', 'tiny-opt-cls', 'tiny-opt-proj', 'tiny-gpt2', 'tiny-gpt2-cls', 'tiny-gpt2-pruned']) {
  describe(fixture, () => {
    it('unchanged: saves the same tensors under the same names and shapes', () => {
      const { model, modelType } = load(path.join(FIXTURES, fixture));
      const dir = tmp();
      save(model, modelType, dir);
      expect(fileShapes(dir)).toEqual(fileShapes(path.join(FIXTURES, fixture)));
      const batch = fixtureBatch(fixture);
      const again = load(dir).model;
      expect(maxDiff(logitsOf(again, batch), logitsOf(model, batch))).toBe(0);
      again.dispose();
      model.dispose();
    });

    it('pruned and compacted through the blocks: the regularizers read it, and it loads back with the same logits', () => {
      const { model, modelType } = load(path.join(FIXTURES, fixture));
      pruneThroughBlocks(model, true);
      expect(Number.isFinite(attentionGroupL12Value(model.attentionBlocks()))).toBe(true);
      expect(Number.isFinite(mlpPreferentialL1Value(model.mlpBlocks()))).toBe(true);
      const batch = fixtureBatch(fixture);
      const expected = logitsOf(model, batch);
      const dir = tmp();
      save(model, modelType, dir);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(config.pruned_heads['0']).toEqual(fixture === 'tiny-gpt2-pruned' ? [1, 2, 3] : [1, 3]);
      expect(config.neuroprune.attention_input_index[1]).toHaveLength(14);
      const again = load(dir).model;
      expect(again.attentionBlocks().map((b) => b.headIds)).toEqual(model.attentionBlocks().map((b) => b.headIds));
      expect(again.mlpBlocks()[1].input.weight.shape[0]).toBe(model.mlpBlocks()[1].input.weight.shape[0]);
      expect(maxDiff(logitsOf(again, batch), expected)).toBe(0);
      again.dispose();

      // The dense export: original shapes, zeros where parts were removed, same outputs.
      const denseDir = tmp();
      save(model, modelType, denseDir, true);
      const denseConfig = JSON.parse(fs.readFileSync(path.join(denseDir, 'config.json'), 'utf8'));
      expect(denseConfig.pruned_heads).toBeUndefined();
      expect(denseConfig.neuroprune).toBeUndefined();
      const original = fileShapes(path.join(FIXTURES, fixture.replace('-pruned', '')));
      expect(fileShapes(denseDir)).toEqual(original);
      const dense = load(denseDir).model;
      expect(maxDiff(logitsOf(dense, batch), expected)).toBeLessThanOrEqual(1e-5);
      dense.dispose();
      model.dispose();
    });
  });
}

describe('GPT-2 file layout', () => {
  it('c_attn [in, 3a] splits into Q, K, V [a, in] (the transpose of its column blocks) and re-fuses on save', () => {
    const dir = path.join(FIXTURES, 'tiny-gpt2-pruned');
    const { model } = load(dir);
    const { header, data } = splitSafetensors(fs.readFileSync(path.join(dir, 'model.safetensors')));
    const entry = header['transformer.h.0.attn.c_attn.weight'] as { shape: number[]; data_offsets: [number, number] };
    expect(entry.shape).toEqual([16, 24]); // 2 heads of 4 kept: a = 8
    const file = new Float32Array(data.buffer.slice(data.byteOffset + entry.data_offsets[0], data.byteOffset + entry.data_offsets[1]));
    const block = model.attentionBlocks()[0];
    const k = block.key.weight.arraySync() as number[][]; // [8, 16]
    for (let r = 0; r < 8; r++) for (let c = 0; c < 16; c++) expect(k[r][c]).toBe(file[c * 24 + 8 + r]);
    model.dispose();
  });
});

describe('errors name the file and the tensor', () => {
  it('a GPT-2 c_attn of the wrong width', () => {
    const dir = copyFixture('tiny-gpt2');
    editConfig(dir, (c) => { c.pruned_heads = { 0: [1] }; });
    const before = tf.memory().numTensors;
    expect(() => loadCheckpoint(dir)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(dir)).toThrow(/model\.safetensors.*transformer\.h\.0\.attn\.c_attn\.weight.*expected shape \[16, 36\], found \[16, 48\]/s);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an unsupported model_type lists the supported ones', () => {
    const dir = copyFixture('tiny-opt');
    editConfig(dir, (c) => { c.model_type = 'bart'; });
    expect(() => loadCheckpoint(dir)).toThrow(/config\.json.*'model_type' is 'bart'; supported: bert, opt, gpt2, t5/s);
  });

  it('an OPT config without ffn_dim', () => {
    const dir = copyFixture('tiny-opt');
    editConfig(dir, (c) => { delete c.ffn_dim; });
    expect(() => loadCheckpoint(dir)).toThrow(/config\.json.*'ffn_dim' is missing/s);
  });
});

describe('a causal-LM checkpoint for a classification task', () => {
  for (const fixture of ['tiny-opt', 'tiny-gpt2']) {
    it(`${fixture}: gets a fresh score head on request, the body as in the file`, () => {
      const dir = path.join(FIXTURES, fixture);
      const { model: lm } = loadCheckpoint(dir);
      const { model, initialised } = loadCheckpoint(dir, { task: 'sequence_classification', initMissingHead: true, numLabels: 2, padTokenId: 1 });
      expect(initialised).toEqual(['score.weight']);
      const dm = model as unknown as DecoderModel;
      expect(dm.config.task).toBe('sequence_classification');
      const batch = fixtureBatch(fixture);
      expect(logitsOf(dm, batch).length).toBe(batch.input_ids.length * 2);
      const a = (lm as unknown as DecoderModel).attentionBlocks()[1].query.weight.dataSync();
      expect(Array.from(dm.attentionBlocks()[1].query.weight.dataSync())).toEqual(Array.from(a));
      // Without initMissingHead the missing head is an error naming it.
      expect(() => loadCheckpoint(dir, { task: 'sequence_classification', numLabels: 2, padTokenId: 1 })).toThrow(/score\.weight.*is missing/s);
      // A padding id other than the config's would make the head read padding.
      expect(() => loadCheckpoint(dir, { task: 'sequence_classification', initMissingHead: true, numLabels: 2, padTokenId: 0 })).toThrow(/pad_token_id 1 is not the tokenizer's padding id 0/);
      model.dispose();
      lm.dispose();
    });
  }
});
