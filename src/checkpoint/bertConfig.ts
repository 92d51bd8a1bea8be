/**
 * `config.json` of a Hugging Face BERT directory: parse with checks, and write back.
 *
 * Fields that Hugging Face defaults but whose default would silently build the wrong model
 * (the sizes) are required; a config without one is refused with the field's name. The rest
 * take Hugging Face's defaults (`BERT_CONFIG_DEFAULTS`).
 */
import type { Activation } from '../models/blocks';
import {
  BERT_CONFIG_DEFAULTS, BERT_CONFIG_REQUIRED, type BertConfig, type BertProblemType, type NeuroPruneLayout,
} from '../models/bert';
import { CheckpointError } from './errors';

const ACTIVATIONS: Record<string, Activation> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', relu: 'relu' };
const PROBLEM_TYPES: BertProblemType[] = ['regression', 'single_label_classification', 'multi_label_classification'];

/** Parses a config object (already JSON-decoded) read from `file`. */
export function parseBertConfig(json: unknown, file: string): BertConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new CheckpointError('config is not a JSON object', { file });
  }
  const raw = json as Record<string, unknown>;
  const fail = (msg: string): never => { throw new CheckpointError(msg, { file }); };
  if (raw.model_type !== undefined && raw.model_type !== 'bert') {
    fail(`config field 'model_type' is '${String(raw.model_type)}'; this loader reads 'bert'`);
  }
  if (raw.position_embedding_type !== undefined && raw.position_embedding_type !== 'absolute') {
    fail(`config field 'position_embedding_type' is '${String(raw.position_embedding_type)}'; only 'absolute' is supported`);
  }
  const int = (key: string, min: number): number => {
    const v = raw[key];
    if (v === undefined) fail(`config field '${key}' is missing (BERT needs ${BERT_CONFIG_REQUIRED.join(', ')})`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`config field '${key}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const num = (key: string, fallback: number): number => {
    const v = raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`config field '${key}' must be a number, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const cfg: BertConfig = {
    vocab_size: int('vocab_size', 1),
    hidden_size: int('hidden_size', 1),
    num_hidden_layers: int('num_hidden_layers', 0),
    num_attention_heads: int('num_attention_heads', 1),
    intermediate_size: int('intermediate_size', 1),
    max_position_embeddings: int('max_position_embeddings', 1),
    type_vocab_size: int('type_vocab_size', 1),
    hidden_act: BERT_CONFIG_DEFAULTS.hidden_act,
    hidden_dropout_prob: num('hidden_dropout_prob', BERT_CONFIG_DEFAULTS.hidden_dropout_prob),
    attention_probs_dropout_prob: num('attention_probs_dropout_prob', BERT_CONFIG_DEFAULTS.attention_probs_dropout_prob),
    initializer_range: num('initializer_range', BERT_CONFIG_DEFAULTS.initializer_range),
    layer_norm_eps: num('layer_norm_eps', BERT_CONFIG_DEFAULTS.layer_norm_eps),
    pad_token_id: num('pad_token_id', BERT_CONFIG_DEFAULTS.pad_token_id),
    num_labels: BERT_CONFIG_DEFAULTS.num_labels,
  };
  if (cfg.hidden_size % cfg.num_attention_heads !== 0) {
    fail(`config: hidden_size ${cfg.hidden_size} is not a multiple of num_attention_heads ${cfg.num_attention_heads}`);
  }
  if (raw.hidden_act !== undefined) {
    const act = typeof raw.hidden_act === 'string' ? ACTIVATIONS[raw.hidden_act] : undefined;
    if (!act) fail(`config field 'hidden_act' is ${JSON.stringify(raw.hidden_act)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
    cfg.hidden_act = act as Activation;
  }
  // Hugging Face stores the label count as the size of id2label; `num_labels` wins if present.
  if (raw.id2label && typeof raw.id2label === 'object') {
    cfg.id2label = raw.id2label as Record<string, string>;
    cfg.num_labels = Object.keys(cfg.id2label).length;
  }
  if (raw.label2id && typeof raw.label2id === 'object') cfg.label2id = raw.label2id as Record<string, number>;
  if (raw.num_labels !== undefined) cfg.num_labels = int('num_labels', 1);
  if (raw.problem_type !== undefined && raw.problem_type !== null) {
    if (!PROBLEM_TYPES.includes(raw.problem_type as BertProblemType)) {
      fail(`config field 'problem_type' is ${JSON.stringify(raw.problem_type)}; expected one of ${PROBLEM_TYPES.join(', ')}`);
    }
    cfg.problem_type = raw.problem_type as BertProblemType;
  }
  if (raw.classifier_dropout !== undefined && raw.classifier_dropout !== null) cfg.classifier_dropout = num('classifier_dropout', 0);
  if (raw.pruned_heads !== undefined && raw.pruned_heads !== null) {
    cfg.pruned_heads = parsePrunedHeads(raw.pruned_heads, cfg, file);
  }
  if (raw.neuroprune !== undefined && raw.neuroprune !== null) {
    cfg.neuroprune = parseLayout(raw.neuroprune, cfg, file);
  }
  return cfg;
}

function parsePrunedHeads(value: unknown, cfg: BertConfig, file: string): Record<string, number[]> {
  const fail = (msg: string): never => { throw new CheckpointError(msg, { file }); };
  if (typeof value !== 'object' || Array.isArray(value)) fail(`config field 'pruned_heads' must map layer indices to head lists`);
  const out: Record<string, number[]> = {};
  for (const [layer, heads] of Object.entries(value as Record<string, unknown>)) {
    const l = Number(layer);
    if (!Number.isInteger(l) || l < 0 || l >= cfg.num_hidden_layers) fail(`config 'pruned_heads' names layer ${layer}; the model has ${cfg.num_hidden_layers} layers`);
    if (!Array.isArray(heads) || !heads.every((h) => Number.isInteger(h) && h >= 0 && h < cfg.num_attention_heads)) {
      fail(`config 'pruned_heads[${layer}]' must list head indices in 0..${cfg.num_attention_heads - 1}, got ${JSON.stringify(heads)}`);
    }
    out[String(l)] = [...new Set(heads as number[])].sort((a, b) => a - b);
  }
  return out;
}

function parseLayout(value: unknown, cfg: BertConfig, file: string): NeuroPruneLayout {
  const fail = (msg: string): never => { throw new CheckpointError(msg, { file }); };
  const n = cfg.num_hidden_layers;
  const v = value as Record<string, unknown>;
  const layout: NeuroPruneLayout = {};
  if (v.intermediate_sizes !== undefined) {
    const s = v.intermediate_sizes;
    if (!Array.isArray(s) || s.length !== n || !s.every((x) => Number.isInteger(x) && x >= 0)) {
      fail(`config 'neuroprune.intermediate_sizes' must list ${n} non-negative integers, got ${JSON.stringify(s)}`);
    }
    (s as number[]).forEach((w, l) => {
      // intermediate_size is the dense width that sparsity is counted against: a layer cannot exceed it.
      if (w > cfg.intermediate_size) fail(`config 'neuroprune.intermediate_sizes[${l}]' is ${w}, wider than intermediate_size ${cfg.intermediate_size} (the dense model's width)`);
    });
    layout.intermediate_sizes = [...(s as number[])];
  }
  if (v.attention_input_index !== undefined) {
    const s = v.attention_input_index;
    const ok = Array.isArray(s) && s.length === n && s.every((x) => x === null
      || (Array.isArray(x) && x.every((j) => Number.isInteger(j) && j >= 0 && j < cfg.hidden_size)));
    if (!ok) fail(`config 'neuroprune.attention_input_index' must hold, per layer (${n}), null or indices in 0..${cfg.hidden_size - 1}`);
    layout.attention_input_index = (s as (number[] | null)[]).map((x) => (x ? [...x] : null));
  }
  return layout;
}

/**
 * The config as Hugging Face writes it. `pruned_heads` is kept (transformers 4.x prunes the
 * heads at load), `neuroprune` only when a layer differs from the dense shape. Labels default
 * to `LABEL_i`, which is how Hugging Face records `num_labels`.
 */
export function serializeBertConfig(cfg: BertConfig): Record<string, unknown> {
  const id2label = cfg.id2label && Object.keys(cfg.id2label).length === cfg.num_labels
    ? cfg.id2label
    : Object.fromEntries(Array.from({ length: cfg.num_labels }, (_, i) => [String(i), `LABEL_${i}`]));
  const label2id = cfg.label2id && Object.keys(cfg.label2id).length === cfg.num_labels
    ? cfg.label2id
    : Object.fromEntries(Object.entries(id2label).map(([i, name]) => [name, Number(i)]));
  const out: Record<string, unknown> = {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    vocab_size: cfg.vocab_size,
    hidden_size: cfg.hidden_size,
    num_hidden_layers: cfg.num_hidden_layers,
    num_attention_heads: cfg.num_attention_heads,
    intermediate_size: cfg.intermediate_size,
    hidden_act: cfg.hidden_act,
    hidden_dropout_prob: cfg.hidden_dropout_prob,
    attention_probs_dropout_prob: cfg.attention_probs_dropout_prob,
    max_position_embeddings: cfg.max_position_embeddings,
    type_vocab_size: cfg.type_vocab_size,
    initializer_range: cfg.initializer_range,
    layer_norm_eps: cfg.layer_norm_eps,
    pad_token_id: cfg.pad_token_id,
    position_embedding_type: 'absolute',
    classifier_dropout: cfg.classifier_dropout ?? null,
    id2label,
    label2id,
  };
  if (cfg.problem_type) out.problem_type = cfg.problem_type;
  if (cfg.pruned_heads && Object.keys(cfg.pruned_heads).length > 0) out.pruned_heads = cfg.pruned_heads;
  if (cfg.neuroprune && Object.keys(cfg.neuroprune).length > 0) out.neuroprune = cfg.neuroprune;
  return out;
}
