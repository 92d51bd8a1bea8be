/**
 * `BertForSequenceClassification` as a `TrainableModel` over typed-array batches.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../data';
import { BertForSequenceClassification, bertLoss, problemType } from '../models/bert';
import type { AttentionBlock, MlpBlock } from '../models/blocks';
import { activationBytes, encoderActivationTerms } from '../models/bertMemory';
import { saveBertCheckpoint } from '../checkpoint/bert';
import type { StepContext, StepMemory } from './types';
import type { TaskModel } from './taskModel';

/** Batch arrays to the model's input tensors (`[size, seqLen]` int32). */
export function batchInputs(batch: Batch): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D; tokenTypeIds: tf.Tensor2D } {
  const shape: [number, number] = [batch.size, batch.seqLen];
  return {
    inputIds: tf.tensor2d(batch.inputIds, shape, 'int32'),
    attentionMask: tf.tensor2d(batch.attentionMask, shape, 'int32'),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, shape, 'int32'),
  };
}

export class BertTaskModel implements TaskModel {
  readonly modelType = 'bert';

  constructor(readonly bert: BertForSequenceClassification) {}

  get maxPositions(): number {
    return this.bert.config.max_position_embeddings;
  }

  get vocabSize(): number {
    return this.bert.config.vocab_size;
  }

  get numLabels(): number {
    return this.bert.config.num_labels;
  }

  save(dir: string, options: { dense?: boolean } = {}): void {
    saveBertCheckpoint(this.bert, dir, options);
  }

  get hiddenSize(): number {
    return this.bert.hiddenSize;
  }

  attentionBlocks(): AttentionBlock[] {
    return this.bert.attentionBlocks();
  }

  mlpBlocks(): MlpBlock[] {
    return this.bert.mlpBlocks();
  }

  namedVariables(): Map<string, tf.Variable> {
    return this.bert.namedParameters();
  }

  taskLoss(batch: Batch, ctx: StepContext): tf.Scalar {
    return tf.tidy(() => {
      const { logits } = this.bert.forward(batchInputs(batch), { training: ctx.training, dropoutSeed: ctx.seed });
      const labels = batch.labels instanceof Float32Array ? tf.tensor1d(batch.labels, 'float32') : tf.tensor1d(batch.labels, 'int32');
      return bertLoss(this.bert, logits, labels);
    });
  }

  stepMemory(batch: Batch): StepMemory {
    const mlp = this.mlpBlocks();
    const layers = this.attentionBlocks().map((a, i) => ({ heads: a.numHeads, intermediate: mlp[i].input.weight.shape[0] }));
    const terms = encoderActivationTerms(this.hiddenSize, layers, batch.size, batch.seqLen);
    const e = this.bert.embeddings;
    const embeddingParameters = e.wordEmbeddings.size + e.positionEmbeddings.size + e.tokenTypeEmbeddings.size;
    return { activationBytes: activationBytes(terms), embeddingParameters, examples: batch.size, length: batch.seqLen };
  }

  predict(batch: Batch): Float32Array {
    const out = tf.tidy(() => {
      const { logits } = this.bert.forward(batchInputs(batch), { training: false });
      return problemType(this.bert.config) === 'regression' ? logits.reshape([-1]) : tf.argMax(logits, -1).toFloat();
    });
    const values = Float32Array.from(out.dataSync());
    out.dispose();
    return values;
  }

  dispose(): void {
    this.bert.dispose();
  }
}
