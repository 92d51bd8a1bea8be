/**
 * Peak memory of a training step against the estimate of `src/train/memory.ts`, for BERT shapes
 * that vary one size at a time. Each shape runs in a fresh process (`--child`): it builds the model,
 * records its resident set, trains two steps through `train()` (task loss + R_attn + R_mlp, AdamW,
 * clipping), and reports the growth of its peak resident set (VmHWM) over the resident set after
 * loading. `--fit` fits the activation coefficients of `src/models/bertMemory.ts` to the rows by
 * non-negative least squares and prints them; without it, the table compares measurement and estimate.
 *
 *   npx tsx bench/step_memory.ts [--fit] [--hold-out=bertbase32] [--shapes all|NAME,...] [--rows] [--from-rows=FILE]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { describeBackend, initBackend } from '../src/backend';
import { BertForSequenceClassification, type BertConfig } from '../src/models/bert';
import { bertActivationTerms, BERT_ACTIVATION_COEFFICIENTS } from '../src/models/bertMemory';
import { BertTaskModel } from '../src/train/bertTask';
import { estimateTrainingMemory, STEP_FLOATS_PER_PARAMETER } from '../src/train/memory';
import { neuropruneOps } from '../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS } from '../src/train/options';
import { train } from '../src/train/trainer';
import type { TaskData } from '../src/train/types';
import type { Batch } from '../src/data';

interface Shape { layers: number; hidden: number; heads: number; intermediate: number; batch: number; seq: number }

// Batches large enough that activations are a good part of the growth (at 16 x 128 the
// parameters' state, mostly the 30522-word embedding's, is nearly all of it).
const SHAPES: Record<string, Shape> = {
  base: { layers: 2, hidden: 384, heads: 6, intermediate: 1536, batch: 32, seq: 128 },
  batch64: { layers: 2, hidden: 384, heads: 6, intermediate: 1536, batch: 64, seq: 128 },
  seq512: { layers: 2, hidden: 384, heads: 6, intermediate: 1536, batch: 8, seq: 512 },
  wide: { layers: 2, hidden: 768, heads: 6, intermediate: 1536, batch: 32, seq: 128 },
  heads12: { layers: 2, hidden: 384, heads: 12, intermediate: 1536, batch: 32, seq: 128 },
  mlp3072: { layers: 2, hidden: 384, heads: 6, intermediate: 3072, batch: 32, seq: 128 },
  deep: { layers: 6, hidden: 384, heads: 6, intermediate: 1536, batch: 32, seq: 128 },
  minilm8x512: { layers: 6, hidden: 384, heads: 12, intermediate: 1536, batch: 8, seq: 512 },
  bertbase32: { layers: 12, hidden: 768, heads: 12, intermediate: 3072, batch: 32, seq: 128 },
};

const argv = process.argv.slice(2);
const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

function config(s: Shape): BertConfig {
  return {
    vocab_size: 30522, hidden_size: s.hidden, num_hidden_layers: s.layers, num_attention_heads: s.heads, intermediate_size: s.intermediate,
    hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
    type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
  };
}

function rssMiB(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function syntheticData(s: Shape, steps: number): TaskData<Batch> {
  const batch = (i: number): Batch => ({
    size: s.batch, seqLen: s.seq,
    inputIds: Int32Array.from({ length: s.batch * s.seq }, (_, j) => (j * 7919 + i) % 30000 + 100),
    tokenTypeIds: new Int32Array(s.batch * s.seq), attentionMask: new Int32Array(s.batch * s.seq).fill(1),
    labels: Int32Array.from({ length: s.batch }, (_, j) => (i + j) % 2),
  } as Batch);
  const batches = Array.from({ length: steps }, (_, i) => batch(i));
  return {
    name: 'synthetic', trainBatches: () => batches, devBatches: () => [batch(99)], devLabels: () => Float32Array.from(batch(99).labels as Int32Array),
    metrics: () => ({ accuracy: 0 }), batchSize: (b) => b.size, batchTokens: (b) => b.size * b.seqLen,
  };
}

async function child(name: string): Promise<void> {
  const s = SHAPES[name];
  const report = await initBackend();
  const model = new BertTaskModel(BertForSequenceClassification.random(config(s), { seed: 1 }));
  const loaded = rssMiB('VmRSS');
  const options = { ...DEFAULT_TRAIN_OPTIONS, mode: 'neuroprune' as const, epochs: 1, batchSize: s.batch, progress: false, alpha: 1e-6, beta: 1e-6, compact: false, theta: 0 };
  const out = await train({ model, data: syntheticData(s, 2), ops: neuropruneOps({ numLabels: 2 }), options, memoryCheck: false });
  const peak = rssMiB('VmHWM');
  const parameters = [...out.model.namedVariables().values()].reduce((n, v) => n + v.size, 0);
  console.log(JSON.stringify({ name, backend: report.picked, parameters, loadedMiB: loaded, peakMiB: peak, stepGrowthMiB: peak - loaded, line: describeBackend(report)[0] }));
}

/** Least squares by the normal equations (a handful of unknowns). */
function leastSquares(rows: number[][], y: number[]): number[] {
  const n = rows[0].length;
  const a = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => rows.reduce((s, r) => s + r[i] * r[j], 0)));
  const b = Array.from({ length: n }, (_, i) => rows.reduce((s, r, k) => s + r[i] * y[k], 0));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    [b[c], b[p]] = [b[p], b[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let k = c; k < n; k++) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  return b.map((v, i) => v / a[i][i]);
}

/**
 * Least squares with every coefficient >= 0 (memory cannot be negative): the unconstrained fit on
 * each subset of the unknowns, the best of those whose coefficients are all non-negative.
 */
function nonNegativeLeastSquares(rows: number[][], y: number[]): number[] {
  const n = rows[0].length;
  let best: { coef: number[]; residual: number } | undefined;
  for (let mask = 1; mask < 1 << n; mask++) {
    const cols = Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i));
    const sub = leastSquares(rows.map((r) => cols.map((c) => r[c])), y);
    if (sub.some((c) => !(c >= 0))) continue;
    const coef = new Array<number>(n).fill(0);
    cols.forEach((c, k) => { coef[c] = sub[k]; });
    const residual = rows.reduce((s, r, k) => s + (r.reduce((a, v, i) => a + v * coef[i], 0) - y[k]) ** 2, 0);
    if (!best || residual < best.residual) best = { coef, residual };
  }
  if (!best) throw new Error('no non-negative fit');
  return best.coef;
}

async function main(): Promise<void> {
  const childName = flag('child');
  if (childName) return child(childName);
  const names = (flag('shapes') ?? 'all') === 'all' ? Object.keys(SHAPES) : flag('shapes')!.split(',');
  const rows: { name: string; parameters: number; stepGrowthMiB: number; line: string }[] = [];
  // `--from-rows=FILE`: the rows a `--rows` run printed, instead of new processes.
  const saved = flag('from-rows');
  if (saved) rows.push(...JSON.parse(fs.readFileSync(saved, 'utf8')));
  for (const name of saved ? [] : names) {
    const r = spawnSync(process.execPath, [...process.execArgv, __filename, `--child=${name}`], { encoding: 'utf8', env: process.env, maxBuffer: 1 << 24 });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !last.startsWith('{')) { console.error(`${name}: failed\n${r.stderr.slice(-2000)}`); continue; }
    rows.push(JSON.parse(last));
    process.stderr.write(`${name}: +${rows[rows.length - 1].stepGrowthMiB.toFixed(0)} MiB\n`);
  }
  console.log(`${rows[0]?.line}; ${os.cpus()[0]?.model}, load average ${os.loadavg()[0].toFixed(1)}`);
  if (argv.includes('--fit')) {
    // Growth = 4 bytes x (k * parameters + activation terms): parameters' gradients, AdamW's two
    // moments and the clip's copies; activations per token and layer.
    // Shapes named by --hold-out are left out of the fit, to show how the estimate does on them.
    const held = new Set((flag('hold-out') ?? 'bertbase32').split(','));
    const fitRows = rows.filter((r) => !held.has(r.name));
    // Unknowns: floats per embedding parameter, per other parameter (held at least at
    // STEP_FLOATS_PER_PARAMETER: a gradient and two moments), and the three activation terms.
    const floor = [0, STEP_FLOATS_PER_PARAMETER, 0, 0, 0];
    const design = fitRows.map((r) => {
      const s = SHAPES[r.name];
      const t = bertActivationTerms(config(s), s.batch, s.seq);
      const embedding = embeddingParameters(s);
      return [embedding, r.parameters - embedding, t.hidden, t.intermediate, t.scores];
    });
    const target = fitRows.map((r, k) => (r.stepGrowthMiB * 2 ** 20) / 4 - design[k].reduce((a, x, i) => a + x * floor[i], 0));
    const coef = nonNegativeLeastSquares(design, target).map((c, i) => c + floor[i]);
    console.log(`fit (floats): per embedding parameter ${coef[0].toFixed(2)}, per other parameter ${coef[1].toFixed(2)}, per token-layer x hidden ${coef[2].toFixed(2)}, x intermediate ${coef[3].toFixed(2)}, per head x key ${coef[4].toFixed(2)}`);
  }
  // Rows are reused by a --fit run: print them so that the fit can be redone without new processes.
  if (argv.includes('--rows')) console.log(JSON.stringify(rows));
  console.log('\n| shape | layers x hidden, heads, MLP | batch x length | parameters | measured growth MiB | estimate MiB | estimate / measured |');
  console.log('|---|---|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const s = SHAPES[r.name];
    const e = estimateTrainingMemory({ parameters: r.parameters, embeddingParameters: embeddingParameters(s), activationBytes: bertActivationBytes(s) });
    const est = (e.total - e.parameters) / 2 ** 20;
    console.log(`| ${r.name} | ${s.layers} x ${s.hidden}, ${s.heads}, ${s.intermediate} | ${s.batch} x ${s.seq} | ${(r.parameters / 1e6).toFixed(1)} M | ${r.stepGrowthMiB.toFixed(0)} | ${est.toFixed(0)} | ${(est / r.stepGrowthMiB).toFixed(2)} |`);
  }
}

/** Word, position and token-type embedding tables. */
function embeddingParameters(s: Shape): number {
  const c = config(s);
  return (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * c.hidden_size;
}

function bertActivationBytes(s: Shape): number {
  const t = bertActivationTerms(config(s), s.batch, s.seq);
  const c = BERT_ACTIVATION_COEFFICIENTS;
  return 4 * (c.hidden * t.hidden + c.intermediate * t.intermediate + c.scores * t.scores);
}

main().catch((err) => { console.error(err); process.exit(1); });
