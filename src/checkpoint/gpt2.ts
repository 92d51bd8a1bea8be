/**
 * GPT-2 as a checkpoint architecture (`model_type: "gpt2"`): its `config.json` parsed with checks
 * and written back, and the loader's view of its tensors.
 */
import { Gpt2Model, gpt2ParameterTable, type Gpt2Config } from '../models/gpt2';
import { taskFromArchitectures } from '../models/decoder';
import { fieldReader, readLabels, readPruning, serializeLabels } from './configFields';
import { denseConfig } from './denseExport';
import { decoderHeads, writeDecoderTail } from './decoderHeads';
import type { Architecture } from './modelDir';

const REQUIRED = ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'] as const;
const CLASSES = { causal_lm: 'GPT2LMHeadModel', sequence_classification: 'GPT2ForSequenceClassification' } as const;

/** Parses a GPT-2 config; fields Hugging Face defaults take its defaults (`GPT2Config.__init__`). */
export function parseGpt2Config(raw: Record<string, unknown>, file: string): Gpt2Config {
  const f = fieldReader(raw, file, 'GPT-2', REQUIRED);
  const { fail, int, num, bool } = f;
  if (raw.model_type !== 'gpt2') fail(`config field 'model_type' is '${String(raw.model_type)}'; this loader reads 'gpt2'`);
  if (raw.add_cross_attention === true) fail(`config field 'add_cross_attention' is true; GPT-2 with cross-attention is not supported`);
  const nEmbd = int('n_embd', 1);
  const cfg: Gpt2Config = {
    task: taskFromArchitectures(raw.architectures, 'GPT2', 'GPT2LMHeadModel', fail),
    vocab_size: int('vocab_size', 1),
    n_positions: int('n_positions', 1),
    n_embd: nEmbd,
    n_layer: int('n_layer', 0),
    n_head: int('n_head', 1),
    n_inner: int('n_inner', 1, 4 * nEmbd),
    activation_function: f.activation('activation_function', 'gelu_new'),
    resid_pdrop: num('resid_pdrop', 0.1),
    embd_pdrop: num('embd_pdrop', 0.1),
    attn_pdrop: num('attn_pdrop', 0.1),
    layer_norm_epsilon: num('layer_norm_epsilon', 1e-5),
    initializer_range: num('initializer_range', 0.02),
    scale_attn_weights: bool('scale_attn_weights', true),
    scale_attn_by_inverse_layer_idx: bool('scale_attn_by_inverse_layer_idx', false),
    pad_token_id: raw.pad_token_id === undefined || raw.pad_token_id === null ? null : int('pad_token_id', 0),
    tie_word_embeddings: bool('tie_word_embeddings', true),
    num_labels: 2,
  };
  if (raw.bos_token_id !== undefined && raw.bos_token_id !== null) cfg.bos_token_id = int('bos_token_id', 0);
  if (raw.eos_token_id !== undefined && raw.eos_token_id !== null) cfg.eos_token_id = int('eos_token_id', 0);
  if (cfg.n_embd % cfg.n_head !== 0) fail(`config: n_embd ${cfg.n_embd} is not a multiple of n_head ${cfg.n_head}`);
  readLabels(raw, f, cfg);
  const dense = { numLayers: cfg.n_layer, numHeads: cfg.n_head, hiddenSize: cfg.n_embd, intermediateSize: cfg.n_inner };
  readPruning(raw, dense, 'n_inner', file, cfg);
  return cfg;
}

/** The config as Hugging Face writes it (`architectures` names the head). */
export function serializeGpt2Config(cfg: Gpt2Config): Record<string, unknown> {
  const out: Record<string, unknown> = {
    architectures: [CLASSES[cfg.task]],
    model_type: 'gpt2',
    vocab_size: cfg.vocab_size,
    n_positions: cfg.n_positions,
    n_embd: cfg.n_embd,
    n_layer: cfg.n_layer,
    n_head: cfg.n_head,
    n_inner: cfg.n_inner,
    activation_function: cfg.activation_function,
    resid_pdrop: cfg.resid_pdrop,
    embd_pdrop: cfg.embd_pdrop,
    attn_pdrop: cfg.attn_pdrop,
    layer_norm_epsilon: cfg.layer_norm_epsilon,
    initializer_range: cfg.initializer_range,
    scale_attn_weights: cfg.scale_attn_weights,
    scale_attn_by_inverse_layer_idx: cfg.scale_attn_by_inverse_layer_idx,
    reorder_and_upcast_attn: false,
    pad_token_id: cfg.pad_token_id,
    tie_word_embeddings: cfg.tie_word_embeddings,
    ...serializeLabels(cfg),
  };
  return writeDecoderTail(cfg, out);
}

export const gpt2Architecture: Architecture<Gpt2Config, Gpt2Model> = {
  modelType: 'gpt2',
  className: (config) => CLASSES[config.task],
  parseConfig: parseGpt2Config,
  serializeConfig: serializeGpt2Config,
  denseConfig,
  table: gpt2ParameterTable,
  create: (config, init, options) => new Gpt2Model(config, init, options),
  // The causal-mask buffers of older checkpoints, and the tied output embedding.
  isIgnorable: (name) => /\.attn\.(bias|masked_bias)$/.test(name) || name === 'lm_head.weight',
  ...decoderHeads(),
  // `GPT2Model` checkpoints (the published `gpt2` among them) name their tensors without `transformer.`.
  canonicalName(name, fileNames) {
    const bare = !fileNames.has('transformer.wte.weight') && fileNames.has('wte.weight');
    return bare && name !== 'lm_head.weight' && name !== 'score.weight' ? `transformer.${name}` : name;
  },
};
