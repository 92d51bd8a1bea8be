/**
 * The model-agnostic view that the NeuroPrune algorithms work on.
 *
 * Every architecture (BERT, OPT/GPT, T5) stores its attention and MLP weights in these mutable
 * records and reads them at every forward pass, so an algorithm that replaces a record's tensors
 * (head removal, compaction) changes the model in place. Orientation is Hugging Face's:
 * `weight[out, in]`, `y = x @ weight^T + bias`.
 */
import type * as tf from '@tensorflow/tfjs';

/** A dense map `y = x @ weight^T + bias`; `weight` is `[out, in]`. */
export interface Linear {
  weight: tf.Variable;
  bias: tf.Variable | null;
}

/**
 * Where a block sits in its model: reports, graphs and logs key blocks by all three, so that a
 * model with two attentions per layer (self and cross, T5) or two stacks never collides.
 */
export interface BlockIdentity {
  /** `encoder` (BERT, T5's encoder) or `decoder` (OPT, GPT-2, T5's decoder). */
  readonly stack: 'encoder' | 'decoder';
  /** `self` attention, `cross` attention (Q reads the decoder, K/V the encoder), or the layer's `mlp`. */
  readonly kind: 'self' | 'cross' | 'mlp';
  /** Index of the layer in its stack. */
  readonly layer: number;
}

/**
 * A variable that a structural change replaced by one with fewer rows or columns: the new one
 * holds `gather(variable, kept, axis)` (head removal also merges columns of the output weight,
 * whose positions still follow `kept`). The optimizer follows its per-entry state by this record.
 */
export interface StructuralChange {
  /** The variable before the change (disposed by then: only its identity is meaningful). */
  readonly variable: tf.Variable;
  /** The variable that took its place in the block. */
  readonly replacement: tf.Variable;
  readonly axis: number;
  /** Positions along `axis`, before the change, that the replacement keeps, ascending. */
  readonly kept: readonly number[];
}

/**
 * One multi-head attention block. Head `h` owns rows `h*headSize .. (h+1)*headSize-1` of
 * query/key/value and the same columns of output.
 */
export interface AttentionBlock {
  /** Hugging Face prefix of the block, e.g. `bert.encoder.layer.3.attention`. */
  readonly name: string;
  readonly stack: BlockIdentity['stack'];
  readonly kind: 'self' | 'cross';
  /** Index of the layer in its stack. */
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
  /**
   * Cross-attention only: the context (encoder) dimensions that key/value still read, null when
   * all are read; `inputIndex` is then the decoder dimensions that query reads. Q and K/V read
   * different streams, so compaction removes their input dimensions separately. Absent or null
   * for self-attention, where `inputIndex` serves Q, K and V alike.
   */
  contextInputIndex?: number[] | null;
}

export type { Activation } from '../util/activations';
import type { Activation } from '../util/activations';

/**
 * One position-wise MLP: `output(act(input(x)))`, or with a gate `output(act(gate(x)) * input(x))`
 * (gated linear units: T5 v1.1's `wi_0` is the gate, `wi_1` the input). `input.weight` and
 * `gate.weight` are `[de, d]`, `output.weight` `[d, de]`. Hidden neuron `i` owns row `i` of the
 * input and the gate and column `i` of the output.
 */
export interface MlpBlock {
  readonly name: string;
  readonly stack: BlockIdentity['stack'];
  readonly kind: 'mlp';
  readonly layer: number;
  readonly activation: Activation;
  input: Linear;
  output: Linear;
  /** The gate of a gated MLP, whose activation multiplies the input's (linear) output; absent otherwise. */
  gate?: Linear;
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
