import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { loadBertCheckpoint } from '../../src/checkpoint';
import { DEFAULT_MODEL_DIR } from '../../src/cli/setup';
import { pairwiseHeadDistances, quantile } from '../../src/neuroprune';
import { runCli } from './runCli';

const QUICK = ['--limit-train', '32', '--limit-dev', '32', '--batch-size', '16', '--epochs', '1', '--quiet'];
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-theta-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the default theta follows the model', () => {
  it('is the 0.05-quantile of the starting model\'s pairwise head distances, said in one line and stored with the run', async () => {
    const { model } = loadBertCheckpoint(DEFAULT_MODEL_DIR);
    const d = pairwiseHeadDistances(model.attentionBlocks());
    model.dispose();
    const expected = Math.ceil(quantile(d, 0.05) * 1e4) / 1e4;
    const runDir = join(root, 'np');
    const r = await runCli('train', ...QUICK, '--out', runDir);
    expect(r.code).toBe(0);
    expect(r.err.split('\n').filter((l) => l.startsWith('theta:'))).toEqual([
      `theta: ${expected} (the 0.05-quantile of the model's ${d.length} pairwise head distances, ${Math.min(...d).toFixed(3)}-${Math.max(...d).toFixed(3)}; --theta X fixes it)`,
    ]);
    expect(JSON.parse(readFileSync(join(runDir, 'options.json'), 'utf8')).train.theta).toBe(expected);
    // A resume recomputes the same theta from the same starting model, so the run's options agree.
    const resumed = await runCli('train', ...QUICK, '--out', runDir, '--resume');
    expect(resumed.code).toBe(0);
    expect(resumed.err).not.toContain('error');
    // With another quantile the theta differs, and the resume is refused naming it.
    const other = await runCli('train', ...QUICK, '--theta-quantile', '0.9', '--out', runDir, '--resume');
    expect(other.code).not.toBe(0);
    expect(other.err).toContain('theta');

    const fixed = await runCli('train', ...QUICK, '--theta', '0.3', '--out', join(root, 'fixed'));
    expect(fixed.err).not.toContain('theta:');
    expect(JSON.parse(readFileSync(join(root, 'fixed', 'options.json'), 'utf8')).train.theta).toBe(0.3);
    const both = await runCli('train', '--theta', '0.3', '--theta-quantile', '0.1');
    expect(both.err.trim()).toBe('neuroprune train: error: --theta and --theta-quantile exclude each other: give an absolute theta or a quantile');
  });
});
