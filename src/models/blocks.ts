/**
 * The model-agnostic view that the NeuroPrune algorithms work on.
 *
 * Every architecture (BERT, OPT/GPT, T5) stores its attention and MLP weights in these mutable
 * records and reads them at every forward pass, so an algorithm that replaces a record's tensors
 * (head removal, compaction) changes the model in place. Orientation is Hugging Face's:
 * `weight[out, in]`, `y = x @ weight^T + bias`.
 */
import * as tf from '@tensorflow/tfjs';

/** A dense map `y = x @ weight^T + bias`; `weight` is `[out, in]`. */
export interface Linear {
  weight: tf.Variable;
  bias: tf.Variable | null;
}

/**
 * One multi-head attention block. Head `h` owns rows `h*headSize .. (h+1)*headSize-1` of
 * query/key/value and the same columns of output.
 */
export interface AttentionBlock {
  /** Hugging Face prefix of the block, e.g. `bert.encoder.layer.3.attention`. */
  readonly name: string;
  /** Index of the layer in the model. */
  readonly layer: number;
  numHeads: number;
  readonly headSize: number;
  /** For each surviving head, its index in the original dense layer (for `pruned_heads`). */
  headIds: number[];
  /** Number of heads the layer had before any pruning. */
  readonly originalNumHeads: number;
  query: Linear;
  key: Linear;
  value: Linear;
  output: Linear;
  /**
   * Model input dimensions that query/key/value still read, after compaction removed input
   * dimensions whose Q/K/V columns were all zero; null when all `d` are read.
   */
  inputIndex: number[] | null;
}

export type Activation = 'gelu' | 'gelu_new' | 'relu';

/** One position-wise MLP: `output(act(input(x)))`. `input.weight` is `[de, d]`, `output.weight` `[d, de]`. */
export interface MlpBlock {
  readonly name: string;
  readonly layer: number;
  readonly activation: Activation;
  input: Linear;
  output: Linear;
  /**
   * Width `de` of the MLP before any compaction. Optional: when absent the current width
   * (`input.weight.shape[0]`) is the original one. A model built from a config sets it from the
   * config's dense size (BERT: `intermediate_size`); compaction sets it, if unset, before it
   * shrinks the block, so sparsity is always counted against the dense model.
   */
  originalIntermediateSize?: number;
}

/** What every prunable model exposes to `src/neuroprune` and `src/graph`. */
export interface PrunableModel {
  attentionBlocks(): AttentionBlock[];
  mlpBlocks(): MlpBlock[];
  /** Model width `d`. */
  readonly hiddenSize: number;
}

/**
 * Replaces a variable's value with a tensor of possibly different shape, disposing the old one.
 * The new name is the parameter's own with a replacement count (`..._r1`, `..._r2`, ...): names
 * stay short over any number of prune rounds and the same in every run (TF.js needs a name that
 * no live variable holds, and the old one is still alive while the new one is made).
 */
export function replaceVariable(old: tf.Variable, value: tf.Tensor, trainable = old.trainable): tf.Variable {
  const m = /^(.*)_r(\d+)$/.exec(old.name);
  const base = m ? m[1] : old.name;
  let n = m ? Number(m[2]) + 1 : 1;
  const live = tf.engine().registeredVariables;
  while (live[`${base}_r${n}`] !== undefined) n++;
  const next = tf.variable(value, trainable, `${base}_r${n}`);
  old.dispose();
  return next;
}
