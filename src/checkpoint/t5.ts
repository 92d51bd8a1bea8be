/**
 * T5 as a checkpoint architecture (`model_type: "t5"`, `T5ForConditionalGeneration`): its
 * `config.json` parsed with checks and written back, and the loader's view of its tensors.
 *
 * A pruned or compacted T5 is an ordinary checkpoint whose `neuroprune` field records, per stack
 * and kind, the removed heads, MLP widths and attention input dimensions (`T5Layout`). Hugging
 * Face's `pruned_heads` is read (as the encoder's self-attention heads, its meaning for T5) but
 * not written: no T5 class of transformers 4.57 loads a checkpoint that sets it (`from_pretrained`
 * fails in `_prune_heads`), so a pruned T5 goes to transformers through the dense export.
 */
import { T5Model, t5FeedForward, t5ParameterTable, type T5AttentionLayout, type T5Config, type T5Layout, type T5StackLayout } from '../models/t5';
import { fieldReader, parsePrunedHeads } from './configFields';
import { denseConfig } from './denseExport';
import type { Architecture } from './modelDir';

const REQUIRED = ['vocab_size', 'd_model', 'd_kv', 'd_ff', 'num_layers', 'num_heads'] as const;
const CLASS = 'T5ForConditionalGeneration';

/** Parses a T5 config; fields Hugging Face defaults take its defaults (`T5Config.__init__`). */
export function parseT5Config(raw: Record<string, unknown>, file: string): T5Config {
  const f = fieldReader(raw, file, 'T5', REQUIRED);
  const { fail, int, num, bool } = f;
  if (raw.model_type !== 't5') fail(`config field 'model_type' is '${String(raw.model_type)}'; this loader reads 't5'`);
  const arch = raw.architectures;
  if (arch !== undefined && arch !== null) {
    const name = String((Array.isArray(arch) ? arch : [arch])[0]);
    if (name !== CLASS && name !== 'T5Model' && name !== 'T5WithLMHeadModel') fail(`config field 'architectures' is ${JSON.stringify(arch)}; supported: ${CLASS}`);
  }
  const numLayers = int('num_layers', 1);
  const proj = raw.feed_forward_proj === undefined ? 'relu' : String(raw.feed_forward_proj);
  try { t5FeedForward(proj); } catch (err) { fail(`config field 'feed_forward_proj': ${(err as Error).message}`); }
  const cfg: T5Config = {
    vocab_size: int('vocab_size', 1),
    d_model: int('d_model', 1),
    d_kv: int('d_kv', 1),
    d_ff: int('d_ff', 1),
    num_layers: numLayers,
    num_decoder_layers: int('num_decoder_layers', 1, numLayers),
    num_heads: int('num_heads', 1),
    relative_attention_num_buckets: int('relative_attention_num_buckets', 2, 32),
    relative_attention_max_distance: int('relative_attention_max_distance', 1, 128),
    dropout_rate: num('dropout_rate', 0.1),
    layer_norm_epsilon: num('layer_norm_epsilon', 1e-6),
    feed_forward_proj: proj,
    initializer_factor: num('initializer_factor', 1),
    tie_word_embeddings: bool('tie_word_embeddings', true),
    pad_token_id: int('pad_token_id', 0, 0),
    eos_token_id: int('eos_token_id', 0, 1),
    decoder_start_token_id: int('decoder_start_token_id', 0, 0),
  };
  readT5Pruning(raw, cfg, fail);
  return cfg;
}

const isIndexList = (x: unknown, d: number) => x === null || (Array.isArray(x) && x.every((j) => Number.isInteger(j) && j >= 0 && j < d));

/**
 * Reads the `neuroprune` layout per stack and kind (`T5Layout`) into `cfg`, with a file's
 * `pruned_heads` (the encoder's self-attention heads, as transformers' T5 classes mean it) moved
 * into `neuroprune.encoder.self`; every index is checked against the dense sizes.
 */
function readT5Pruning(raw: Record<string, unknown>, cfg: T5Config, fail: (msg: string) => never): void {
  const dense = (layers: number) => ({ numLayers: layers, numHeads: cfg.num_heads, hiddenSize: cfg.d_model, intermediateSize: cfg.d_ff });
  const heads = (value: unknown, layers: number, field: string) => {
    try {
      return parsePrunedHeads(value, dense(layers), '');
    } catch (err) {
      return fail(`config field '${field}': ${(err as Error).message.replace(/^: /, '')}`);
    }
  };
  const hf = raw.pruned_heads === undefined || raw.pruned_heads === null ? {} : heads(raw.pruned_heads, cfg.num_layers, 'pruned_heads');
  const np = (raw.neuroprune ?? {}) as Record<string, unknown>;
  if (typeof np !== 'object' || Array.isArray(np)) fail(`config field 'neuroprune' must be an object with 'encoder' and/or 'decoder' (a T5 layout)`);
  const known = (obj: Record<string, unknown>, keys: string[], field: string) => {
    for (const key of Object.keys(obj)) if (!keys.includes(key)) fail(`config field '${field}' has '${key}'; a T5 layout has ${keys.join(', ')}`);
  };
  known(np, ['encoder', 'decoder'], 'neuroprune');
  const layout: T5Layout = {};
  for (const stack of ['encoder', 'decoder'] as const) {
    const s = np[stack] as Record<string, unknown> | undefined | null;
    if (s === undefined || s === null) continue;
    const field = `neuroprune.${stack}`;
    if (typeof s !== 'object' || Array.isArray(s)) fail(`config field '${field}' must be an object`);
    known(s, stack === 'encoder' ? ['intermediate_sizes', 'self'] : ['intermediate_sizes', 'self', 'cross'], field);
    const n = stack === 'encoder' ? cfg.num_layers : cfg.num_decoder_layers;
    const out: T5StackLayout = {};
    if (s.intermediate_sizes !== undefined) {
      const w = s.intermediate_sizes;
      if (!Array.isArray(w) || w.length !== n || !w.every((x) => Number.isInteger(x) && x >= 0 && x <= cfg.d_ff)) {
        fail(`config field '${field}.intermediate_sizes' must list ${n} integers in 0..${cfg.d_ff} (d_ff, the dense width), got ${JSON.stringify(w)}`);
      }
      out.intermediate_sizes = [...(w as number[])];
    }
    for (const kind of ['self', 'cross'] as const) {
      const a = s[kind] as Record<string, unknown> | undefined;
      if (a === undefined || a === null) continue;
      const af = `${field}.${kind}`;
      if (typeof a !== 'object' || Array.isArray(a)) fail(`config field '${af}' must be an object`);
      const keys = ['pruned_heads', 'attention_input_index', ...(kind === 'cross' ? ['context_input_index'] : [])];
      known(a, keys, af);
      const rec: T5AttentionLayout = {};
      if (a.pruned_heads !== undefined && a.pruned_heads !== null) rec.pruned_heads = heads(a.pruned_heads, n, `${af}.pruned_heads`);
      for (const key of ['attention_input_index', 'context_input_index'] as const) {
        const x = a[key];
        if (x === undefined || x === null) continue;
        if (!Array.isArray(x) || x.length !== n || !x.every((e) => isIndexList(e, cfg.d_model))) {
          fail(`config field '${af}.${key}' must hold, per layer (${n}), null or indices in 0..${cfg.d_model - 1}`);
        }
        rec[key] = (x as (number[] | null)[]).map((e) => (e ? [...e] : null));
      }
      if (Object.keys(rec).length > 0) out[kind] = rec;
    }
    if (Object.keys(out).length > 0) layout[stack] = out;
  }
  if (Object.keys(hf).length > 0) {
    // One record of the encoder's heads: two that could disagree are refused.
    if (layout.encoder?.self?.pruned_heads) fail(`config fields 'pruned_heads' and 'neuroprune.encoder.self.pruned_heads' both name removed encoder heads; keep one`);
    layout.encoder = { ...layout.encoder, self: { ...layout.encoder?.self, pruned_heads: hf } };
  }
  if (Object.keys(layout).length > 0) cfg.neuroprune = layout;
}

/** The config as Hugging Face writes it. */
export function serializeT5Config(cfg: T5Config): Record<string, unknown> {
  const { gated, activation } = t5FeedForward(cfg.feed_forward_proj);
  return {
    architectures: [CLASS],
    model_type: 't5',
    vocab_size: cfg.vocab_size,
    d_model: cfg.d_model,
    d_kv: cfg.d_kv,
    d_ff: cfg.d_ff,
    num_layers: cfg.num_layers,
    num_decoder_layers: cfg.num_decoder_layers,
    num_heads: cfg.num_heads,
    relative_attention_num_buckets: cfg.relative_attention_num_buckets,
    relative_attention_max_distance: cfg.relative_attention_max_distance,
    dropout_rate: cfg.dropout_rate,
    layer_norm_epsilon: cfg.layer_norm_epsilon,
    feed_forward_proj: cfg.feed_forward_proj,
    dense_act_fn: activation,
    is_gated_act: gated,
    initializer_factor: cfg.initializer_factor,
    tie_word_embeddings: cfg.tie_word_embeddings,
    is_encoder_decoder: true,
    pad_token_id: cfg.pad_token_id,
    eos_token_id: cfg.eos_token_id,
    decoder_start_token_id: cfg.decoder_start_token_id,
    ...(cfg.neuroprune && Object.keys(cfg.neuroprune).length > 0 ? { neuroprune: cfg.neuroprune } : {}),
  };
}

export const t5Architecture: Architecture<T5Config, T5Model> = {
  modelType: 't5',
  className: () => CLASS,
  parseConfig: parseT5Config,
  serializeConfig: serializeT5Config,
  denseConfig,
  table: t5ParameterTable,
  create: (config, init, options) => new T5Model(config, init, options),
  // The stacks' embeddings are `shared` under other names; a tied lm_head is `shared` too.
  isIgnorable: (name) => name === 'encoder.embed_tokens.weight' || name === 'decoder.embed_tokens.weight' || name === 'lm_head.weight',
  isHead: () => false,
  classifier: [],
  numLabels: () => null,
  setNumLabels: () => { throw new Error('T5ForConditionalGeneration has no classification head'); },
  canonicalName: (name) => name,
};
