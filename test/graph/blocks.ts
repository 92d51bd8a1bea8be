import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, MlpBlock, PrunableModel } from '../../src/models/blocks';

export function linear(weight: number[][] | tf.Tensor2D, withBias = true): Linear {
  const w = weight instanceof tf.Tensor ? weight : tf.tensor2d(weight);
  return { weight: tf.variable(w), bias: withBias ? tf.variable(tf.zeros([w.shape[0]])) : null };
}

export function mlpBlock(win: number[][] | tf.Tensor2D, wout: number[][] | tf.Tensor2D, layer = 0): MlpBlock {
  return { name: `layer.${layer}.mlp`, stack: 'encoder', kind: 'mlp', layer, activation: 'gelu', input: linear(win), output: linear(wout) };
}

/**
 * An attention block of `k` heads of size `dh` over width `d = k * dh` whose Q/K/V slices are
 * given per head as one value broadcast over the slice plus a small per-head pattern, so head
 * distances are known exactly: `|A_a - A_b| = |level[a] - level[b]|` everywhere.
 */
export function leveledAttention(levels: number[], dh: number, layer = 0): AttentionBlock {
  const k = levels.length;
  const d = k * dh;
  const rows = (): number[][] => levels.flatMap((v) => Array.from({ length: dh }, () => Array<number>(d).fill(v)));
  return {
    name: `layer.${layer}.attention`, stack: 'encoder', kind: 'self', layer, numHeads: k, headSize: dh, headIds: levels.map((_, h) => h),
    originalNumHeads: k, query: linear(rows()), key: linear(rows()), value: linear(rows()),
    output: linear(Array.from({ length: d }, () => Array<number>(d).fill(0.1))), inputIndex: null,
  };
}

export function model(attn: AttentionBlock[], mlp: MlpBlock[], hiddenSize: number): PrunableModel {
  return { attentionBlocks: () => attn, mlpBlocks: () => mlp, hiddenSize };
}
