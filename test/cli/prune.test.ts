import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { loadBertCheckpoint } from '../../src/checkpoint';
import { magnitudePrune } from '../../src/neuroprune';
import { BertTaskModel } from '../../src/train/bertTask';
import { readJsonl } from '../../src/train/jsonl';
import { builtinTask, taskData } from '../../src/train/taskData';
import { evaluate } from '../../src/train/trainer';
import type { PrunableModel } from '../../src/models/blocks';
import { runCli } from './runCli';

const QUICK = ['--limit-train', '64', '--limit-dev', '64', '--batch-size', '16', '--epochs', '1', '--quiet'];
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-prune-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Exact zeros and entries of the prunable matrices, per layer. */
function zerosPerLayer(model: PrunableModel): { zeros: number; size: number }[] {
  const out: { zeros: number; size: number }[] = [];
  const add = (layer: number, w: Float32Array) => {
    out[layer] ??= { zeros: 0, size: 0 };
    out[layer].size += w.length;
    for (const x of w) if (x === 0) out[layer].zeros++;
  };
  for (const b of model.attentionBlocks()) for (const l of [b.query, b.key, b.value, b.output]) add(b.layer, l.weight.dataSync() as Float32Array);
  for (const b of model.mlpBlocks()) for (const l of [b.input, b.output]) add(b.layer, l.weight.dataSync() as Float32Array);
  return out;
}

describe('equal-sparsity controls', () => {
  it('prune brings a checkpoint to an exact sparsity; the result loads and evaluates as the same pruning in memory', async () => {
    const runDir = join(root, 'ft');
    expect((await runCli('train', '--mode', 'finetune', ...QUICK, '--out', runDir)).code).toBe(0);
    const ckpt = join(runDir, 'checkpoint');
    const out = join(root, 'ft-70');
    const pruned = await runCli('prune', '--model', ckpt, '--sparsity', '0.7', '--out', out, '--json');
    expect(pruned.code).toBe(0);
    const record = JSON.parse(pruned.out);
    const { model } = loadBertCheckpoint(out);
    const counts = zerosPerLayer(model);
    const total = counts.reduce((n, c) => n + c.size, 0);
    expect(counts.reduce((n, c) => n + c.zeros, 0)).toBe(Math.round(0.7 * total));
    expect(record.zeros).toBe(Math.round(0.7 * total));

    // The same pruning in memory scores what eval scores on the saved checkpoint.
    const task = builtinTask();
    const data = taskData(task, { batchSize: 64, seed: 0, padId: task.tokenizer.special.pad, limitDev: 128 });
    const reference = new BertTaskModel(loadBertCheckpoint(ckpt).model);
    magnitudePrune(reference, { sparsity: 0.7 });
    const expected = evaluate(reference, data);
    reference.dispose();
    model.dispose();
    const evaluated = await runCli('eval', '--model', out, '--limit-dev', '128', '--json');
    expect(evaluated.code).toBe(0);
    expect(JSON.parse(evaluated.out).metrics).toEqual(expected);

    const refused = await runCli('prune', '--model', out, '--sparsity', '0.5', '--out', join(root, 'less'));
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('projectToSparsity: target 0.5 means');
    const badScope = await runCli('prune', '--model', ckpt, '--sparsity', '0.5', '--scope', 'row', '--out', join(root, 'x'));
    expect(badScope.err.trim()).toBe("neuroprune prune: error: --scope: 'row' is not one of global, layer");
  });

  it('train --mode magnitude fine-tunes, then prunes each layer to the target, and scores after pruning', async () => {
    const runDir = join(root, 'mag');
    const r = await runCli('train', '--mode', 'magnitude', '--target-sparsity', '0.6', '--prune-scope', 'layer', ...QUICK, '--out', runDir);
    expect(r.code).toBe(0);
    const { model } = loadBertCheckpoint(join(runDir, 'checkpoint'));
    const counts = zerosPerLayer(model);
    for (const c of counts) expect(c.zeros).toBe(Math.round(0.6 * c.size));
    const log = readJsonl<{ kind: string; regularizers: Record<string, number>; sparsity: { unstructured: number }; dev: Record<string, number> }>(join(runDir, 'log.jsonl'));
    const epoch = log.filter((l) => l.kind === 'epoch').pop()!;
    // The log counts |w| < eps as zero too: at least the exact zeros, per layer rounded.
    const exact = counts.reduce((n, c) => n + c.zeros, 0) / counts.reduce((n, c) => n + c.size, 0);
    expect(epoch.sparsity.unstructured).toBeGreaterThanOrEqual(exact);
    expect(epoch.sparsity.unstructured).toBeLessThan(exact + 0.01);
    const task = builtinTask();
    const data = taskData(task, { batchSize: 16, seed: 0, padId: task.tokenizer.special.pad, limitDev: 64 });
    const scored = new BertTaskModel(model);
    expect(evaluate(scored, data)).toEqual(epoch.dev);
    scored.dispose();

    const noTarget = await runCli('train', '--mode', 'magnitude', ...QUICK);
    expect(noTarget.err.trim()).toBe('neuroprune train: error: --mode magnitude needs --target-sparsity X: the sparsity to prune to after fine-tuning');
    const withAlpha = await runCli('train', '--mode', 'magnitude', '--target-sparsity', '0.5', '--alpha', '1e-3', ...QUICK);
    expect(withAlpha.err).toContain('mode magnitude fine-tunes without regularizers: alpha and beta must be 0 (got 0.001, 0)');
  });

  it('sweep scores a magnitude point from the finished finetune run, as train --mode magnitude scores it', async () => {
    const results = join(root, 'mag-sweep.jsonl');
    const swept = await runCli('sweep', '--modes', 'finetune,magnitude', '--sparsities', '0.5', ...QUICK, '--results', results, '--runs-dir', join(root, 'mag-runs'));
    expect(swept.code).toBe(0);
    expect(swept.err).toContain('point magnitude:a=0:b=0:t=0:s=0.5: pruned the finished finetune:a=0:b=0:t=0 run instead of training it again');
    const lines = readJsonl<{ mode: string; dev: Record<string, number>; sparsity: number; derivedFrom?: string }>(results);
    const magnitude = lines.find((l) => l.mode === 'magnitude')!;
    expect(magnitude.derivedFrom).toBe('finetune:a=0:b=0:t=0');
    const runDir = join(root, 'mag-trained');
    expect((await runCli('train', '--mode', 'magnitude', '--target-sparsity', '0.5', ...QUICK, '--out', runDir)).code).toBe(0);
    const trained = readJsonl<{ kind: string; dev: Record<string, number>; sparsity: { unstructured: number } }>(join(runDir, 'log.jsonl')).filter((l) => l.kind === 'epoch').pop()!;
    expect(magnitude.dev).toEqual(trained.dev);
    expect(magnitude.sparsity).toBe(trained.sparsity.unstructured);
  });

  it('sweep: the default grid has magnitude points per target, the paper grid is behind a flag', async () => {
    const results = join(root, 'none.jsonl');
    const dry = await runCli('sweep', '--dry-run', '--results', results, '--sparsities', '0.25,0.9', '--theta', '0.3');
    expect(dry.code).toBe(0);
    const ids = dry.out.split('\n');
    expect(ids).toHaveLength(11);
    expect(ids.filter((id) => id.startsWith('magnitude'))).toEqual(['magnitude:a=0:b=0:t=0:s=0.25', 'magnitude:a=0:b=0:t=0:s=0.9']);
    expect(ids.filter((id) => id.startsWith('neuroprune')).every((id) => id.endsWith(':t=0.3'))).toBe(true);
    const paper = await runCli('sweep', '--dry-run', '--results', results, '--paper-grid');
    expect(paper.out.split('\n')).toHaveLength(197);
  });
});
