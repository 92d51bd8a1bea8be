/**
 * Physical compaction: remove what regularization and pruning left structurally dead, so the
 * model gets faster and not only sparser.
 *
 * - MLP neuron `i` is dead when its incoming row `Win[i, :]` or its outgoing column `Wout[:, i]`
 *   is exactly zero. With only the incoming row zero, the neuron still emits the constant
 *   `act(b_in[i])`, so `act(b_in[i]) * Wout[:, i]` is folded into the output bias first.
 *   In a gated MLP (`act(gate(x)) * input(x)`) the neuron is also dead when its gate row is zero
 *   (and its gate bias zero or absent: every supported activation has act(0) = 0); a zero input
 *   row kills it only without an input bias (else it emits `act(gate(x)) * b_in[i]`, not a
 *   constant), so nothing is folded.
 * - Attention input dimension `j` is dead when column `j` of `Wq`, `Wk` and `Wv` is exactly zero:
 *   the block then reads only the kept dimensions (`inputIndex`, composed with any earlier one).
 *   In a cross-attention Q reads the decoder stream and K/V the encoder stream: a decoder
 *   dimension is dead when its Q column is zero (`inputIndex`), an encoder dimension when its K
 *   and V columns are (`contextInputIndex`).
 *
 * Only exact zeros are removed, so outputs are unchanged up to float reassociation in the bias
 * fold. To remove near-zero weights, zero them first (`zeroBelow`, or the sparsity projection).
 *
 * Checkpoints record the result per layer in the config's `neuroprune` section:
 * `intermediate_sizes[l]` = the MLP width of layer `l`, `attention_input_index[l]` = the kept
 * model-input dimensions of layer `l`'s attention (null when all are kept); `compactionConfig`
 * produces both from the blocks.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, MlpBlock, PrunableModel, StructuralChange } from '../models/blocks';
import { mlpLinears } from './mlpLinears';
import { activate } from '../util/activations';
import { replaceVariable } from '../util/variables';
import { checkEps, DEFAULT_EPS } from './checks';

/** Sets a Linear's weight or bias to `value` (disposed afterwards); the variable replaced, if any. */
function setParam(layer: Linear, key: 'weight' | 'bias', value: tf.Tensor): { variable: tf.Variable; replacement: tf.Variable } | null {
  const old = layer[key];
  const replacement = old ? replaceVariable(old, value) : tf.variable(value, layer.weight.trainable, layer.weight.name.replace(/weight.*$/, 'bias'));
  layer[key] = replacement;
  value.dispose();
  return old ? { variable: old, replacement } : null;
}

/** `setParam` of the gather `kept` along `axis` of the current value: the change, for the optimizer. */
function gatherParam(layer: Linear, key: 'weight' | 'bias', axis: number, kept: readonly number[], value?: tf.Tensor): StructuralChange {
  const old = layer[key];
  if (!old) throw new Error(`gatherParam: layer has no ${key}`);
  const r = setParam(layer, key, value ?? tf.tidy(() => tf.gather(old, kept as number[], axis)));
  return { ...r!, axis, kept };
}

/** Booleans from a 1-D reduction, disposing it. */
function flags(t: tf.Tensor): boolean[] {
  const d = t.dataSync();
  t.dispose();
  return Array.from(d, (v) => v !== 0);
}

export interface MlpCompaction {
  name: string;
  stack: MlpBlock['stack'];
  layer: number;
  before: number;
  after: number;
  /** Neurons removed because their incoming row was zero (their constant output folded into the bias; gated: removed, nothing to fold). */
  folded: number;
  /** Positions (before compaction) of the neurons kept, ascending: the gather that other per-neuron state must follow. */
  kept: number[];
  /** The variables replaced by gathers of `kept` (the output bias fold keeps its shape and is not one). */
  changes: StructuralChange[];
}

/** Removes dead neurons from one MLP block (see the module comment). Never leaves it empty. */
export function compactMlp(block: MlpBlock): MlpCompaction {
  const win = block.input.weight;
  const wout = block.output.weight;
  const de = win.shape[0];
  if (wout.shape[1] !== de) throw new Error(`compactMlp ${block.name}: input.weight is [${win.shape}] but output.weight is [${wout.shape}]`);
  const rowLive = flags(tf.tidy(() => tf.any(tf.notEqual(win, 0), 1)));
  const colLive = flags(tf.tidy(() => tf.any(tf.notEqual(wout, 0), 0)));
  const gate = block.gate;
  if (gate) {
    if (gate.weight.shape[0] !== de) throw new Error(`compactMlp ${block.name}: input.weight is [${win.shape}] but gate.weight is [${gate.weight.shape}]`);
    const liveRow = (l: Linear) => flags(tf.tidy(() => {
      const w = tf.any(tf.notEqual(l.weight, 0), 1);
      return l.bias ? tf.logicalOr(w, tf.notEqual(l.bias, 0)) : w;
    }));
    const inputLive = liveRow(block.input);
    const gateLive = liveRow(gate);
    rowLive.forEach((_, i) => { rowLive[i] = inputLive[i] && gateLive[i]; });
  }
  let keep = rowLive.flatMap((r, i) => (r && colLive[i] ? [i] : []));
  const foldIdx = rowLive.flatMap((r, i) => (!r && colLive[i] ? [i] : []));
  const before = de;
  const id = { name: block.name, stack: block.stack, layer: block.layer };
  if (keep.length === de) return { ...id, before, after: de, folded: 0, kept: keep, changes: [] };
  block.originalIntermediateSize ??= de;

  // Fold the constant outputs of neurons that read nothing: act(b_in[i]) * Wout[:, i].
  const bin = block.input.bias;
  let folded = 0;
  if (foldIdx.length > 0 && bin && !gate) {
    const add = tf.tidy(() => {
      const c = activate(tf.gather(bin, foldIdx), block.activation); // [m]
      return tf.sum(tf.mul(tf.gather(wout, foldIdx, 1), c), 1); // [d]
    });
    const bout = block.output.bias;
    setParam(block.output, 'bias', bout ? tf.tidy(() => tf.add(bout, add)) : add.clone());
    add.dispose();
    folded = foldIdx.length;
  } else if (foldIdx.length > 0) {
    // No input bias, or gated (a dead row outputs 0 through the product): nothing to fold.
    folded = foldIdx.length;
  }

  // Keep one neuron with a zero outgoing column rather than a zero-width matmul.
  let zeroKeptColumn = false;
  if (keep.length === 0) {
    keep = [0];
    zeroKeptColumn = true;
  }
  const changes = [gatherParam(block.input, 'weight', 0, keep)];
  if (bin) changes.push(gatherParam(block.input, 'bias', 0, keep));
  if (gate) {
    changes.push(gatherParam(gate, 'weight', 0, keep));
    if (gate.bias) changes.push(gatherParam(gate, 'bias', 0, keep));
  }
  changes.push(gatherParam(block.output, 'weight', 1, keep, zeroKeptColumn ? tf.zeros([wout.shape[0], 1]) : undefined));
  return { ...id, before, after: keep.length, folded, kept: keep, changes };
}

export interface AttentionInputCompaction {
  name: string;
  stack: AttentionBlock['stack'];
  kind: AttentionBlock['kind'];
  layer: number;
  before: number;
  after: number;
  /** Positions (among the input dims read before compaction) of the dims kept, ascending. */
  kept: number[];
  /** The Q/K/V weights replaced by gathers of `kept` along their columns. */
  changes: StructuralChange[];
  /** Cross-attention: the same for the context dimensions K/V read (`before`/`after`/`kept` above are then Q's). */
  context?: { before: number; after: number; kept: number[] };
}

/** Columns of the given maps that are not all zero in every one of them (at least one kept: no zero-width matmul). */
function liveColumns(ls: Linear[]): number[] {
  const live = flags(tf.tidy(() => ls.map((l) => tf.any(tf.notEqual(l.weight, 0), 0)).reduce((a, b) => tf.logicalOr(a, b))));
  const keep = live.flatMap((v, j) => (v ? [j] : []));
  return keep.length === 0 ? [0] : keep;
}

/** A cross-attention's compaction: Q's input (decoder) and K/V's input (encoder) dimensions separately. */
function compactCrossInputs(block: AttentionBlock): AttentionInputCompaction {
  const id = { name: block.name, stack: block.stack, kind: block.kind, layer: block.layer };
  const dq = block.query.weight.shape[1] as number;
  const dc = block.key.weight.shape[1] as number;
  if (block.value.weight.shape[1] !== dc) throw new Error(`compactAttentionInputs ${block.name}: key.weight is [${block.key.weight.shape}] but value.weight is [${block.value.weight.shape}]`);
  const keepQ = liveColumns([block.query]);
  const keepC = liveColumns([block.key, block.value]);
  const changes: StructuralChange[] = [];
  if (keepQ.length < dq) {
    changes.push(gatherParam(block.query, 'weight', 1, keepQ));
    const prev = block.inputIndex;
    block.inputIndex = prev ? keepQ.map((j) => prev[j] as number) : keepQ;
  }
  if (keepC.length < dc) {
    changes.push(...[block.key, block.value].map((l) => gatherParam(l, 'weight', 1, keepC)));
    const prev = block.contextInputIndex;
    block.contextInputIndex = prev ? keepC.map((j) => prev[j] as number) : keepC;
  }
  return { ...id, before: dq, after: keepQ.length, kept: keepQ, changes, context: { before: dc, after: keepC.length, kept: keepC } };
}

/** Removes model-input dimensions that none of Q/K/V reads (see the module comment). */
export function compactAttentionInputs(block: AttentionBlock): AttentionInputCompaction {
  if (block.kind === 'cross') return compactCrossInputs(block);
  const q = block.query.weight;
  const dIn = q.shape[1] as number;
  for (const l of [block.key, block.value]) {
    if (l.weight.shape[1] !== dIn) throw new Error(`compactAttentionInputs ${block.name}: query.weight is [${q.shape}] but ${l.weight.name} is [${l.weight.shape}]`);
  }
  const live = flags(
    tf.tidy(() => tf.logicalOr(tf.logicalOr(tf.any(tf.notEqual(q, 0), 0), tf.any(tf.notEqual(block.key.weight, 0), 0)), tf.any(tf.notEqual(block.value.weight, 0), 0))),
  );
  let keep = live.flatMap((v, j) => (v ? [j] : []));
  const id = { name: block.name, stack: block.stack, kind: block.kind, layer: block.layer };
  if (keep.length === dIn) return { ...id, before: dIn, after: dIn, kept: keep, changes: [] };
  if (keep.length === 0) keep = [0]; // all-zero Q/K/V: keep one (zero) column rather than a zero-width matmul
  const changes = [block.query, block.key, block.value].map((l) => gatherParam(l, 'weight', 1, keep));
  const prev = block.inputIndex;
  block.inputIndex = prev ? keep.map((j) => prev[j] as number) : keep;
  return { ...id, before: dIn, after: keep.length, kept: keep, changes };
}

export interface ModelCompaction {
  mlp: MlpCompaction[];
  attention: AttentionInputCompaction[];
}

/** Compacts every MLP and attention block of a model. */
export function compactModel(model: PrunableModel): ModelCompaction {
  return {
    mlp: model.mlpBlocks().map(compactMlp),
    attention: model.attentionBlocks().map(compactAttentionInputs),
  };
}

/**
 * The `neuroprune` section of a checkpoint config that describes a compacted model:
 * `intermediate_sizes[l]` (MLP width per layer) and `attention_input_index[l]` (kept input
 * dimensions of layer `l`'s attention, or null when all are kept). Layers are in block order.
 */
export function compactionConfig(model: PrunableModel): { intermediate_sizes: number[]; attention_input_index: (number[] | null)[] } {
  return {
    intermediate_sizes: model.mlpBlocks().map((b) => b.input.weight.shape[0]),
    attention_input_index: model.attentionBlocks().map((b) => (b.inputIndex ? b.inputIndex.slice() : null)),
  };
}

/** Sets every prunable weight (Q, K, V, O, MLP gate/in/out) with `|w| < eps` to exactly zero; returns how many were set. */
export function zeroBelow(model: PrunableModel, options: { eps?: number } = {}): number {
  const eps = options.eps ?? DEFAULT_EPS;
  checkEps(eps, 'zeroBelow');
  let n = 0;
  const layers: Linear[] = [
    ...model.attentionBlocks().flatMap((b) => [b.query, b.key, b.value, b.output]),
    ...model.mlpBlocks().flatMap(mlpLinears),
  ];
  for (const l of layers) {
    const [next, count] = tf.tidy(() => {
      const small = tf.less(tf.abs(l.weight), eps);
      return [tf.where(small, tf.zerosLike(l.weight), l.weight), tf.sum(tf.cast(tf.logicalAnd(small, tf.notEqual(l.weight, 0)), 'int32'))];
    });
    n += count.dataSync()[0];
    count.dispose();
    l.weight.assign(next);
    next.dispose();
  }
  return n;
}
