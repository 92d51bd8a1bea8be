import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { runCli } from './runCli';
import { readJsonl } from '../../src/train/jsonl';
import * as tf from '@tensorflow/tfjs';
import { encodeSafetensors, loadBertCheckpoint, parseBertConfig, saveBertCheckpoint, serializeBertConfig } from '../../src/checkpoint';
import { zeroBelow } from '../../src/neuroprune';
import { batchInputs } from '../../src/train/bertTask';
import { builtinTask, taskData } from '../../src/train/taskData';
import { DEFAULT_MODEL_CONFIG, DEFAULT_MODEL_DIR } from '../../src/cli/setup';
import { NEGATION_TASK_DIR } from '../../src/data';
import { BertForSequenceClassification } from '../../src/models/bert';

let root: string;
const QUICK = ['--limit-train', '64', '--limit-dev', '32', '--batch-size', '16', '--quiet'];

const run = runCli;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-cli-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const devTask = builtinTask();
const devData = taskData(devTask, { batchSize: 16, seed: 0, padId: devTask.tokenizer.special.pad, limitDev: 32 });

/** Logits `[examples * labels]` of a model on the first 32 dev examples of the built-in task. */
function logitsOf(model: BertForSequenceClassification): Float32Array {
  const parts = devData.devBatches().map((batch) => {
    const inputs = batchInputs(batch);
    const { logits } = model.forward(inputs);
    const values = Float32Array.from(logits.dataSync() as Float32Array);
    tf.dispose([logits, inputs.inputIds, inputs.attentionMask, inputs.tokenTypeIds]);
    return values;
  });
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

function devLogits(dir: string): Float32Array {
  const { model } = loadBertCheckpoint(dir);
  const logits = logitsOf(model);
  model.dispose();
  return logits;
}

function accuracyOf(logits: Float32Array): number {
  const labels = devData.devLabels();
  let right = 0;
  labels.forEach((y, i) => { if ((logits[2 * i + 1] > logits[2 * i] ? 1 : 0) === y) right++; });
  return right / labels.length;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

/** A random model of the built-in task's config with `numLabels` labels, saved with the task's vocabulary. */
function modelWithLabels(name: string, numLabels: number, maxPositions = 32, vocab = true): string {
  const config = parseBertConfig(JSON.parse(readFileSync(DEFAULT_MODEL_CONFIG, 'utf8')), DEFAULT_MODEL_CONFIG);
  config.num_labels = numLabels;
  config.max_position_embeddings = maxPositions;
  delete config.id2label;
  delete config.label2id;
  const model = BertForSequenceClassification.random(config, { seed: 1 });
  const dir = join(root, name);
  saveBertCheckpoint(model, dir);
  model.dispose();
  if (vocab) copyFileSync(join(NEGATION_TASK_DIR, 'vocab.txt'), join(dir, 'vocab.txt'));
  return dir;
}

/** The same, as a bare BertModel: no `bert.` prefix, no pooler, no classifier. */
function bareModel(name: string): string {
  const config = parseBertConfig(JSON.parse(readFileSync(DEFAULT_MODEL_CONFIG, 'utf8')), DEFAULT_MODEL_CONFIG);
  const model = BertForSequenceClassification.random(config, { seed: 1 });
  const tensors = [...model.namedParameters()]
    .filter(([n]) => n.startsWith('bert.') && !n.startsWith('bert.pooler.'))
    .map(([n, v]) => ({ name: n.slice('bert.'.length), shape: v.shape, data: Float32Array.from(v.dataSync() as Float32Array) }));
  const dir = mkdtempSync(join(root, name));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(serializeBertConfig(model.config)));
  copyFileSync(join(NEGATION_TASK_DIR, 'vocab.txt'), join(dir, 'vocab.txt'));
  model.dispose();
  return dir;
}

describe('neuroprune command line', () => {
  it('needs the model\'s own tokenizer to evaluate, and says in one line when a pruned copy has none', async () => {
    const none = modelWithLabels('no-tokenizer', 2, 32, false);
    const evaluated = await run('eval', '--model', none);
    expect(evaluated.code).toBe(1);
    expect(evaluated.out).toBe('');
    expect(evaluated.err.trim().split('\n').filter((l) => !l.startsWith('backend'))).toEqual([
      `neuroprune eval: error: ${none} has no tokenizer (vocab.txt, tokenizer.json or vocab.json): eval needs the one the model was trained with; copy it into ${none} (the built-in task's is ${join(NEGATION_TASK_DIR, 'vocab.txt')})`,
    ]);
    const other = modelWithLabels('other-vocab', 2);
    writeFileSync(join(other, 'vocab.txt'), readFileSync(join(other, 'vocab.txt'), 'utf8') + 'extra\n');
    const mismatch = await run('eval', '--model', other);
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toContain(`${join(other, 'vocab.txt')} is not the built-in task's vocabulary (${join(NEGATION_TASK_DIR, 'vocab.txt')})`);

    for (const [command, extra] of [['prune-heads', ['--theta', '0']], ['compact', []]] as const) {
      const out = join(root, `no-tokenizer-${command}`);
      const r = await run(command, '--model', none, ...extra, '--out', out);
      expect(r.code).toBe(0);
      expect(r.err.trim().split('\n')).toEqual([`note: ${none} has no tokenizer files (vocab.txt, tokenizer.json, vocab.json): ${out} has none either; copy them in before eval`]);
      const copied = join(root, `with-tokenizer-${command}`);
      const c = await run(command, '--model', other, ...extra, '--out', copied);
      expect(c.err).toBe('');
      expect(readFileSync(join(copied, 'vocab.txt'), 'utf8')).toBe(readFileSync(join(other, 'vocab.txt'), 'utf8'));
    }
  });

  it('refuses a --max-length beyond the model\'s positions before any work, naming the flag and the config', async () => {
    const runDir = join(root, 'too-long');
    const trained = await run('train', ...QUICK, '--epochs', '1', '--max-length', '64', '--out', runDir);
    expect(trained.code).toBe(2);
    expect(trained.err.trim().split('\n').filter((l) => !l.startsWith('backend'))).toEqual([
      `neuroprune train: error: --max-length 64 exceeds the model's max_position_embeddings 32 (${join(DEFAULT_MODEL_DIR, 'config.json')}): use --max-length 32 or less`,
    ]);
    expect(existsSync(runDir)).toBe(false);

    const small = join(root, 'small-config.json');
    writeFileSync(small, JSON.stringify({ ...JSON.parse(readFileSync(DEFAULT_MODEL_CONFIG, 'utf8')), max_position_embeddings: 16 }));
    const fresh = await run('train', ...QUICK, '--epochs', '1', '--config', small, '--max-length', '20', '--out', runDir);
    expect(fresh.err).toContain(`--max-length 20 exceeds the model's max_position_embeddings 16 (${small})`);
    expect(existsSync(runDir)).toBe(false);

    const two = modelWithLabels('two-labels', 2);
    const evaluated = await run('eval', '--model', two, '--max-length', '33');
    expect(evaluated.code).toBe(2);
    expect(evaluated.err).toContain(`--max-length 33 exceeds the model's max_position_embeddings 32 (${join(two, 'config.json')})`);
    // No flag: the tokenizer's limit (32) is beyond a 12-position model, and the inputs are longer.
    const short = await run('eval', '--model', modelWithLabels('short-positions', 2, 12));
    expect(short.code).toBe(2);
    expect(short.err).toMatch(/task negation has inputs of \d+ tokens, beyond the model's max_position_embeddings 12: use --max-length 12 or less/);
  });

  it('refuses a model whose label count is not the task\'s, and replaces its head only with --reinit-classifier', async () => {
    const four = modelWithLabels('four-labels', 4);
    const evaluated = await run('eval', '--model', four);
    expect(evaluated.code).toBe(2);
    expect(evaluated.out).toBe('');
    expect(evaluated.err.trim().split('\n').filter((l) => !l.startsWith('backend'))).toEqual([
      `neuroprune eval: error: ${four} has 4 labels, task negation has 2: evaluate it on a task with 4 labels, or fine-tune it first (train --reinit-classifier)`,
    ]);

    const runDir = join(root, 'four-run');
    const refused = await run('train', ...QUICK, '--epochs', '1', '--model', four, '--out', runDir);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`${four} has 4 labels, task negation has 2: pass --reinit-classifier to train a fresh 2-label head in its place`);
    expect(existsSync(runDir)).toBe(false);

    const replaced = await run('train', ...QUICK, '--epochs', '1', '--model', four, '--reinit-classifier', '--out', runDir);
    expect(replaced.code).toBe(0);
    expect(replaced.err.split('\n').filter((l) => l.startsWith('model:'))).toEqual([
      `model: replaced the 4-label classifier of ${four} with a fresh 2-label one (--reinit-classifier)`,
    ]);
    // The task's class names, as Hugging Face records them.
    expect(JSON.parse(readFileSync(join(runDir, 'checkpoint', 'config.json'), 'utf8')).id2label).toEqual({ 0: 'negative', 1: 'positive' });

    const bare = bareModel('bare-');
    const fresh = await run('train', ...QUICK, '--epochs', '1', '--model', bare, '--out', join(root, 'bare-run'));
    expect(fresh.code).toBe(0);
    expect(fresh.err.split('\n').filter((l) => l.startsWith('model:'))).toEqual([
      `model: ${bare} has no classifier (a bare BertModel): training a fresh 2-label head`,
    ]);
  });


  it('prints help, and refuses unknown commands and bad values in one line before any work', async () => {
    expect((await run('--help')).out).toContain('Usage: neuroprune <command>');
    expect((await run('train', '--help')).out).toContain('--theta X');
    const unknown = await run('fly');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command 'fly'/);
    const bad = await run('train', '--alpha', '-1', '--out', join(root, 'never'));
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/--alpha: must be >= 0, got -1/);
    expect(existsSync(join(root, 'never'))).toBe(false);
    expect((await run('train', '--task', 'imagenet')).err).toMatch(/unknown task 'imagenet'/);
    expect((await run('train', '--epochs', 'two')).err).toMatch(/--epochs: 'two' is not a number/);
    expect((await run('prune-heads', '--model', 'x', '--out', 'y')).err).toMatch(/exactly one of --theta and --target-heads/);
  });

  it('trains on the built-in task, then evaluates, analyses, prunes heads and compacts the checkpoint', async () => {
    const runDir = join(root, 'run');
    const trained = await run('train', ...QUICK, '--epochs', '2', '--theta', '0', '--out', runDir);
    expect(trained.code).toBe(0);
    expect(trained.out).toMatch(/epoch 2: loss [\d.]+, dev accuracy [\d.]+/);
    // The backend the file set up, unless NEUROPRUNE_BACKEND forces another for the whole suite.
    expect(trained.err).toMatch(new RegExp(`^backend: ${process.env.NEUROPRUNE_BACKEND || 'cpu'}`, 'm'));
    const ckpt = join(runDir, 'checkpoint');
    expect(existsSync(join(ckpt, 'vocab.txt'))).toBe(true);
    const epochs = readJsonl<{ kind: string }>(join(runDir, 'log.jsonl')).filter((r) => r.kind === 'epoch');
    expect(epochs).toHaveLength(2);

    const evaluated = await run('eval', '--model', ckpt, '--json', '--limit-dev', '32');
    // eval's accuracy is the one of the checkpoint's own logits on the same examples.
    expect(JSON.parse(evaluated.out).metrics.accuracy).toBe(accuracyOf(devLogits(ckpt)));

    const analyzed = JSON.parse((await run('analyze', '--model', ckpt, '--json', '--theta', '0.2')).out);
    expect(analyzed.sparsity.headsOriginal).toBe(8);
    expect(analyzed.graphs.layers).toHaveLength(2);

    const pruned = join(root, 'pruned');
    const p = await run('prune-heads', '--model', ckpt, '--target-heads', '2', '--out', pruned);
    expect(p.code).toBe(0);
    const config = JSON.parse(readFileSync(join(pruned, 'config.json'), 'utf8'));
    expect(Object.values(config.pruned_heads as Record<string, number[]>).map((h) => h.length)).toEqual([2, 2]);

    const compacted = join(root, 'compacted');
    const c = await run('compact', '--model', pruned, '--zero-below', '0.09', '--out', compacted);
    expect(c.code).toBe(0);
    // Every kind of removal happens here: neurons, neurons folded into the bias, attention input dimensions.
    const mlp = [...c.out.matchAll(/MLP 256 -> (\d+) neurons \((\d+) folded/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(mlp).toHaveLength(2);
    expect(mlp.every(([after]) => after < 256)).toBe(true);
    expect(mlp.some(([, folded]) => folded > 0)).toBe(true);
    expect([...c.out.matchAll(/attention reads (\d+) of 64/g)].some((m) => Number(m[1]) < 64)).toBe(true);
    // Compaction after zeroing changes no output: the logits of the zeroed model, computed here in the library.
    const { model: zeroedModel } = loadBertCheckpoint(pruned);
    zeroBelow(zeroedModel, { eps: 0.09 });
    const zeroed = logitsOf(zeroedModel);
    zeroedModel.dispose();
    // Zeroing alone does change the logits: the comparisons below can tell functions apart.
    expect(maxAbsDiff(devLogits(pruned), zeroed)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(devLogits(compacted), zeroed)).toBeLessThan(1e-5);
    // The dense export computes the same and carries neither pruned_heads nor the neuroprune layout.
    const denseDir = join(root, 'dense');
    expect((await run('compact', '--model', pruned, '--zero-below', '0.09', '--dense', '--out', denseDir)).code).toBe(0);
    const denseConfig = JSON.parse(readFileSync(join(denseDir, 'config.json'), 'utf8'));
    expect(denseConfig.pruned_heads).toBeUndefined();
    expect(denseConfig.neuroprune).toBeUndefined();
    expect(maxAbsDiff(devLogits(denseDir), zeroed)).toBeLessThan(1e-5);
    expect((await run('compact', '--model', pruned, '--out', compacted)).err).toMatch(/already holds a model/);
  });

  it('sweeps a grid in shards, skips finished points, and reports', async () => {
    const results = join(root, 'sweep', 'results.jsonl');
    const grid = ['--modes', 'finetune,neuroprune', '--alphas', '1e-5', '--betas', '1e-5,1e-4', '--thetas', '0.1', '--epochs', '1', ...QUICK, '--results', results, '--runs-dir', join(root, 'sweep', 'runs')];
    const dry = await run('sweep', ...grid, '--shard', '1/2', '--dry-run');
    expect(dry.out.split('\n')).toEqual(['neuroprune:a=0.00001:b=0.00001:t=0.1']);
    expect((await run('sweep', ...grid, '--shard', '0/2')).code).toBe(0);
    expect((await run('sweep', ...grid, '--shard', '1/2')).code).toBe(0);
    const again = await run('sweep', ...grid);
    expect(again.err).toMatch(/3 already in/);
    expect(readJsonl(results)).toHaveLength(3);
    const report = await run('report', '--results', results, '--out', join(root, 'report'));
    expect(report.out.split('\n').filter((l) => l.startsWith('| finetune') || l.startsWith('| neuroprune'))).toHaveLength(3);
    expect(readFileSync(join(root, 'report', 'sparsity-vs-metric.html'), 'utf8')).toContain('Plotly.newPlot');
  });
});
