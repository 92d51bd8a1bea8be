/**
 * `config.json` of a Hugging Face BERT directory: parse with checks, and write back.
 *
 * Fields that Hugging Face defaults but whose default would silently build the wrong model
 * (the sizes) are required; a config without one is refused with the field's name. The rest
 * take Hugging Face's defaults (`BERT_CONFIG_DEFAULTS`).
 */
import { BERT_CONFIG_DEFAULTS, BERT_CONFIG_REQUIRED, type BertConfig } from '../models/bert';
import { CheckpointError } from './errors';
import { fieldReader, readLabels, readPruning, serializeLabels, writePruning } from './configFields';

/** Parses a config object (already JSON-decoded) read from `file`. */
export function parseBertConfig(json: unknown, file: string): BertConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new CheckpointError('config is not a JSON object', { file });
  }
  const raw = json as Record<string, unknown>;
  const f = fieldReader(raw, file, 'BERT', BERT_CONFIG_REQUIRED);
  const { fail, int, num } = f;
  if (raw.model_type !== undefined && raw.model_type !== 'bert') {
    fail(`config field 'model_type' is '${String(raw.model_type)}'; this loader reads 'bert'`);
  }
  if (raw.position_embedding_type !== undefined && raw.position_embedding_type !== 'absolute') {
    fail(`config field 'position_embedding_type' is '${String(raw.position_embedding_type)}'; only 'absolute' is supported`);
  }
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
  cfg.hidden_act = f.activation('hidden_act', BERT_CONFIG_DEFAULTS.hidden_act);
  readLabels(raw, f, cfg);
  if (raw.classifier_dropout !== undefined && raw.classifier_dropout !== null) cfg.classifier_dropout = num('classifier_dropout', 0);
  const dense = { numLayers: cfg.num_hidden_layers, numHeads: cfg.num_attention_heads, hiddenSize: cfg.hidden_size, intermediateSize: cfg.intermediate_size };
  readPruning(raw, dense, 'intermediate_size', file, cfg);
  return cfg;
}

/**
 * The config as Hugging Face writes it. `pruned_heads` is kept (transformers 4.x prunes the
 * heads at load), `neuroprune` only when a layer differs from the dense shape. Labels default
 * to `LABEL_i`, which is how Hugging Face records `num_labels`.
 */
export function serializeBertConfig(cfg: BertConfig): Record<string, unknown> {
  const { id2label, label2id } = serializeLabels(cfg);
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
  writePruning(cfg, out);
  return out;
}
