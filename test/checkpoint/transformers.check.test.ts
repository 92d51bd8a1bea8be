/**
 * Opt-in: a checkpoint that neuroprune saves with pruned heads loads in `transformers` 4.x and
 * gives the same logits. Runs Python (scripts/requirements.txt); enable with NEUROPRUNE_PYTHON_CHECKS=1.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { loadBertCheckpoint, saveBertCheckpoint } from '../../src/checkpoint';
import { replaceVariable } from '../../src/util/variables';
import { FIXTURES } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const PYTHON = process.env.PYTHON ?? 'python3';

describe.skipIf(process.env.NEUROPRUNE_PYTHON_CHECKS !== '1')('transformers loads what neuroprune saves', () => {
  it('a model with heads removed in neuroprune: same logits in transformers 4.x', async () => {
    await initBackend({ force: 'wasm' });
    // Start from the pruned fixture (HF removed 0:[1,2], 1:[0]) and remove head 3 of layer 1 here.
    const { model } = loadBertCheckpoint(path.join(FIXTURES, 'tiny-bert-pruned'));
    const block = model.attentionBlocks()[1];
    const dh = block.headSize;
    const keep = [0, 1].flatMap((i) => Array.from({ length: dh }, (_, r) => i * dh + r)); // positions of heads 1, 2
    tf.tidy(() => {
      for (const lin of [block.query, block.key, block.value]) {
        lin.weight = replaceVariable(lin.weight, tf.gather(lin.weight, keep, 0));
        lin.bias = replaceVariable(lin.bias!, tf.gather(lin.bias!, keep, 0));
      }
      block.output.weight = replaceVariable(block.output.weight, tf.gather(block.output.weight, keep, 1));
    });
    block.numHeads = 2;
    block.headIds = [1, 2];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-hf-'));
    saveBertCheckpoint(model, dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).pruned_heads).toEqual({ 0: [1, 2], 1: [0, 3] });

    const input = {
      input_ids: [[2, 17, 33, 45, 8, 61, 12, 3], [2, 90, 7, 71, 3, 0, 0, 0]],
      attention_mask: [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]],
      token_type_ids: [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 0, 0]],
    };
    const logits = tf.tidy(() => model.forward({
      inputIds: tf.tensor2d(input.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(input.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(input.token_type_ids, undefined, 'int32'),
    }).logits);
    const expectedFile = path.join(dir, 'expected.json');
    fs.writeFileSync(expectedFile, JSON.stringify({ ...input, logits: logits.arraySync() }));
    logits.dispose();
    // The dense export of the same model: no pruned_heads, so any transformers version reads it.
    const denseDir = path.join(dir, 'dense');
    saveBertCheckpoint(model, denseDir, { dense: true });
    model.dispose();

    const run = spawnSync(PYTHON, [path.join(ROOT, 'scripts', 'check_hf_load.py'), dir, expectedFile], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
    console.log(`transformers ${result.transformers_version}: heads per layer ${result.num_heads}, max|diff| ${result.max_abs_diff}`);
    expect(result.num_heads).toEqual([2, 2]);
    expect(result.max_abs_diff).toBeLessThanOrEqual(1e-4);

    const denseRun = spawnSync(PYTHON, [path.join(ROOT, 'scripts', 'check_hf_load.py'), denseDir, expectedFile], { encoding: 'utf8', timeout: 120_000 });
    expect(denseRun.status, denseRun.stderr).toBe(0);
    const dense = JSON.parse(denseRun.stdout.trim().split('\n').pop()!);
    console.log(`dense export in transformers ${dense.transformers_version}: heads per layer ${dense.num_heads}, max|diff| ${dense.max_abs_diff}`);
    expect(dense.num_heads).toEqual([4, 4]);
    expect(dense.max_abs_diff).toBeLessThanOrEqual(1e-4);
  });
});
