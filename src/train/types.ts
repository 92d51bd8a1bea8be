/**
 * What the trainer needs from a model and a task, independent of the architecture.
 */
import type * as tf from '@tensorflow/tfjs';
import type { PrunableModel } from '../models/blocks';

export interface StepContext {
  /** Dropout on. */
  training: boolean;
  /** Seed of this step's dropout masks: a pure function of (run seed, step), so a resumed run draws the same masks. */
  seed: number;
}

/** What a training step on one batch keeps for its backward pass (src/train/memory.ts). */
export interface StepMemory {
  activationBytes: number;
  /** Parameters in embedding tables (their gradient comes from a gather), counted apart: they cost more per parameter. */
  embeddingParameters?: number;
  /** The batch's examples and padded length, for messages. */
  examples: number;
  length: number;
}

export interface TrainableModel<Batch> extends PrunableModel {
  /** Estimated activation memory of a training step on `batch`; absent: no memory check. */
  stepMemory?(batch: Batch): StepMemory;
  /** Every trainable variable under a stable name (Hugging Face's parameter names). Re-read after pruning: variables are replaced. */
  namedVariables(): Map<string, tf.Variable>;
  /** Scalar task loss of a batch (cross-entropy or MSE). */
  taskLoss(batch: Batch, ctx: StepContext): tf.Scalar;
  /** Per-example predictions in eval mode: class index, or the regression value. */
  predict(batch: Batch): Float32Array;
  dispose(): void;
}

export interface TaskData<Batch> {
  readonly name: string;
  /** Training batches of an epoch, in an order that depends only on (seed, epoch). */
  trainBatches(epoch: number): Batch[];
  devBatches(): Batch[];
  /** Gold labels of the dev set, in `devBatches()` order. */
  devLabels(): Float32Array;
  /** Metrics from predictions and gold labels; the first key is the primary metric. */
  metrics(predictions: Float32Array, labels: Float32Array): Record<string, number>;
  /** Number of examples in a batch (for throughput). */
  batchSize(batch: Batch): number;
  /** Number of non-padding tokens in a batch (for throughput). */
  batchTokens(batch: Batch): number;
  /**
   * The dev metrics, when the task scores more than per-example predictions (seq2seq: generated
   * text against references); absent: `metrics` of `predict` over `devBatches`.
   */
  evaluate?(model: TrainableModel<Batch>): Record<string, number>;
}
