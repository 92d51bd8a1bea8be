/**
 * Task losses of Hugging Face's heads, shared by the architectures: sequence classification
 * (as `BertForSequenceClassification`, `OPTForSequenceClassification`, ... compute it) and
 * causal language modelling.
 */
import * as tf from '@tensorflow/tfjs';

export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

/** The effective problem type (HF's rule when `problem_type` is unset). */
export function problemType(config: { num_labels: number; problem_type?: ProblemType | null }): ProblemType {
  if (config.problem_type) return config.problem_type;
  return config.num_labels === 1 ? 'regression' : 'single_label_classification';
}

export interface LossOptions {
  /** Which loss; default from the config's rule (regression iff one label). */
  problemType: ProblemType;
}

/**
 * The task loss of Hugging Face's `BertForSequenceClassification`, averaged over the batch:
 * regression: MSE between `logits[:, 0]` and float labels `[B]`;
 * single-label: cross-entropy of softmax(logits) against int32 class ids `[B]`;
 * multi-label: binary cross-entropy with logits against 0/1 targets `[B, num_labels]`.
 */
export function sequenceClassificationLoss(logits: tf.Tensor2D, labels: tf.Tensor, options: LossOptions): tf.Scalar {
  return tf.tidy(() => {
    const [b, n] = logits.shape;
    switch (options.problemType) {
      case 'regression': {
        if (n !== 1) throw new Error(`regression loss needs logits [B, 1], got [${logits.shape}]`);
        const y = tf.cast(labels, 'float32').reshape([b]);
        return tf.mean(tf.square(tf.sub(logits.reshape([b]), y))) as tf.Scalar;
      }
      case 'single_label_classification': {
        if (labels.size !== b) throw new Error(`classification labels must be [${b}], got [${labels.shape}]`);
        const logp = tf.logSoftmax(logits, -1);
        const onehot = tf.oneHot(tf.cast(labels, 'int32').reshape([b]), n);
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), -1))) as tf.Scalar;
      }
      case 'multi_label_classification': {
        const y = tf.cast(labels, 'float32').reshape([b, n]);
        // BCE with logits, stable form: max(x,0) - x*y + log(1 + exp(-|x|)).
        const loss = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
        return tf.mean(loss) as tf.Scalar;
      }
    }
  });
}


/**
 * Hugging Face's causal-LM loss: position `t` predicts token `t+1`; the mean cross-entropy over
 * the positions whose target is not padding (`attentionMask` 0 there; HF's `labels = -100`).
 * `logits` `[B, T, V]`, `inputIds` and `attentionMask` `[B, T]`.
 */
export function causalLmLoss(logits: tf.Tensor3D, inputIds: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [b, t, v] = logits.shape;
    if (t < 2) throw new Error(`causal LM loss needs sequences of at least 2 tokens, got ${t}`);
    const pred = tf.slice(logits, [0, 0, 0], [b, t - 1, v]);
    const target = tf.slice(inputIds, [0, 1], [b, t - 1]);
    const weight = attentionMask ? tf.cast(tf.slice(attentionMask, [0, 1], [b, t - 1]), 'float32') : tf.ones([b, t - 1]);
    const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(pred, -1), tf.oneHot(tf.cast(target, 'int32'), v)), -1));
    return tf.div(tf.sum(tf.mul(nll, weight)), tf.maximum(tf.sum(weight), 1)) as tf.Scalar;
  });
}
