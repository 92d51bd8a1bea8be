/**
 * Tokens per second of a full NeuroPrune training step (forward with dropout, cross-entropy +
 * alpha * R_attn + beta * R_mlp, backward, AdamW) on the wasm backend, before (TF.js's kernels)
 * and after (src/backend/kernels), side by side with PyTorch `transformers` on the same CPU with
 * 1 and 2 threads (bench/train_step.py), printed as ratios.
 *
 *   npx tsx bench/train_step.ts [--shapes minilm,bert-base] [--before minilm] [--steps 2]
 *     [--bert-base-batch 8] [--threads 1,2] [--python python3] [--markdown]
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
  minilm: { name: 'MiniLM (6x384, 12 heads, MLP 1536)', layers: 6, hidden: 384, heads: 12, intermediate: 1536, batch: 16, seq: 128 },
  'bert-base': { name: 'BERT-base (12x768, 12 heads, MLP 3072)', layers: 12, hidden: 768, heads: 12, intermediate: 3072, batch: Number(get('bert-base-batch', '8')), seq: 128 },
};
const shapes = get('shapes', 'minilm,bert-base').split(',').filter((s) => s in SHAPES);
const before = new Set(get('before', 'minilm').split(',').filter(Boolean));
const steps = Number(get('steps', '2'));
const threads = get('threads', '1,2').split(',').map(Number);
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

async function main(): Promise<void> {
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
    const figures: { label: string; sec: number }[] = [];
    // Interleaved: ours after, PyTorch, ours before; a burst of load then hits one run, not a
    // whole column.
    installWasmKernels();
    const after = timeOurs(s, steps, 1);
    figures.push({ label: 'neuroprune wasm + kernels (after)', sec: after });
    console.error(`${key}: after ${after.toFixed(2)} s/step`);
    const torch = new Map<number, number>();
    let torchVersion = '';
    for (const t of threads) {
      const r = timeTorch(s, t);
      if (typeof r === 'string') { console.error(r); continue; }
      torch.set(t, r.sec);
      torchVersion = r.torch;
      figures.push({ label: `PyTorch ${r.torch}, ${t} thread${t > 1 ? 's' : ''}`, sec: r.sec });
      console.error(`${key}: torch ${t} threads ${r.sec.toFixed(2)} s/step`);
    }
    let beforeSec: number | undefined;
    if (before.has(key)) {
      installWasmKernels('off');
      beforeSec = timeOurs(s, 1, 0);
      installWasmKernels();
      figures.push({ label: 'neuroprune wasm, TF.js kernels (before)', sec: beforeSec });
      console.error(`${key}: before ${beforeSec.toFixed(2)} s/step`);
    }
    for (const f of figures) rows.push([s.name, `${s.batch}x${s.seq}`, f.label, f.sec.toFixed(2), (tokens / f.sec).toFixed(0)]);
    const ratio = (ours: number | undefined, t: number) => (ours !== undefined && torch.has(t) ? (torch.get(t)! / ours).toFixed(2) : 'n/a');
    for (const [label, ours] of [['after', after], ['before', beforeSec]] as const) {
      if (ours === undefined) continue;
      ratioRows.push([s.name, label, ...threads.map((t) => ratio(ours, t))]);
    }
    void torchVersion;
  }
  console.log(`# load average at end: ${load()}`);
  console.log('\n| shape | batch x seq | run | s/step | tokens/s |\n|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`\n| shape | ours | ${threads.map((t) => `ours / PyTorch ${t} thread${t > 1 ? 's' : ''}`).join(' | ')} |`);
  console.log(`|---|---|${threads.map(() => '---').join('|')}|`);
  for (const r of ratioRows) console.log(`| ${r.join(' | ')} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
