/**
 * `train --mode cofi|dsp`, the baselines in `sweep`, and `analyze --reference`, from the command line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { loadBertCheckpoint } from '../../src/checkpoint';
import { runCli } from '../cli/runCli';

let root = '';
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-baselines-cli-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BUILTIN = join(__dirname, '../../data/models/bert-small-negation');

describe('baselines on the command line', () => {
  it('train --mode dsp --target-heads 4 keeps exactly 4 heads of the default model; analyze --reference scores the removed ones', async () => {
    const out = join(root, 'dsp');
    const r = await runCli('train', '--mode', 'dsp', '--target-heads', '4', '--epochs', '1', '--limit-train', '64', '--limit-dev', '32', '--out', out, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/heads 4\/8 .*kept heads/);
    const loaded = loadBertCheckpoint(join(out, 'checkpoint')).model;
    expect(loaded.attentionBlocks().reduce((s, b) => s + b.numHeads, 0)).toBe(4);
    loaded.dispose();
    const a = await runCli('analyze', '--model', join(out, 'checkpoint'), '--reference', BUILTIN, '--bootstrap', '0', '--json');
    expect(a.code, a.err).toBe(0);
    const report = JSON.parse(a.out) as { headImportance: { removed: number[]; relative: number | null; importance: number[] }[] };
    expect(report.headImportance.reduce((s, l) => s + l.removed.length, 0)).toBe(4);
    for (const l of report.headImportance) {
      expect(l.importance).toHaveLength(4);
      if (l.removed.length) expect(l.relative).toBeGreaterThan(0);
    }
    const table = await runCli('analyze', '--model', join(out, 'checkpoint'), '--reference', BUILTIN, '--bootstrap', '0');
    expect(table.out).toMatch(/Head importance/);
  });

  it('refuses a baseline without its target, flags of the other baseline, a resume, and a decoder, each in one line', async () => {
    const dsp = await runCli('train', '--mode', 'dsp');
    expect(dsp.code).toBe(2);
    expect(dsp.err).toMatch(/--mode dsp needs --target-heads K/);
    const cofi = await runCli('train', '--mode', 'cofi');
    expect(cofi.code).toBe(2);
    expect(cofi.err).toMatch(/--mode cofi needs --target-sparsity/);
    const mixed = await runCli('train', '--mode', 'cofi', '--target-sparsity', '0.5', '--target-heads', '3');
    expect(mixed.err).toMatch(/--target-heads belongs to --mode dsp/);
    const resume = await runCli('train', '--mode', 'dsp', '--target-heads', '2', '--resume', '--out', join(root, 'x'));
    expect(resume.err).toMatch(/cannot be resumed/);
    const opt = await runCli('train', '--mode', 'cofi', '--target-sparsity', '0.5', '--model-type', 'opt', '--out', join(root, 'opt'));
    expect(opt.code).toBe(2);
    expect(opt.err).toMatch(/supports BERT checkpoints .* this model is opt/);
  });

  it('sweep lists cofi points per target sparsity and dsp points per head count', async () => {
    const r = await runCli('sweep', '--modes', 'cofi,dsp', '--sparsities', '0.5,0.7', '--head-counts', '2,6', '--theta', '0.2', '--dry-run', '--results', join(root, 'r.jsonl'));
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n')).toEqual(['cofi:a=0:b=0:t=0:s=0.5', 'cofi:a=0:b=0:t=0:s=0.7', 'dsp:a=0:b=0:t=0:k=2', 'dsp:a=0:b=0:t=0:k=6']);
    const missing = await runCli('sweep', '--modes', 'dsp', '--theta', '0.2', '--dry-run');
    expect(missing.err).toMatch(/--head-counts/);
  });
});
