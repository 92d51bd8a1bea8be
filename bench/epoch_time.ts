/**
 * Time per epoch of NeuroPrune against plain fine-tuning on the same model and data (issue 5).
 *
 * A BERT of width 256 (4 layers, 8 heads, MLP 1024) is first trained by plain fine-tuning on the
 * built-in task; from that checkpoint both modes then train the same number of epochs, with the
 * same seed and data order. NeuroPrune adds the regularizers to every step (the first epoch's
 * cost) and prunes and compacts after each epoch (what later epochs save). For each epoch the
 * table gives both times, their ratio, and the FLOPs per epoch the NeuroPrune model has left
 * (2 FLOPs per prunable weight per token, forward; the backward scales alike), so the ratio can
 * be read against the work that remains. Each mode runs `--repeats` times, the modes alternating,
 * and the fastest time of each epoch is kept, which spreads the load of other processes over both.
 *
 *   npx tsx bench/epoch_time.ts [--epochs=3] [--repeats=2] [--limit-train=4000] [--alpha=1e-4] [--beta=1e-2]
 *                               [--theta=0.1] [--start=DIR] [--markdown]
 *
 * `--start=DIR` keeps the starting model in DIR (trained there once, reused by later runs).
 */
import * as os from 'node:os';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBackend, initBackend } from '../src/backend';
import { loadBertCheckpoint } from '../src/checkpoint';
import { BertForSequenceClassification, type BertConfig } from '../src/models/bert';
import { BertTaskModel } from '../src/train/bertTask';
import { neuropruneOps } from '../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../src/train/options';
import { builtinTask, taskData } from '../src/train/taskData';
import { latestCheckpoint } from '../src/train/runDir';
import { evaluate, train, type EpochRecord } from '../src/train/trainer';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const EPOCHS = arg('epochs', 3);
const REPEATS = arg('repeats', 2);
const LIMIT = arg('limit-train', 4000);
const markdown = args.includes('--markdown');
const str = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const START = str('start');

const task = builtinTask();
const config: BertConfig = {
  vocab_size: task.tokenizer.vocabSize, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 8,
  intermediate_size: 1024, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 32, type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
};

async function main(): Promise<void> {
  const report = await initBackend();
  const loadBefore = os.loadavg()[0];
  const work = mkdtempSync(join(tmpdir(), 'np-epoch-'));
  const data = taskData(task, { batchSize: 32, seed: 1, padId: task.tokenizer.special.pad, limitTrain: LIMIT });
  // The regularizer weights that suit a model depend on its size: these keep this one's accuracy.
  const base: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, progress: false, alpha: arg('alpha', 1e-4), beta: arg('beta', 1e-2), theta: arg('theta', 0.1) };
  const ops = neuropruneOps({ numLabels: 2 });

  // 1. The trained starting point.
  let startDir = START && existsSync(join(START, 'model.safetensors')) ? START : undefined;
  if (!startDir) {
    process.stderr.write('training the starting model (finetune, 5 epochs, lr 5e-4)\n');
    const start = new BertTaskModel(BertForSequenceClassification.random(config, { seed: 1 }));
    const pre = await train({ model: start, data, ops, options: { ...base, mode: 'finetune', epochs: 5, learningRate: 5e-4 }, runDir: join(work, 'pre') });
    pre.model.dispose();
    startDir = latestCheckpoint(join(work, 'pre'))!;
    if (START) { cpSync(startDir, START, { recursive: true, dereference: true }); startDir = START; }
  }
  const startModel = new BertTaskModel(loadBertCheckpoint(startDir).model);
  const startAccuracy = evaluate(startModel, data).accuracy;
  startModel.dispose();

  // 2. Both modes from it, alternating.
  const best: Record<'finetune' | 'neuroprune', EpochRecord[]> = { finetune: [], neuroprune: [] };
  for (let r = 0; r < REPEATS; r++) {
    for (const mode of ['finetune', 'neuroprune'] as const) {
      process.stderr.write(`repeat ${r + 1}/${REPEATS}: ${mode}\n`);
      const model = new BertTaskModel(loadBertCheckpoint(startDir).model);
      const out = await train({ model, data, ops, options: { ...base, mode, epochs: EPOCHS } });
      out.model.dispose();
      out.epochs.forEach((e, i) => {
        if (!best[mode][i] || e.trainSeconds < best[mode][i].trainSeconds) best[mode][i] = e;
      });
    }
  }
  rmSync(work, { recursive: true, force: true });

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    `backend: ${describeBackend(report)[0]}; machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}; load average ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end`,
    `model: 4 layers, d 256, 8 heads, MLP 1024; ${LIMIT} training examples of the built-in task, batch 32; starting dev accuracy ${startAccuracy.toFixed(3)}`,
    `neuroprune: alpha ${base.alpha}, beta ${base.beta}, theta ${base.theta}, eps ${base.eps}, compaction on; fastest of ${REPEATS} runs per epoch`,
    '',
    '| epoch | finetune s | neuroprune s | ratio | NeuroPrune FLOPs left during the epoch | ratio / FLOPs left | heads | dev acc. finetune | dev acc. neuroprune |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  let flopsLeft = 1; // during epoch 1 the model is dense
  for (let i = 0; i < EPOCHS; i++) {
    const f = best.finetune[i];
    const n = best.neuroprune[i];
    const ratio = n.trainSeconds / f.trainSeconds;
    const s = n.sparsity as { parametersStored: number; parametersDense: number; headsKept: number; headsOriginal: number };
    lines.push(`| ${i + 1} | ${f.trainSeconds.toFixed(1)} | ${n.trainSeconds.toFixed(1)} | ${ratio.toFixed(3)} | ${(100 * flopsLeft).toFixed(1)}% | ${(ratio / flopsLeft).toFixed(2)} | ${s.headsKept}/${s.headsOriginal} | ${f.dev.accuracy.toFixed(3)} | ${n.dev.accuracy.toFixed(3)} |`);
    // The epoch's record is taken after its pruning: what the next epoch trains.
    flopsLeft = s.parametersStored / s.parametersDense;
  }
  if (!markdown) lines.splice(3, 0, '(pass --markdown for a table only)');
  console.log(lines.join('\n'));
}

main().catch((err) => { console.error(err); process.exit(1); });
