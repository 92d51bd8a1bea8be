/**
 * T5 as a checkpoint architecture (`model_type: "t5"`, `T5ForConditionalGeneration`): its
 * `config.json` parsed with checks and written back, and the loader's view of its tensors.
 */
import { T5Model, t5FeedForward, t5ParameterTable, type T5Config } from '../models/t5';
import { fieldReader } from './configFields';
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
  if (raw.pruned_heads !== undefined && raw.pruned_heads !== null && Object.keys(raw.pruned_heads as object).length > 0) {
    fail(`config field 'pruned_heads' is set; loading a T5 with pruned heads is not supported yet (export it dense)`);
  }
  if (raw.neuroprune !== undefined && raw.neuroprune !== null) fail(`config field 'neuroprune' is set; a compacted T5 layout is not supported yet`);
  const numLayers = int('num_layers', 1);
  const proj = raw.feed_forward_proj === undefined ? 'relu' : String(raw.feed_forward_proj);
  try { t5FeedForward(proj); } catch (err) { fail(`config field 'feed_forward_proj': ${(err as Error).message}`); }
  return {
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
