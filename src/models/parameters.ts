/**
 * The declarative parameter table of an architecture, and everything that follows from it.
 *
 * Each architecture lists its parameters once (`ParamSpec`: Hugging Face name, shape from the
 * config, how a fresh model draws it, where it lives among the blocks, how the checkpoint file
 * stores it). From that one list come the shapes the loader checks, the variables the
 * constructor makes, the named parameters (read through the blocks, so they follow pruning), the
 * heads-in-order layout of a saved pruned model and the dense export. No other code spells a
 * parameter name.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, MlpBlock } from './blocks';

/** Where a parameter lives among the blocks: the ones that pruning replaces. */
export type ParamRole =
  | { block: 'attention'; index: number; linear: 'query' | 'key' | 'value' | 'output'; part: 'weight' | 'bias' }
  | { block: 'mlp'; index: number; linear: 'input' | 'output' | 'gate'; part: 'weight' | 'bias' };

/** How a fresh model draws a parameter (Hugging Face's `_init_weights`). */
export type ParamInit =
  | { kind: 'normal'; std: number; /** A row set to zero (the padding token's embedding). */ zeroRow?: number }
  | { kind: 'zeros' }
  | { kind: 'ones' };

/**
 * How the checkpoint file stores a parameter when not as `name` with `shape`: under another
 * tensor name, transposed (GPT-2's `Conv1D` keeps `[in, out]`), and/or as part `index` of `of`
 * equal blocks of the output dimension of a fused tensor (GPT-2's `c_attn` holds Q, K and V).
 */
export interface FileLayout {
  tensor: string;
  transpose?: boolean;
  part?: { index: number; of: number };
}

export interface ParamSpec {
  /** Hugging Face name (of the fused tensor plus a suffix when `file` says it is a part). */
  readonly name: string;
  readonly shape: number[];
  readonly init: ParamInit;
  readonly role?: ParamRole;
  readonly file?: FileLayout;
}

/** Collects a parameter table in order; `normal` is the architecture's default draw of weights. */
export class TableBuilder {
  readonly specs: ParamSpec[] = [];

  constructor(private readonly normal: ParamInit) {}

  add(name: string, shape: number[], init: ParamInit = this.normal, role?: ParamRole, file?: FileLayout): void {
    this.specs.push({ name, shape, init, ...(role ? { role } : {}), ...(file ? { file } : {}) });
  }

  /** A LayerNorm's gain (ones) and bias (zeros) over `d` features. */
  layerNorm(prefix: string, d: number): void {
    this.add(`${prefix}.weight`, [d], { kind: 'ones' });
    this.add(`${prefix}.bias`, [d], { kind: 'zeros' });
  }
}

/** The roles of layer `index`'s attention parameters. */
export const attentionRole = (index: number) =>
  (linear: 'query' | 'key' | 'value' | 'output', part: 'weight' | 'bias'): ParamRole => ({ block: 'attention', index, linear, part });

/** The roles of layer `index`'s MLP parameters. */
export const mlpRole = (index: number) =>
  (linear: 'input' | 'output' | 'gate', part: 'weight' | 'bias'): ParamRole => ({ block: 'mlp', index, linear, part });

/** Supplies the initial value of one parameter; the model takes ownership of the tensor. */
export type ParameterInit = (name: string, shape: number[]) => tf.Tensor;

export function parameterShapes(table: readonly ParamSpec[]): Map<string, number[]> {
  return new Map(table.map((p) => [p.name, p.shape]));
}

/** FNV-1a hash of a name, to give each parameter its own reproducible random stream. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The table's own initialisation as a `ParameterInit`; seeds derive from the model seed and the name. */
export function tableInit(table: readonly ParamSpec[], seed: number): ParameterInit {
  const specs = new Map(table.map((p) => [p.name, p]));
  return (name, shape) => tf.tidy(() => {
    const spec = specs.get(name);
    if (!spec) throw new Error(`no parameter ${name} in the model's table`);
    const init = spec.init;
    if (init.kind === 'ones') return tf.ones(shape);
    if (init.kind === 'zeros') return tf.zeros(shape);
    const w = tf.randomNormal(shape, 0, init.std, 'float32', (seed * 1_000_003 + hashName(name)) % 2 ** 31);
    if (init.zeroRow !== undefined && init.zeroRow >= 0 && init.zeroRow < shape[0]) {
      const keep = tf.oneHot([init.zeroRow], shape[0]).reshape([shape[0], 1]);
      return tf.mul(w, tf.sub(1, keep));
    }
    return w;
  });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Makes one variable per table entry from `init`, named `<name>_<uid>` (TF.js variable names are
 * global). If `init` throws or returns a wrong shape, the variables made so far are disposed.
 */
export function makeVariables(table: readonly ParamSpec[], init: ParameterInit, uid: string): Map<string, tf.Variable> {
  const made = new Map<string, tf.Variable>();
  try {
    for (const spec of table) {
      const value = init(spec.name, spec.shape);
      try {
        if (!sameShape(value.shape, spec.shape)) throw new Error(`parameter ${spec.name}: expected shape [${spec.shape}], got [${value.shape}]`);
        made.set(spec.name, tf.variable(value, true, `${spec.name}_${uid}`));
      } finally {
        value.dispose();
      }
    }
  } catch (err) {
    for (const v of made.values()) v.dispose();
    throw err;
  }
  return made;
}

/** `{weight, bias}` of `prefix` from made variables (bias null when the table has none). */
export function linearOf(vars: Map<string, tf.Variable>, prefix: string, weight = 'weight', bias = 'bias'): Linear {
  const w = vars.get(`${prefix}.${weight}`);
  if (!w) throw new Error(`no parameter ${prefix}.${weight}`);
  return { weight: w, bias: vars.get(`${prefix}.${bias}`) ?? null };
}

export function getVariable(vars: Map<string, tf.Variable>, name: string): tf.Variable {
  const v = vars.get(name);
  if (!v) throw new Error(`no parameter ${name}`);
  return v;
}

/** The variable a spec names now: from the blocks for a role (pruning replaces those), else from `vars`. */
export function resolveParameter(spec: ParamSpec, vars: Map<string, tf.Variable>, attention: readonly AttentionBlock[], mlp: readonly MlpBlock[]): tf.Variable {
  const r = spec.role;
  if (!r) return getVariable(vars, spec.name);
  const linear: Linear | undefined = r.block === 'attention' ? attention[r.index][r.linear] : mlp[r.index][r.linear];
  if (!linear) throw new Error(`parameter ${spec.name}: block ${r.index} has no ${r.linear}`);
  const v = r.part === 'weight' ? linear.weight : linear.bias;
  if (!v) throw new Error(`parameter ${spec.name} has no variable (its block lost the ${r.part})`);
  return v;
}

/** Every parameter by name, in table order, read through the blocks. */
export function namedFromTable(table: readonly ParamSpec[], vars: Map<string, tf.Variable>, attention: readonly AttentionBlock[], mlp: readonly MlpBlock[]): Map<string, tf.Variable> {
  return new Map(table.map((spec) => [spec.name, resolveParameter(spec, vars, attention, mlp)]));
}

export interface ExportedTensor { name: string; shape: number[]; data: Float32Array }

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function headRows(headIds: readonly number[], headSize: number): number[] {
  return headIds.flatMap((h) => range(headSize).map((r) => h * headSize + r));
}

/** Copies `src` (`[rows, cols]`) into a zero `[denseRows, denseCols]` at the given row and column positions. */
function scatter2d(src: Float32Array, rows: readonly number[], cols: readonly number[], denseRows: number, denseCols: number): Float32Array {
  const out = new Float32Array(denseRows * denseCols);
  const n = cols.length;
  rows.forEach((r, i) => {
    for (let j = 0; j < n; j++) out[r * denseCols + cols[j]] = src[i * n + j];
  });
  return out;
}

/** Positions of `src` (`[rows, cols]`) gathered along `axis`. */
function gather2d(src: Float32Array, rows: number, cols: number, index: readonly number[], axis: 0 | 1): Float32Array {
  if (axis === 0) {
    const out = new Float32Array(index.length * cols);
    index.forEach((r, i) => out.set(src.subarray(r * cols, (r + 1) * cols), i * cols));
    return out;
  }
  const out = new Float32Array(rows * index.length);
  for (let r = 0; r < rows; r++) index.forEach((c, j) => { out[r * index.length + j] = src[r * cols + c]; });
  return out;
}

/**
 * The value of one parameter as a checkpoint stores it (before any file layout):
 * - pruned (default): heads in ascending original order, as Hugging Face's `prune_heads` keeps
 *   them (the current order may differ after a merge); shapes as they are;
 * - `dense`: the dense shapes with zeros where heads, neurons and input dimensions were removed,
 *   which loads in every `transformers` version (5.x ignores `pruned_heads`): a removed head gets
 *   zero Q/K/V rows and zero columns of the output weight, so it contributes 0; MLP neurons are
 *   interchangeable, so the kept ones take the first rows and the rest are zero neurons with zero
 *   outgoing columns (compaction already folded the constant output of removed ones into the
 *   bias); Q/K/V columns of removed input dimensions are zero.
 */
export function exportParameter(
  spec: ParamSpec, variable: tf.Variable, attention: readonly AttentionBlock[], mlp: readonly MlpBlock[], hiddenSize: number, dense: boolean,
): ExportedTensor {
  const data = (variable.dataSync() as Float32Array).slice();
  const shape = variable.shape.slice();
  const r = spec.role;
  if (!r) return { name: spec.name, shape, data };
  const d = hiddenSize;
  if (r.block === 'attention') {
    const block = attention[r.index];
    if (r.linear === 'output' && r.part === 'bias') return { name: spec.name, shape, data };
    if (!dense) {
      const order = block.headIds.map((h, i) => ({ h, i })).sort((a, b) => a.h - b.h).map((x) => x.i);
      if (order.every((x, i) => x === i)) return { name: spec.name, shape, data };
      const perm = headRows(order, block.headSize);
      const cols = shape.length === 2 ? shape[1] : 1;
      const axis = r.linear === 'output' ? 1 : 0;
      return { name: spec.name, shape, data: gather2d(data, shape[0], cols, perm, axis) };
    }
    const rows = headRows(block.headIds, block.headSize);
    const full = block.originalNumHeads * block.headSize;
    if (r.linear === 'output') return { name: spec.name, shape: [d, full], data: scatter2d(data, range(d), rows, d, full) };
    if (r.part === 'bias') return { name: spec.name, shape: [full], data: scatter2d(data, rows, [0], full, 1) };
    const cols = block.kind === 'cross' && r.linear !== 'query' ? block.contextInputIndex : block.inputIndex;
    return { name: spec.name, shape: [full, d], data: scatter2d(data, rows, cols ?? range(d), full, d) };
  }
  if (!dense) return { name: spec.name, shape, data };
  const block = mlp[r.index];
  const de = block.originalIntermediateSize ?? block.input.weight.shape[0];
  if (r.linear === 'input' || r.linear === 'gate') {
    const kept = shape[0];
    if (r.part === 'bias') return { name: spec.name, shape: [de], data: scatter2d(data, range(kept), [0], de, 1) };
    return { name: spec.name, shape: [de, d], data: scatter2d(data, range(kept), range(d), de, d) };
  }
  if (r.part === 'weight') return { name: spec.name, shape: [d, de], data: scatter2d(data, range(d), range(shape[1]), d, de) };
  return { name: spec.name, shape, data };
}

/** A model built from a parameter table: what the checkpoint code needs beside the blocks. */
export interface TableModel {
  /** The table the model was built from: its names, roles and file layouts (shapes as built). */
  readonly parameterTable: readonly ParamSpec[];
  readonly hiddenSize: number;
  attentionBlocks(): AttentionBlock[];
  mlpBlocks(): MlpBlock[];
  namedParameters(): Map<string, tf.Variable>;
}

/** Every parameter of a model as the checkpoint stores it (see `exportParameter`), in table order. */
export function exportParameters(model: TableModel, dense: boolean): { spec: ParamSpec; tensor: ExportedTensor }[] {
  const attention = model.attentionBlocks();
  const mlp = model.mlpBlocks();
  const named = model.namedParameters();
  return model.parameterTable.map((spec) => ({
    spec, tensor: exportParameter(spec, named.get(spec.name)!, attention, mlp, model.hiddenSize, dense),
  }));
}
