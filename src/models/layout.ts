/**
 * Per-layer shapes of a pruned model, common to every architecture: Hugging Face's
 * `pruned_heads` and NeuroPrune's own `neuroprune` section of `config.json`.
 */
import type { AttentionBlock, MlpBlock } from './blocks';

/**
 * NeuroPrune's per-layer layout, stored in `config.json` under `"neuroprune"` beside Hugging
 * Face's `pruned_heads`, for models whose layers no longer share one shape after compaction.
 * Both fields are optional; an absent field means "as the dense config says". The config's own
 * sizes (hidden size, heads, MLP width) stay those of the dense model before any pruning:
 * sparsity is counted against them, by the library and the CLI alike.
 */
export interface NeuroPruneLayout {
  /** Per layer: the MLP width (rows of the MLP's input weight); default the config's dense width. */
  intermediate_sizes?: number[];
  /**
   * Per layer: the model input dimensions that Q/K/V still read (their weights are then
   * `[heads*dh, index.length]`, the columns of the dense weights at those dimensions), or null
   * when they read all hidden dimensions.
   */
  attention_input_index?: (number[] | null)[];
}

/** The dense sizes of a stack of identical layers, and the pruning recorded in its config. */
export interface DenseLayers {
  numLayers: number;
  numHeads: number;
  hiddenSize: number;
  intermediateSize: number;
  prunedHeads?: Record<string, number[]>;
  layout?: NeuroPruneLayout;
}

/** Per-layer shape facts derived from a config (pruned heads and NeuroPrune layout applied). */
export interface LayerLayout {
  /** Original indices of the surviving heads, ascending. */
  headIds: number[];
  headSize: number;
  intermediateSize: number;
  inputIndex: number[] | null;
}

/** Reads the per-layer layout; throws on indices out of range. */
export function layerLayouts(dense: DenseLayers): LayerLayout[] {
  const { numLayers: n, numHeads: k, hiddenSize: d } = dense;
  if (d % k !== 0) throw new Error(`hidden size ${d} is not a multiple of the ${k} attention heads`);
  const headSize = d / k;
  const out: LayerLayout[] = [];
  for (let l = 0; l < n; l++) {
    const pruned = new Set(dense.prunedHeads?.[String(l)] ?? []);
    for (const h of pruned) {
      if (!Number.isInteger(h) || h < 0 || h >= k) throw new Error(`pruned_heads[${l}] names head ${h}, but layers have ${k} heads`);
    }
    const headIds = Array.from({ length: k }, (_, h) => h).filter((h) => !pruned.has(h));
    const intermediateSize = dense.layout?.intermediate_sizes?.[l] ?? dense.intermediateSize;
    const inputIndex = dense.layout?.attention_input_index?.[l] ?? null;
    if (inputIndex) {
      for (const j of inputIndex) {
        if (!Number.isInteger(j) || j < 0 || j >= d) throw new Error(`neuroprune.attention_input_index[${l}] holds ${j}, outside 0..${d - 1}`);
      }
    }
    out.push({ headIds, headSize, intermediateSize, inputIndex: inputIndex ? [...inputIndex] : null });
  }
  return out;
}

/**
 * `pruned_heads` and the `neuroprune` layout that describe the blocks as they are now (layer `l`
 * = the `l`-th block), each null when nothing differs from the dense shape.
 */
export function currentLayout(
  attention: readonly AttentionBlock[], mlp: readonly MlpBlock[], numHeads: number, intermediateSize: number,
): { prunedHeads: Record<string, number[]> | null; layout: NeuroPruneLayout | null } {
  const pruned: Record<string, number[]> = {};
  attention.forEach((block, l) => {
    const kept = new Set(block.headIds);
    const gone = Array.from({ length: numHeads }, (_, h) => h).filter((h) => !kept.has(h));
    if (gone.length > 0) pruned[String(l)] = gone;
  });
  const sizes = mlp.map((b) => b.input.weight.shape[0]);
  const inputIndex = attention.map((b) => (b.inputIndex ? [...b.inputIndex] : null));
  const layout: NeuroPruneLayout = {};
  if (sizes.some((s) => s !== intermediateSize)) layout.intermediate_sizes = sizes;
  if (inputIndex.some((x) => x !== null)) layout.attention_input_index = inputIndex;
  return {
    prunedHeads: Object.keys(pruned).length > 0 ? pruned : null,
    layout: Object.keys(layout).length > 0 ? layout : null,
  };
}

/** An attention block for layer `lay` (heads, head size and input index from its layout). */
export function attentionBlock(
  name: string, stack: AttentionBlock['stack'], layer: number, lay: LayerLayout, originalNumHeads: number,
  linears: Pick<AttentionBlock, 'query' | 'key' | 'value' | 'output'>,
): AttentionBlock {
  return {
    name, stack, kind: 'self', layer,
    numHeads: lay.headIds.length, headSize: lay.headSize, headIds: lay.headIds, originalNumHeads,
    ...linears,
    inputIndex: lay.inputIndex,
  };
}

/**
 * An MLP block. `originalIntermediateSize` is the config's dense width (compaction writes its
 * widths to `neuroprune` and never rewrites it): the one source of the width that sparsity is
 * counted against.
 */
export function mlpBlock(name: string, stack: MlpBlock['stack'], layer: number, activation: MlpBlock['activation'], originalIntermediateSize: number, linears: Pick<MlpBlock, 'input' | 'output' | 'gate'>): MlpBlock {
  return { name, stack, kind: 'mlp', layer, activation, ...linears, originalIntermediateSize };
}
