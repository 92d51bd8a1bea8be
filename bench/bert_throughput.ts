/**
 * BERT training-step throughput: forward, backward and an Adam step, in tokens per second, for
 * the MiniLM-L6 shape (6 layers, width 384, 12 heads, MLP 1536, sequence 128, batch 16), on the
 * TF.js wasm and cpu backends, side by side with PyTorch `BertForSequenceClassification` of the
 * same shape on the same CPU (bench/torch_bert_step.py, 1 and 2 threads). Prints the ratio
 * ours / PyTorch; a figure to drive toward 1, never asserted in tests.
 *
 *   npx tsx bench/bert_throughput.ts [--steps 2] [--warmup 1] [--batch 16] [--seq 128]
 *     [--backends wasm,cpu] [--cpu-batch 1] [--cpu-steps 1] [--threads 1,2] [--python python3]
 *
 * The pure-JS cpu backend is about 20x slower than wasm: by default it runs one timed step at
 * batch 1 (`--cpu-batch`, `--cpu-steps`), and its PyTorch peer runs at that batch too.
 * Each figure is the fastest of the timed steps (other load on a shared machine only adds time).
 * On wasm the native matmul kernels use `NEUROPRUNE_THREADS` threads (default: all cores); the
 * backend line printed first says which kernels ran. Compare like with like: run once more with
 * `NEUROPRUNE_THREADS=1` for the one-thread figure.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, type BackendChoice } from '../src/backend';
import { BertForSequenceClassification, bertLoss, type BertConfig } from '../src/models/bert';

interface BenchOptions {
  steps: number;
  warmup: number;
  batch: number;
  seq: number;
  backends: BackendChoice[];
  cpuBatch: number;
  cpuSteps: number;
  threads: number[];
  python: string;
}

function parseArgs(argv: string[]): BenchOptions {
  const get = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
  };
  return {
    steps: Number(get('steps', '2')),
    warmup: Number(get('warmup', '1')),
    batch: Number(get('batch', '16')),
    seq: Number(get('seq', '128')),
    backends: get('backends', 'wasm,cpu').split(',') as BackendChoice[],
    cpuBatch: Number(get('cpu-batch', '1')),
    cpuSteps: Number(get('cpu-steps', '1')),
    threads: get('threads', '1,2').split(',').map(Number),
    python: get('python', process.env.PYTHON ?? 'python3'),
  };
}

/** MiniLM-L6 (all-MiniLM-L6-v2 / paraphrase-MiniLM-L6) with a 2-class head. */
export const MINILM_L6: BertConfig = {
  vocab_size: 30522, hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 1536,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
};

interface Figure { label: string; batch: number; seq: number; steps: number; secondsPerStep: number; tokensPerSecond: number }

/** Times `steps` training steps after `warmup` untimed ones on the current backend. */
function timeOurs(label: string, batch: number, seq: number, steps: number, warmup: number): Figure {
  const model = BertForSequenceClassification.random(MINILM_L6, { seed: 0, dropoutSeed: 0 });
  const inputIds = tf.tidy(() => tf.randomUniform([batch, seq], 1, MINILM_L6.vocab_size, 'int32', 1) as tf.Tensor2D);
  const attentionMask = tf.ones([batch, seq], 'int32') as tf.Tensor2D;
  const labels = tf.tidy(() => tf.randomUniform([batch], 0, 2, 'int32', 2));
  const optimizer = tf.train.adam(1e-5);
  const vars = model.trainableVariables();
  const step = () => {
    const cost = optimizer.minimize(() => bertLoss(model, model.forward({ inputIds, attentionMask }, { training: true }).logits, labels), true, vars)!;
    cost.dataSync(); // wait for the step to finish
    cost.dispose();
  };
  for (let i = 0; i < warmup; i++) step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push((performance.now() - t0) / 1000);
  }
  // The fastest step: the machine is shared, and other load only ever adds time.
  const secondsPerStep = Math.min(...times);
  optimizer.dispose();
  tf.dispose([inputIds, attentionMask, labels]);
  model.dispose();
  return { label, batch, seq, steps, secondsPerStep, tokensPerSecond: (batch * seq) / secondsPerStep };
}

function timeTorch(o: BenchOptions, threads: number, batch: number, steps: number): Figure | string {
  const script = path.join(__dirname, 'torch_bert_step.py');
  const run = spawnSync(o.python, [script, '--threads', String(threads), '--batch', String(batch), '--seq', String(o.seq),
    '--steps', String(steps), '--warmup', String(o.warmup)], { encoding: 'utf8' });
  if (run.status !== 0) return `PyTorch peer failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`;
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!);
  return { label: `PyTorch ${r.torch}, ${threads} thread${threads > 1 ? 's' : ''}`, batch, seq: o.seq, steps, secondsPerStep: r.seconds_per_step, tokensPerSecond: r.tokens_per_second };
}

function row(f: Figure): string {
  return `| ${f.label} | ${f.batch} | ${f.seq} | ${f.steps} | ${f.secondsPerStep.toFixed(2)} | ${f.tokensPerSecond.toFixed(1)} |`;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`# BERT training step (MiniLM-L6 shape), ${cpuModel}, ${os.cpus().length} cores, Node ${process.version}, load average ${load()}`);
  const ours: Figure[] = [];
  for (const backend of o.backends) {
    const report = await initBackend({ force: backend });
    console.log(`- ${describeBackend(report)[0]}`);
    const isCpu = backend === 'cpu';
    const batch = isCpu ? o.cpuBatch : o.batch;
    const steps = isCpu ? o.cpuSteps : o.steps;
    // The cpu backend is slow enough that one warm-up step would double the run for little gain.
    ours.push(timeOurs(`neuroprune, TF.js ${backend}`, batch, o.seq, steps, isCpu ? 0 : o.warmup));
    console.error(row(ours[ours.length - 1]));
  }
  const peers = new Map<string, Figure>();
  const peerBatches = [...new Set(ours.map((f) => f.batch))];
  for (const batch of peerBatches) {
    for (const threads of o.threads) {
      const f = timeTorch(o, threads, batch, Math.max(o.steps, 2));
      if (typeof f === 'string') { console.error(f); continue; }
      peers.set(`${batch}/${threads}`, f);
      console.error(row(f));
    }
  }
  console.log(`- load average at the end: ${load()}`);
  console.log('\n| run | batch | seq | timed steps | s/step (fastest) | tokens/s |\n|---|---|---|---|---|---|');
  for (const f of [...ours, ...peers.values()]) console.log(row(f));
  console.log('\n| ours / PyTorch (tokens/s) | ' + o.threads.map((t) => `${t} thread${t > 1 ? 's' : ''}`).join(' | ') + ' |');
  console.log('|---|' + o.threads.map(() => '---').join('|') + '|');
  for (const f of ours) {
    const cells = o.threads.map((t) => {
      const p = peers.get(`${f.batch}/${t}`);
      return p ? (f.tokensPerSecond / p.tokensPerSecond).toFixed(3) : 'n/a';
    });
    console.log(`| ${f.label} (batch ${f.batch}) | ${cells.join(' | ')} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
