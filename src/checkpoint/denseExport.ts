/**
 * A pruned or compacted BERT written back in its dense shapes, with zeros where heads, neurons
 * and attention input dimensions were removed. Such a directory has no `pruned_heads` and no
 * `neuroprune` layout, so every `transformers` version loads it (5.x ignores `pruned_heads`),
 * at the cost of the speed-up. The outputs are those of the pruned model:
 *
 * - a removed head gets zero Q/K/V rows and biases and zero columns of Wo, so it contributes 0;
 * - MLP neurons are interchangeable (a permutation of the hidden units changes nothing), so the
 *   kept ones take the first rows of `intermediate.dense` and the rest are zero neurons with zero
 *   outgoing columns (compaction already folded the constant output of removed ones into the bias);
 * - Q/K/V columns of removed input dimensions are zero, so they read nothing.
 */
import type { BertConfig } from '../models/bert';
import type { AttentionBlock } from '../models/blocks';

/** Hugging Face names of the attention parameters: layer, `self.<q|k|v>` or `output.dense`, weight or bias. */
export const ATTENTION_PARAM = /^bert\.encoder\.layer\.(\d+)\.attention\.(self\.(query|key|value)|output\.dense)\.(weight|bias)$/;
const MLP = /^bert\.encoder\.layer\.(\d+)\.(intermediate|output)\.dense\.(weight|bias)$/;

export interface DenseTensor { shape: number[]; data: Float32Array }

/** Copies `src` (`[rows, cols]`) into a zero `[denseRows, denseCols]` at the given row and column positions. */
function scatter2d(src: Float32Array, rows: number[], cols: number[], denseRows: number, denseCols: number): Float32Array {
  const out = new Float32Array(denseRows * denseCols);
  const n = cols.length;
  rows.forEach((r, i) => {
    for (let j = 0; j < n; j++) out[r * denseCols + cols[j]] = src[i * n + j];
  });
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Original row positions of a block's Q/K/V rows (heads by their original ids). */
function headRows(block: AttentionBlock): number[] {
  return block.headIds.flatMap((h) => range(block.headSize).map((r) => h * block.headSize + r));
}

/**
 * The dense form of one parameter, or the parameter as it is when it is not pruned. `config` is
 * the dense config (its `num_attention_heads`, `intermediate_size` and `hidden_size`).
 */
export function denseParameter(name: string, shape: number[], data: Float32Array, config: BertConfig, blocks: readonly AttentionBlock[]): DenseTensor {
  const d = config.hidden_size;
  const a = ATTENTION_PARAM.exec(name);
  if (a) {
    const block = blocks[Number(a[1])];
    const rows = headRows(block);
    const full = config.num_attention_heads * block.headSize;
    const isOutput = a[2] === 'output.dense';
    if (isOutput && a[4] === 'bias') return { shape, data };
    if (isOutput) return { shape: [d, full], data: scatter2d(data, range(d), rows, d, full) };
    if (a[4] === 'bias') return { shape: [full], data: scatter2d(data, rows, [0], full, 1) };
    return { shape: [full, d], data: scatter2d(data, rows, block.inputIndex ?? range(d), full, d) };
  }
  const m = MLP.exec(name);
  if (m) {
    const de = config.intermediate_size;
    if (m[2] === 'intermediate') {
      const kept = shape[0];
      if (m[3] === 'bias') return { shape: [de], data: scatter2d(data, range(kept), [0], de, 1) };
      return { shape: [de, d], data: scatter2d(data, range(kept), range(d), de, d) };
    }
    if (m[3] === 'weight') return { shape: [d, de], data: scatter2d(data, range(d), range(shape[1]), d, de) };
  }
  return { shape, data };
}

/** The config of the dense export: no `pruned_heads`, no `neuroprune` layout. */
export function denseConfig(config: BertConfig): BertConfig {
  const out = structuredClone(config);
  delete out.pruned_heads;
  delete out.neuroprune;
  return out;
}
