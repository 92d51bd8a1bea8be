/**
 * Structured gates in a forward pass, without touching the architectures.
 *
 * Every gate that CoFI and DSP place multiplies either the output of a head, a neuron, a whole
 * sublayer, or one model dimension, and each of these products can be moved into the weights
 * that produce or consume it: a head's output `ctx_h` enters the block only through its columns of
 * the output weight, so `Wo[:, cols(h)] * z_h` is the same function as `ctx_h * z_h`; a neuron's
 * activation only through its column of the MLP output weight; a sublayer's output is
 * `W x + b`, so scaling it scales `W` and `b`. The blocks (src/models/blocks.ts) are mutable
 * records that every architecture reads at each forward pass, so the gated forward is the plain
 * forward with gated weights put in the records for the duration of one call, then the variables
 * put back. Under a gradient tape the products are recorded, so gradients reach both the weights
 * and the gates' parameters. No model file knows about gates.
 *
 * A hidden-dimension gate `z_j` (CoFI's `hidden_z`) scales what every prunable matrix reads from
 * and writes into dimension `j` of the residual stream: column `j` of Q, K, V and of the MLP input,
 * row `j` (and bias entry) of the attention and MLP outputs. CoFI also gates the embeddings and
 * restricts each LayerNorm to the open dimensions; those belong to the architecture, so here they
 * stay as they are, and a closed dimension leaves the prunable matrices only (which is what CoFI's
 * parameter count measures: 4 * head size per head and 2 per neuron for each dimension).
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, MlpBlock, PrunableModel } from '../models/blocks';

export interface AttentionGates {
  /** `[numHeads]`: multiplies each head's output. */
  heads?: tf.Tensor;
  /** Scalar: multiplies the whole block's output (its weight and bias), CoFI's `head_layer_z`. */
  layer?: tf.Tensor;
}

export interface MlpGates {
  /** `[intermediate]`: multiplies each hidden neuron's activation. */
  neurons?: tf.Tensor;
  /** Scalar: multiplies the whole MLP output (weight and bias), CoFI's `mlp_z`. */
  layer?: tf.Tensor;
}

export interface ModelGates {
  /** One entry per attention block, in `attentionBlocks()` order (undefined: ungated). */
  attention: (AttentionGates | undefined)[];
  /** One entry per MLP block, in `mlpBlocks()` order. */
  mlp: (MlpGates | undefined)[];
  /** `[hiddenSize]`: multiplies each model dimension where prunable matrices read or write it. */
  hidden?: tf.Tensor;
}

interface Saved { layer: Linear; key: 'weight' | 'bias'; value: tf.Variable | null }

/** The gated weights put in place; `restore` puts the variables back. */
export interface Substitution {
  /** Puts the original variables back (always call it, in a `finally`). */
  restore(): void;
  /** The gated tensors made: dispose them after `restore` when no gradient tape holds them. */
  readonly created: tf.Tensor[];
}

function headColumns(heads: tf.Tensor, headSize: number): tf.Tensor {
  // [h] -> [h * dh], each head's value repeated over its columns.
  return tf.reshape(tf.tile(tf.reshape(heads, [-1, 1]), [1, headSize]), [-1]);
}

function checkLength(t: tf.Tensor | undefined, n: number, what: string): void {
  if (t && t.size !== n) throw new Error(`gates: ${what} has ${t.size} entries, the block has ${n}`);
}

/**
 * Puts the gated weights of `gates` into the model's blocks. Only the Linear records change; the
 * caller runs any forward pass, then calls `restore()`.
 */
export function substituteGates(model: PrunableModel, gates: ModelGates): Substitution {
  const saved: Saved[] = [];
  const created: tf.Tensor[] = [];
  const put = (layer: Linear, key: 'weight' | 'bias', value: tf.Tensor) => {
    saved.push({ layer, key, value: layer[key] });
    created.push(value);
    // The forward functions read weights as tensors; a gated weight is a tensor, not a variable.
    layer[key] = value as tf.Variable;
  };
  const attention = model.attentionBlocks();
  const mlps = model.mlpBlocks();
  if (gates.attention.length > attention.length || gates.mlp.length > mlps.length) {
    throw new Error(`gates: ${gates.attention.length} attention and ${gates.mlp.length} MLP gate sets for a model of ${attention.length} and ${mlps.length} blocks`);
  }
  const hidden = gates.hidden;
  checkLength(hidden, model.hiddenSize, 'the hidden gate');
  try {
    // The tidy frees the intermediate products (a tape, if one records, keeps what it needs).
    tf.tidy(() => {
      attention.forEach((block, i) => gateAttention(block, gates.attention[i], hidden, put));
      mlps.forEach((block, i) => gateMlp(block, gates.mlp[i], hidden, put));
      return created;
    });
  } catch (e) {
    restoreAll(saved);
    tf.dispose(created);
    throw e;
  }
  return { restore: () => restoreAll(saved), created };
}

function restoreAll(saved: Saved[]): void {
  for (let i = saved.length - 1; i >= 0; i--) {
    const s = saved[i];
    s.layer[s.key] = s.value as tf.Variable;
  }
  saved.length = 0;
}

type Put = (layer: Linear, key: 'weight' | 'bias', value: tf.Tensor) => void;

function gateAttention(block: AttentionBlock, g: AttentionGates | undefined, hidden: tf.Tensor | undefined, put: Put): void {
  if (block.kind !== 'self') throw new Error(`gates: ${block.name} is a ${block.kind}-attention; structured gates support self-attention blocks only`);
  checkLength(g?.heads, block.numHeads, `the head gate of ${block.name}`);
  if (block.numHeads === 0) return;
  // The model dimensions this block reads (compaction may have removed some).
  const readGate = hidden && block.inputIndex ? tf.gather(hidden, block.inputIndex) : hidden;
  if (readGate) {
    for (const l of [block.query, block.key, block.value]) put(l, 'weight', tf.mul(l.weight, tf.reshape(readGate, [1, -1])));
  }
  // Output weight [d, h*dh]: columns by head and layer gate, rows by the hidden gate.
  let col: tf.Tensor | undefined;
  if (g?.heads) col = headColumns(g.heads, block.headSize);
  if (g?.layer) col = col ? tf.mul(col, g.layer) : tf.mul(tf.ones([block.numHeads * block.headSize]), g.layer);
  gateOutput(block.output, col, g?.layer, hidden, put);
}

/**
 * The output projection of a gated block: its columns scaled by `col` (what enters it), its rows
 * and bias by the hidden gate (what leaves it), and the bias by the whole-layer gate, which closes
 * the block's contribution entirely.
 */
function gateOutput(output: Linear, col: tf.Tensor | undefined, layer: tf.Tensor | undefined, hidden: tf.Tensor | undefined, put: Put): void {
  if (col || hidden) {
    let w: tf.Tensor = output.weight;
    if (col) w = tf.mul(w, tf.reshape(col, [1, -1]));
    if (hidden) w = tf.mul(w, tf.reshape(hidden, [-1, 1]));
    put(output, 'weight', w);
  }
  const b = output.bias;
  if (b && (layer || hidden)) {
    let v: tf.Tensor = b;
    if (layer) v = tf.mul(v, layer);
    if (hidden) v = tf.mul(v, hidden);
    put(output, 'bias', v);
  }
}

function gateMlp(block: MlpBlock, g: MlpGates | undefined, hidden: tf.Tensor | undefined, put: Put): void {
  if (block.gate) throw new Error(`gates: ${block.name} is a gated MLP; structured gates support plain MLPs (input, activation, output) only`);
  const de = block.input.weight.shape[0];
  checkLength(g?.neurons, de, `the neuron gate of ${block.name}`);
  if (hidden) put(block.input, 'weight', tf.mul(block.input.weight, tf.reshape(hidden, [1, -1])));
  let col: tf.Tensor | undefined;
  if (g?.neurons) col = g.neurons;
  if (g?.layer) col = col ? tf.mul(col, g.layer) : tf.mul(tf.ones([de]), g.layer);
  gateOutput(block.output, col, g?.layer, hidden, put);
}

/**
 * Multiplies the gates into the variables for good (the same products as `substituteGates`), so
 * that the model alone computes the gated function; closed gates leave exact zeros for the
 * toolkit's head removal and compaction to remove.
 */
export function foldGates(model: PrunableModel, gates: ModelGates): void {
  const sub = substituteGates(model, gates);
  const pairs = new Map<tf.Variable, tf.Tensor>();
  // Read the gated tensors against the variables they replace, then put the variables back and assign.
  const attention = model.attentionBlocks();
  const mlps = model.mlpBlocks();
  const linears: Linear[] = [...attention.flatMap((b) => [b.query, b.key, b.value, b.output]), ...mlps.flatMap((b) => [b.input, b.output])];
  const current = linears.map((l) => ({ l, weight: l.weight as tf.Tensor, bias: l.bias as tf.Tensor | null }));
  sub.restore();
  current.forEach(({ l, weight, bias }) => {
    if (weight !== l.weight) pairs.set(l.weight, weight);
    if (bias && l.bias && bias !== l.bias) pairs.set(l.bias, bias);
  });
  for (const [v, t] of pairs) v.assign(t);
  tf.dispose(sub.created);
}
