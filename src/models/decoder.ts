/**
 * What the decoder-only architectures (OPT, GPT-2) share around their layer loops: the causal
 * mask, the task heads' pooling and outputs, and the dropout seed stream.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, MlpBlock } from './blocks';
import { linear } from './layers';
import type { NeuroPruneLayout } from './layout';
import type { ProblemType } from './losses';
import type { ParamSpec } from './parameters';

/** Which Hugging Face head a decoder carries. */
export type DecoderTask = 'causal_lm' | 'sequence_classification';

/** Model inputs; all `[batch, seq]`. */
export interface DecoderInputs {
  /** Token ids, int32. */
  inputIds: tf.Tensor2D;
  /** 1 = token, 0 = padding; default all ones. */
  attentionMask?: tf.Tensor2D;
}

export interface DecoderForwardOptions {
  /** Apply dropout (training). Default false: evaluation, deterministic. */
  training?: boolean;
  /** Also return the embedding output and every layer's output. Default false. */
  outputHiddenStates?: boolean;
  /** Seed of this call's dropout masks. Default: the next seeds of the model's own stream. */
  dropoutSeed?: number;
}

export interface DecoderOutput {
  /** `[batch, seq, vocab]` (causal LM) or `[batch, num_labels]` (sequence classification). */
  logits: tf.Tensor;
  /**
   * With `outputHiddenStates`: `num_hidden_layers + 1` tensors, as Hugging Face returns them: the
   * embedding output, the outputs of layers 0..n-2, and last the final output after the final
   * LayerNorm (and OPT's `project_out`).
   */
  hiddenStates?: tf.Tensor3D[];
}

/**
 * The output of a decoder's head from its final hidden states `h` `[B, T, e]`: `score` read at
 * each row's last non-padding token (classification, `[B, num_labels]`), or the output
 * embedding (`lm_head`, else the tied input embedding) at every position (`[B, T, vocab]`).
 */
export function decoderHeadLogits(
  h: tf.Tensor, inputIds: tf.Tensor2D, config: { task: DecoderTask; pad_token_id: number | null },
  head: tf.Variable | null, inputEmbedding: tf.Variable,
): tf.Tensor {
  if (config.task === 'sequence_classification') {
    if (!head) throw new Error('a sequence-classification decoder has no score weight');
    return linear(gatherPositions(h, lastNonPadPositions(inputIds, config.pad_token_id)), { weight: head, bias: null });
  }
  return linear(h, { weight: head ?? inputEmbedding, bias: null });
}

/** The fields every decoder config has beside its sizes (Hugging Face's names). */
export interface DecoderConfigBase extends DecoderLabels {
  /** The head: from `architectures` (`...ForCausalLM` / `...LMHeadModel`, or `...ForSequenceClassification`). */
  task: DecoderTask;
  pad_token_id: number | null;
  bos_token_id?: number;
  eos_token_id?: number;
  tie_word_embeddings: boolean;
  pruned_heads?: Record<string, number[]>;
  neuroprune?: NeuroPruneLayout;
}

/** The label fields of a decoder config with a classification head. */
export interface DecoderLabels {
  num_labels: number;
  problem_type?: ProblemType | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
}

/**
 * Additive `[B, 1, T, T]` mask: 0 where query `t` may read key `s` (`s <= t` and `s` is a token),
 * a large negative number elsewhere. Without a padding mask, `[1, 1, T, T]`.
 */
export function causalAdditiveMask(t: number, attentionMask?: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const causal = tf.linalg.bandPart(tf.ones([t, t]), -1, 0); // lower triangle, diagonal included
    const allowed = attentionMask
      ? tf.mul(causal.reshape([1, 1, t, t]), tf.cast(attentionMask, 'float32').reshape([attentionMask.shape[0], 1, 1, t]))
      : causal.reshape([1, 1, t, t]);
    return tf.mul(tf.sub(1, allowed), -1e9);
  });
}

/**
 * Per row, the position of the rightmost token that is not `padTokenId` (Hugging Face's
 * `last_non_pad_token`, which serves left and right padding alike); the last position when no
 * pad id is set.
 */
export function lastNonPadPositions(inputIds: tf.Tensor2D, padTokenId: number | null): tf.Tensor1D {
  return tf.tidy(() => {
    const [b, t] = inputIds.shape;
    if (padTokenId === null) return tf.fill([b], t - 1, 'int32') as tf.Tensor1D;
    const nonPad = tf.cast(tf.notEqual(inputIds, padTokenId), 'int32');
    return tf.argMax(tf.mul(tf.range(0, t, 1, 'int32').reshape([1, t]), nonPad), 1).toInt() as tf.Tensor1D;
  });
}

/** `h[b, positions[b], :]` for each row: `[B, T, d]` to `[B, d]`. */
export function gatherPositions(h: tf.Tensor, positions: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, t, d] = h.shape;
    const flat = tf.add(tf.mul(tf.range(0, b, 1, 'int32'), tf.scalar(t, 'int32')), positions);
    return tf.gather(h.reshape([b * t, d]), flat) as tf.Tensor2D;
  });
}

/** The `architectures` entry of a config to the head it names, for a family (`OPT`, `GPT2`). */
export function taskFromArchitectures(architectures: unknown, family: string, lmClass: string, fail: (msg: string) => never): DecoderTask {
  if (architectures === undefined || architectures === null) return 'causal_lm';
  const list = Array.isArray(architectures) ? architectures : [architectures];
  const name = String(list[0]);
  if (name === lmClass || name === `${family}Model`) return 'causal_lm';
  if (name === `${family}ForSequenceClassification`) return 'sequence_classification';
  return fail(`config field 'architectures' is ${JSON.stringify(architectures)}; supported: ${lmClass}, ${family}ForSequenceClassification`);
}

/** What OPT and GPT-2 models share, for code that serves both (tasks, tests). */
export interface DecoderModel {
  readonly config: { task: DecoderTask; pad_token_id: number | null; num_labels: number; problem_type?: ProblemType | null; vocab_size: number };
  readonly hiddenSize: number;
  readonly maxPositions: number;
  readonly parameterTable: readonly ParamSpec[];
  attentionBlocks(): AttentionBlock[];
  mlpBlocks(): MlpBlock[];
  namedParameters(): Map<string, tf.Variable>;
  currentConfig(): unknown;
  forward(inputs: DecoderInputs, options?: DecoderForwardOptions): DecoderOutput;
  dispose(): void;
}
