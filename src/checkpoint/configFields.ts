/**
 * Checked readers of `config.json` fields, shared by the architectures' config parsers: each
 * failure names the file and the field.
 */
import type { Activation } from '../models/blocks';
import type { NeuroPruneLayout } from '../models/layout';
import type { ProblemType } from '../models/losses';
import { CheckpointError } from './errors';

/** Hugging Face's activation names to ours (`gelu_pytorch_tanh` is the same function as `gelu_new`). */
export const ACTIVATIONS: Record<string, Activation> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', relu: 'relu' };
const PROBLEM_TYPES: ProblemType[] = ['regression', 'single_label_classification', 'multi_label_classification'];

export interface FieldReader {
  fail(msg: string): never;
  /** A required integer >= min; `fallback` makes it optional. */
  int(key: string, min: number, fallback?: number): number;
  /** An optional finite number (null counts as absent). */
  num(key: string, fallback: number): number;
  bool(key: string, fallback: boolean): boolean;
  activation(key: string, fallback: Activation): Activation;
}

/** Readers over `raw`; `required` names the fields without a default, for the message. */
export function fieldReader(raw: Record<string, unknown>, file: string, model: string, required: readonly string[]): FieldReader {
  const fail = (msg: string): never => { throw new CheckpointError(msg, { file }); };
  return {
    fail,
    int(key, min, fallback) {
      const v = raw[key];
      if ((v === undefined || v === null) && fallback !== undefined) return fallback;
      if (v === undefined) fail(`config field '${key}' is missing (${model} needs ${required.join(', ')})`);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`config field '${key}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return v as number;
    },
    num(key, fallback) {
      const v = raw[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`config field '${key}' must be a number, got ${JSON.stringify(v)}`);
      return v as number;
    },
    bool(key, fallback) {
      const v = raw[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'boolean') fail(`config field '${key}' must be true or false, got ${JSON.stringify(v)}`);
      return v as boolean;
    },
    activation(key, fallback) {
      const v = raw[key];
      if (v === undefined) return fallback;
      const act = typeof v === 'string' ? ACTIVATIONS[v] : undefined;
      if (!act) fail(`config field '${key}' is ${JSON.stringify(v)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
      return act as Activation;
    },
  };
}

/** The label fields of a classification config (HF: the count is the size of id2label; `num_labels` wins). */
export interface LabelFields {
  num_labels: number;
  problem_type?: ProblemType | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
}

export function readLabels(raw: Record<string, unknown>, f: FieldReader, cfg: LabelFields): void {
  if (raw.id2label && typeof raw.id2label === 'object') {
    cfg.id2label = raw.id2label as Record<string, string>;
    cfg.num_labels = Object.keys(cfg.id2label).length;
  }
  if (raw.label2id && typeof raw.label2id === 'object') cfg.label2id = raw.label2id as Record<string, number>;
  if (raw.num_labels !== undefined) cfg.num_labels = f.int('num_labels', 1);
  if (raw.problem_type !== undefined && raw.problem_type !== null) {
    if (!PROBLEM_TYPES.includes(raw.problem_type as ProblemType)) {
      f.fail(`config field 'problem_type' is ${JSON.stringify(raw.problem_type)}; expected one of ${PROBLEM_TYPES.join(', ')}`);
    }
    cfg.problem_type = raw.problem_type as ProblemType;
  }
}

/** `id2label` / `label2id` as Hugging Face writes them: `LABEL_i` when the config has no names of the right count. */
export function serializeLabels(cfg: LabelFields): { id2label: Record<string, string>; label2id: Record<string, number> } {
  const id2label = cfg.id2label && Object.keys(cfg.id2label).length === cfg.num_labels
    ? cfg.id2label
    : Object.fromEntries(Array.from({ length: cfg.num_labels }, (_, i) => [String(i), `LABEL_${i}`]));
  const label2id = cfg.label2id && Object.keys(cfg.label2id).length === cfg.num_labels
    ? cfg.label2id
    : Object.fromEntries(Object.entries(id2label).map(([i, name]) => [name, Number(i)]));
  return { id2label, label2id };
}

/** The dense sizes that `pruned_heads` and the `neuroprune` layout are checked against. */
export interface DenseSizes { numLayers: number; numHeads: number; hiddenSize: number; intermediateSize: number }

export function parsePrunedHeads(value: unknown, dense: DenseSizes, file: string): Record<string, number[]> {
  const fail = (msg: string): never => { throw new CheckpointError(msg, { file }); };
  if (typeof value !== 'object' || Array.isArray(value)) fail(`config field 'pruned_heads' must map layer indices to head lists`);
  const out: Record<string, number[]> = {};
  for (const [layer, heads] of Object.entries(value as Record<string, unknown>)) {
    const l = Number(layer);
    if (!Number.isInteger(l) || l < 0 || l >= dense.numLayers) fail(`config 'pruned_heads' names layer ${layer}; the model has ${dense.numLayers} layers`);
    if (!Array.isArray(heads) || !heads.every((h) => Number.isInteger(h) && h >= 0 && h < dense.numHeads)) {
      fail(`config 'pruned_heads[${layer}]' must list head indices in 0..${dense.numHeads - 1}, got ${JSON.stringify(heads)}`);
    }
    out[String(l)] = [...new Set(heads as number[])].sort((a, b) => a - b);
  }
  return out;
}

export function parseLayout(value: unknown, dense: DenseSizes, widthField: string, file: string): NeuroPruneLayout {
  const fail = (msg: string): never => { throw new CheckpointError(msg, { file }); };
  const n = dense.numLayers;
  const v = value as Record<string, unknown>;
  const layout: NeuroPruneLayout = {};
  if (v.intermediate_sizes !== undefined) {
    const s = v.intermediate_sizes;
    if (!Array.isArray(s) || s.length !== n || !s.every((x) => Number.isInteger(x) && x >= 0)) {
      fail(`config 'neuroprune.intermediate_sizes' must list ${n} non-negative integers, got ${JSON.stringify(s)}`);
    }
    (s as number[]).forEach((w, l) => {
      // The dense width is what sparsity is counted against: a layer cannot exceed it.
      if (w > dense.intermediateSize) fail(`config 'neuroprune.intermediate_sizes[${l}]' is ${w}, wider than ${widthField} ${dense.intermediateSize} (the dense model's width)`);
    });
    layout.intermediate_sizes = [...(s as number[])];
  }
  if (v.attention_input_index !== undefined) {
    const s = v.attention_input_index;
    const ok = Array.isArray(s) && s.length === n && s.every((x) => x === null
      || (Array.isArray(x) && x.every((j) => Number.isInteger(j) && j >= 0 && j < dense.hiddenSize)));
    if (!ok) fail(`config 'neuroprune.attention_input_index' must hold, per layer (${n}), null or indices in 0..${dense.hiddenSize - 1}`);
    layout.attention_input_index = (s as (number[] | null)[]).map((x) => (x ? [...x] : null));
  }
  return layout;
}

/** Reads `pruned_heads` and `neuroprune` into `cfg` when present. */
export function readPruning(raw: Record<string, unknown>, dense: DenseSizes, widthField: string, file: string, cfg: { pruned_heads?: Record<string, number[]>; neuroprune?: NeuroPruneLayout }): void {
  if (raw.pruned_heads !== undefined && raw.pruned_heads !== null) cfg.pruned_heads = parsePrunedHeads(raw.pruned_heads, dense, file);
  if (raw.neuroprune !== undefined && raw.neuroprune !== null) cfg.neuroprune = parseLayout(raw.neuroprune, dense, widthField, file);
}

/** Writes `pruned_heads` and `neuroprune` into a serialized config when they say anything. */
export function writePruning(cfg: { pruned_heads?: Record<string, number[]>; neuroprune?: NeuroPruneLayout }, out: Record<string, unknown>): void {
  if (cfg.pruned_heads && Object.keys(cfg.pruned_heads).length > 0) out.pruned_heads = cfg.pruned_heads;
  if (cfg.neuroprune && Object.keys(cfg.neuroprune).length > 0) out.neuroprune = cfg.neuroprune;
}
