import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { CheckpointError, loadBertCheckpoint, saveBertCheckpoint } from '../../src/checkpoint';
import { BertForSequenceClassification, type BertConfig } from '../../src/models/bert';
import { replaceVariable } from '../../src/util/variables';
import { convertDtype, copyFixture, editConfig, editSafetensors, FIXTURES } from './helpers';

beforeAll(async () => { await initBackend({ force: 'wasm' }); });

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-save-'));
}

function snapshot(model: BertForSequenceClassification): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, v] of model.namedParameters()) out.set(name, { shape: v.shape, data: (v.dataSync() as Float32Array).slice() });
  return out;
}

function batch() {
  return {
    inputIds: tf.tensor2d([[2, 17, 33, 45, 8, 3], [2, 9, 71, 3, 0, 0]], undefined, 'int32'),
    attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], undefined, 'int32'),
  };
}

function logitsOf(model: BertForSequenceClassification): Float32Array {
  const inputs = batch();
  const { logits } = model.forward(inputs);
  const data = logits.dataSync() as Float32Array;
  tf.dispose([logits, inputs.inputIds, inputs.attentionMask]);
  return data;
}

/** Asserts that `load` throws a CheckpointError matching every pattern, and leaks no tensor. */
function expectLoadError(dir: string, patterns: RegExp[]): CheckpointError {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    loadBertCheckpoint(dir).model.dispose();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  for (const p of patterns) expect((caught as Error).message).toMatch(p);
  expect(tf.memory().numTensors).toBe(before);
  return caught as CheckpointError;
}

describe('save then load', () => {
  for (const fixture of ['tiny-bert', 'tiny-bert-pruned']) {
    it(`${fixture}: identical tensors, config and logits`, () => {
      const { model } = loadBertCheckpoint(path.join(FIXTURES, fixture));
      const dir = tmpDir();
      saveBertCheckpoint(model, dir);
      expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']); // no temp files left
      const { model: again } = loadBertCheckpoint(dir);
      const a = snapshot(model);
      const b = snapshot(again);
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [name, t] of a) {
        expect(b.get(name)!.shape, name).toEqual(t.shape);
        expect(Buffer.from(b.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
      }
      expect(again.currentConfig()).toEqual(model.currentConfig());
      expect(logitsOf(again)).toEqual(logitsOf(model));
      model.dispose();
      again.dispose();
    });
  }

  it('a compacted model (fewer heads, fewer Q/K/V inputs, narrower MLPs) round-trips through the neuroprune layout', () => {
    const before = tf.memory().numTensors;
    const { model } = loadBertCheckpoint(path.join(FIXTURES, 'tiny-bert'));
    const [a0, a1] = model.attentionBlocks();
    const [m0] = model.mlpBlocks();
    const dh = a0.headSize;
    // replaceVariable keeps its argument alive: tidy disposes the gathered copies, not the variables.
    tf.tidy(() => {
      // Layer 0: drop head 1 (rows of Q/K/V, columns of O).
      const keepRows = [0, 2, 3].flatMap((h) => Array.from({ length: dh }, (_, r) => h * dh + r));
      for (const lin of [a0.query, a0.key, a0.value]) {
        lin.weight = replaceVariable(lin.weight, tf.gather(lin.weight, keepRows, 0));
        lin.bias = replaceVariable(lin.bias!, tf.gather(lin.bias!, keepRows, 0));
      }
      a0.output.weight = replaceVariable(a0.output.weight, tf.gather(a0.output.weight, keepRows, 1));
      a0.numHeads = 3;
      a0.headIds = [0, 2, 3];
      // Layer 1: Q/K/V read only the even model dimensions.
      const even = Array.from({ length: 16 }, (_, i) => 2 * i);
      for (const lin of [a1.query, a1.key, a1.value]) lin.weight = replaceVariable(lin.weight, tf.gather(lin.weight, even, 1));
      a1.inputIndex = even;
      // Layer 0: MLP width 64 -> 40.
      const keepNeurons = Array.from({ length: 40 }, (_, i) => i);
      m0.input.weight = replaceVariable(m0.input.weight, tf.gather(m0.input.weight, keepNeurons, 0));
      m0.input.bias = replaceVariable(m0.input.bias!, tf.gather(m0.input.bias!, keepNeurons, 0));
      m0.output.weight = replaceVariable(m0.output.weight, tf.gather(m0.output.weight, keepNeurons, 1));
    });
    const even = Array.from({ length: 16 }, (_, i) => 2 * i);

    const cfg = model.currentConfig();
    expect(cfg.pruned_heads).toEqual({ 0: [1] });
    expect(cfg.neuroprune).toEqual({ intermediate_sizes: [40, 64], attention_input_index: [null, even] });

    const dir = tmpDir();
    saveBertCheckpoint(model, dir);
    const written = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(written.neuroprune.intermediate_sizes).toEqual([40, 64]);
    const { model: again } = loadBertCheckpoint(dir);
    expect(again.attentionBlocks()[1].inputIndex).toEqual(even);
    expect(again.mlpBlocks()[0].input.weight.shape).toEqual([40, 32]);
    const a = snapshot(model);
    const b = snapshot(again);
    for (const [name, t] of a) expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(t.data));
    expect(logitsOf(again)).toEqual(logitsOf(model));
    model.dispose();
    again.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('heads kept in another order are written in Hugging Face order, with the same outputs', () => {
    const { model } = loadBertCheckpoint(path.join(FIXTURES, 'tiny-bert-pruned'));
    const expected = logitsOf(model);
    const block = model.attentionBlocks()[1]; // heads [1, 2, 3]: reverse them in place
    const dh = block.headSize;
    const rows = [2, 1, 0].flatMap((i) => Array.from({ length: dh }, (_, r) => i * dh + r));
    for (const lin of [block.query, block.key, block.value]) {
      lin.weight = replaceVariable(lin.weight, tf.gather(lin.weight, rows, 0));
      lin.bias = replaceVariable(lin.bias!, tf.gather(lin.bias!, rows, 0));
    }
    block.output.weight = replaceVariable(block.output.weight, tf.gather(block.output.weight, rows, 1));
    block.headIds = [3, 2, 1];
    const permuted = logitsOf(model);
    permuted.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    const dir = tmpDir();
    saveBertCheckpoint(model, dir);
    const { model: again } = loadBertCheckpoint(dir);
    expect(again.attentionBlocks()[1].headIds).toEqual([1, 2, 3]);
    logitsOf(again).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    const reference = loadBertCheckpoint(path.join(FIXTURES, 'tiny-bert-pruned')).model;
    expect(Array.from(again.attentionBlocks()[1].query.weight.dataSync())).toEqual(Array.from(reference.attentionBlocks()[1].query.weight.dataSync()));
    for (const m of [model, again, reference]) m.dispose();
  });

  it('a random model saves and loads; writes replace files atomically', () => {
    const config: BertConfig = {
      vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 24,
      hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 20,
      type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 1,
    };
    const model = BertForSequenceClassification.random(config, { seed: 3 });
    const dir = tmpDir();
    saveBertCheckpoint(model, dir);
    saveBertCheckpoint(model, dir); // overwrite
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const { model: again, config: loaded } = loadBertCheckpoint(dir);
    expect(loaded.num_labels).toBe(1);
    expect(snapshot(again)).toEqual(snapshot(model));
    model.dispose();
    again.dispose();
  });
});

describe('dtypes and name variants', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`reads ${dtype} weights`, () => {
      const dir = copyFixture('tiny-bert');
      convertDtype(dir, dtype);
      const { model } = loadBertCheckpoint(dir);
      const { model: f32 } = loadBertCheckpoint(path.join(FIXTURES, 'tiny-bert'));
      // F16 rounds to 11 significant bits, BF16 truncates to 8: relative error below 2^-11 / 2^-7.
      const tol = dtype === 'F16' ? 2 ** -11 : 2 ** -7;
      const a = snapshot(model);
      for (const [name, t] of snapshot(f32)) {
        const got = a.get(name)!.data;
        t.data.forEach((v, i) => expect(Math.abs(got[i] - v), name).toBeLessThanOrEqual(Math.abs(v) * tol + 6e-8));
      }
      model.dispose();
      f32.dispose();
    });
  }

  it('maps BertModel names (no bert. prefix) and initialises a missing head only when asked', () => {
    const dir = copyFixture('tiny-bert');
    editSafetensors(dir, (header) => {
      for (const name of Object.keys(header)) {
        if (name.startsWith('classifier.')) delete header[name];
        else if (name.startsWith('bert.')) { header[name.slice(5)] = header[name]; delete header[name]; }
      }
      header['embeddings.position_ids'] = { dtype: 'I64', shape: [0], data_offsets: [0, 0] };
    });
    const err = expectLoadError(dir, [/classifier\.weight/, /missing/, /\[3, 32\]/]);
    expect(err.tensor).toBe('classifier.weight');
    const { model, initialised, ignored } = loadBertCheckpoint(dir, { initMissingHead: true, numLabels: 5, seed: 1 });
    expect(initialised).toEqual(['classifier.weight', 'classifier.bias']);
    expect(ignored).toEqual(['embeddings.position_ids']);
    expect(model.classifier.weight.shape).toEqual([5, 32]);
    const { model: ref } = loadBertCheckpoint(path.join(FIXTURES, 'tiny-bert'));
    expect(Array.from(model.layers[1].mlp.input.weight.dataSync())).toEqual(Array.from(ref.layers[1].mlp.input.weight.dataSync()));
    model.dispose();
    ref.dispose();
  });
});

describe('bad input: a CheckpointError naming file, tensor and shapes; nothing left allocated', () => {
  it('broken header: length prefix beyond the file', () => {
    const dir = copyFixture('tiny-bert');
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.writeBigUInt64LE(BigInt(bytes.length * 2), 0);
    fs.writeFileSync(file, bytes);
    expectLoadError(dir, [/model\.safetensors/, /broken safetensors header/, /length prefix/]);
  });

  it('broken header: not JSON', () => {
    const dir = copyFixture('tiny-bert');
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.write('#', 8); // the opening brace
    fs.writeFileSync(file, bytes);
    expectLoadError(dir, [/model\.safetensors/, /broken safetensors header: not JSON/]);
  });

  it('broken header: a file shorter than the length prefix', () => {
    const dir = copyFixture('tiny-bert');
    fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.from([1, 2, 3]));
    expectLoadError(dir, [/model\.safetensors/, /fewer than the 8-byte length prefix/]);
  });

  it('truncated data', () => {
    const dir = copyFixture('tiny-bert');
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    const err = expectLoadError(dir, [/model\.safetensors/, /truncated data/, /tensor 'classifier\.weight'/, /\[3, 32\]/]);
    expect(err.tensor).toBe('classifier.weight'); // the last tensor in the file
  });

  it('unknown dtype', () => {
    const dir = copyFixture('tiny-bert');
    editSafetensors(dir, (header) => { header['bert.pooler.dense.weight'].dtype = 'F17'; });
    expectLoadError(dir, [/model\.safetensors/, /unknown dtype 'F17'/, /bert\.pooler\.dense\.weight/, /\[32, 32\]/]);
  });

  it('a dtype that is not a float', () => {
    const dir = copyFixture('tiny-bert');
    editSafetensors(dir, (header) => { header['bert.pooler.dense.bias'].dtype = 'I32'; });
    expectLoadError(dir, [/dtype I32 cannot be read as weights/, /bert\.pooler\.dense\.bias/, /\[32\]/]);
  });

  it('a tensor whose shape disagrees with the config', () => {
    const dir = copyFixture('tiny-bert');
    editConfig(dir, (c) => { c.intermediate_size = 60; });
    const err = expectLoadError(dir, [/model\.safetensors/, /bert\.encoder\.layer\.0\.intermediate\.dense\.weight/, /expected shape \[60, 32\], found \[64, 32\]/]);
    expect(err.expected).toEqual([60, 32]);
    expect(err.actual).toEqual([64, 32]);
  });

  it('pruned heads in the config but dense tensors in the file', () => {
    const dir = copyFixture('tiny-bert');
    editConfig(dir, (c) => { c.pruned_heads = { 1: [3] }; });
    expectLoadError(dir, [/bert\.encoder\.layer\.1\.attention\.self\.query\.weight/, /expected shape \[24, 32\], found \[32, 32\]/]);
  });

  it('a missing tensor', () => {
    const dir = copyFixture('tiny-bert');
    editSafetensors(dir, (header) => { delete header['bert.encoder.layer.1.output.dense.bias']; });
    expectLoadError(dir, [/model\.safetensors/, /tensor 'bert\.encoder\.layer\.1\.output\.dense\.bias'/, /is missing/, /expected shape \[32\]/]);
  });

  it('a tensor the model does not have', () => {
    const dir = copyFixture('tiny-bert');
    editConfig(dir, (c) => { c.num_hidden_layers = 1; });
    expectLoadError(dir, [/bert\.encoder\.layer\.1\./, /not a parameter/]);
  });

  it('a config missing a field', () => {
    const dir = copyFixture('tiny-bert');
    editConfig(dir, (c) => { delete c.hidden_size; });
    expectLoadError(dir, [/config\.json/, /'hidden_size' is missing/]);
  });

  it('a config with a bad neuroprune layout', () => {
    const dir = copyFixture('tiny-bert');
    editConfig(dir, (c) => { c.neuroprune = { intermediate_sizes: [64] }; });
    expectLoadError(dir, [/config\.json/, /neuroprune\.intermediate_sizes/, /2 non-negative integers/]);
  });

  it('pytorch_model.bin only: explains how to convert', () => {
    const dir = copyFixture('tiny-bert');
    fs.renameSync(path.join(dir, 'model.safetensors'), path.join(dir, 'pytorch_model.bin'));
    expectLoadError(dir, [/pytorch_model\.bin/, /safe_serialization=True/, /save_file/]);
  });
});
