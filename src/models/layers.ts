/**
 * Pure forward functions over the block records of `blocks.ts`, shared by every architecture.
 * Each returns a new tensor and leaves its temporaries to the caller's `tf.tidy`.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, MlpBlock } from './blocks';
import { activate, activationGrad } from '../util/activations';
import * as fused from '../backend/kernels/fused';
import { dropout as hashDropout } from '../backend/kernels/dropout';
import * as lean from './lean';

export { activate, activationGrad, gelu, geluTanh } from '../util/activations';

/**
 * `product` (of `[N, in]` rows and `layer`) over the last dimension of `x`, any leading shape: the
 * shape check and the reshapes around the 2-D products of `lean.ts`.
 */
function overLastAxis(x: tf.Tensor, layer: Linear, product: (x2: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor) => tf.Tensor): tf.Tensor {
  const lead = x.shape.slice(0, -1);
  const inDim = x.shape[x.shape.length - 1];
  const [outDim, wIn] = layer.weight.shape;
  if (wIn !== inDim) {
    throw new Error(`linear ${layer.weight.name}: input has ${inDim} features, weight is [${layer.weight.shape}]`);
  }
  const x2 = lean.reshape(x, [-1, inDim]) as tf.Tensor2D;
  return lean.reshape(product(x2, layer.weight as tf.Tensor2D, layer.bias ?? undefined), [...lead, outDim]);
}

/** `x @ weight^T + bias` over the last dimension of `x` (any leading shape). */
export function linear(x: tf.Tensor, layer: Linear): tf.Tensor {
  return overLastAxis(x, layer, lean.linear2d);
}

/**
 * Inverted dropout with mask `seed`: the same mask on every backend, one native pass each way
 * where the addon is loaded, nothing stored for the backward pass (`backend/kernels/dropout.ts`).
 */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  return hashDropout(x, rate, seed);
}

/** LayerNorm over the last dimension (fused forward and gradient where the backend has them). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  return fused.layerNorm(x, gamma, beta, epsilon);
}

/** Splits `[B, T, h*dh]` into `[B, h, T, dh]`. */
function splitHeads(x: tf.Tensor, numHeads: number, headSize: number): tf.Tensor {
  const [b, t] = x.shape;
  return lean.reshape(x, [b, t, numHeads, headSize]).transpose([0, 2, 1, 3]);
}

export interface AttentionInputs {
  /** Queries come from `x`: `[B, T, d]`. */
  x: tf.Tensor;
  /** Keys and values come from `context` (cross-attention); default `x`. */
  context?: tf.Tensor;
  /** Additive mask broadcastable to `[B, h, Tq, Tk]` (0 = attend, large negative = masked). */
  additiveMask?: tf.Tensor;
  /** Softmax scale; default `1/sqrt(headSize)` (T5 uses 1). */
  scale?: number;
  /** Additive position bias broadcastable to `[B, h, Tq, Tk]` (T5). */
  positionBias?: tf.Tensor;
}

/**
 * Multi-head attention over an `AttentionBlock`: returns `output(concat_h softmax(q_h k_h^T) v_h)`,
 * `[B, Tq, d]`, before any residual or LayerNorm (those belong to the architecture).
 */
export function attention(block: AttentionBlock, inputs: AttentionInputs, probsDropout?: { rate: number; seed: number }): tf.Tensor {
  const { numHeads, headSize } = block;
  const context = inputs.context ?? inputs.x;
  const pick = (t: tf.Tensor, index: number[] | null | undefined) => (index ? tf.gather(t, index, -1) : t);
  const xq = pick(inputs.x, block.inputIndex);
  // A cross-attention's K/V read the context through their own index (see `contextInputIndex`).
  const xkv = block.kind === 'cross' ? pick(context, block.contextInputIndex) : context === inputs.x ? xq : pick(context, block.inputIndex);
  const q = splitHeads(linear(xq, block.query), numHeads, headSize);
  const k = splitHeads(linear(xkv, block.key), numHeads, headSize);
  const v = splitHeads(linear(xkv, block.value), numHeads, headSize);
  // The scale is applied to q ([B, h, Tq, dh]) rather than to the scores ([B, h, Tq, Tk]): the
  // same product up to rounding, one pass over a tensor Tk/dh times smaller each way, and the
  // scores are not kept for the backward pass of a multiplication. Neither the scaling nor the
  // additions keep their inputs (`lean.ts`): only the probabilities are saved.
  const scale = inputs.scale ?? 1 / Math.sqrt(headSize);
  let scores = tf.matMul(scale === 1 ? q : lean.scale(q, scale), k, false, true);
  if (inputs.positionBias) scores = lean.add(scores, inputs.positionBias);
  if (inputs.additiveMask) scores = lean.addConstant(scores, inputs.additiveMask);
  const probs = fused.softmaxLastAxis(scores);
  // [B, h, Tq, dh]; with dropout, the dropped probabilities are redrawn in the backward pass.
  const ctx = probsDropout && probsDropout.rate > 0 ? lean.dropoutMatMul(probs, v, probsDropout.rate, probsDropout.seed) : tf.matMul(probs, v);
  const [b, , tq] = ctx.shape;
  const merged = ctx.transpose([0, 2, 1, 3]).reshape([b, tq, numHeads * headSize]);
  return linear(merged, block.output);
}

/**
 * One layer of a forward pass's layer loop: the layer's temporaries go as soon as its output
 * exists, instead of at the end of the outer tidy, and its input too unless `keepInput` (the
 * hidden states are returned). Under a gradient tape this frees only what the backward pass does
 * not read: the tape holds its own references to the tensors it saved. Without a tape nothing is
 * kept for a backward pass (as under PyTorch's no_grad).
 */
export function runLayer(input: tf.Tensor, keepInput: boolean, layer: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  const out = tf.tidy(() => layer(input));
  if (!keepInput && out !== input) input.dispose();
  return out;
}

/**
 * `output(act(input(x)))`; the activation is recomputed in the backward pass, not kept (`lean.ts`).
 * A gated block computes `output(act(gate(x)) * input(x))`.
 */
export function mlp(block: MlpBlock, x: tf.Tensor): tf.Tensor {
  if (block.gate) return linear(tf.mul(activate(linear(x, block.gate), block.activation), linear(x, block.input)), block.output);
  return overLastAxis(linear(x, block.input), block.output, (x2, w, bias) =>
    lean.activatedLinear2d(x2, w, bias, (t) => activate(t, block.activation), (t, dy) => activationGrad(t, dy, block.activation)));
}

/** `[B, T]` padding mask of 1/0 to an additive `[B, 1, 1, T]` mask. */
export function paddingToAdditiveMask(mask: tf.Tensor): tf.Tensor {
  const [b, t] = mask.shape;
  return tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -1e9).reshape([b, 1, 1, t]);
}
