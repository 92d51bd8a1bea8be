/**
 * Load and save a model of any supported architecture as a Hugging Face model directory
 * (`config.json` + `model.safetensors`), driven by the architecture's parameter table.
 *
 * Loading checks everything before it creates a tensor: the config, every header, every shape
 * against the config, every dtype. Only then are the variables made, so a bad directory leaves
 * nothing allocated. Saving writes F32 and is atomic per file. A parameter that the file stores
 * transposed or fused with others (GPT-2's `Conv1D` and `c_attn`) is converted on the way in and
 * re-fused on the way out, as its table entry says.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { exportParameters, tableInit, type ParameterInit, type ParamSpec, type TableModel } from '../models/parameters';
import { writeFileAtomic } from './atomic';
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

/** A model that the checkpoint code can write: its table, blocks and the config that describes it now. */
export interface CheckpointModel<C> extends TableModel {
  readonly config: C;
  currentConfig(): C;
  dispose(): void;
}

/** What the checkpoint code needs to know of one architecture (`model_type` in `config.json`). */
export interface Architecture<C, M extends CheckpointModel<C>> {
  readonly modelType: string;
  /** The Hugging Face class this config builds, for messages. */
  className(config: C): string;
  parseConfig(json: Record<string, unknown>, file: string): C;
  serializeConfig(config: C): Record<string, unknown>;
  /** The config with no pruning recorded (for the dense export). */
  denseConfig(config: C): C;
  table(config: C): ParamSpec[];
  create(config: C, init: ParameterInit, options: { dropoutSeed?: number }): M;
  /** File tensors that are not parameters (buffers, pre-training heads, tied copies): skipped. */
  isIgnorable(name: string): boolean;
  /** Parameters of the task head, which `initMissingHead` may draw fresh. */
  isHead(name: string): boolean;
  /** Parameters whose first dimension is the label count (empty for a language-model head). */
  readonly classifier: readonly string[];
  numLabels(config: C): number | null;
  /** Sets the label count (and forgets label names of another count). */
  setNumLabels(config: C, n: number): void;
  /** Maps the file's tensor names to the model's (a base-model checkpoint lacks the task prefix). */
  canonicalName(name: string, fileNames: ReadonlySet<string>): string;
  /**
   * Puts another head on the config (`LoadOptions.task`) and sets a missing padding id; absent
   * for an architecture with one head. `fail` names the file.
   */
  adapt?(config: C, request: { task?: ModelTask; padTokenId?: number }, fail: (msg: string) => never): void;
}

/** The heads a model directory may be loaded with. */
export type ModelTask = 'sequence_classification' | 'causal_lm';

export interface LoadOptions {
  /**
   * Initialise the task head randomly when the checkpoint lacks it, as when fine-tuning from a
   * base-model or pre-training checkpoint. Default false: a missing tensor is an error.
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
  dropoutSeed?: number;
  /**
   * The head to load the model with, when not the one its config names: a causal-LM checkpoint
   * (OPT-125m) gets a fresh classification head with `initMissingHead`, its output embedding
   * ignored. Default: the config's own.
   */
  task?: ModelTask;
  /** Padding id for a config without one (GPT-2): the tokenizer's, as `transformers` users set it. */
  padTokenId?: number;
}

export interface Loaded<C, M> {
  model: M;
  config: C;
  /** Parameters initialised randomly because the file lacked them (`initMissingHead`). */
  initialised: string[];
  /** Tensors of the file that the model does not use (buffers, pre-training heads). */
  ignored: string[];
  /** Set when `reinitClassifier` replaced the file's classifier: its label count and the new one. */
  replacedClassifier?: { from: number; to: number };
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

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `[rows, cols]` to `[cols, rows]`. */
function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/** One tensor of the file and the parameters it holds (one, or the parts of a fused tensor, in order). */
interface FileTensorPlan { name: string; shape: number[]; transpose: boolean; parts: ParamSpec[] }

/** The file tensors a table expects, with their shapes as stored. */
export function fileTensorPlan(table: readonly ParamSpec[]): Map<string, FileTensorPlan> {
  const plans = new Map<string, FileTensorPlan>();
  for (const spec of table) {
    const tensor = spec.file?.tensor ?? spec.name;
    let plan = plans.get(tensor);
    if (!plan) plans.set(tensor, (plan = { name: tensor, shape: [], transpose: spec.file?.transpose ?? false, parts: [] }));
    plan.parts[spec.file?.part?.index ?? 0] = spec;
  }
  for (const plan of plans.values()) {
    const first = plan.parts[0].shape;
    // Parts are stacked along the output dimension (rows of [out, in], or a bias).
    const stacked = [first[0] * plan.parts.length, ...first.slice(1)];
    plan.shape = plan.transpose && stacked.length === 2 ? [stacked[1], stacked[0]] : stacked;
  }
  return plans;
}

/** Splits a file tensor's values into its parameters' values. */
function splitFileTensor(plan: FileTensorPlan, data: Float32Array): Map<string, Float32Array> {
  const rowsMajor = plan.transpose && plan.shape.length === 2 ? transpose2d(data, plan.shape[0], plan.shape[1]) : data;
  const out = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of plan.parts) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    out.set(spec.name, rowsMajor.slice(offset, offset + n));
    offset += n;
  }
  return out;
}

/**
 * Loads `dir/config.json` and `dir/model.safetensors` (or its shards) into a model of `arch`.
 * F32, F16 and BF16 weights are read (as float32). Throws a `CheckpointError` naming the file,
 * the tensor and the shapes on any disagreement; in that case no tensor has been created.
 */
export function loadModelDir<C, M extends CheckpointModel<C>>(arch: Architecture<C, M>, dir: string, options: LoadOptions = {}): Loaded<C, M> {
  const configFile = path.join(dir, CONFIG_FILE);
  const json = readJson(configFile);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CheckpointError('config is not a JSON object', { file: configFile });
  const config = arch.parseConfig(json as Record<string, unknown>, configFile);
  if (options.task !== undefined || options.padTokenId !== undefined) {
    const fail = (msg: string): never => { throw new CheckpointError(msg, { file: configFile }); };
    if (arch.adapt) arch.adapt(config, { task: options.task, padTokenId: options.padTokenId }, fail);
    else if (options.task !== undefined && options.task !== 'sequence_classification') fail(`${arch.className(config)} has no ${options.task} head`);
  }
  const fileLabels = arch.numLabels(config);
  const hasClassifier = arch.classifier.length > 0;
  if (hasClassifier && options.numLabels !== undefined && options.numLabels !== fileLabels) arch.setNumLabels(config, options.numLabels);
  let table: ParamSpec[];
  try {
    table = arch.table(config);
  } catch (err) {
    throw new CheckpointError((err as Error).message, { file: configFile });
  }
  const plans = fileTensorPlan(table);
  const { byName } = readWeightFiles(dir);
  const fileNames = new Set(byName.keys());

  // Match every file tensor to a parameter, then every parameter to a file tensor.
  const found = new Map<string, { file: FileTensors; entry: SafetensorsEntry }>();
  const ignored: string[] = [];
  for (const [name, hit] of byName) {
    const canonical = arch.canonicalName(name, fileNames);
    if (plans.has(canonical)) found.set(canonical, hit);
    else if (arch.isIgnorable(canonical)) ignored.push(name);
    else {
      throw new CheckpointError(`is not a parameter of ${arch.className(config)} with this config (does config.json match the weights?)`, {
        file: hit.file.file, tensor: name, actual: hit.entry.shape,
      });
    }
  }
  // A classifier of another size than asked for: refused, or replaced only on request.
  const fileHead = hasClassifier ? found.get(arch.classifier[0]) : undefined;
  let replacedClassifier: Loaded<C, M>['replacedClassifier'];
  if (fileHead && options.numLabels !== undefined && fileHead.entry.shape[0] !== options.numLabels) {
    const from = fileHead.entry.shape.length === 2 ? fileHead.entry.shape[0] : (fileLabels ?? 0);
    if (!options.reinitClassifier) throw new LabelCountError(from, options.numLabels, { file: dir });
    for (const name of arch.classifier) {
      const hit = found.get(name);
      if (hit) { found.delete(name); ignored.push(hit.entry.name); }
    }
    replacedClassifier = { from, to: options.numLabels };
  }
  const initialised: string[] = replacedClassifier ? [...arch.classifier] : [];
  for (const [name, plan] of plans) {
    if (replacedClassifier && arch.classifier.includes(name)) continue;
    const hit = found.get(name);
    if (!hit) {
      if (options.initMissingHead && arch.isHead(name)) { initialised.push(...plan.parts.map((p) => p.name)); continue; }
      const missing = [...plans.keys()].filter((n) => !found.has(n));
      const where = byName.size ? [...byName.values()][0].file.file : dir;
      throw new CheckpointError(`is missing (${missing.length} of ${plans.size} parameters missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})`, {
        file: where, tensor: name, expected: plan.shape,
      });
    }
    if (!sameShape(hit.entry.shape, plan.shape)) {
      throw new CheckpointError(`has a shape that disagrees with ${CONFIG_FILE}`, { file: hit.file.file, tensor: hit.entry.name, expected: plan.shape, actual: hit.entry.shape });
    }
  }

  // Decode everything (dtype errors surface here) before the first tensor exists.
  const values = new Map<string, Float32Array>();
  for (const [name, hit] of found) {
    const data = decodeTensor(hit.file.bytes, hit.file.header, hit.entry, hit.file.file);
    for (const [param, part] of splitFileTensor(plans.get(name)!, data)) values.set(param, part);
  }

  const random = tableInit(table, options.seed ?? 0);
  const init: ParameterInit = (name, shape) => {
    const data = values.get(name);
    return data ? tf.tensor(data, shape, 'float32') : random(name, shape);
  };
  const model = arch.create(config, init, { dropoutSeed: options.dropoutSeed });
  return { model, config: model.config, initialised, ignored, ...(replacedClassifier ? { replacedClassifier } : {}) };
}

/**
 * Parameter values (by parameter name) in the layout of the checkpoint file: parts of a fused
 * tensor stacked along the output dimension, then transposed where the file stores `[in, out]`.
 * Also serves gradients, to compare them with PyTorch's by the file's names.
 */
export function toFileLayout(table: readonly ParamSpec[], values: Map<string, { shape: number[]; data: Float32Array }>): TensorToWrite[] {
  const out: TensorToWrite[] = [];
  for (const plan of fileTensorPlan(table).values()) {
    const parts = plan.parts.map((spec) => {
      const v = values.get(spec.name);
      if (!v) throw new Error(`toFileLayout: no value for parameter ${spec.name}`);
      return v;
    });
    const first = parts[0].shape;
    const shape = [first[0] * parts.length, ...first.slice(1)];
    let data: Float32Array;
    if (parts.length === 1) data = parts[0].data;
    else {
      data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
      let offset = 0;
      for (const p of parts) { data.set(p.data, offset); offset += p.data.length; }
    }
    if (plan.transpose && shape.length === 2) out.push({ name: plan.name, shape: [shape[1], shape[0]], data: transpose2d(data, shape[0], shape[1]) });
    else out.push({ name: plan.name, shape, data });
  }
  return out;
}

export interface SaveOptions {
  /** `__metadata__` of the safetensors file. Default `{format: 'pt'}` (what transformers expects). */
  metadata?: Record<string, string>;
  /**
   * Write the dense shapes, with zeros where heads, neurons and input dimensions were removed
   * (see `exportParameter`): loads in every `transformers` version, without the speed-up. Default false.
   */
  dense?: boolean;
}

/**
 * Writes `model` to `dir` (created if needed) as `config.json` + `model.safetensors` (F32).
 * The config carries `pruned_heads` and, for compacted layers, the `neuroprune` layout, so the
 * directory loads back into the same shapes. Each file is replaced atomically.
 */
export function saveModelDir<C, M extends CheckpointModel<C>>(arch: Architecture<C, M>, model: M, dir: string, options: SaveOptions = {}): void {
  const dense = options.dense ?? false;
  const config = dense ? arch.denseConfig(model.currentConfig()) : model.currentConfig();
  const exported = new Map(exportParameters(model, dense).map(({ spec, tensor }) => [spec.name, { shape: tensor.shape, data: tensor.data }]));
  const tensors = toFileLayout(model.parameterTable, exported);
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, SAFETENSORS_FILE), encodeSafetensors(tensors, options.metadata));
  writeFileAtomic(path.join(dir, CONFIG_FILE), JSON.stringify(arch.serializeConfig(config), null, 2) + '\n');
}
