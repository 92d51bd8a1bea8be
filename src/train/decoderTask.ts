/**
 * OPT and GPT-2 as `TrainableModel`s over typed-array batches: sequence classification (GLUE)
 * through their classification heads, and causal language modelling.
 *
 * For language modelling, `predict` returns each example's summed negative log-likelihood of its
 * next tokens, and the task's labels are each example's number of predicted tokens (see
 * lmTask.ts), so that the task's metric is the token-weighted perplexity of the dev set.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../data';
import { saveModelDir, type Architecture, type CheckpointModel } from '../checkpoint';
import type { AttentionBlock, MlpBlock } from '../models/blocks';
import type { DecoderModel } from '../models/decoder';
import { causalLmLoss, nextTokenNll, problemType, sequenceClassificationLoss } from '../models/losses';
import type { StepContext } from './types';
import type { TaskModel } from './taskModel';

function inputs(batch: Batch): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D } {
  const shape: [number, number] = [batch.size, batch.seqLen];
  return { inputIds: tf.tensor2d(batch.inputIds, shape, 'int32'), attentionMask: tf.tensor2d(batch.attentionMask, shape, 'int32') };
}

/**
 * Per example, the summed negative log-likelihood of tokens 1..T-1 given the ones before
 * (padding targets excluded): `[B]`.
 */
export function sequenceNll(logits: tf.Tensor3D, inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const { nll, weight } = nextTokenNll(logits, inputIds, attentionMask);
    return tf.sum(tf.mul(nll, weight), -1) as tf.Tensor1D;
  });
}

export class DecoderTaskModel implements TaskModel {
  constructor(
    readonly model: DecoderModel,
    readonly modelType: string,
    private readonly architecture: Architecture<unknown, CheckpointModel<unknown>>,
  ) {}

  get hiddenSize(): number {
    return this.model.hiddenSize;
  }

  get maxPositions(): number {
    return this.model.maxPositions;
  }

  get vocabSize(): number {
    return this.model.config.vocab_size;
  }

  get numLabels(): number | null {
    return this.model.config.task === 'sequence_classification' ? this.model.config.num_labels : null;
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

  taskLoss(batch: Batch, ctx: StepContext): tf.Scalar {
    return tf.tidy(() => {
      const x = inputs(batch);
      const { logits } = this.model.forward(x, { training: ctx.training, dropoutSeed: ctx.seed });
      if (this.model.config.task === 'causal_lm') return causalLmLoss(logits as tf.Tensor3D, x.inputIds, x.attentionMask);
      const labels = batch.labels instanceof Float32Array ? tf.tensor1d(batch.labels, 'float32') : tf.tensor1d(batch.labels, 'int32');
      return sequenceClassificationLoss(logits as tf.Tensor2D, labels, { problemType: problemType(this.model.config) });
    });
  }

  predict(batch: Batch): Float32Array {
    const out = tf.tidy(() => {
      const x = inputs(batch);
      const { logits } = this.model.forward(x, { training: false });
      if (this.model.config.task === 'causal_lm') return sequenceNll(logits as tf.Tensor3D, x.inputIds, x.attentionMask);
      return problemType(this.model.config) === 'regression' ? logits.reshape([-1]) : tf.argMax(logits, -1).toFloat();
    });
    const values = Float32Array.from(out.dataSync());
    out.dispose();
    return values;
  }

  save(dir: string, options: { dense?: boolean } = {}): void {
    saveModelDir(this.architecture, this.model as unknown as CheckpointModel<unknown>, dir, options);
  }

  dispose(): void {
    this.model.dispose();
  }
}
