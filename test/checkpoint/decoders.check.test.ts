/**
 * Opt-in: OPT and GPT-2 checkpoints that neuroprune saves after pruning load in `transformers`
 * with the same logits: the dense export (any version) for both, and GPT-2's head-pruned
 * checkpoint (`pruned_heads`, transformers 4.x; OPT has no prune_heads in transformers). Runs
 * Python (scripts/requirements.txt); enable with NEUROPRUNE_PYTHON_CHECKS=1.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { architectureOf, loadCheckpoint, saveModelDir } from '../../src/checkpoint';
import type { DecoderModel } from '../../src/models/decoder';
import { fixtureBatch, logitsOf, pruneThroughBlocks } from './decoderHelpers';
import { FIXTURES } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const PYTHON = process.env.PYTHON ?? 'python3';

function checkInTransformers(dir: string, expectedFile: string): { max_abs_diff: number; num_heads: number[]; transformers_version: string } {
  const run = spawnSync(PYTHON, [path.join(ROOT, 'scripts', 'check_hf_load.py'), dir, expectedFile], { encoding: 'utf8', timeout: 120_000 });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

describe.skipIf(process.env.NEUROPRUNE_PYTHON_CHECKS !== '1')('transformers loads the decoders neuroprune saves', () => {
  for (const fixture of ['tiny-opt', 'tiny-opt-cls', 'tiny-gpt2', 'tiny-gpt2-cls']) {
    it(`${fixture}: pruned and compacted, the dense export gives the same logits in transformers`, async () => {
      await initBackend({ force: 'wasm' });
      const { model: loaded, modelType } = loadCheckpoint(path.join(FIXTURES, fixture));
      const model = loaded as unknown as DecoderModel;
      const arch = architectureOf(modelType);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-hf-decoder-'));
      const batch = fixtureBatch(fixture);
      const expectedFile = path.join(dir, 'expected.json');

      if (modelType === 'gpt2') {
        // Heads only: a checkpoint with pruned_heads that transformers 4.x prunes at load.
        pruneThroughBlocks(model, false);
        fs.writeFileSync(expectedFile, JSON.stringify({ ...batch, logits: Array.from(logitsOf(model, batch)) }));
        const prunedDir = path.join(dir, 'pruned');
        saveModelDir(arch, model as never, prunedDir);
        const pruned = checkInTransformers(prunedDir, expectedFile);
        console.log(`${fixture} pruned in transformers ${pruned.transformers_version}: heads ${pruned.num_heads}, max|diff| ${pruned.max_abs_diff}`);
        expect(pruned.num_heads).toEqual([2, 4]);
        expect(pruned.max_abs_diff).toBeLessThanOrEqual(1e-4);
      }

      pruneThroughBlocks(model, true);
      fs.writeFileSync(expectedFile, JSON.stringify({ ...batch, logits: Array.from(logitsOf(model, batch)) }));
      const denseDir = path.join(dir, 'dense');
      saveModelDir(arch, model as never, denseDir, { dense: true });
      model.dispose();
      const dense = checkInTransformers(denseDir, expectedFile);
      console.log(`${fixture} dense export in transformers ${dense.transformers_version}: heads ${dense.num_heads}, max|diff| ${dense.max_abs_diff}`);
      expect(dense.num_heads).toEqual([4, 4]);
      expect(dense.max_abs_diff).toBeLessThanOrEqual(1e-4);
    });
  }
});
