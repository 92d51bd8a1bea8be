/**
 * Attention over an `AttentionBlock` with the keys and values held in a cache, for incremental
 * decoding: the keys/values of a context are projected once (`projectKeyValues`), the queries of
 * the new positions attend to them (`attendCached`). The same arithmetic as `layers.attention`,
 * split where a decoder reuses work between steps; it reads the block as compaction leaves it
 * (surviving heads, `inputIndex`, a cross-attention's `contextInputIndex`), so a pruned model
 * decodes with its own per-layer head counts.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock } from './blocks';
import { linear } from './layers';
import * as fused from '../backend/kernels/fused';

/** `[B, T, h*dh]` to `[B, h, T, dh]`. */
function splitHeads(x: tf.Tensor, numHeads: number, headSize: number): tf.Tensor {
  const [b, t] = x.shape;
  return x.reshape([b, t, numHeads, headSize]).transpose([0, 2, 1, 3]);
}

function pick(x: tf.Tensor, index: number[] | null | undefined): tf.Tensor {
  return index ? tf.gather(x, index, -1) : x;
}

/**
 * Keys and values `[B, h, T, dh]` of `context` (`[B, T, d]`): the encoder output for a
 * cross-attention (read through `contextInputIndex`), the new positions' normalised stream for a
 * self-attention (read through `inputIndex`).
 */
export function projectKeyValues(block: AttentionBlock, context: tf.Tensor): { k: tf.Tensor; v: tf.Tensor } {
  return tf.tidy(() => {
    const x = pick(context, block.kind === 'cross' ? block.contextInputIndex : block.inputIndex);
    return {
      k: splitHeads(linear(x, block.key), block.numHeads, block.headSize),
      v: splitHeads(linear(x, block.value), block.numHeads, block.headSize),
    };
  });
}

export interface CachedAttentionInputs {
  /** Additive mask broadcastable to `[B, h, Tq, Tk]`. */
  additiveMask?: tf.Tensor;
  /** Additive position bias broadcastable to `[B, h, Tq, Tk]`, over the block's current heads. */
  positionBias?: tf.Tensor;
  /** Softmax scale; default `1/sqrt(headSize)`. */
  scale?: number;
}

/** `output(concat_h softmax(q_h k_h^T) v_h)` for queries from `x` (`[B, Tq, d]`) over cached `k`, `v`. */
export function attendCached(block: AttentionBlock, x: tf.Tensor, k: tf.Tensor, v: tf.Tensor, inputs: CachedAttentionInputs = {}): tf.Tensor {
  return tf.tidy(() => {
    const { numHeads, headSize } = block;
    const q = splitHeads(linear(pick(x, block.inputIndex), block.query), numHeads, headSize);
    const scale = inputs.scale ?? 1 / Math.sqrt(headSize);
    let scores = tf.matMul(scale === 1 ? q : tf.mul(q, scale), k, false, true);
    if (inputs.positionBias) scores = tf.add(scores, inputs.positionBias);
    if (inputs.additiveMask) scores = tf.add(scores, inputs.additiveMask);
    const ctx = tf.matMul(fused.softmaxLastAxis(scores), v);
    const [b, , tq] = ctx.shape;
    return linear(ctx.transpose([0, 2, 1, 3]).reshape([b, tq, numHeads * headSize]), block.output);
  });
}
