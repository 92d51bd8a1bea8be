/**
 * Tokens per second of a full NeuroPrune training step (forward with dropout, cross-entropy +
 * alpha * R_attn + beta * R_mlp, backward, AdamW) on `webgpu` beside `native` and `wasm`, on this
 * machine, for one small shape. Each backend runs in a fresh process.
 *
 *   npx tsx bench/webgpu_step.ts [--backends webgpu,native,wasm] [--steps 3] [--batch 8] [--seq 64]
 *
 * On a software adapter (lavapipe) the webgpu figure is labelled a correctness path: lavapipe
 * runs the shaders on the CPU (compiled by LLVM), so the figure says nothing of what the backend
 * does on a GPU. Two warm-up steps come first (Dawn compiles
 * each shader on first use); every timed step ends with a read of its loss, so the queue is
 * drained inside the timing.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, type BackendChoice } from '../src/backend';
import { adapterLabel } from '../src/backend/webgpu';
import { BertForSequenceClassification, bertLoss, type BertConfig } from '../src/models/bert';
import { AdamW } from '../src/train/adamw';
import { variableGrads } from '../src/train/gradients';
import { attentionGroupL12, mlpPreferentialL1 } from '../src/neuroprune/regularizers';

const argv = process.argv.slice(2);
const get = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const steps = Number(get('steps', '3'));
const batch = Number(get('batch', '8'));
const seq = Number(get('seq', '64'));
const config: BertConfig = {
  vocab_size: 1000, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 512,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
};
const SHAPE = `BERT 2x128, 4 heads, MLP 512, batch ${batch} x ${seq}`;

async function child(backend: BackendChoice): Promise<void> {
  const report = await initBackend({ force: backend });
  const model = BertForSequenceClassification.random(config, { seed: 1 });
  const ids = tf.tensor2d(Array.from({ length: batch * seq }, (_, i) => 1 + ((i * 7919) % (config.vocab_size - 1))), [batch, seq], 'int32');
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 2), 'int32');
  const params = model.namedParameters();
  const vars = [...params.values()];
  const byTfName = new Map([...params].map(([name, v]) => [v.name, name]));
  const optimizer = new AdamW({ weightDecay: 0.01 });
  const step = async (s: number): Promise<number> => {
    const { value, grads } = variableGrads(() => tf.tidy(() => {
      const task = bertLoss(model, model.forward({ inputIds: ids }, { training: true, dropoutSeed: s }).logits, labels);
      return tf.addN([task, tf.mul(attentionGroupL12(model.attentionBlocks()), 1e-6), tf.mul(mlpPreferentialL1(model.mlpBlocks()), 1e-6)]) as tf.Scalar;
    }), vars);
    const named = new Map(Object.entries(grads).map(([k, g]) => [byTfName.get(k)!, g]));
    optimizer.apply(params, named, 1e-4);
    tf.dispose(Object.values(grads));
    const loss = (await value.data())[0];
    value.dispose();
    return loss;
  };
  for (let s = 0; s < 2; s++) await step(s);
  const t0 = performance.now();
  let loss = 0;
  for (let s = 0; s < steps; s++) loss = await step(100 + s);
  const seconds = (performance.now() - t0) / 1000;
  const tokensPerSecond = (batch * seq * steps) / seconds;
  // On lavapipe the adapter's label ends "software rasteriser: correctness, not speed".
  const label = report.adapter ? adapterLabel(report.adapter) : describeBackend(report)[0].replace(/^backend: /, '');
  process.stdout.write(JSON.stringify({ backend, tokensPerSecond, loss, label }) + '\n');
  process.exit(0);
}

function main(): void {
  const backends = get('backends', 'webgpu,native,wasm').split(',') as BackendChoice[];
  console.log(`training step, ${SHAPE}: ${steps} timed steps after 2 of warm-up; load average ${os.loadavg()[0].toFixed(2)}`);
  for (const backend of backends) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', backend, '--steps', String(steps), '--batch', String(batch), '--seq', String(seq)], { encoding: 'utf8' });
    const line = run.stdout.trim().split('\n').pop() ?? '';
    try {
      const r = JSON.parse(line) as { tokensPerSecond: number; loss: number; label: string };
      console.log(`${backend.padEnd(7)} ${r.tokensPerSecond.toFixed(0).padStart(7)} tokens/s  (last loss ${r.loss.toFixed(6)}; ${r.label})`);
    } catch {
      console.log(`${backend.padEnd(7)} did not run: ${(run.stderr || '').trim().split('\n').filter((l) => !l.startsWith('Warning:')).pop() ?? `status ${run.status}`}`);
    }
  }
}

const childBackend = get('child', '');
if (childBackend) void child(childBackend as BackendChoice); else main();
