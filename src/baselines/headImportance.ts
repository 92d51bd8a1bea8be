/**
 * Head importance as the NeuroPrune paper's Figure 7 measures it: the importance of a head is the
 * sum of the absolute output-projection weights that leave it, `sum |Wo[:, cols(h)]|` (its
 * columns of the attention output weight). For a pruned model, the heads it removed are compared
 * with the heads of the same layer in a reference (usually the model it started from): the
 * relative importance of the removed heads of a layer is the mean importance of those heads over
 * the mean importance of all the layer's heads, both in the reference. Below 1, the method removed
 * heads that mattered less than the layer's average head; 1 is what removing heads at random gives
 * in expectation.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, PrunableModel } from '../models/blocks';

/** Importance of each current head of a block (position order), `sum |Wo[:, cols(h)]|`. */
export function headImportance(block: AttentionBlock): number[] {
  const { numHeads: k, headSize: dh } = block;
  if (k === 0) return [];
  const wo = block.output.weight;
  const t = tf.tidy(() => tf.sum(tf.reshape(tf.sum(tf.abs(wo), 0), [k, dh]), 1));
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
}

export interface RemovedHeadImportance {
  stack: AttentionBlock['stack'];
  kind: AttentionBlock['kind'];
  layer: number;
  /** Original head ids of the reference's heads and their importance there. */
  heads: number[];
  importance: number[];
  /** Original ids of the reference's heads that the pruned model no longer has. */
  removed: number[];
  /** Mean importance of the removed heads over the mean of all the layer's heads (null when none was removed). */
  relative: number | null;
}

/** Per attention block of `pruned`, the reference importance of the heads it removed (see the module comment). */
export function removedHeadImportance(reference: PrunableModel, pruned: PrunableModel): RemovedHeadImportance[] {
  const key = (b: AttentionBlock) => `${b.stack}/${b.kind}/${b.layer}`;
  const refBlocks = new Map(reference.attentionBlocks().map((b) => [key(b), b]));
  return pruned.attentionBlocks().map((b) => {
    const ref = refBlocks.get(key(b));
    if (!ref) throw new Error(`head importance: the reference has no ${b.kind}-attention block for layer ${b.layer} of the ${b.stack} (${b.name})`);
    if (ref.headSize !== b.headSize) throw new Error(`head importance: ${b.name} has heads of size ${b.headSize}, the reference's ${ref.headSize}: not the same architecture`);
    const importance = headImportance(ref);
    const kept = new Set(b.headIds);
    const extra = b.headIds.filter((h) => !ref.headIds.includes(h));
    if (extra.length) throw new Error(`head importance: ${b.name} has heads ${extra.join(', ')} that the reference lacks: the reference must be the model before pruning`);
    const removed = ref.headIds.filter((h) => !kept.has(h));
    const mean = (xs: number[]) => xs.reduce((a, c) => a + c, 0) / xs.length;
    const removedImportance = ref.headIds.flatMap((h, i) => (kept.has(h) ? [] : [importance[i]]));
    const all = mean(importance);
    return {
      stack: b.stack, kind: b.kind, layer: b.layer, heads: ref.headIds.slice(), importance, removed,
      relative: removed.length === 0 || !(all > 0) ? null : mean(removedImportance) / all,
    };
  });
}
