/**
 * Sequence-to-sequence training (summarization, translation) of a T5 for the trainer: the task
 * model and the task data.
 *
 * - Loss: the token cross-entropy of the labels under teacher forcing, averaged over the label
 *   positions that are not -100, as `T5ForConditionalGeneration` computes it
 *   (`CrossEntropyLoss(ignore_index=-100)` over `[B*T, V]`); batches are DataCollatorForSeq2Seq's
 *   (src/data/seq2seqBatch.ts), with no decoder attention mask, as that collator makes none.
 * - Dev evaluation, after each epoch: batched generation of every dev source (greedy unless
 *   `numBeams` > 1; at most `maxTargetLength` decoder positions counting the start token, as
 *   `run_summarization.py` passes `max_length=val_max_target_length`), decoded without special
 *   tokens and scored against the dev targets as read (ROUGE-1/2/L/Lsum for summarization, BLEU
 *   for translation, and exact match: `seq2seqMetrics`), plus the dev loss: the mean token
 *   cross-entropy over all dev label tokens.
 *
 * The trainer reads the first metric as the primary one: `rouge1` or `bleu`.
 */
import * as tf from '@tensorflow/tfjs';
import { saveModelDir, t5Architecture } from '../checkpoint';
import { LABEL_PAD_ID, makeSeq2seqBatches, type Seq2seqBatch, type Seq2seqTask } from '../data';
import type { AttentionBlock, MlpBlock } from '../models/blocks';
import { generate, type GenerateOptions } from '../models/generation';
import { tokenNll } from '../models/losses';
import type { T5Model } from '../models/t5';
import type { TaskModel } from './taskModel';
import type { StepContext, TaskData, TrainableModel } from './types';

/**
 * Per label position of `[B, T, V]` logits, the cross-entropy of the label (`[B, T]`) and its
 * weight (0 where the label is -100, else 1).
 */
function labelNll(logits: tf.Tensor3D, labels: tf.Tensor2D): { nll: tf.Tensor2D; weight: tf.Tensor2D } {
  const [b, t, v] = logits.shape;
  const keep = tf.notEqual(labels, LABEL_PAD_ID);
  // An ignored position reads label 0, then weighs 0: the gather needs an index in range.
  const targets = tf.where(keep, tf.cast(labels, 'int32'), tf.zerosLike(labels).toInt()) as tf.Tensor2D;
  const nll = tf.reshape(tokenNll(tf.reshape(logits, [b * t, v]) as tf.Tensor2D, tf.reshape(targets, [b * t]) as tf.Tensor1D), [b, t]) as tf.Tensor2D;
  return { nll, weight: tf.cast(keep, 'float32') as tf.Tensor2D };
}

/**
 * transformers' seq2seq loss: the mean cross-entropy over the label positions that are not -100
 * (0 when every position is ignored, where PyTorch gives NaN). `logits` `[B, T, V]`, `labels` `[B, T]`.
 */
export function seq2seqLoss(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const { nll, weight } = labelNll(logits, labels);
    return tf.div(tf.sum(tf.mul(nll, weight)), tf.maximum(tf.sum(weight), 1)) as tf.Scalar;
  });
}

/** What the seq2seq evaluation needs of a model besides the trainer's interface. */
export interface Seq2seqGenerator {
  /** Generated ids per source (without the start token, up to and including EOS). */
  generate(sources: readonly (readonly number[])[], options: GenerateOptions): number[][];
}

function t5Inputs(batch: Seq2seqBatch) {
  const src: [number, number] = [batch.size, batch.sourceLen];
  return {
    inputIds: tf.tensor2d(batch.inputIds, src, 'int32'),
    attentionMask: tf.tensor2d(batch.attentionMask, src, 'int32'),
    decoderInputIds: tf.tensor2d(batch.decoderInputIds, [batch.size, batch.targetLen], 'int32'),
  };
}

/** A T5 as the trainer's model over seq2seq batches. No `stepMemory`: the trainer's memory check is BERT's and skips it. */
export class Seq2seqTaskModel implements TaskModel<Seq2seqBatch>, Seq2seqGenerator {
  readonly modelType = 't5';

  constructor(readonly model: T5Model) {}

  get hiddenSize(): number {
    return this.model.hiddenSize;
  }

  /** Relative position buckets: no table bounds the length. */
  get maxPositions(): number {
    return Number.POSITIVE_INFINITY;
  }

  get vocabSize(): number {
    return this.model.config.vocab_size;
  }

  get numLabels(): null {
    return null;
  }

  attentionBlocks(): AttentionBlock[] {
    return this.model.attentionBlocks();
  }

  mlpBlocks(): MlpBlock[] {
    return this.model.mlpBlocks();
  }

  namedVariables(): Map<string, tf.Variable> {
    return this.model.namedParameters();
  }

  taskLoss(batch: Seq2seqBatch, ctx: StepContext): tf.Scalar {
    return tf.tidy(() => {
      const { logits } = this.model.forward(t5Inputs(batch), { training: ctx.training, dropoutSeed: ctx.seed });
      return seq2seqLoss(logits, tf.tensor2d(batch.labels, [batch.size, batch.targetLen], 'int32'));
    });
  }

  /** Per example (batch row), the summed cross-entropy of its label tokens (eval mode). */
  predict(batch: Seq2seqBatch): Float32Array {
    const out = tf.tidy(() => {
      const { logits } = this.model.forward(t5Inputs(batch), { training: false });
      const { nll, weight } = labelNll(logits, tf.tensor2d(batch.labels, [batch.size, batch.targetLen], 'int32'));
      return tf.sum(tf.mul(nll, weight), -1);
    });
    const values = Float32Array.from(out.dataSync());
    out.dispose();
    return values;
  }

  generate(sources: readonly (readonly number[])[], options: GenerateOptions): number[][] {
    return generate(this.model, sources, options);
  }

  save(dir: string, options: { dense?: boolean } = {}): void {
    saveModelDir(t5Architecture, this.model, dir, options);
  }

  dispose(): void {
    this.model.dispose();
  }
}

export interface Seq2seqDataOptions {
  batchSize: number;
  seed: number;
  /** Use only the first n training examples. */
  limitTrain?: number;
  /** Use only the first n dev examples. */
  limitDev?: number;
  /** Beams of the dev generation; 1 (default) is greedy. */
  numBeams?: number;
  /** Sources generated together at evaluation. Default `batchSize`. */
  generationBatchSize?: number;
}

/** Label tokens (not -100) per row of a batch. */
function labelCounts(batch: Seq2seqBatch): Float32Array {
  const out = new Float32Array(batch.size);
  for (let r = 0; r < batch.size; r++) {
    let n = 0;
    for (let t = 0; t < batch.targetLen; t++) if (batch.labels[r * batch.targetLen + t] !== LABEL_PAD_ID) n++;
    out[r] = n;
  }
  return out;
}

/** The dev loss from per-example summed cross-entropies and label counts: their ratio of sums. */
function devLoss(nllSums: Float32Array, counts: Float32Array): number {
  let nll = 0;
  let n = 0;
  for (let i = 0; i < nllSums.length; i++) { nll += nllSums[i]; n += counts[i]; }
  return n > 0 ? nll / n : NaN;
}

/**
 * Batches of a seq2seq task for the trainer, with its dev evaluation (see the module comment).
 * Training order depends on (seed, epoch) only; dev batches are sorted by length once.
 */
export function seq2seqTaskData(task: Seq2seqTask, options: Seq2seqDataOptions): TaskData<Seq2seqBatch> {
  const train = options.limitTrain ? task.train.slice(0, options.limitTrain) : task.train;
  const dev = options.limitDev ? task.dev.slice(0, options.limitDev) : task.dev;
  const references = task.devTargets.slice(0, dev.length);
  if (dev.length === 0) throw new Error(`task ${task.name}: no dev examples`);
  const padId = task.tokenizer.special.pad;
  const common = { batchSize: options.batchSize, padId };
  const devBatches = makeSeq2seqBatches(dev, { ...common, shuffle: false, sortByLength: true, bucketBatches: Math.ceil(dev.length / options.batchSize) });
  const devLabels = new Float32Array(devBatches.flatMap((b) => Array.from(labelCounts(b))));
  const generation: GenerateOptions = {
    numBeams: options.numBeams ?? 1,
    maxLength: task.maxTargetLength,
    batchSize: options.generationBatchSize ?? options.batchSize,
  };
  return {
    name: task.name,
    trainBatches: (epoch) => {
      if (train.length === 0) throw new Error(`task ${task.name}: no training examples`);
      return makeSeq2seqBatches(train, { ...common, shuffle: true, seed: options.seed, epoch });
    },
    devBatches: () => devBatches,
    devLabels: () => devLabels,
    metrics: (p, y) => ({ loss: devLoss(p, y) }),
    batchSize: (b) => b.size,
    batchTokens: (b) => {
      let n = 0;
      for (const m of b.attentionMask) n += m;
      for (const l of b.labels) if (l !== LABEL_PAD_ID) n++;
      return n;
    },
    evaluate(model: TrainableModel<Seq2seqBatch>): Record<string, number> {
      const generator = model as Partial<Seq2seqGenerator>;
      if (typeof generator.generate !== 'function') throw new Error(`task ${task.name}: the model cannot generate (a seq2seq task needs an encoder-decoder such as T5)`);
      const sequences = generator.generate(dev.map((e) => e.inputIds), generation);
      const predictions = sequences.map((ids) => task.tokenizer.decode(ids, { skipSpecialTokens: true }));
      const nll = new Float32Array(devBatches.flatMap((b) => Array.from(model.predict(b))));
      return { ...task.metrics(predictions, references), loss: devLoss(nll, devLabels) };
    },
  };
}
