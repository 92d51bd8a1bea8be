/**
 * Tokens per second of a full NeuroPrune training step (forward with dropout, cross-entropy +
 * alpha * R_attn + beta * R_mlp, backward, AdamW) on the wasm backend, before (TF.js's kernels)
 * and after (src/backend/kernels), side by side with PyTorch `transformers` on the same CPU with
 * 1 and 2 threads (bench/train_step.py), printed as ratios.
 *
 *   npx tsx bench/train_step.ts [--shapes minilm,bert-base] [--before minilm] [--steps 2]
 *     [--minilm-batch 16] [--bert-base-batch 8] [--threads 1,2|none] [--python python3]
 *
 * `NEUROPRUNE_THREADS=n` sets the threads of the native kernels (default: all cores).
 *
 * "before" steps are slow (about a minute per MiniLM step): by default only MiniLM runs them,
 * one timed step after none of warm-up.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/backend';
import { installWasmKernels } from '../src/backend/kernels';
import { BertForSequenceClassification, bertLoss, type BertConfig } from '../src/models/bert';
import { AdamW } from '../src/train/adamw';
import { attentionGroupL12, mlpPreferentialL1 } from '../src/neuroprune/regularizers';

interface Shape { name: string; layers: number; hidden: number; heads: number; intermediate: number; batch: number; seq: number }

const argv = process.argv.slice(2);
const get = (name: string, fallback: string): string => {
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return eq.slice(name.length + 3);
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const SHAPES: Record<string, Shape> = {
  minilm: { name: 'MiniLM (6x384, 12 heads, MLP 1536)', layers: 6, hidden: 384, heads: 12, intermediate: 1536, batch: Number(get('minilm-batch', '16')), seq: 128 },
  'bert-base': { name: 'BERT-base (12x768, 12 heads, MLP 3072)', layers: 12, hidden: 768, heads: 12, intermediate: 3072, batch: Number(get('bert-base-batch', '8')), seq: 128 },
};
const shapes = get('shapes', 'minilm,bert-base').split(',').filter((s) => s in SHAPES);
const before = new Set(get('before', 'minilm').split(',').filter(Boolean));
const steps = Number(get('steps', '2'));
// `--threads none`: ours only (no PyTorch peer).
const threads = get('threads', '1,2').split(',').map(Number).filter((t) => t > 0);
const python = get('python', process.env.PYTHON ?? 'python3');
const ALPHA = 1e-6, BETA = 1e-6;

function config(s: Shape): BertConfig {
  return {
    vocab_size: 30522, hidden_size: s.hidden, num_hidden_layers: s.layers, num_attention_heads: s.heads, intermediate_size: s.intermediate,
    hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
    type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
  };
}

/** Seconds per step of ours, on the kernels currently installed. */
function timeOurs(s: Shape, timed: number, warmup: number): number {
  const model = BertForSequenceClassification.random(config(s), { seed: 0, dropoutSeed: 0 });
  const inputIds = tf.tidy(() => tf.randomUniform([s.batch, s.seq], 1, 30522, 'int32', 1) as tf.Tensor2D);
  const attentionMask = tf.ones([s.batch, s.seq], 'int32') as tf.Tensor2D;
  const labels = tf.tidy(() => tf.randomUniform([s.batch], 0, 2, 'int32', 2));
  const params = model.namedParameters();
  const byVar = new Map([...params].map(([name, v]) => [v.name, name]));
  const optimizer = new AdamW({ weightDecay: 0.01 });
  const step = () => {
    const { value, grads } = tf.tidy(() => tf.variableGrads(() => {
      const task = bertLoss(model, model.forward({ inputIds, attentionMask }, { training: true }).logits, labels);
      const reg = tf.add(tf.mul(attentionGroupL12(model.attentionBlocks()), ALPHA), tf.mul(mlpPreferentialL1(model.mlpBlocks()), BETA));
      return tf.add(task, reg) as tf.Scalar;
    }, [...params.values()]));
    const named = new Map(Object.entries(grads).map(([v, g]) => [byVar.get(v)!, g]));
    // Outside any tidy: the optimizer keeps its moments across steps.
    optimizer.apply(params, named, 2e-5);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  for (let i = 0; i < warmup; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < timed; i++) step();
  const sec = (performance.now() - t0) / 1000 / timed;
  optimizer.dispose();
  tf.dispose([inputIds, attentionMask, labels]);
  model.dispose();
  return sec;
}

function timeTorch(s: Shape, t: number): { sec: number; torch: string } | string {
  const run = spawnSync(python, [path.join(__dirname, 'train_step.py'), '--threads', String(t), '--batch', String(s.batch), '--seq', String(s.seq),
    '--layers', String(s.layers), '--hidden', String(s.hidden), '--heads', String(s.heads), '--intermediate', String(s.intermediate),
    '--steps', String(Math.max(2, steps)), '--warmup', '1', '--alpha', String(ALPHA), '--beta', String(BETA)], { encoding: 'utf8' });
  if (run.status !== 0) return `PyTorch peer failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`;
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!);
  return { sec: r.seconds_per_step, torch: r.torch };
}

/**
 * Each of our measurements runs in a fresh process (this file with `--child shape,mode`): the
 * wasm heap only grows, and a "before" step after an "after" one can run out of it.
 */
function timeOursInChild(key: string, mode: 'before' | 'after', batch: number): number | string {
  const run = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', `${key},${mode},${batch}`, '--steps', String(steps),
    '--minilm-batch', String(SHAPES.minilm.batch), '--bert-base-batch', String(SHAPES['bert-base'].batch)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !line.startsWith('{')) return `ours (${mode}) failed: ${(run.stderr || '').trim().split('\n').filter((l) => /Error/.test(l))[0] ?? run.status}`;
  return JSON.parse(line).seconds;
}

async function child(spec: string): Promise<void> {
  const [key, mode, batch] = spec.split(',');
  await initBackend({ force: 'wasm' });
  installWasmKernels(mode === 'before' ? 'off' : undefined);
  const shape = { ...SHAPES[key], batch: Number(batch) };
  const seconds = mode === 'before' ? timeOurs(shape, 1, 0) : timeOurs(shape, steps, 1);
  console.log(JSON.stringify({ seconds }));
}

async function main(): Promise<void> {
  const childSpec = get('child', '');
  if (childSpec) return child(childSpec);
  const report = await initBackend({ force: 'wasm' });
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`# training step, ${cpu}, ${os.cpus().length} cores, Node ${process.version}; ${describeBackend(report)[0]}`);
  console.log(`# load average at start: ${load()}`);
  const rows: string[][] = [];
  const ratioRows: string[][] = [];
  for (const key of shapes) {
    const s = SHAPES[key];
    const tokens = s.batch * s.seq;
    const figures: { label: string; sec: number; batch?: number }[] = [];
    const afterRun = timeOursInChild(key, 'after', s.batch);
    if (typeof afterRun === 'string') { console.error(afterRun); continue; }
    const after = afterRun;
    figures.push({ label: 'neuroprune wasm + kernels (after)', sec: after });
    console.error(`${key}: after ${after.toFixed(2)} s/step`);
    const torch = new Map<number, number>();
    for (const t of threads) {
      const r = timeTorch(s, t);
      if (typeof r === 'string') { console.error(r); continue; }
      torch.set(t, r.sec);
      figures.push({ label: `PyTorch ${r.torch}, ${t} thread${t > 1 ? 's' : ''}`, sec: r.sec });
      console.error(`${key}: torch ${t} threads ${r.sec.toFixed(2)} s/step`);
    }
    let beforeSec: number | undefined;
    // TF.js's own kernels copy every tensor saved for the backward pass (Identity) and run out of
    // the 4 GB wasm heap on a MiniLM step at batch 16: "before" runs at half the batch, and the
    // comparison is in tokens per second.
    const beforeBatch = Math.max(1, Math.floor(s.batch / 2));
    if (before.has(key)) {
      const b = timeOursInChild(key, 'before', beforeBatch);
      if (typeof b === 'string') console.error(b);
      else {
        beforeSec = b;
        figures.push({ label: 'neuroprune wasm, TF.js kernels (before)', sec: beforeSec, batch: beforeBatch });
        console.error(`${key}: before ${beforeSec.toFixed(2)} s/step`);
      }
    }
    const tps = (f: { sec: number; batch?: number }) => ((f.batch ?? s.batch) * s.seq) / f.sec;
    for (const f of figures) rows.push([s.name, `${f.batch ?? s.batch}x${s.seq}`, f.label, f.sec.toFixed(2), tps(f).toFixed(0)]);
    // Ratios of tokens per second (ours / PyTorch at its own batch).
    const ratio = (ours: number | undefined, b: number, t: number) =>
      (ours !== undefined && torch.has(t) ? ((b * s.seq) / ours / (tokens / torch.get(t)!)).toFixed(3) : 'n/a');
    ratioRows.push([s.name, 'after', ...threads.map((t) => ratio(after, s.batch, t))]);
    if (beforeSec !== undefined) {
      ratioRows.push([s.name, `before (batch ${beforeBatch})`, ...threads.map((t) => ratio(beforeSec, beforeBatch, t))]);
      ratioRows.push([s.name, 'after / before', `${((tokens / after) / ((beforeBatch * s.seq) / beforeSec)).toFixed(1)}x`, ...threads.slice(1).map(() => '')]);
    }
  }
  console.log(`# load average at end: ${load()}`);
  console.log('\n| shape | batch x seq | run | s/step | tokens/s |\n|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`\n| shape | ours | ${threads.map((t) => `tokens/s ours / PyTorch ${t} thread${t > 1 ? 's' : ''}`).join(' | ')} |`);
  console.log(`|---|---|${threads.map(() => '---').join('|')}|`);
  for (const r of ratioRows) console.log(`| ${r.join(' | ')} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
