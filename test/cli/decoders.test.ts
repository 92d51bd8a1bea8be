/** The CLI with decoders: architecture chosen by model_type or --model-type, GLUE-style classification and the text task. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { runCli } from './runCli';

let root: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-cli-dec-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CONFIGS = join(__dirname, '..', '..', 'data', 'configs');

describe('neuroprune train with decoders', () => {
  it('--model-type gpt2 --task negation: a fresh GPT-2 classifier padded with the task tokenizer\'s id', async () => {
    const out = join(root, 'gpt2-neg');
    const r = await runCli('train', '--model-type', 'gpt2', '--task', 'negation', '--mode', 'finetune', '--epochs', '1',
      '--limit-train', '64', '--limit-dev', '32', '--batch-size', '16', '--json', '--out', out);
    expect(r.code, r.err).toBe(0);
    const epochs = JSON.parse(r.out).epochs as { dev: Record<string, number> }[];
    expect(epochs[0].dev.accuracy).toBeGreaterThanOrEqual(0);
    const config = JSON.parse(readFileSync(join(out, 'checkpoint', 'config.json'), 'utf8'));
    expect(config.model_type).toBe('gpt2');
    expect(config.architectures).toEqual(['GPT2ForSequenceClassification']);
    expect(config.pad_token_id).toBe(0); // the negation vocabulary's [PAD]
  }, 120_000);

  it('a decoder config without --task trains the text task; eval of its checkpoint gives the same perplexity', async () => {
    const out = join(root, 'opt-text');
    const r = await runCli('train', '--config', join(CONFIGS, 'opt-small-text.json'), '--mode', 'neuroprune', '--epochs', '1',
      '--limit-train', '16', '--limit-dev', '8', '--batch-size', '8', '--json', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/task text/);
    const dev = (JSON.parse(r.out).epochs as { dev: Record<string, number> }[])[0].dev;
    expect(dev.perplexity).toBeGreaterThan(1);
    const ckpt = join(out, 'checkpoint');
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer.json']) expect(existsSync(join(ckpt, f)), f).toBe(true);
    const e = await runCli('eval', '--model', ckpt, '--limit-dev', '8', '--json');
    expect(e.code, e.err).toBe(0);
    const metrics = JSON.parse(e.out).metrics as Record<string, number>;
    expect(Math.abs(metrics.perplexity - dev.perplexity)).toBeLessThanOrEqual(1e-3 * dev.perplexity);
  }, 120_000);

  for (const type of ['opt', 'gpt2']) {
    it(`--model-type ${type} alone: the text task, from the shipped ${type} trained on the corpus (low perplexity from the start)`, async () => {
      const out = join(root, `${type}-default`);
      const r = await runCli('train', '--model-type', type, '--mode', 'finetune', '--epochs', '1', '--lr', '1e-5',
        '--limit-train', '16', '--limit-dev', '16', '--batch-size', '8', '--json', '--out', out);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/task text/);
      const dev = (JSON.parse(r.out).epochs as { dev: Record<string, number> }[])[0].dev;
      // A fresh model of this vocabulary starts near 488; the shipped one reached about 5 (scripts/make_builtin_model.sh).
      expect(dev.perplexity).toBeLessThan(10);
      const options = JSON.parse(readFileSync(join(out, 'options.json'), 'utf8'));
      expect(JSON.stringify(options)).toContain(join('data', 'models', `${type}-small-text`));
    }, 120_000);
  }

  it('refuses an unknown --model-type, and the text task on a BERT', async () => {
    const a = await runCli('train', '--model-type', 't5', '--task', 'negation', '--quiet');
    expect(a.code).not.toBe(0);
    expect(a.err).toMatch(/--model-type: 't5' is not one of bert, opt, gpt2/);
    const b = await runCli('train', '--task', 'text', '--config', join(CONFIGS, 'bert-small-negation.json'), '--quiet');
    expect(b.code).not.toBe(0);
    expect(b.err).toMatch(/no language-model head/);
  });
});
