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

/** d geluTanh(x)/dx applied to `dy`. */
function geluTanhGrad(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = Math.sqrt(2 / Math.PI);
    const th = tf.tanh(tf.mul(c, tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))));
    const du = tf.mul(c, tf.add(1, tf.mul(3 * 0.044715, tf.square(x))));
    const d = tf.add(tf.mul(0.5, tf.add(1, th)), tf.mul(tf.mul(0.5, x), tf.mul(tf.sub(1, tf.square(th)), du)));
    return tf.mul(dy, d);
  });
}

/** The gradient of `activate(x, act)` applied to `dy` (the MLP recomputes its activation in the backward pass). */
export function activationGrad(x: tf.Tensor, dy: tf.Tensor, act: Activation): tf.Tensor {
  switch (act) {
    case 'gelu': return fused.geluGrad(x, dy);
    case 'gelu_new': return geluTanhGrad(x, dy);
    case 'relu': return tf.tidy(() => tf.mul(dy, tf.step(x)));
  }
}

export function activate(x: tf.Tensor, act: Activation): tf.Tensor {
  switch (act) {
    case 'gelu': return gelu(x);
    case 'gelu_new': return geluTanh(x);
    case 'relu': return tf.relu(x);
  }
}
