/**
 * BERT as a checkpoint architecture (`model_type: "bert"`), and the BERT entry points of the
 * model-directory code (`modelDir.ts`).
 */
import {
  BertForSequenceClassification, bertParameterTable, type BertConfig, type BertModelOptions,
} from '../models/bert';
import { denseConfig } from './denseExport';
import { parseBertConfig, serializeBertConfig } from './bertConfig';
import {
  loadModelDir, saveModelDir, type Architecture, type Loaded, type LoadOptions, type SaveOptions,
} from './modelDir';

export { CONFIG_FILE, SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE, CONVERT_HINT } from './modelDir';

export type LoadBertOptions = LoadOptions & { dropoutSeed?: BertModelOptions['dropoutSeed'] };
export type LoadedBert = Loaded<BertConfig, BertForSequenceClassification>;
export type SaveBertOptions = SaveOptions;

export const bertArchitecture: Architecture<BertConfig, BertForSequenceClassification> = {
  modelType: 'bert',
  className: () => 'BertForSequenceClassification',
  parseConfig: parseBertConfig,
  serializeConfig: serializeBertConfig,
  denseConfig,
  table: bertParameterTable,
  create: (config, init, options) => new BertForSequenceClassification(config, init, options),
  // Buffers of the embeddings and the pre-training heads of a `BertForPreTraining` checkpoint.
  isIgnorable: (name) => /(^|\.)embeddings\.(position_ids|token_type_ids)$/.test(name) || name.startsWith('cls.'),
  isHead: (name) => name.startsWith('classifier.') || name.startsWith('bert.pooler.'),
  classifier: ['classifier.weight', 'classifier.bias'],
  numLabels: (config) => config.num_labels,
  setNumLabels(config, n) {
    config.num_labels = n;
    delete config.id2label;
    delete config.label2id;
  },
  // `BertModel` checkpoints name their tensors without the `bert.` prefix (`embeddings.word_embeddings.weight`).
  canonicalName(name, fileNames) {
    const bare = !fileNames.has('bert.embeddings.word_embeddings.weight') && fileNames.has('embeddings.word_embeddings.weight');
    return bare && !name.startsWith('cls.') ? `bert.${name}` : name;
  },
};

/**
 * Loads `dir/config.json` and `dir/model.safetensors` (or its shards) into a
 * `BertForSequenceClassification` (see `loadModelDir`).
 */
export function loadBertCheckpoint(dir: string, options: LoadBertOptions = {}): LoadedBert {
  return loadModelDir(bertArchitecture, dir, options);
}

/** Writes a BERT to `dir` (see `saveModelDir`). */
export function saveBertCheckpoint(model: BertForSequenceClassification, dir: string, options: SaveBertOptions = {}): void {
  saveModelDir(bertArchitecture, model, dir, options);
}
