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
 * `-log softmax(logits)[target]` per row: `[N]` from `[N, V]` logits and int32 `[N]` targets,
 * computed as `logsumexp(row) - row[target]`. Its gradient, `softmax - one_hot`, is written out
 * so that nothing of vocabulary size is kept for the backward pass besides the logits themselves
 * (a log-softmax and a one-hot product would keep two more `[N, V]` tensors: 400 MB each for
 * OPT's 50k vocabulary at 16 x 128 tokens).
 */
export function tokenNll(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const [n, v] = logits.shape;
  const nll = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const rows = tf.range(0, n, 1, 'int32');
    const t = tf.cast(targets, 'int32');
    const picked = tf.gather(tf.reshape(x, [-1]), tf.add(tf.mul(rows, tf.scalar(v, 'int32')), t));
    const lse = tf.logSumExp(x, -1);
    // Saved, not captured: the caller may dispose the targets before the backward pass runs.
    save([x, lse, t]);
    const value = tf.sub(lse, picked);
    const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [xs, l, ts] = saved;
      const probs = tf.exp(tf.sub(xs, tf.reshape(l, [n, 1])));
      const oneHot = tf.scatterND(tf.stack([tf.range(0, n, 1, 'int32'), ts], 1), tf.ones([n]), [n, v]);
      return tf.mul(tf.sub(probs, oneHot), tf.reshape(dy as tf.Tensor, [n, 1]));
    };
    return { value, gradFunc };
  }) as Parameters<typeof tf.customGrad>[0]);
  return nll(logits) as tf.Tensor1D;
}

/**
 * Per position of `[B, T, V]` logits, the negative log-likelihood of the next token (`[B, T]`)
 * and the weight of that prediction (1 where the next token is not padding; 0 at the last
 * position, which predicts nothing). No `[B, T-1, V]` copy of the logits is made.
 */
export function nextTokenNll(logits: tf.Tensor3D, inputIds: tf.Tensor2D, attentionMask?: tf.Tensor2D): { nll: tf.Tensor2D; weight: tf.Tensor2D } {
  const [b, t, v] = logits.shape;
  if (t < 2) throw new Error(`causal LM loss needs sequences of at least 2 tokens, got ${t}`);
  const shift = (x: tf.Tensor2D) => tf.concat([tf.slice(x, [0, 1], [b, t - 1]), tf.zeros([b, 1], x.dtype)], 1);
  const targets = shift(tf.cast(inputIds, 'int32') as tf.Tensor2D);
  const weight = shift(attentionMask ? tf.cast(attentionMask, 'float32') as tf.Tensor2D : tf.ones([b, t]) as tf.Tensor2D) as tf.Tensor2D;
  const nll = tf.reshape(tokenNll(tf.reshape(logits, [b * t, v]) as tf.Tensor2D, tf.reshape(targets, [b * t]) as tf.Tensor1D), [b, t]) as tf.Tensor2D;
  return { nll, weight };
}

/**
 * Hugging Face's causal-LM loss: position `t` predicts token `t+1`; the mean cross-entropy over
 * the positions whose target is not padding (`attentionMask` 0 there; HF's `labels = -100`).
 * `logits` `[B, T, V]`, `inputIds` and `attentionMask` `[B, T]`.
 */
export function causalLmLoss(logits: tf.Tensor3D, inputIds: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const { nll, weight } = nextTokenNll(logits, inputIds, attentionMask);
    return tf.div(tf.sum(tf.mul(nll, weight)), tf.maximum(tf.sum(weight), 1)) as tf.Scalar;
  });
}
