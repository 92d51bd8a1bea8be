/**
 * How much memory a BERT training step keeps for its backward pass, per batch: the sizes that
 * grow with the batch (activations), apart from those that do not (parameters, gradients, the
 * optimizer's state; see src/train/memory.ts).
 *
 * What the tape keeps per layer and token grows with three sizes: the model width (the layer's
 * input, Q/K/V, the context, LayerNorm inputs and output: 8 tensors), the MLP width (the
 * activation's input; the activation is recomputed) and, per head, the sequence length (the
 * attention probabilities; the dropped ones are recomputed): test/models/lean.test.ts counts them.
 * The coefficients of the three terms are measured, not derived: how many tensors of each size
 * the backward pass holds at once beside them, and how much of the tape is already freed when the
 * peak comes, depends on the backend's kernels and on when the runtime frees memory. `bench/step_memory.ts --fit` fits
 * them to the peak resident set of training steps in fresh processes; its table in BENCHMARKS.md
 * shows how close the estimate comes on shapes it was not fitted to.
 */
import type { BertConfig } from './bert';

/** One encoder layer's sizes (after pruning they differ between layers). */
export interface EncoderLayerSizes {
  heads: number;
  intermediate: number;
}

/** The three sizes, summed over layers, in floats: multiply each by its coefficient. */
export interface ActivationTerms {
  /** batch x length x model width x layers. */
  hidden: number;
  /** batch x length x sum of MLP widths. */
  intermediate: number;
  /** batch x length x length x sum of heads. */
  scores: number;
}

export function encoderActivationTerms(hidden: number, layers: readonly EncoderLayerSizes[], batch: number, seq: number): ActivationTerms {
  const tokens = batch * seq;
  return {
    hidden: tokens * hidden * layers.length,
    intermediate: tokens * layers.reduce((s, l) => s + l.intermediate, 0),
    scores: tokens * seq * layers.reduce((s, l) => s + l.heads, 0),
  };
}

/** The terms of a dense BERT of this config. */
export function bertActivationTerms(config: BertConfig, batch: number, seq: number): ActivationTerms {
  const layers = Array.from({ length: config.num_hidden_layers }, () => ({ heads: config.num_attention_heads, intermediate: config.intermediate_size }));
  return encoderActivationTerms(config.hidden_size, layers, batch, seq);
}

/**
 * Floats kept per unit of each term at the step's peak, fitted by `bench/step_memory.ts --fit` on
 * the `native` backend (BENCHMARKS.md, "Memory of a training step").
 */
export const BERT_ACTIVATION_COEFFICIENTS: Readonly<Record<keyof ActivationTerms, number>> = {
  hidden: 0.56,
  intermediate: 2.33,
  scores: 1.23,
};

/** Bytes of activations that a training step on these terms keeps at its peak. */
export function activationBytes(terms: ActivationTerms, coefficients = BERT_ACTIVATION_COEFFICIENTS): number {
  return 4 * (coefficients.hidden * terms.hidden + coefficients.intermediate * terms.intermediate + coefficients.scores * terms.scores);
}
