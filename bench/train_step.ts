/**
 * Tokens per second and peak memory of a full NeuroPrune training step (forward with dropout,
 * cross-entropy + alpha * R_attn + beta * R_mlp, backward, AdamW), ours side by side with PyTorch
 * `transformers` on the same CPU with 1 and 2 threads (bench/train_step.py), printed as ratios.
 *
 *   npx tsx bench/train_step.ts [--shapes minilm,minilm-512,bert-base] [--before minilm] [--steps 2]
 *     [--minilm-batch 16] [--minilm-512-batch 8] [--bert-base-batch 8] [--threads 1,2|none]
 *     [--python python3] [--profile]
 *
 * Ours runs on the backend `initBackend` picks (`native` when the addon is built);
 * `NEUROPRUNE_BACKEND=native|wasm` forces one. `NEUROPRUNE_THREADS=n` sets the threads of the
 * native kernels (default: all cores). Every measurement runs in a fresh process (ours and
 * PyTorch's alternate), and reports that process's peak resident set (VmHWM; PyTorch's
 * ru_maxrss), so each row's memory is the step's own. The load average is printed with each row.
 *
 * "before" (the wasm backend with TF.js's own kernels) is slow (about a minute per MiniLM step):
 * by default only MiniLM runs it, one timed step after none of warm-up.
 *
 * `--eval`: the same for evaluation (dropout off, no tape: the forward pass to the logits), against
 * PyTorch's `model.eval()` under `torch.no_grad()`.
 *
 * `--profile`: instead of timing, one step of each shape (after one of warm-up) under
 * `tf.profile`, printed as a table of time per kernel (kernels that call other kernels directly,
 * such as a fallback, are counted once, under their own name).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/backend';
import { installWasmKernels } from '../src/backend/kernels';
import { BertForSequenceClassification, bertLoss, type BertConfig } from '../src/models/bert';
import { AdamW } from '../src/train/adamw';
import { variableGrads } from '../src/train/gradients';
import { attentionGroupL12, mlpPreferentialL1 } from '../src/neuroprune/regularizers';
import { peakRssMiB } from './peer';

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
  'minilm-512': { name: 'MiniLM (6x384, 12 heads, MLP 1536)', layers: 6, hidden: 384, heads: 12, intermediate: 1536, batch: Number(get('minilm-512-batch', '8')), seq: 512 },
  'bert-base': { name: 'BERT-base (12x768, 12 heads, MLP 3072)', layers: 12, hidden: 768, heads: 12, intermediate: 3072, batch: Number(get('bert-base-batch', '8')), seq: 128 },
};
const shapes = get('shapes', 'minilm,bert-base').split(',').filter((s) => s in SHAPES);
const before = new Set(get('before', 'minilm').split(',').filter(Boolean));
const steps = Number(get('steps', '2'));
// `--threads none`: ours only (no PyTorch peer).
const threads = get('threads', '1,2').split(',').map(Number).filter((t) => t > 0);
const python = get('python', process.env.PYTHON ?? 'python3');
const profile = argv.includes('--profile');
const evaluation = argv.includes('--eval');
const ALPHA = 1e-6, BETA = 1e-6;

function config(s: Shape): BertConfig {
  return {
    vocab_size: 30522, hidden_size: s.hidden, num_hidden_layers: s.layers, num_attention_heads: s.heads, intermediate_size: s.intermediate,
    hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
    type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
  };
}

/** A model, its data and optimizer for shape `s`, and one training step over them. */
function setup(s: Shape): { step: () => void; dispose: () => void } {
  const model = BertForSequenceClassification.random(config(s), { seed: 0, dropoutSeed: 0 });
  const inputIds = tf.tidy(() => tf.randomUniform([s.batch, s.seq], 1, 30522, 'int32', 1) as tf.Tensor2D);
  const attentionMask = tf.ones([s.batch, s.seq], 'int32') as tf.Tensor2D;
  const labels = tf.tidy(() => tf.randomUniform([s.batch], 0, 2, 'int32', 2));
  const params = model.namedParameters();
  const byVar = new Map([...params].map(([name, v]) => [v.name, name]));
  const optimizer = new AdamW({ weightDecay: 0.01 });
  const evalStep = () => tf.tidy(() => { model.forward({ inputIds, attentionMask }, { training: false }).logits.dataSync(); });
  const trainStep = () => {
    const { value, grads } = tf.tidy(() => variableGrads(() => {
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
  const step = evaluation ? evalStep : trainStep;
  const dispose = () => {
    optimizer.dispose();
    tf.dispose([inputIds, attentionMask, labels]);
    model.dispose();
  };
  return { step, dispose };
}

/** Seconds per step of ours, on the backend and kernels currently installed. */
function timeOurs(s: Shape, timed: number, warmup: number): number {
  const { step, dispose } = setup(s);
  for (let i = 0; i < warmup; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < timed; i++) step();
  const sec = (performance.now() - t0) / 1000 / timed;
  dispose();
  return sec;
}

/** One step under tf.profile (after one of warm-up): a markdown table of time per kernel. */
async function profileOurs(s: Shape): Promise<string> {
  const { step, dispose } = setup(s);
  step();
  const t0 = performance.now();
  const info = await tf.profile(() => { step(); });
  const wall = performance.now() - t0;
  dispose();
  // Entries whose name is a scope (an op built with customGrad, e.g. `fusedMatMul__op`) contain
  // the kernels run inside them: listed, but left out of the kernel total.
  const isScope = (name: string) => name.endsWith('__op') || name === 'unnamed scope';
  const byName = new Map<string, { ms: number; calls: number; mib: number }>();
  const products = new Map<string, { ms: number; calls: number; gflop: number }>();
  const prod = (sh: number[]) => sh.reduce((a, b) => a * b, 1);
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { ms: 0, calls: 0, mib: 0 };
    e.ms += k.kernelTimeMs as number;
    e.calls += 1;
    e.mib += Math.max(0, k.bytesAdded) / 2 ** 20;
    byName.set(k.name, e);
    if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
      const [a, b] = k.inputShapes as number[][];
      const out = (k.outputShapes as number[][])[0];
      // 2 * m * n * k per batch entry = 2 * size(a) * n (a is never the broadcast side here).
      const key = `${k.name} [${a}] x [${b}] -> [${out}]`;
      const p = products.get(key) ?? { ms: 0, calls: 0, gflop: 0 };
      p.ms += k.kernelTimeMs as number;
      p.calls += 1;
      p.gflop += (2 * prod(a) * out[out.length - 1]) / 1e9;
      products.set(key, p);
    }
  }
  const total = [...byName].filter(([n]) => !isScope(n)).reduce((a, [, e]) => a + e.ms, 0);
  const rows = [...byName].sort((a, b) => b[1].ms - a[1].ms);
  const productRows = [...products].sort((a, b) => b[1].ms - a[1].ms);
  const productMs = productRows.reduce((a, [, p]) => a + p.ms, 0), productGflop = productRows.reduce((a, [, p]) => a + p.gflop, 0);
  const lines = [
    `${s.name}, ${s.batch}x${s.seq}: one step ${(wall / 1000).toFixed(2)} s under the profiler, of which kernels ${(total / 1000).toFixed(2)} s`
      + ` (the rest: JavaScript between kernels, gradient bookkeeping, tidy/dispose); products ${(productMs / 1000).toFixed(2)} s for`
      + ` ${productGflop.toFixed(0)} GFLOP (${(productGflop / (productMs / 1000)).toFixed(1)} GFLOP/s)`,
    '',
    '| kernel | calls | ms | share of kernel time | MiB allocated |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([name, e]) => isScope(name)
      ? `| (scope) ${name} | ${e.calls} | ${e.ms.toFixed(0)} | (contains kernels above) | ${e.mib.toFixed(0)} |`
      : `| ${name} | ${e.calls} | ${e.ms.toFixed(0)} | ${((100 * e.ms) / total).toFixed(1)}% | ${e.mib.toFixed(0)} |`),
    '',
    '| product (shapes as stored; transposes are flags) | calls | ms | GFLOP/s |',
    '|---|---:|---:|---:|',
    ...productRows.map(([key, p]) => `| ${key} | ${p.calls} | ${p.ms.toFixed(0)} | ${(p.gflop / (p.ms / 1000)).toFixed(1)} |`),
  ];
  return lines.join('\n');
}

function timeTorch(s: Shape, t: number): { sec: number; torch: string; rss: number } | string {
  const run = spawnSync(python, [path.join(__dirname, 'train_step.py'), '--threads', String(t), '--batch', String(s.batch), '--seq', String(s.seq),
    '--layers', String(s.layers), '--hidden', String(s.hidden), '--heads', String(s.heads), '--intermediate', String(s.intermediate),
    '--steps', String(Math.max(2, steps)), '--warmup', '1', '--alpha', String(ALPHA), '--beta', String(BETA), ...(evaluation ? ['--eval'] : [])], { encoding: 'utf8' });
  if (run.status !== 0) return `PyTorch peer failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`;
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!);
  return { sec: r.seconds_per_step, torch: r.torch, rss: r.max_rss_mib };
}

interface ChildResult { seconds: number; rss: number; backend: string }

/**
 * Each of our measurements runs in a fresh process (this file with `--child shape,mode,batch`):
 * its peak memory is then the step's own, and the wasm heap (which only grows) starts empty.
 */
function runChild(key: string, mode: 'before' | 'after' | 'profile', batch: number): { ok: true; stdout: string } | { ok: false; error: string } {
  const run = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', `${key},${mode},${batch}`, '--steps', String(steps), ...(evaluation ? ['--eval'] : [])],
    { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) {
    const err = (run.stderr || '').trim().split('\n').filter((l) => /Error|error|Abort/.test(l))[0] ?? `exit ${run.status ?? run.signal}`;
    return { ok: false, error: `ours (${mode}) failed: ${err}` };
  }
  return { ok: true, stdout: run.stdout };
}

function timeOursInChild(key: string, mode: 'before' | 'after', batch: number): ChildResult | string {
  const run = runChild(key, mode, batch);
  if (!run.ok) return run.error;
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) return `ours (${mode}) printed no result`;
  return JSON.parse(line) as ChildResult;
}

async function child(spec: string): Promise<void> {
  const [key, mode, batch] = spec.split(',');
  let report;
  if (mode === 'before') {
    report = await initBackend({ force: 'wasm' });
    installWasmKernels('off');
  } else {
    report = await initBackend();
  }
  const shape = { ...SHAPES[key], batch: Number(batch) };
  if (mode === 'profile') {
    console.log(`- ${describeBackend(report)[0]}`);
    console.log(await profileOurs(shape));
    return;
  }
  const seconds = mode === 'before' ? timeOurs(shape, 1, 0) : timeOurs(shape, steps, 1);
  console.log(JSON.stringify({ seconds, rss: peakRssMiB(), backend: describeBackend(report)[0] }));
}

async function main(): Promise<void> {
  const childSpec = get('child', '');
  if (childSpec) return child(childSpec);
  // The backend the children will pick (this process only reports it; it allocates nothing).
  const report = await initBackend();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`# ${evaluation ? 'evaluation (forward pass, no tape)' : 'training step'}, ${cpu}, ${os.cpus().length} cores, Node ${process.version}; ${describeBackend(report)[0]}`);
  console.log(`# load average at start: ${load()}`);
  if (profile) {
    for (const key of shapes) {
      const run = runChild(key, 'profile', SHAPES[key].batch);
      console.log(run.ok ? run.stdout : run.error);
    }
    console.log(`# load average at end: ${load()}`);
    return;
  }
  const rows: string[][] = [];
  const ratioRows: string[][] = [];
  for (const key of shapes) {
    const s = SHAPES[key];
    const tokens = s.batch * s.seq;
    const figures: { label: string; sec: number; rss: number; load: string; batch?: number }[] = [];
    const afterRun = timeOursInChild(key, 'after', s.batch);
    if (typeof afterRun === 'string') {
      console.error(afterRun);
      rows.push([s.name, `${s.batch}x${s.seq}`, `neuroprune (${report.picked})`, afterRun, '', '', load()]);
      continue;
    }
    const after = afterRun.seconds;
    figures.push({ label: `neuroprune ${afterRun.backend.replace(/^backend: /, '').replace(/ \((forced|best backend that loaded)\)$/, '')}`, sec: after, rss: afterRun.rss, load: load() });
    console.error(`${key}: ours ${after.toFixed(2)} s/step, peak RSS ${afterRun.rss.toFixed(0)} MiB`);
    const torch = new Map<number, { sec: number; rss: number }>();
    for (const t of threads) {
      const r = timeTorch(s, t);
      if (typeof r === 'string') { console.error(r); continue; }
      torch.set(t, r);
      figures.push({ label: `PyTorch ${r.torch}, ${t} thread${t > 1 ? 's' : ''}`, sec: r.sec, rss: r.rss, load: load() });
      console.error(`${key}: torch ${t} threads ${r.sec.toFixed(2)} s/step, peak RSS ${r.rss.toFixed(0)} MiB`);
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
        beforeSec = b.seconds;
        figures.push({ label: 'neuroprune wasm, TF.js kernels (before)', sec: beforeSec, rss: b.rss, load: load(), batch: beforeBatch });
        console.error(`${key}: before ${beforeSec.toFixed(2)} s/step`);
      }
    }
    const tps = (f: { sec: number; batch?: number }) => ((f.batch ?? s.batch) * s.seq) / f.sec;
    for (const f of figures) rows.push([s.name, `${f.batch ?? s.batch}x${s.seq}`, f.label, f.sec.toFixed(2), tps(f).toFixed(0), f.rss.toFixed(0), f.load]);
    // Ratios of tokens per second (ours / PyTorch at its own batch), and of peak memory.
    const ratio = (ours: number | undefined, b: number, t: number) =>
      (ours !== undefined && torch.has(t) ? ((b * s.seq) / ours / (tokens / torch.get(t)!.sec)).toFixed(3) : 'n/a');
    const rssRatio = (t: number) => (torch.has(t) ? (afterRun.rss / torch.get(t)!.rss).toFixed(2) : 'n/a');
    ratioRows.push([s.name, `${s.batch}x${s.seq}`, 'ours', ...threads.map((t) => ratio(after, s.batch, t)), ...threads.map(rssRatio)]);
    if (beforeSec !== undefined) {
      ratioRows.push([s.name, `${beforeBatch}x${s.seq}`, 'before', ...threads.map((t) => ratio(beforeSec, beforeBatch, t)), ...threads.map(() => '')]);
    }
  }
  console.log(`# load average at end: ${load()}`);
  console.log('\n| shape | batch x seq | run | s/step | tokens/s | peak RSS MiB | load average (1, 5, 15 min) after the run |\n|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  if (threads.length === 0) return;
  const th = (t: number) => `${t} thread${t > 1 ? 's' : ''}`;
  console.log(`\n| shape | batch x seq | run | ${threads.map((t) => `tokens/s ours / PyTorch ${th(t)}`).join(' | ')} | ${threads.map((t) => `peak RSS ours / PyTorch ${th(t)}`).join(' | ')} |`);
  console.log(`|---|---|---|${threads.map(() => '---').join('|')}|${threads.map(() => '---').join('|')}|`);
  for (const r of ratioRows) console.log(`| ${r.join(' | ')} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
