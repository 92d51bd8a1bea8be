/**
 * Physical removal of what a baseline's final gates close, through the toolkit's own head removal
 * and compaction (src/neuroprune), so that its result is an ordinary smaller checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, PrunableModel, StructuralChange } from '../models/blocks';
import { compactAttentionInputs, compactMlp, removeHeads } from '../neuroprune';
import { replaceVariable } from '../util/variables';

/**
 * Keeps the heads at positions `keep` (current positions) of a block and removes the others
 * without merging them (a closed gate removes a head's output, it does not hand it to another
 * head). Unlike `removeHeads`, a layer may lose every head (CoFI's closed attention-layer gate,
 * or DSP's budget landing elsewhere): Q/K/V then have no rows and the output weight no columns,
 * which the models compute as the output bias alone and checkpoints record as all heads in
 * `pruned_heads`, as Hugging Face's `prune_heads` does.
 */
export function keepHeads(block: AttentionBlock, keep: readonly number[]): StructuralChange[] {
  const k = block.numHeads;
  const kept = [...new Set(keep)].sort((a, b) => a - b);
  for (const h of kept) if (!(Number.isInteger(h) && h >= 0 && h < k)) throw new Error(`keepHeads ${block.name}: ${h} is not a head position of the layer (it has ${k})`);
  if (kept.length === k) return [];
  if (kept.length > 0) {
    const into = Array.from({ length: k }, (_, i) => (kept.includes(i) ? i : kept[0]));
    return removeHeads(block, into, { merge: false });
  }
  const changes: StructuralChange[] = [];
  const replace = (layer: { weight: tf.Variable; bias: tf.Variable | null }, key: 'weight' | 'bias', axis: number) => {
    const old = layer[key];
    if (!old) return;
    const shape = old.shape.slice();
    shape[axis] = 0;
    const empty = tf.zeros(shape);
    const next = replaceVariable(old, empty);
    empty.dispose();
    layer[key] = next;
    changes.push({ variable: old, replacement: next, axis, kept: [] });
  };
  for (const l of [block.query, block.key, block.value]) { replace(l, 'weight', 0); replace(l, 'bias', 0); }
  replace(block.output, 'weight', 1);
  block.numHeads = 0;
  block.headIds = [];
  return changes;
}

export interface RemovalRecord {
  /** Original ids of the heads kept, per attention block. */
  headsKept: number[][];
  /** MLP widths after compaction, per MLP block. */
  mlpWidths: number[];
  /** Attention input dimensions read after compaction, per attention block. */
  attentionInputs: number[];
}

/**
 * Removes heads (by `keep[i]`, current positions, per attention block), then every MLP neuron
 * and attention input dimension left exactly zero (compaction).
 */
export function removeClosed(model: PrunableModel, keep: (readonly number[])[]): { record: RemovalRecord; changes: StructuralChange[] } {
  const changes: StructuralChange[] = [];
  const attention = model.attentionBlocks();
  if (keep.length !== attention.length) throw new Error(`removeClosed: ${keep.length} head sets for ${attention.length} attention blocks`);
  attention.forEach((b, i) => changes.push(...keepHeads(b, keep[i])));
  const mlpWidths = model.mlpBlocks().map((b) => { const c = compactMlp(b); changes.push(...c.changes); return c.after; });
  const attentionInputs = attention.map((b) => {
    if (b.numHeads === 0) return 0;
    const c = compactAttentionInputs(b);
    changes.push(...c.changes);
    return c.after;
  });
  return { record: { headsKept: attention.map((b) => b.headIds.slice()), mlpWidths, attentionInputs }, changes };
}
