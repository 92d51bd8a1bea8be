/**
 * Load and save a BERT as a Hugging Face model directory (`config.json` + `model.safetensors`).
 *
 * Loading checks everything before it creates a tensor: the config, every header, every shape
 * against the config, every dtype. Only then are the variables made, so a bad directory leaves
 * nothing allocated. Saving writes F32 and is atomic per file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  BertForSequenceClassification, bertParameterShapes, randomInit, type BertConfig, type BertModelOptions, type ParameterInit,
} from '../models/bert';
import { writeFileAtomic } from './atomic';
import { ATTENTION_PARAM, denseConfig, denseParameter } from './denseExport';
import { parseBertConfig, serializeBertConfig } from './config';
import { CheckpointError, LabelCountError } from './errors';
import { decodeTensor, encodeSafetensors, parseSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader, type TensorToWrite } from './safetensors';

export const CONFIG_FILE = 'config.json';
export const SAFETENSORS_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

/** How to turn a PyTorch pickle checkpoint into safetensors; quoted in the error. */
export const CONVERT_HINT = [
  'convert it to safetensors with Python, either',
  '  from transformers import AutoModelForSequenceClassification',
  '  AutoModelForSequenceClassification.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)',
  'or, for the weights alone,',
  '  import torch; from safetensors.torch import save_file',
  "  sd = torch.load(DIR + '/pytorch_model.bin', map_location='cpu', weights_only=True)",
  "  save_file({k: v.contiguous() for k, v in sd.items()}, DIR + '/model.safetensors', metadata={'format': 'pt'})",
].join('\n');

export interface LoadBertOptions {
  /**
   * Initialise the task head (`classifier.*`, and `bert.pooler.*` if absent) randomly when the
   * checkpoint lacks it, as when fine-tuning from a `BertModel` or pre-training checkpoint.
   * Default false: a missing tensor is an error.
   */
  initMissingHead?: boolean;
  /**
   * The number of labels the caller needs (the task's). A checkpoint whose classifier has another
   * size is refused with a `LabelCountError`, unless `reinitClassifier`. A checkpoint without a
   * classifier gets a fresh one of this size with `initMissingHead`.
   */
  numLabels?: number;
  /** With `numLabels`: replace a classifier of another size by a fresh one (reported in `replacedClassifier`). Default false. */
  reinitClassifier?: boolean;
  /** Seed of the random head initialisation. Default 0. */
  seed?: number;
  /** Seed of the dropout masks. Default 0. */
  dropoutSeed?: BertModelOptions['dropoutSeed'];
}

export interface LoadedBert {
  model: BertForSequenceClassification;
  config: BertConfig;
  /** Parameters initialised randomly because the file lacked them (`initMissingHead`). */
  initialised: string[];
  /** Tensors of the file that the model does not use (buffers, pre-training heads). */
  ignored: string[];
  /** Set when `reinitClassifier` replaced the file's classifier: its label count and the new one. */
  replacedClassifier?: { from: number; to: number };
}

/** Tensors a BERT checkpoint may carry that are not parameters of the classifier. */
function isIgnorable(name: string): boolean {
  return /(^|\.)embeddings\.(position_ids|token_type_ids)$/.test(name) || name.startsWith('cls.');
}

function isHeadParameter(name: string): boolean {
  return name.startsWith('classifier.') || name.startsWith('bert.pooler.');
}

interface FileTensors { file: string; bytes: Uint8Array; header: SafetensorsHeader }

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CheckpointError(`cannot read: ${(err as Error).message}`, { file });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`not valid JSON (${(err as Error).message})`, { file });
  }
}

/** Reads the weight files of a directory: one `model.safetensors` or the shards of an index. */
function readWeightFiles(dir: string): { files: FileTensors[]; byName: Map<string, { file: FileTensors; entry: SafetensorsEntry }> } {
  const single = path.join(dir, SAFETENSORS_FILE);
  const index = path.join(dir, SAFETENSORS_INDEX_FILE);
  let names: string[];
  if (fs.existsSync(single)) {
    names = [single];
  } else if (fs.existsSync(index)) {
    const map = (readJson(index) as { weight_map?: Record<string, string> }).weight_map;
    if (!map) throw new CheckpointError("has no 'weight_map'", { file: index });
    names = [...new Set(Object.values(map))].map((f) => path.join(dir, f));
  } else if (fs.existsSync(path.join(dir, 'pytorch_model.bin'))) {
    throw new CheckpointError(`only pytorch_model.bin is present; neuroprune reads safetensors, not PyTorch pickles: ${CONVERT_HINT.replaceAll('DIR', JSON.stringify(dir))}`, { file: path.join(dir, 'pytorch_model.bin') });
  } else {
    throw new CheckpointError(`no ${SAFETENSORS_FILE} (nor ${SAFETENSORS_INDEX_FILE}) in the directory`, { file: dir });
  }
  const files: FileTensors[] = [];
  const byName = new Map<string, { file: FileTensors; entry: SafetensorsEntry }>();
  for (const file of names) {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      throw new CheckpointError(`cannot read: ${(err as Error).message}`, { file });
    }
    const ft = { file, bytes, header: parseSafetensorsHeader(bytes, file) };
    files.push(ft);
    for (const entry of ft.header.entries.values()) byName.set(entry.name, { file: ft, entry });
  }
  return { files, byName };
}

/**
 * `BertModel` checkpoints name their tensors without the `bert.` prefix
 * (`embeddings.word_embeddings.weight`): map them to the classifier's names.
 */
function canonicalName(name: string, bare: boolean): string {
  return bare && !name.startsWith('cls.') ? `bert.${name}` : name;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Loads `dir/config.json` and `dir/model.safetensors` (or its shards) into a
 * `BertForSequenceClassification`. F32, F16 and BF16 weights are read (as float32).
 * Throws a `CheckpointError` naming the file, the tensor and the shapes on any disagreement;
 * in that case no tensor has been created.
 */
export function loadBertCheckpoint(dir: string, options: LoadBertOptions = {}): LoadedBert {
  const configFile = path.join(dir, CONFIG_FILE);
  const config = parseBertConfig(readJson(configFile), configFile);
  const fileLabels = config.num_labels;
  if (options.numLabels !== undefined && options.numLabels !== config.num_labels) {
    config.num_labels = options.numLabels;
    delete config.id2label;
    delete config.label2id;
  }
  let expected: Map<string, number[]>;
  try {
    expected = bertParameterShapes(config);
  } catch (err) {
    throw new CheckpointError((err as Error).message, { file: configFile });
  }
  const { byName } = readWeightFiles(dir);
  const bare = !byName.has('bert.embeddings.word_embeddings.weight') && byName.has('embeddings.word_embeddings.weight');

  // Match every file tensor to a parameter, then every parameter to a file tensor.
  const found = new Map<string, { file: FileTensors; entry: SafetensorsEntry }>();
  const ignored: string[] = [];
  for (const [name, hit] of byName) {
    const canonical = canonicalName(name, bare);
    if (expected.has(canonical)) found.set(canonical, hit);
    else if (isIgnorable(name)) ignored.push(name);
    else {
      throw new CheckpointError('is not a parameter of BertForSequenceClassification with this config (does config.json match the weights?)', {
        file: hit.file.file, tensor: name, actual: hit.entry.shape,
      });
    }
  }
  // A classifier of another size than asked for: refused, or replaced only on request.
  const fileHead = found.get('classifier.weight');
  let replacedClassifier: LoadedBert['replacedClassifier'];
  if (fileHead && options.numLabels !== undefined && fileHead.entry.shape[0] !== options.numLabels) {
    const from = fileHead.entry.shape.length === 2 ? fileHead.entry.shape[0] : fileLabels;
    if (!options.reinitClassifier) throw new LabelCountError(from, options.numLabels, { file: dir });
    for (const name of ['classifier.weight', 'classifier.bias']) {
      const hit = found.get(name);
      if (hit) { found.delete(name); ignored.push(hit.entry.name); }
    }
    replacedClassifier = { from, to: options.numLabels };
  }
  const initialised: string[] = replacedClassifier ? ['classifier.weight', 'classifier.bias'] : [];
  for (const [name, shape] of expected) {
    if (replacedClassifier && name.startsWith('classifier.')) continue;
    const hit = found.get(name);
    if (!hit) {
      if (options.initMissingHead && isHeadParameter(name)) { initialised.push(name); continue; }
      const missing = [...expected.keys()].filter((n) => !found.has(n));
      const where = byName.size ? [...byName.values()][0].file.file : dir;
      throw new CheckpointError(`is missing (${missing.length} of ${expected.size} parameters missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})`, {
        file: where, tensor: name, expected: shape,
      });
    }
    if (!sameShape(hit.entry.shape, shape)) {
      throw new CheckpointError(`has a shape that disagrees with ${CONFIG_FILE}`, { file: hit.file.file, tensor: hit.entry.name, expected: shape, actual: hit.entry.shape });
    }
  }

  // Decode everything (dtype errors surface here) before the first tensor exists.
  const values = new Map<string, Float32Array>();
  for (const [name, hit] of found) values.set(name, decodeTensor(hit.file.bytes, hit.file.header, hit.entry, hit.file.file));

  const random = randomInit(config, options.seed ?? 0);
  const init: ParameterInit = (name, shape) => {
    const data = values.get(name);
    return data ? tf.tensor(data, shape, 'float32') : random(name, shape);
  };
  const model = new BertForSequenceClassification(config, init, { dropoutSeed: options.dropoutSeed });
  return { model, config: model.config, initialised, ignored, ...(replacedClassifier ? { replacedClassifier } : {}) };
}

/**
 * Rows (or columns) of a Q/K/V (or O) weight reordered so that heads are in ascending original
 * order, as Hugging Face's `prune_heads` keeps them; identity when already sorted.
 */
function headOrder(headIds: readonly number[], headSize: number): number[] | null {
  const order = headIds.map((h, i) => ({ h, i })).sort((a, b) => a.h - b.h).map((x) => x.i);
  if (order.every((x, i) => x === i)) return null;
  return order.flatMap((i) => Array.from({ length: headSize }, (_, r) => i * headSize + r));
}

export interface SaveBertOptions {
  /** `__metadata__` of the safetensors file. Default `{format: 'pt'}` (what transformers expects). */
  metadata?: Record<string, string>;
  /**
   * Write the dense shapes, with zeros where heads, neurons and input dimensions were removed
   * (see denseExport.ts): loads in every `transformers` version, without the speed-up. Default false.
   */
  dense?: boolean;
}

/**
 * Writes `model` to `dir` (created if needed) as `config.json` + `model.safetensors` (F32).
 * The config carries `pruned_heads` and, for compacted layers, the `neuroprune` layout, so the
 * directory loads back into the same shapes. Each file is replaced atomically.
 */
export function saveBertCheckpoint(model: BertForSequenceClassification, dir: string, options: SaveBertOptions = {}): void {
  const config = options.dense ? denseConfig(model.currentConfig()) : model.currentConfig();
  const tensors: TensorToWrite[] = [];
  const blocks = model.attentionBlocks();
  for (const [name, variable] of model.namedParameters()) {
    if (options.dense) {
      // Rows go to their original head positions whatever the current order, so no reordering.
      const dense = denseParameter(name, variable.shape, (variable.dataSync() as Float32Array).slice(), config, blocks);
      tensors.push({ name, shape: dense.shape, data: dense.data });
      continue;
    }
    const m = ATTENTION_PARAM.exec(name);
    const block = m ? blocks[Number(m[1])] : undefined;
    const perm = block ? headOrder(block.headIds, block.headSize) : null;
    let data: Float32Array;
    if (perm && m) {
      // Heads sit on the rows of Q/K/V (and their biases), on the columns of O.
      const axis = m[2] === 'output.dense' ? (m[4] === 'weight' ? 1 : -1) : 0;
      data = axis < 0 ? (variable.dataSync() as Float32Array).slice() : tf.tidy(() => tf.gather(variable, perm, axis).dataSync() as Float32Array);
    } else {
      data = (variable.dataSync() as Float32Array).slice();
    }
    tensors.push({ name, shape: variable.shape, data });
  }
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, SAFETENSORS_FILE), encodeSafetensors(tensors, options.metadata));
  writeFileAtomic(path.join(dir, CONFIG_FILE), JSON.stringify(serializeBertConfig(config), null, 2) + '\n');
}
