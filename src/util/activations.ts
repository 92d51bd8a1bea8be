/**
 * The MLP activations of the supported architectures, by the names their configs use. A module of
 * its own so that the core (compaction folds `act(b_in)` into a bias) needs no forward-pass code.
 */
import * as tf from '@tensorflow/tfjs';
import * as fused from '../backend/kernels/fused';

/** `gelu` (BERT: exact, erf), `gelu_new` (GPT-2: tanh approximation), `relu` (OPT). */
export type Activation = 'gelu' | 'gelu_new' | 'relu';

/**
 * Exact (erf) GELU, as BERT's `hidden_act: "gelu"`. Closed-form gradient, and one native pass
 * each way on wasm when the OpenBLAS addon is active (`backend/kernels/fused.ts`).
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return fused.gelu(x);
}

/** Tanh-approximated GELU (`gelu_new`, GPT-2), as transformers' `NewGELUActivation`. */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
}

export function activate(x: tf.Tensor, act: Activation): tf.Tensor {
  switch (act) {
    case 'gelu': return gelu(x);
    case 'gelu_new': return geluTanh(x);
    case 'relu': return tf.relu(x);
  }
}
