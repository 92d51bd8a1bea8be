/**
 * Tokens per second and peak memory of one NeuroPrune training step of an OPT-125m-shaped
 * `OPTForCausalLM` with random weights (forward with dropout, causal-LM loss + alpha * R_attn +
 * beta * R_mlp, backward, AdamW), ours and PyTorch's (bench/decoder_step.py) each in a fresh
 * process, printed with their ratios.
 *
 *   npx tsx bench/decoder_step.ts [--batch 16] [--seq 128] [--steps 1] [--threads 1] [--python python3]
 *
 * Ours runs on the backend `initBackend` picks (`native` when the addon is built). Peak memory is
 * the process's VmHWM (ours) and ru_maxrss (PyTorch's).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/backend';
import { causalLmLoss } from '../src/models/losses';
import { OptModel, type OptConfig } from '../src/models/opt';
import { AdamW } from '../src/train/adamw';
import { flag, neuropruneStep, peakRssMiB } from './peer';

const argv = process.argv.slice(2);
const get = (name: string, fallback: string): string => flag(argv, name, fallback);
const batch = Number(get('batch', '16'));
const seq = Number(get('seq', '128'));
const steps = Number(get('steps', '1'));
const ALPHA = 1e-6, BETA = 1e-6;

const OPT_125M: OptConfig = {
  task: 'causal_lm', vocab_size: 50272, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, ffn_dim: 3072,
  max_position_embeddings: 2048, word_embed_proj_dim: 768, do_layer_norm_before: true, _remove_final_layer_norm: false,
  enable_bias: true, activation_function: 'relu', dropout: 0.1, attention_dropout: 0, init_std: 0.02, pad_token_id: 1,
  tie_word_embeddings: true, num_labels: 2,
};

async function ours(): Promise<Record<string, number | string>> {
  const report = await initBackend();
  const model = OptModel.random(OPT_125M, { seed: 0 });
  const opt = new AdamW();
  const ids = tf.randomUniform([batch, seq], 3, OPT_125M.vocab_size, 'int32') as tf.Tensor2D;
  const mask = tf.ones([batch, seq], 'int32') as tf.Tensor2D;
  const step = (seed: number) => neuropruneStep(model, () => {
    const { logits } = model.forward({ inputIds: ids, attentionMask: mask }, { training: true, dropoutSeed: seed });
    return causalLmLoss(logits as tf.Tensor3D, ids, mask);
  }, opt, ALPHA, BETA);
  step(0);
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) step(s);
  const dt = (performance.now() - t0) / 1000 / steps;
  return { run: `neuroprune ${describeBackend(report)[0].replace(/^backend: /, '').replace(/ \(best.*$/, '')}`, seconds_per_step: dt, tokens_per_second: (batch * seq) / dt, max_rss_mib: peakRssMiB() };
}

async function main(): Promise<void> {
  if (argv.includes('--ours-only')) {
    console.log(JSON.stringify(await ours()));
    return;
  }
  const self = spawnSync(process.execPath, [...process.execArgv, __filename, ...argv, '--ours-only'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (self.status !== 0) throw new Error(`ours failed: ${self.stderr}`);
  const a = JSON.parse(self.stdout.trim().split('\n').pop()!);
  const threads = get('threads', '1');
  const py = spawnSync(get('python', process.env.PYTHON ?? 'python3'), [`${__dirname}/decoder_step.py`, '--threads', threads, '--batch', String(batch), '--seq', String(seq), '--steps', String(steps)], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`PyTorch failed: ${py.stderr}`);
  const b = JSON.parse(py.stdout.trim().split('\n').pop()!);
  console.log(`| shape | batch x seq | run | s/step | tokens/s | peak RSS MiB |`);
  console.log(`|---|---|---|---|---|---|`);
  const row = (run: string, r: { seconds_per_step: number; tokens_per_second: number; max_rss_mib: number }) =>
    console.log(`| OPT-125m (12x768, 12 heads, MLP 3072, vocab 50272) | ${batch}x${seq} | ${run} | ${r.seconds_per_step.toFixed(2)} | ${Math.round(r.tokens_per_second)} | ${Math.round(r.max_rss_mib)} |`);
  row(String(a.run), a);
  row(`PyTorch ${b.torch}, ${threads} thread${threads === '1' ? '' : 's'}`, b);
  console.log(`\ntokens/s ours / PyTorch: ${(a.tokens_per_second / b.tokens_per_second).toFixed(3)}; peak RSS ours / PyTorch: ${(a.max_rss_mib / b.max_rss_mib).toFixed(2)}; load average ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
