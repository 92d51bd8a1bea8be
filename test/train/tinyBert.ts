import * as tf from '@tensorflow/tfjs';
import { BertForSequenceClassification, type BertConfig } from '../../src/models/bert';
import { BertTaskModel } from '../../src/train/bertTask';

/** A BERT small enough for many training runs in a test; `vocabSize` from the task's tokenizer. */
export function tinyBertConfig(vocabSize: number, size: Partial<BertConfig> = {}): BertConfig {
  return {
    vocab_size: vocabSize, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2,
    intermediate_size: 16, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
    max_position_embeddings: 32, type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12,
    pad_token_id: 0, num_labels: 2, ...size,
  };
}

/** A task model of that config with fixed initial weights (seed 3). */
export function tinyBertTaskModel(vocabSize: number, size: Partial<BertConfig> = {}): BertTaskModel {
  return new BertTaskModel(BertForSequenceClassification.random(tinyBertConfig(vocabSize, size), { seed: 3 }));
}

/** Three padded sequences of a 40-word vocabulary (token types included), for step-level checks. */
export function paddedBatch(): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D; tokenTypeIds: tf.Tensor2D } {
  return {
    inputIds: tf.tensor2d([[2, 7, 9, 11, 3, 0], [2, 5, 3, 0, 0, 0], [2, 6, 8, 12, 13, 3]], undefined, 'int32'),
    attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], undefined, 'int32'),
    tokenTypeIds: tf.tensor2d([[0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1]], undefined, 'int32'),
  };
}
