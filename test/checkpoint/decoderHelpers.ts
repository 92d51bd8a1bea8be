import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { DecoderModel } from '../../src/models/decoder';
import { compactAttentionInputs, compactMlp, removeHeads } from '../../src/neuroprune';
import { FIXTURES } from './helpers';

export interface DecoderBatch { input_ids: number[][]; attention_mask: number[][] }

/** The fixture's own padded batch. */
export function fixtureBatch(fixture: string): DecoderBatch {
  const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, fixture, 'reference.json'), 'utf8')) as DecoderBatch;
  return { input_ids: ref.input_ids, attention_mask: ref.attention_mask };
}

export function logitsOf(model: DecoderModel, batch: DecoderBatch): Float32Array {
  return tf.tidy(() => model.forward({
    inputIds: tf.tensor2d(batch.input_ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(batch.attention_mask, undefined, 'int32'),
  }).logits.dataSync() as Float32Array);
}

/** Zeroes `rows` of a Linear's weight (and bias) along `axis`. */
function zero(v: tf.Variable, index: number[], axis: number): void {
  const n = v.shape[axis];
  const keep = Array.from({ length: n }, (_, i) => (index.includes(i) ? 0 : 1));
  const shape = v.shape.map((_, i) => (i === axis ? n : 1));
  const next = tf.tidy(() => tf.mul(v, tf.tensor(keep, shape)));
  v.assign(next);
  next.dispose();
}

/**
 * Prunes a model through the blocks as training does: in layer 0 each odd head position merges
 * into the one before it; with `compact`, MLP neurons 0..2 of layer 1 lose their incoming rows (their
 * constant output is folded) and Q/K/V of layer 1 stop reading input dimensions 1 and 5.
 */
export function pruneThroughBlocks(model: DecoderModel, compact: boolean): void {
  const first = model.attentionBlocks()[0];
  removeHeads(first, first.headIds.map((_, i) => i - (i % 2)));
  if (!compact) return;
  const mlp = model.mlpBlocks()[1];
  zero(mlp.input.weight, [0, 1, 2], 0);
  compactMlp(mlp);
  const attn = model.attentionBlocks()[1];
  for (const l of [attn.query, attn.key, attn.value]) zero(l.weight, [1, 5], 1);
  compactAttentionInputs(attn);
}
