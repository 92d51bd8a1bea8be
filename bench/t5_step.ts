/**
 * T5-base-shaped `T5ForConditionalGeneration` with random weights (12 + 12 layers, d_model 768,
 * 12 heads of 64, MLP 3072, vocabulary 32128, v1.0 layout), ours beside PyTorch's
 * (bench/t5_step.py), each configuration in a fresh process:
 *
 * - one NeuroPrune training step (forward with dropout, label cross-entropy + alpha * R_attn +
 *   beta * R_mlp over encoder self-, decoder self- and cross-attention and both stacks' MLPs,
 *   backward, AdamW): seconds, tokens/s (source + target tokens) and peak RSS;
 * - greedy generation latency per example (`--gen-batch` inputs of `--src` tokens,
 *   `--new-tokens` new tokens, no EOS so every row decodes them all);
 *
 * dense, and with a fraction of each layer's heads and MLP neurons removed at random and the model
 * compacted by the toolkit (`removeHeads`, `compactModel`); PyTorch runs the same compacted shapes
 * as a dense model with fewer heads and a narrower MLP (what it would run if it could compact).
 *
 *   npx tsx bench/t5_step.ts [--batch 8] [--src 128] [--tgt 32] [--steps 1] [--gen-batch 8] [--new-tokens 32]
 *                            [--fractions 0,0.5,0.9] [--threads 1] [--python python3]
 *
 * Ours runs on the backend `initBackend` picks (`native` when the addon is built); set
 * NEUROPRUNE_THREADS to match `--threads`. Peak memory is VmHWM (ours) and ru_maxrss (PyTorch's).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/backend';
import { tokenNll } from '../src/models/losses';
import { T5Model, type T5Config } from '../src/models/t5';
import { generate } from '../src/models/generation';
import { compactModel, removeHeads } from '../src/neuroprune';
import { AdamW } from '../src/train/adamw';
import { seededRandom } from '../src/util/random';
import { flag, neuropruneStep, peakRssMiB } from './peer';

const argv = process.argv.slice(2);
const get = (name: string, fallback: string): string => flag(argv, name, fallback);
const batch = Number(get('batch', '8'));
const src = Number(get('src', '128'));
const tgt = Number(get('tgt', '32'));
const steps = Number(get('steps', '1'));
const genBatch = Number(get('gen-batch', '8'));
const newTokens = Number(get('new-tokens', '32'));
const ALPHA = 1e-6, BETA = 1e-6;
const HEADS = 12, D_FF = 3072;

const T5_BASE: T5Config = {
  vocab_size: 32128, d_model: 768, d_kv: 64, d_ff: D_FF, num_layers: 12, num_decoder_layers: 12, num_heads: HEADS,
  relative_attention_num_buckets: 32, relative_attention_max_distance: 128, dropout_rate: 0.1, layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'relu', initializer_factor: 1, tie_word_embeddings: true, pad_token_id: 0, eos_token_id: 1, decoder_start_token_id: 0,
};

/** Heads and MLP neurons kept per layer when a fraction is removed (at least one head). */
function keptShape(fraction: number): { heads: number; dff: number } {
  return { heads: Math.max(1, Math.round(HEADS * (1 - fraction))), dff: Math.max(1, Math.round(D_FF * (1 - fraction))) };
}

function sample(n: number, k: number, rand: () => number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [idx[i], idx[j]] = [idx[j], idx[i]]; }
  return idx.slice(0, k).sort((a, b) => a - b);
}

/** Removes random heads and MLP neurons from every layer, then compacts the model physically. */
function removeAtRandom(model: T5Model, fraction: number): void {
  const rand = seededRandom(12345);
  const { heads, dff } = keptShape(fraction);
  for (const block of model.attentionBlocks()) {
    const keep = sample(HEADS, heads, rand);
    removeHeads(block, block.headIds.map((_, i) => (keep.includes(i) ? i : keep[0])), { merge: false });
  }
  for (const block of model.mlpBlocks()) {
    const dead = sample(D_FF, D_FF - dff, rand);
    const mask = tf.tidy(() => tf.sub(1, tf.sum(tf.oneHot(dead, D_FF), 0)).reshape([D_FF, 1]));
    const w = tf.mul(block.input.weight, mask);
    block.input.weight.assign(w);
    tf.dispose([w, mask]);
  }
  compactModel(model);
}

async function ours(fraction: number): Promise<Record<string, number | string>> {
  const report = await initBackend();
  const model = T5Model.random(T5_BASE, { seed: 0 });
  if (fraction > 0) removeAtRandom(model, fraction);
  const opt = new AdamW();
  const ids = tf.randomUniform([batch, src], 3, T5_BASE.vocab_size, 'int32') as tf.Tensor2D;
  const labels = tf.randomUniform([batch, tgt], 3, T5_BASE.vocab_size, 'int32') as tf.Tensor2D;
  const decoderIds = tf.concat([tf.zeros([batch, 1], 'int32'), labels.slice([0, 0], [batch, tgt - 1])], 1) as tf.Tensor2D;
  const step = (seed: number) => neuropruneStep(model, () => {
    const { logits } = model.forward({ inputIds: ids, decoderInputIds: decoderIds }, { training: true, dropoutSeed: seed });
    return tf.mean(tokenNll(logits.reshape([batch * tgt, -1]) as tf.Tensor2D, labels.reshape([-1]) as tf.Tensor1D));
  }, opt, ALPHA, BETA);
  step(0);
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) step(s);
  const dt = (performance.now() - t0) / 1000 / steps;
  const trainRss = peakRssMiB();
  const inputs = tf.tidy(() => tf.randomUniform([genBatch, src], 3, T5_BASE.vocab_size, 'int32')).arraySync() as number[][];
  generate(model, inputs.slice(0, 2), { maxNewTokens: 2, eosTokenId: null }); // warm-up
  const g0 = performance.now();
  const out = generate(model, inputs, { maxNewTokens: newTokens, eosTokenId: null, batchSize: genBatch });
  const gen = (performance.now() - g0) / 1000;
  if (out.some((r) => r.length !== newTokens)) throw new Error('generation did not produce every new token');
  return {
    run: `neuroprune ${describeBackend(report)[0].replace(/^backend: /, '').replace(/ \(best.*$/, '')}`,
    seconds_per_step: dt, tokens_per_second: (batch * (src + tgt)) / dt, max_rss_mib: trainRss,
    generation_seconds_per_example: gen / genBatch,
  };
}

async function main(): Promise<void> {
  if (argv.includes('--ours-only')) {
    console.log(JSON.stringify(await ours(Number(get('fraction', '0')))));
    return;
  }
  const threads = get('threads', '1');
  const fractions = get('fractions', '0,0.5,0.9').split(',').map(Number);
  const ratios: string[] = [];
  // Rows are printed as each configuration finishes, so that a long run shows its progress.
  console.log(`T5-base shape (12+12 layers, d 768, vocab 32128); training batch ${batch} x (${src} source + ${tgt} target) tokens; greedy generation ${genBatch} inputs x ${src} tokens, ${newTokens} new tokens\n`);
  console.log('| model | run | s/step | tokens/s | peak RSS MiB | generation ms/example |');
  console.log('|---|---|---|---|---|---|');
  for (const f of fractions) {
    const { heads, dff } = keptShape(f);
    const self = spawnSync(process.execPath, [...process.execArgv, __filename, ...argv, '--ours-only', '--fraction', String(f)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (self.status !== 0) throw new Error(`ours failed: ${self.stderr}`);
    const a = JSON.parse(self.stdout.trim().split('\n').pop()!);
    const py = spawnSync(get('python', process.env.PYTHON ?? 'python3'), [`${__dirname}/t5_step.py`, '--threads', threads, '--batch', String(batch), '--src', String(src),
      '--tgt', String(tgt), '--steps', String(steps), '--gen-batch', String(genBatch), '--new-tokens', String(newTokens), '--heads', String(heads), '--ff', String(dff)], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`PyTorch failed: ${py.stderr}`);
    const b = JSON.parse(py.stdout.trim().split('\n').pop()!);
    const shape = f === 0 ? 'dense (12 heads, MLP 3072)' : `${Math.round(f * 100)}% removed (${heads} heads, MLP ${dff})`;
    const row = (run: string, r: { seconds_per_step: number; tokens_per_second: number; max_rss_mib: number; generation_seconds_per_example: number }) =>
      console.log(`| ${shape} | ${run} | ${r.seconds_per_step.toFixed(2)} | ${Math.round(r.tokens_per_second)} | ${Math.round(r.max_rss_mib)} | ${(r.generation_seconds_per_example * 1000).toFixed(0)} |`);
    row(String(a.run), a);
    row(`PyTorch ${b.torch}, ${threads} thread${threads === '1' ? '' : 's'}`, b);
    ratios.push(`${shape}: tokens/s ours / PyTorch ${(a.tokens_per_second / b.tokens_per_second).toFixed(2)}, peak RSS ${(a.max_rss_mib / b.max_rss_mib).toFixed(2)}, generation latency ${(a.generation_seconds_per_example / b.generation_seconds_per_example).toFixed(2)}`);
  }
  console.log(`\n${ratios.join('\n')}\nload average ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
