/**
 * Sparsity accounting, as the paper's plots need it: over the prunable matrices (Q, K, V, O and MLP
 * in/out of every layer; not embeddings, not the task head), counted against the original dense
 * model, so removed heads, neurons and input dimensions count as zeros.
 *
 * - unstructured: entries that are removed or have `|w| < eps`;
 * - structured: entries that are removed, or lie in a row or column whose entries are all `< eps`;
 * - heads kept per attention block.
 *
 * Blocks are also grouped by layer (within a stack) and by stack and kind (`groups`: encoder
 * self-attention, decoder self- and cross-attention, each stack's MLPs), so a model with two
 * stacks (T5) never adds its encoder's layer 0 to its decoder's.
 *
 * The original sizes come from the blocks (`originalNumHeads`, `headSize`, the model's
 * `hiddenSize`, `MlpBlock.originalIntermediateSize`, which compaction records) or from a
 * `DenseShape` captured before pruning, which wins when given.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, MlpBlock, PrunableModel } from '../models/blocks';
import { mlpLinears } from './mlpLinears';
import { checkEps, DEFAULT_EPS } from './checks';

/** The dense sizes of a model, captured before pruning. */
export interface DenseShape {
  hiddenSize: number;
  /** Per attention block, in `attentionBlocks()` order. */
  attention: { numHeads: number; headSize: number }[];
  /** Per MLP block, in `mlpBlocks()` order. */
  intermediateSizes: number[];
}

/** Records the current sizes as the dense reference (call before pruning). */
export function captureDenseShape(model: PrunableModel): DenseShape {
  return {
    hiddenSize: model.hiddenSize,
    attention: model.attentionBlocks().map((b) => ({ numHeads: b.originalNumHeads, headSize: b.headSize })),
    intermediateSizes: model.mlpBlocks().map((b) => b.originalIntermediateSize ?? (b.input.weight.shape[0] as number)),
  };
}

export interface SparsityOptions {
  /** Magnitude below which a weight counts as zero. Default 1e-4. */
  eps?: number;
  /** Dense reference sizes; default: read from the blocks (see the module comment). */
  dense?: DenseShape;
}

/** Entry counts of one block's prunable matrices. */
export interface Counts {
  /** Entries of the dense original. */
  total: number;
  /** Entries still stored. */
  present: number;
  /** Entries removed or `|w| < eps`. */
  zero: number;
  /** Entries removed or in an all-below-eps row or column. */
  structured: number;
}

export interface BlockSparsity extends Counts {
  kind: 'attention' | 'mlp';
  name: string;
  /** The block's stack and role in its layer (`self`, `cross`, `mlp`). */
  stack: 'encoder' | 'decoder';
  role: 'self' | 'cross' | 'mlp';
  layer: number;
  unstructuredFraction: number;
  structuredFraction: number;
  /** Attention: heads now and originally, and the original ids kept. */
  heads?: { kept: number; original: number; ids: number[] };
  /** Attention: model-input dimensions Q/K/V still read. */
  inputDims?: { kept: number; original: number };
  /** MLP: neurons now and originally. */
  neurons?: { kept: number; original: number };
}

export interface LayerSparsity extends Counts {
  stack: 'encoder' | 'decoder';
  layer: number;
  unstructuredFraction: number;
  structuredFraction: number;
  headsKept: number;
  headsOriginal: number;
}

/** The blocks of one stack and kind (e.g. the decoder's cross-attentions), layer by layer. */
export interface GroupSparsity extends Counts {
  stack: 'encoder' | 'decoder';
  role: 'self' | 'cross' | 'mlp';
  unstructuredFraction: number;
  structuredFraction: number;
  /** Attention: heads kept per layer, in layer order, and in all; MLP: empty and 0. */
  headsPerLayer: number[];
  headsKept: number;
  headsOriginal: number;
  /** MLP: neurons kept per layer; attention: empty. */
  neuronsPerLayer: number[];
}

export interface SparsityReport extends Counts {
  eps: number;
  blocks: BlockSparsity[];
  /** Blocks grouped by stack (encoder first) and `layer` index. */
  layers: LayerSparsity[];
  /** Blocks grouped by stack and kind, in the order encoder self, encoder MLP, decoder self, decoder cross, decoder MLP (those present). */
  groups: GroupSparsity[];
  unstructuredFraction: number;
  structuredFraction: number;
  headsKept: number;
  headsOriginal: number;
}

/** Present entries, entries >= eps, and entries in all-small rows or columns of one matrix. */
function matrixCounts(w: tf.Tensor, eps: number): { present: number; big: number; structured: number } {
  const [rows, cols] = w.shape as [number, number];
  const t = tf.tidy(() => {
    const small = tf.less(tf.abs(w), eps);
    const big = tf.sum(tf.cast(tf.logicalNot(small), 'int32'));
    const zr = tf.sum(tf.cast(tf.all(small, 1), 'int32'));
    const zc = tf.sum(tf.cast(tf.all(small, 0), 'int32'));
    return tf.stack([big, zr, zc]);
  });
  const [big, zr, zc] = Array.from(t.dataSync());
  t.dispose();
  return { present: rows * cols, big, structured: zr * cols + zc * rows - zr * zc };
}

function sumCounts(parts: { present: number; big: number; structured: number }[], total: number): Counts {
  const present = parts.reduce((s, p) => s + p.present, 0);
  const big = parts.reduce((s, p) => s + p.big, 0);
  const structPresent = parts.reduce((s, p) => s + p.structured, 0);
  if (present > total) throw new Error(`sparsity: ${present} entries stored but the dense reference has only ${total}; pass the right DenseShape`);
  return { total, present, zero: total - big, structured: total - present + structPresent };
}

function fractions<T extends Counts>(c: T): T & { unstructuredFraction: number; structuredFraction: number } {
  return { ...c, unstructuredFraction: c.total ? c.zero / c.total : 0, structuredFraction: c.total ? c.structured / c.total : 0 };
}

function attentionSparsity(b: AttentionBlock, i: number, d: number, dense: DenseShape | undefined, eps: number): BlockSparsity {
  const ref = dense?.attention[i] ?? { numHeads: b.originalNumHeads, headSize: b.headSize };
  const inner = ref.numHeads * ref.headSize;
  const counts = sumCounts(
    [b.query, b.key, b.value, b.output].map((l) => matrixCounts(l.weight, eps)),
    4 * inner * d,
  );
  return {
    kind: 'attention',
    name: b.name,
    stack: b.stack,
    role: b.kind,
    layer: b.layer,
    ...fractions(counts),
    heads: { kept: b.numHeads, original: ref.numHeads, ids: b.headIds.slice() },
    inputDims: { kept: b.query.weight.shape[1] as number, original: d },
  };
}

function mlpSparsity(b: MlpBlock, i: number, d: number, dense: DenseShape | undefined, eps: number): BlockSparsity {
  const de0 = dense?.intermediateSizes[i] ?? b.originalIntermediateSize ?? (b.input.weight.shape[0] as number);
  const linears = mlpLinears(b);
  const counts = sumCounts(linears.map((l) => matrixCounts(l.weight, eps)), linears.length * de0 * d);
  return {
    kind: 'mlp',
    name: b.name,
    stack: b.stack,
    role: 'mlp',
    layer: b.layer,
    ...fractions(counts),
    neurons: { kept: b.input.weight.shape[0] as number, original: de0 },
  };
}

/** Per block, per layer and total sparsity of a model (see the module comment). */
export function sparsityReport(model: PrunableModel, options: SparsityOptions = {}): SparsityReport {
  const eps = options.eps ?? DEFAULT_EPS;
  checkEps(eps, 'sparsityReport');
  const d = options.dense?.hiddenSize ?? model.hiddenSize;
  const attn = model.attentionBlocks();
  const mlps = model.mlpBlocks();
  if (options.dense && (options.dense.attention.length !== attn.length || options.dense.intermediateSizes.length !== mlps.length)) {
    throw new Error(`sparsityReport: DenseShape has ${options.dense.attention.length} attention and ${options.dense.intermediateSizes.length} MLP blocks, the model ${attn.length} and ${mlps.length}`);
  }
  const blocks = [
    ...attn.map((b, i) => attentionSparsity(b, i, d, options.dense, eps)),
    ...mlps.map((b, i) => mlpSparsity(b, i, d, options.dense, eps)),
  ];
  const add = (a: Counts, b: Counts): Counts => ({
    total: a.total + b.total,
    present: a.present + b.present,
    zero: a.zero + b.zero,
    structured: a.structured + b.structured,
  });
  const none: Counts = { total: 0, present: 0, zero: 0, structured: 0 };
  const stacks = (['encoder', 'decoder'] as const).filter((st) => blocks.some((b) => b.stack === st));
  const layers = stacks.flatMap((stack) => {
    const layerIds = [...new Set(blocks.filter((b) => b.stack === stack).map((b) => b.layer))].sort((a, b) => a - b);
    return layerIds.map((layer) => {
      const mine = blocks.filter((b) => b.stack === stack && b.layer === layer);
      const c = mine.reduce<Counts>(add, none);
      return {
        stack,
        layer,
        ...fractions(c),
        headsKept: mine.reduce((s, b) => s + (b.heads?.kept ?? 0), 0),
        headsOriginal: mine.reduce((s, b) => s + (b.heads?.original ?? 0), 0),
      };
    });
  });
  const groups = stacks.flatMap((stack) => (['self', 'cross', 'mlp'] as const).flatMap((role): GroupSparsity[] => {
    const mine = blocks.filter((b) => b.stack === stack && b.role === role).sort((a, b) => a.layer - b.layer);
    if (mine.length === 0) return [];
    const headsPerLayer = mine.flatMap((b) => (b.heads ? [b.heads.kept] : []));
    return [{
      stack,
      role,
      ...fractions(mine.reduce<Counts>(add, none)),
      headsPerLayer,
      headsKept: headsPerLayer.reduce((a, b) => a + b, 0),
      headsOriginal: mine.reduce((s, b) => s + (b.heads?.original ?? 0), 0),
      neuronsPerLayer: mine.flatMap((b) => (b.neurons ? [b.neurons.kept] : [])),
    }];
  }));
  const total = blocks.reduce<Counts>(add, none);
  return {
    eps,
    blocks,
    layers,
    groups,
    ...fractions(total),
    headsKept: layers.reduce((s, l) => s + l.headsKept, 0),
    headsOriginal: layers.reduce((s, l) => s + l.headsOriginal, 0),
  };
}

export interface ProjectionOptions {
  /** Target fraction of zeros among the dense model's prunable entries, in [0, 1]. */
  sparsity: number;
  dense?: DenseShape;
}

export interface ProjectionResult {
  /** Magnitude threshold: every entry below it is now zero, and some entries equal to it. */
  threshold: number;
  /** Entries set to zero by this call. */
  zeroed: number;
  /** Exact zeros (removed entries included) over dense entries, after the call. */
  sparsity: number;
  /** The count of exact zeros reached: `round(sparsity * total)`. */
  zeros: number;
  total: number;
}

function prunableLinears(model: PrunableModel): Linear[] {
  return [
    ...model.attentionBlocks().flatMap((b) => [b.query, b.key, b.value, b.output]),
    ...model.mlpBlocks().flatMap(mlpLinears),
  ];
}

/**
 * Zeroes the smallest-magnitude prunable weights, by one global threshold, so that exactly
 * `round(sparsity * total)` dense entries are zero (removed entries count as zeros). Entries that
 * tie at the threshold are zeroed in a fixed order (block order, then row-major) until the count
 * is exact. "Zero" here is exact zero; entries kept may still be below a report's `eps`.
 * Throws when the model already holds more exact zeros than the target (nothing is un-zeroed).
 */
export function projectToSparsity(model: PrunableModel, options: ProjectionOptions): ProjectionResult {
  const s = options.sparsity;
  if (!(s >= 0 && s <= 1)) throw new Error(`projectToSparsity: sparsity must be in [0, 1], got ${s}`);
  const dense = options.dense ?? captureDenseShape(model);
  const d = dense.hiddenSize;
  const total =
    dense.attention.reduce((acc, a) => acc + 4 * a.numHeads * a.headSize * d, 0) +
    dense.intermediateSizes.reduce((acc, de) => acc + 2 * de * d, 0);
  const linears = prunableLinears(model);
  const values = linears.map((l) => l.weight.dataSync() as Float32Array);
  const present = values.reduce((acc, v) => acc + v.length, 0);
  if (present > total) throw new Error(`projectToSparsity: ${present} entries stored but the dense reference has only ${total}`);
  const zeros = Math.round(s * total);
  const removed = total - present;
  const m = zeros - removed; // exact zeros needed among the stored entries
  const existing = values.reduce((acc, v) => acc + v.reduce((c, x) => c + (x === 0 ? 1 : 0), 0), 0);
  if (m < existing) {
    throw new Error(`projectToSparsity: target ${s} means ${zeros} zeros, but the model already has ${removed + existing} (${removed} removed, ${existing} stored zeros)`);
  }
  if (m === existing) return { threshold: 0, zeroed: 0, sparsity: zeros / total, zeros, total };

  const mags = new Float32Array(present);
  let o = 0;
  for (const v of values) for (let i = 0; i < v.length; i++) mags[o++] = Math.abs(v[i]);
  mags.sort();
  const threshold = mags[m - 1];
  let below = 0;
  for (let i = 0; i < m; i++) if (mags[i] < threshold) below++;
  let tiesLeft = m - below;
  let zeroed = 0;
  linears.forEach((l, li) => {
    const v = Float32Array.from(values[li]);
    let changed = false;
    for (let i = 0; i < v.length; i++) {
      const a = Math.abs(v[i]);
      if (a < threshold || (a === threshold && tiesLeft > 0)) {
        if (a === threshold) tiesLeft--;
        if (v[i] !== 0) {
          v[i] = 0;
          zeroed++;
          changed = true;
        }
      }
    }
    if (changed) {
      const t = tf.tensor(v, l.weight.shape);
      l.weight.assign(t);
      t.dispose();
    }
  });
  return { threshold, zeroed, sparsity: zeros / total, zeros, total };
}
