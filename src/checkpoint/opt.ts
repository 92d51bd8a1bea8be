/**
 * OPT as a checkpoint architecture (`model_type: "opt"`): its `config.json` parsed with checks
 * and written back, and the loader's view of its tensors.
 */
import { OptModel, optParameterTable, type OptConfig } from '../models/opt';
import { taskFromArchitectures } from '../models/decoder';
import { fieldReader, readLabels, readPruning, serializeLabels } from './configFields';
import { denseConfig } from './denseExport';
import { decoderHeads, writeDecoderTail } from './decoderHeads';
import type { Architecture } from './modelDir';

const REQUIRED = ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'ffn_dim', 'max_position_embeddings'] as const;
const CLASSES = { causal_lm: 'OPTForCausalLM', sequence_classification: 'OPTForSequenceClassification' } as const;

/** Parses an OPT config; fields Hugging Face defaults take its defaults (`OPTConfig.__init__`). */
export function parseOptConfig(raw: Record<string, unknown>, file: string): OptConfig {
  const f = fieldReader(raw, file, 'OPT', REQUIRED);
  const { fail, int, num, bool } = f;
  if (raw.model_type !== 'opt') fail(`config field 'model_type' is '${String(raw.model_type)}'; this loader reads 'opt'`);
  if (raw.layer_norm_elementwise_affine === false) fail(`config field 'layer_norm_elementwise_affine' is false; OPT without LayerNorm parameters is not supported`);
  const hidden = int('hidden_size', 1);
  const cfg: OptConfig = {
    task: taskFromArchitectures(raw.architectures, 'OPT', 'OPTForCausalLM', fail),
    vocab_size: int('vocab_size', 1),
    hidden_size: hidden,
    num_hidden_layers: int('num_hidden_layers', 0),
    num_attention_heads: int('num_attention_heads', 1),
    ffn_dim: int('ffn_dim', 1),
    max_position_embeddings: int('max_position_embeddings', 1),
    word_embed_proj_dim: int('word_embed_proj_dim', 1, hidden),
    do_layer_norm_before: bool('do_layer_norm_before', true),
    _remove_final_layer_norm: bool('_remove_final_layer_norm', false),
    enable_bias: bool('enable_bias', true),
    activation_function: f.activation('activation_function', 'relu'),
    dropout: num('dropout', 0.1),
    attention_dropout: num('attention_dropout', 0),
    init_std: num('init_std', 0.02),
    pad_token_id: raw.pad_token_id === null ? null : int('pad_token_id', 0, 1),
    tie_word_embeddings: bool('tie_word_embeddings', true),
    num_labels: 2,
  };
  if (raw.bos_token_id !== undefined && raw.bos_token_id !== null) cfg.bos_token_id = int('bos_token_id', 0);
  if (raw.eos_token_id !== undefined && raw.eos_token_id !== null) cfg.eos_token_id = int('eos_token_id', 0);
  if (cfg.hidden_size % cfg.num_attention_heads !== 0) {
    fail(`config: hidden_size ${cfg.hidden_size} is not a multiple of num_attention_heads ${cfg.num_attention_heads}`);
  }
  readLabels(raw, f, cfg);
  const dense = { numLayers: cfg.num_hidden_layers, numHeads: cfg.num_attention_heads, hiddenSize: cfg.hidden_size, intermediateSize: cfg.ffn_dim };
  readPruning(raw, dense, 'ffn_dim', file, cfg);
  return cfg;
}

/** The config as Hugging Face writes it (`architectures` names the head). */
export function serializeOptConfig(cfg: OptConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    architectures: [CLASSES[cfg.task]],
    model_type: 'opt',
    vocab_size: cfg.vocab_size,
    hidden_size: cfg.hidden_size,
    num_hidden_layers: cfg.num_hidden_layers,
    num_attention_heads: cfg.num_attention_heads,
    ffn_dim: cfg.ffn_dim,
    max_position_embeddings: cfg.max_position_embeddings,
    word_embed_proj_dim: cfg.word_embed_proj_dim,
    do_layer_norm_before: cfg.do_layer_norm_before,
    _remove_final_layer_norm: cfg._remove_final_layer_norm,
    enable_bias: cfg.enable_bias,
    layer_norm_elementwise_affine: true,
    activation_function: cfg.activation_function,
    dropout: cfg.dropout,
    attention_dropout: cfg.attention_dropout,
    layerdrop: 0,
    init_std: cfg.init_std,
    pad_token_id: cfg.pad_token_id,
    tie_word_embeddings: cfg.tie_word_embeddings,
    ...serializeLabels(cfg),
  };
  return writeDecoderTail(cfg, out);
}

export const optArchitecture: Architecture<OptConfig, OptModel> = {
  modelType: 'opt',
  className: (config) => CLASSES[config.task],
  parseConfig: parseOptConfig,
  serializeConfig: serializeOptConfig,
  denseConfig,
  table: optParameterTable,
  create: (config, init, options) => new OptModel(config, init, options),
  // Older checkpoints store the tied output embedding as lm_head.weight too.
  isIgnorable: (name) => name === 'lm_head.weight',
  ...decoderHeads(),
  // `OPTModel` checkpoints name their tensors `decoder.*`, without the `model.` prefix.
  canonicalName: (name, fileNames) => (name.startsWith('decoder.') && !fileNames.has(`model.${name}`) ? `model.${name}` : name),
};
