/**
 * Inference latency of a compacted BERT against the dense one, at 25, 50, 70 and 90% structured
 * sparsity, beside the ratio of their matmul FLOPs. MiniLM-L6 shape: 6 layers, d 384, 12 heads of
 * 32, MLP 1536, sequence 128 (vocabulary cut to 1000: embeddings are lookups, not FLOPs).
 *
 * Structured sparsity `s` per layer: `round(12 s)` heads removed physically, then as many MLP
 * neurons zeroed (incoming rows) and compacted as brings the layer's prunable-parameter fraction
 * (Q, K, V, O, MLP in/out; attention is 1/3 of it) to `s`; the fraction is re-measured with
 * `sparsityReport`. Timings are medians over interleaved repetitions (dense and compacted models
 * alternate, so load from other processes hits them alike).
 *
 *   [NEUROPRUNE_BACKEND=wasm] npx tsx bench/compaction_latency.ts [--batch=16] [--reps=5] [--markdown]
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/backend';
import { BertForSequenceClassification, randomInit, type BertConfig } from '../src/models/bert';
import { compactModel, removeHeads, sparsityReport } from '../src/neuroprune';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const B = arg('batch', 16);
const REPS = arg('reps', 5);
const markdown = args.includes('--markdown');
const T = 128, D = 384, H = 12, DH = 32, DE = 1536, L = 6;

const config: BertConfig = {
  vocab_size: 1000,
  hidden_size: D,
  num_hidden_layers: L,
  num_attention_heads: H,
  intermediate_size: DE,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  num_labels: 2,
};

/** Matmul FLOPs of one forward pass (2 per multiply-add): projections, MLP, scores and context. */
function flops(model: BertForSequenceClassification): number {
  const n = B * T;
  let f = 0;
  for (const [i, a] of model.attentionBlocks().entries()) {
    const inner = a.numHeads * a.headSize;
    const dIn = a.query.weight.shape[1] as number;
    const de = model.mlpBlocks()[i].input.weight.shape[0] as number;
    f += 2 * n * (3 * dIn * inner + inner * D); // Q, K, V, O
    f += 2 * 2 * B * a.numHeads * T * T * a.headSize; // q k^T and probs v
    f += 2 * n * 2 * D * de; // MLP in and out
  }
  return f + 2 * B * (D * D + D * config.num_labels);
}

function prune(model: BertForSequenceClassification, s: number): void {
  const heads = Math.round(s * H);
  // Fraction of a layer's prunable parameters: attention 1/3, MLP 2/3.
  const neurons = Math.max(0, Math.min(DE - 1, Math.round(DE * 1.5 * (s - heads / (3 * H)))));
  for (const a of model.attentionBlocks()) {
    const into = Array.from({ length: H }, (_, h) => (h < heads ? H - 1 : h));
    removeHeads(a, into, { merge: false });
  }
  for (const m of model.mlpBlocks()) {
    const mask = tf.tidy(() => tf.concat([tf.zeros([neurons, 1]), tf.ones([DE - neurons, 1])]));
    const next = tf.tidy(() => tf.mul(m.input.weight, mask));
    m.input.weight.assign(next);
    tf.dispose([mask, next]);
  }
  compactModel(model);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  // The backend initBackend picks (native when the addon is built); NEUROPRUNE_BACKEND forces one.
  const report = await initBackend();
  const ids = tf.tidy(() => tf.randomUniform([B, T], 1, config.vocab_size, 'int32', 7) as tf.Tensor2D);
  const mask = tf.ones([B, T], 'int32') as tf.Tensor2D;
  const levels = [0, 0.25, 0.5, 0.7, 0.9];
  const models = levels.map((s) => {
    const m = new BertForSequenceClassification(config, randomInit(config, 1));
    if (s > 0) prune(m, s);
    return m;
  });
  const run = (m: BertForSequenceClassification): number => {
    const t0 = performance.now();
    const { logits } = m.forward({ inputIds: ids, attentionMask: mask });
    logits.dataSync();
    const t = performance.now() - t0;
    logits.dispose();
    return t;
  };
  for (const m of models) run(m); // warm-up: kernels compiled, buffers allocated
  const times: number[][] = models.map(() => []);
  for (let r = 0; r < REPS; r++) models.forEach((m, i) => times[i].push(run(m)));

  const dense = { ms: median(times[0]), flops: flops(models[0]) };
  const rows = levels.map((s, i) => {
    const sp = sparsityReport(models[i]);
    const ms = median(times[i]);
    const flopRatio = dense.flops / flops(models[i]);
    const speedup = dense.ms / ms;
    return {
      target: s,
      structured: sp.structuredFraction,
      heads: models[i].attentionBlocks()[0].numHeads,
      mlp: models[i].mlpBlocks()[0].input.weight.shape[0] as number,
      gflop: flops(models[i]) / 1e9,
      ms,
      flopRatio,
      speedup,
      ofFlop: speedup / flopRatio,
    };
  });

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const header = `backend: ${describeBackend(report).join('; ')}\nmachine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}\nshape: ${L} layers, d ${D}, ${H} heads x ${DH}, MLP ${DE}, batch ${B} x ${T} tokens; median of ${REPS} interleaved runs after one warm-up`;
  if (markdown) {
    console.log(header.split('\n').map((l) => `- ${l}`).join('\n') + '\n');
    console.log('| target | structured (measured) | heads/layer | MLP width | GFLOP | ms | FLOP ratio | speed-up | speed-up / FLOP ratio |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${(100 * r.target).toFixed(0)}% | ${(100 * r.structured).toFixed(1)}% | ${r.heads} | ${r.mlp} | ${r.gflop.toFixed(1)} | ${r.ms.toFixed(0)} | ${r.flopRatio.toFixed(2)} | ${r.speedup.toFixed(2)} | ${r.ofFlop.toFixed(2)} |`);
    }
  } else {
    console.log(header);
    console.table(rows);
  }
  models.forEach((m) => m.dispose());
  tf.dispose([ids, mask]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
