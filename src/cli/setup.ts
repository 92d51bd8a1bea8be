/**
 * What `train`, `eval` and `sweep` share: the task (built-in, GLUE, or language modelling on
 * text) and the model (a Hugging Face checkpoint of any supported architecture, chosen by its
 * config's `model_type`, or a fresh small model from a config file).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { architectureOf, CONFIG_FILE, LabelCountError, parseModelConfig, type ModelConfig } from '../checkpoint';
import { discoverLabels, GLUE_TASK_NAMES, loadTokenizer, NEGATION_TASK_DIR, readLabelledFile, type GlueTaskName } from '../data';
import { tableInit } from '../models/parameters';
import { BertTaskModel } from '../train/bertTask';
import { DecoderTaskModel } from '../train/decoderTask';
import { builtinTextTask, isLmTask, TEXT_TASK, TEXT_TASK_DIR, textTask } from '../train/lmTask';
import { BUILTIN_TASK, builtinTask, fileTask, fileTaskName, glueTask, type EncodedTask } from '../train/taskData';
import { loadTaskModel, taskModelOf, type TaskModel } from '../train/taskModel';
import { UsageError } from './args';
import { labelCountMessage } from './checkpointIo';

/** The config of the default model: a small BERT for the built-in task (data/configs). */
export const DEFAULT_MODEL_CONFIG = join(__dirname, '..', '..', 'data', 'configs', 'bert-small-negation.json');

/**
 * The default starting point of `neuroprune train` on the built-in task: that small BERT after
 * plain fine-tuning from scratch (scripts/make_builtin_model.sh), so that the default run prunes
 * a trained model, as the paper does.
 */
export const DEFAULT_MODEL_DIR = join(__dirname, '..', '..', 'data', 'models', 'bert-small-negation');

/** Configs of the fresh decoders that `--model-type` names, for the built-in text task (data/configs). */
export const DECODER_CONFIGS: Record<string, string> = {
  opt: join(__dirname, '..', '..', 'data', 'configs', 'opt-small-text.json'),
  gpt2: join(__dirname, '..', '..', 'data', 'configs', 'gpt2-small-text.json'),
};
export const MODEL_TYPES = ['bert', ...Object.keys(DECODER_CONFIGS)];

/**
 * The trained starting points of `--model-type opt` / `gpt2` on the built-in text task: those
 * configs trained as language models on data/text (scripts/make_builtin_model.sh).
 */
export const DECODER_MODEL_DIRS: Record<string, string> = {
  opt: join(__dirname, '..', '..', 'data', 'models', 'opt-small-text'),
  gpt2: join(__dirname, '..', '..', 'data', 'models', 'gpt2-small-text'),
};

export const TASK_NAMES = [BUILTIN_TASK, TEXT_TASK, ...GLUE_TASK_NAMES];

/** The longest input a parsed config's position table covers. */
export function maxPositionsOf(parsed: ModelConfig): number {
  // T5's positions are relative buckets: no table bounds the length.
  if (parsed.modelType === 't5') return Number.POSITIVE_INFINITY;
  return parsed.modelType === 'gpt2' ? parsed.config.n_positions : parsed.config.max_position_embeddings;
}

/** `model_type` of a model directory's or config file's config, null when it cannot be read (the loader then says why). */
function modelTypeOf(file: string): string | null {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return raw.model_type === undefined ? 'bert' : String(raw.model_type);
  } catch {
    return null;
  }
}

/**
 * The task when `--task` is absent: the built-in text task for a decoder (`--model-type opt`, or
 * a `--model` / `--config` whose model_type is a decoder's), else the built-in negation task.
 */
export function defaultTask(choice: { modelType?: string; modelDir?: string; configFile?: string }): string {
  if (choice.modelType !== undefined) return choice.modelType === 'bert' ? BUILTIN_TASK : TEXT_TASK;
  const file = choice.modelDir ? join(choice.modelDir, CONFIG_FILE) : choice.configFile;
  const type = file ? modelTypeOf(file) : null;
  return type !== null && type in DECODER_CONFIGS ? TEXT_TASK : BUILTIN_TASK;
}

/** A user's own data files (`--train`, `--dev`, the column flags, `--regression`). */
export interface FileTaskChoice {
  /** Absent only for `eval`. */
  train?: string;
  dev: string;
  text?: string;
  textPair?: string;
  label?: string;
  regression: boolean;
}

export interface TaskChoice {
  /** Task name; for own data files, the name `fileTaskName` gives them. */
  task: string;
  /** Own data files instead of a named task. */
  files?: FileTaskChoice;
  /**
   * Whom the classes of own data follow: `train` (default) takes the training file's labels, in
   * the model's `id2label` order when it names the same labels; `eval` takes the model's named
   * labels (a dev label outside them is an error), else the training file's, else the dev file's.
   */
  purpose?: 'train' | 'eval';
  /** GLUE root (for GLUE tasks). */
  glueDir?: string;
  /** Model directory whose tokenizer to use (GLUE tasks). */
  modelDir?: string;
  /** Config of a fresh model (`--config`), when that is the model: its position limit bounds `maxLength`. */
  configFile?: string;
  /** `--model-type`: the default fresh model of that architecture. */
  modelType?: string;
  maxLength?: number;
  /** Task `text`: training and dev text files (default: the built-in corpus, data/text). */
  textFile?: string;
  devTextFile?: string;
}

/** GLUE inputs are cut to this many tokens unless `--max-length` says otherwise. */
const GLUE_MAX_LENGTH = 128;

/**
 * The model a command will use, as `loadModel` resolves it: a checkpoint directory, or the config
 * file of a fresh model.
 */
export function resolveModel(choice: { task: string; modelDir?: string; configFile?: string; modelType?: string; files?: FileTaskChoice }): { modelDir: string } | { configFile: string } {
  if (choice.modelDir) return { modelDir: choice.modelDir };
  if (choice.configFile !== undefined) return { configFile: choice.configFile };
  if (choice.modelType !== undefined && !MODEL_TYPES.includes(choice.modelType)) {
    throw new UsageError(`--model-type: '${choice.modelType}' is not one of ${MODEL_TYPES.join(', ')}`);
  }
  const decoder = choice.modelType ?? (choice.task === TEXT_TASK ? 'opt' : undefined);
  if (decoder !== undefined && decoder !== 'bert') {
    // On the built-in text task a trained model, as for BERT on the negation task; else a fresh one.
    return choice.task === TEXT_TASK ? { modelDir: DECODER_MODEL_DIRS[decoder] } : { configFile: DECODER_CONFIGS[decoder] };
  }
  if (choice.modelType === 'bert' && choice.task !== BUILTIN_TASK) return { configFile: DEFAULT_MODEL_CONFIG };
  if (choice.task === BUILTIN_TASK && !choice.files) return { modelDir: DEFAULT_MODEL_DIR };
  return { configFile: DEFAULT_MODEL_CONFIG };
}

/**
 * Refuses a `--max-length` (or GLUE's default) beyond the model's `max_position_embeddings`,
 * reading only its config: the first long batch would fail mid-run otherwise.
 */
function checkMaxLength(choice: TaskChoice): void {
  const maxLength = choice.maxLength ?? ((choice.task === BUILTIN_TASK && !choice.files) || choice.task === TEXT_TASK ? undefined : GLUE_MAX_LENGTH);
  if (maxLength === undefined) return;
  const model = resolveModel(choice);
  const file = 'modelDir' in model ? join(model.modelDir, CONFIG_FILE) : model.configFile;
  if (!existsSync(file)) return; // loadModel says what is missing
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return; // loadModel names the broken file
  }
  const limit = maxPositionsOf(parseModelConfig(json, file));
  if (maxLength > limit) {
    const flag = choice.maxLength !== undefined ? `--max-length ${maxLength}` : `the default --max-length ${maxLength} of task ${choice.task}`;
    throw new UsageError(`${flag} exceeds the model's max_position_embeddings ${limit} (${file}): use --max-length ${limit} or less`);
  }
}

export function checkTaskName(task: string): void {
  if (!TASK_NAMES.includes(task)) throw new UsageError(`unknown task '${task}': one of ${TASK_NAMES.join(', ')}`);
}

/** The task name of a choice: own files are named after them (`fileTaskName`). */
export function taskNameOf(task: string | undefined, files: FileTaskChoice | undefined): string {
  return files ? fileTaskName(files.train ?? files.dev) : task ?? BUILTIN_TASK;
}

/**
 * Class names of a checkpoint in id order, from its config's `id2label`; null when it has none or
 * only Hugging Face's placeholders `LABEL_0`, `LABEL_1`, ... (which name no class).
 */
export function modelLabelNames(modelDir: string): string[] | null {
  const file = join(modelDir, CONFIG_FILE);
  if (!existsSync(file)) return null;
  let json: { id2label?: Record<string, string> };
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // loading the model names the broken file
  }
  const entries = Object.entries(json.id2label ?? {});
  if (entries.length < 2) return null;
  const names: string[] = [];
  for (const [k, v] of entries) names[Number(k)] = String(v);
  if (names.length !== entries.length || names.some((n) => n === undefined)) return null;
  return names.every((n, i) => n === `LABEL_${i}`) ? null : names;
}

function loadFileTask(choice: TaskChoice & { files: FileTaskChoice; modelDir: string }): EncodedTask {
  const f = choice.files;
  const common = { train: f.train, dev: f.dev, text: f.text, textPair: f.textPair, label: f.label, regression: f.regression, name: choice.task };
  const tokenizer = loadTokenizer(choice.modelDir);
  const maxLength = choice.maxLength ?? GLUE_MAX_LENGTH;
  const named = f.regression ? null : modelLabelNames(choice.modelDir);
  let labels: { labels: string[]; labelsSource: string } | undefined;
  if (named && choice.purpose === 'eval') {
    labels = { labels: named, labelsSource: `the model's id2label (${join(choice.modelDir, CONFIG_FILE)})` };
  } else if (named && f.train !== undefined) {
    // Continuing from a model trained on these labels: keep its order, so each class keeps its row of the classifier.
    const found = discoverLabels(readLabelledFile(f.train, common));
    if (found.length === named.length && found.every((n) => named.includes(n))) labels = { labels: named, labelsSource: `the training file ${f.train}` };
  }
  return fileTask({ ...common, tokenizer, maxLength, ...labels });
}

export function loadTask(choice: TaskChoice): EncodedTask {
  if (choice.files) {
    checkMaxLength(choice);
    if (!choice.modelDir) throw new UsageError(`--train/--dev need --model DIR: a BERT checkpoint (or bare encoder) whose tokenizer (tokenizer.json or vocab.txt) matches its vocabulary`);
    return loadFileTask({ ...choice, files: choice.files, modelDir: choice.modelDir });
  }
  checkTaskName(choice.task);
  checkMaxLength(choice);
  if (choice.task === BUILTIN_TASK) return builtinTask(NEGATION_TASK_DIR, choice.maxLength);
  if (choice.task === TEXT_TASK) {
    // A checkpoint's own tokenizer when there is one; a fresh model uses the corpus' tokenizer.
    const tokenizer = loadTokenizer(choice.modelDir ?? TEXT_TASK_DIR);
    if (choice.textFile === undefined && choice.devTextFile === undefined && !choice.modelDir) return builtinTextTask(choice.maxLength);
    const train = choice.textFile ?? join(TEXT_TASK_DIR, 'train.txt');
    const dev = choice.devTextFile ?? (choice.textFile === undefined ? join(TEXT_TASK_DIR, 'dev.txt') : undefined);
    if (dev === undefined) throw new UsageError(`task ${TEXT_TASK} with --text needs --dev-text FILE (held-out text for the perplexity)`);
    return textTask(train, dev, tokenizer, { blockSize: choice.maxLength });
  }
  if (!choice.glueDir) throw new UsageError(`task ${choice.task} needs --glue-dir DIR (the GLUE root, with ${choice.task.toUpperCase()}/train.tsv and dev.tsv)`);
  if (!choice.modelDir) throw new UsageError(`task ${choice.task} needs --model DIR: a checkpoint whose tokenizer (tokenizer.json, vocab.txt, or vocab.json + merges.txt) matches its vocabulary`);
  return glueTask(choice.glueDir, choice.task as GlueTaskName, loadTokenizer(choice.modelDir), choice.maxLength ?? GLUE_MAX_LENGTH);
}

export interface ModelChoice {
  /**
   * A Hugging Face BERT directory to start from. Absent: a fresh model from `configFile` when one
   * is given; else, on the built-in task, DEFAULT_MODEL_DIR; else a fresh model from DEFAULT_MODEL_CONFIG.
   */
  modelDir?: string;
  /** Config file of a fresh, randomly initialised model. */
  configFile?: string;
  /** `--model-type`: a fresh model of that architecture's default config (data/configs). */
  modelType?: string;
  seed: number;
  /** Replace a classifier whose label count is not the task's (`--reinit-classifier`). Default false: refuse. */
  reinitClassifier?: boolean;
  /** Where the one-line notices go (a fresh or replaced head). Default: stderr. */
  notice?: (line: string) => void;
}


/**
 * Refuses a task whose encoded inputs are longer than the model's positions: the tokenizer's own
 * limit may exceed them when no --max-length is given. Better now than at the first long batch.
 */
export function checkInputsFit(task: EncodedTask, config: { max_position_embeddings: number }): void {
  let longest = 0;
  for (const ex of task.train) longest = Math.max(longest, ex.inputIds.length);
  for (const ex of task.dev) longest = Math.max(longest, ex.inputIds.length);
  const limit = config.max_position_embeddings;
  if (longest > limit) {
    throw new UsageError(`task ${task.name} has inputs of ${longest} tokens, beyond the model's max_position_embeddings ${limit}: use --max-length ${limit} or less`);
  }
}

/**
 * The model for a task: a classification head sized to the task's labels, or a language-model
 * head for the text task; any supported architecture.
 */
export function loadModel(choice: ModelChoice, task: EncodedTask): TaskModel {
  let model: TaskModel;
  const lm = isLmTask(task);
  const head = lm ? 'causal_lm' : 'sequence_classification';
  const resolved = resolveModel({ task: task.name, modelDir: choice.modelDir, configFile: choice.configFile, modelType: choice.modelType });
  const modelDir = 'modelDir' in resolved ? resolved.modelDir : undefined;
  if (modelDir) {
    const notice = choice.notice ?? ((line: string) => { process.stderr.write(line + '\n'); });
    let loaded;
    try {
      loaded = loadTaskModel(modelDir, {
        ...(lm ? {} : { numLabels: task.numLabels }), initMissingHead: true, reinitClassifier: choice.reinitClassifier === true,
        seed: choice.seed, dropoutSeed: choice.seed, padTokenId: task.tokenizer.special.pad,
        // BERT checkpoints have one head; decoders take the one the task needs.
        ...(modelTypeOf(join(modelDir, CONFIG_FILE)) === 'bert' ? {} : { task: head }),
      });
    } catch (err) {
      if (err instanceof LabelCountError) {
        throw new UsageError(labelCountMessage(modelDir, err, task.name, `pass --reinit-classifier to train a fresh ${err.requestedLabels}-label head in its place`));
      }
      throw err;
    }
    model = loaded.model;
    const { replacedClassifier, initialised } = loaded.loaded;
    if (replacedClassifier) {
      notice(`model: replaced the ${replacedClassifier.from}-label classifier of ${modelDir} with a fresh ${replacedClassifier.to}-label one (--reinit-classifier)`);
    } else if (initialised.includes('classifier.weight') || initialised.includes('score.weight')) {
      const what = loaded.loaded.modelType === 'bert' ? 'a bare BertModel' : `a ${loaded.loaded.modelType} language model`;
      notice(`model: ${modelDir} has no classifier (${what}): training a fresh ${task.numLabels}-label head`);
    }
  } else {
    const file = (resolved as { configFile: string }).configFile;
    if (!existsSync(file)) throw new UsageError(`--config ${file}: no such file`);
    const parsed = parseModelConfig(JSON.parse(readFileSync(file, 'utf8')), file);
    const arch = architectureOf(parsed.modelType, file);
    const config = parsed.config as never;
    const fail = (msg: string): never => { throw new UsageError(`${file}: ${msg}`); };
    if (arch.adapt) {
      // A fresh decoder pads with its tokenizer's id, whatever the config file says.
      (parsed.config as { pad_token_id: number | null }).pad_token_id = null;
      arch.adapt(config, { task: head, padTokenId: task.tokenizer.special.pad }, fail);
    }
    else if (lm) fail(`${arch.className(config)} has no language-model head: use an OPT or GPT-2 config for task ${task.name}`);
    if (!lm) arch.setNumLabels(config, task.numLabels);
    const vocab = (parsed.config as { vocab_size: number }).vocab_size;
    if (vocab < task.tokenizer.vocabSize) {
      throw new UsageError(`${file}: vocab_size ${vocab} is smaller than the ${task.name} tokenizer's ${task.tokenizer.vocabSize} ids`);
    }
    model = taskModelOf(arch.create(config, tableInit(arch.table(config), choice.seed), { dropoutSeed: choice.seed }), parsed.modelType);
  }
  nameLabels(model, task);
  if (model.vocabSize < task.tokenizer.vocabSize) {
    model.dispose();
    throw new UsageError(`the model's vocab_size ${model.vocabSize} is smaller than the tokenizer's ${task.tokenizer.vocabSize} ids`);
  }
  try {
    checkInputsFit(task, { max_position_embeddings: model.maxPositions });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/**
 * Records the task's class names in the model's config (`id2label`/`label2id`, as Hugging Face
 * does), so that every checkpoint of the run says which output is which class; regression marks
 * `problem_type`.
 */
export function nameLabels(model: TaskModel, task: EncodedTask): void {
  const config = labelledConfig(model);
  if (!config) return;
  if (task.labelNames && task.labelNames.length === config.num_labels) {
    config.id2label = Object.fromEntries(task.labelNames.map((n, i) => [String(i), n]));
    config.label2id = Object.fromEntries(task.labelNames.map((n, i) => [n, i]));
  } else if (task.numLabels === 1) {
    config.problem_type = 'regression';
  }
}

/** The config fields that name a classifier's outputs; none for a language-model head. */
function labelledConfig(model: TaskModel): { num_labels: number; id2label?: Record<string, string>; label2id?: Record<string, number>; problem_type?: string | null } | undefined {
  if (model instanceof BertTaskModel) return model.bert.config;
  if (model instanceof DecoderTaskModel && model.numLabels !== null) return model.model.config as { num_labels: number };
  return undefined;
}

/** Tokenizer files to save beside a checkpoint, so that it is a complete model directory. */
export function tokenizerFiles(choice: TaskChoice): string[] {
  const dir = choice.task === BUILTIN_TASK && !choice.files ? NEGATION_TASK_DIR : choice.modelDir ?? (choice.task === TEXT_TASK ? TEXT_TASK_DIR : undefined);
  if (!dir) return [];
  return TOKENIZER_FILES.map((f) => join(dir, f)).filter(existsSync);
}

/** The files of a tokenizer in a model directory (WordPiece, or byte-level BPE). */
export const TOKENIZER_FILES = ['vocab.txt', 'vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

