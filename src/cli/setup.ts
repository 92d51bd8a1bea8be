/**
 * What `train`, `eval` and `sweep` share: the task (built-in or GLUE) and the model (a Hugging
 * Face checkpoint, or a fresh small BERT from a config file).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_FILE, LabelCountError, loadBertCheckpoint, parseBertConfig } from '../checkpoint';
import { discoverLabels, GLUE_TASK_NAMES, loadTokenizer, NEGATION_TASK_DIR, readLabelledFile, type GlueTaskName } from '../data';
import { BertForSequenceClassification } from '../models/bert';
import { BertTaskModel } from '../train/bertTask';
import { BUILTIN_TASK, builtinTask, fileTask, fileTaskName, glueTask, type EncodedTask } from '../train/taskData';
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

export const TASK_NAMES = [BUILTIN_TASK, ...GLUE_TASK_NAMES];

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
  maxLength?: number;
}

/** GLUE inputs are cut to this many tokens unless `--max-length` says otherwise. */
const GLUE_MAX_LENGTH = 128;

/**
 * The model a command will use, as `loadModel` resolves it: a checkpoint directory, or the config
 * file of a fresh model.
 */
function resolveModel(choice: { task: string; modelDir?: string; configFile?: string; files?: FileTaskChoice }): { modelDir: string } | { configFile: string } {
  if (choice.modelDir) return { modelDir: choice.modelDir };
  if (choice.configFile === undefined && choice.task === BUILTIN_TASK && !choice.files) return { modelDir: DEFAULT_MODEL_DIR };
  return { configFile: choice.configFile ?? DEFAULT_MODEL_CONFIG };
}

/**
 * Refuses a `--max-length` (or GLUE's default) beyond the model's `max_position_embeddings`,
 * reading only its config: the first long batch would fail mid-run otherwise.
 */
function checkMaxLength(choice: TaskChoice): void {
  const maxLength = choice.maxLength ?? (choice.task === BUILTIN_TASK && !choice.files ? undefined : GLUE_MAX_LENGTH);
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
  const limit = parseBertConfig(json, file).max_position_embeddings;
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
  if (!choice.glueDir) throw new UsageError(`task ${choice.task} needs --glue-dir DIR (the GLUE root, with ${choice.task.toUpperCase()}/train.tsv and dev.tsv)`);
  if (!choice.modelDir) throw new UsageError(`task ${choice.task} needs --model DIR: a BERT checkpoint whose tokenizer (tokenizer.json or vocab.txt) matches its vocabulary`);
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

/** The model for a task: its head sized to the task's labels. */
export function loadModel(choice: ModelChoice, task: EncodedTask): BertTaskModel {
  let bert: BertForSequenceClassification;
  const resolved = resolveModel({ task: task.name, modelDir: choice.modelDir, configFile: choice.configFile });
  const modelDir = 'modelDir' in resolved ? resolved.modelDir : undefined;
  if (modelDir) {
    const notice = choice.notice ?? ((line: string) => { process.stderr.write(line + '\n'); });
    let loaded;
    try {
      loaded = loadBertCheckpoint(modelDir, {
        numLabels: task.numLabels, initMissingHead: true, reinitClassifier: choice.reinitClassifier === true, seed: choice.seed, dropoutSeed: choice.seed,
      });
    } catch (err) {
      if (err instanceof LabelCountError) {
        throw new UsageError(labelCountMessage(modelDir, err, task.name, `pass --reinit-classifier to train a fresh ${err.requestedLabels}-label head in its place`));
      }
      throw err;
    }
    bert = loaded.model;
    if (loaded.replacedClassifier) {
      notice(`model: replaced the ${loaded.replacedClassifier.from}-label classifier of ${modelDir} with a fresh ${loaded.replacedClassifier.to}-label one (--reinit-classifier)`);
    } else if (loaded.initialised.includes('classifier.weight')) {
      notice(`model: ${modelDir} has no classifier (a bare BertModel): training a fresh ${task.numLabels}-label head`);
    }
  } else {
    const file = choice.configFile ?? DEFAULT_MODEL_CONFIG;
    if (!existsSync(file)) throw new UsageError(`--config ${file}: no such file`);
    const config = parseBertConfig(JSON.parse(readFileSync(file, 'utf8')), file);
    config.num_labels = task.numLabels;
    if (config.vocab_size < task.tokenizer.vocabSize) {
      throw new UsageError(`${file}: vocab_size ${config.vocab_size} is smaller than the ${task.name} tokenizer's ${task.tokenizer.vocabSize} ids`);
    }
    bert = BertForSequenceClassification.random(config, { seed: choice.seed, dropoutSeed: choice.seed });
  }
  nameLabels(bert, task);
  if (bert.config.vocab_size < task.tokenizer.vocabSize) {
    bert.dispose();
    throw new UsageError(`the model's vocab_size ${bert.config.vocab_size} is smaller than the tokenizer's ${task.tokenizer.vocabSize} ids`);
  }
  try {
    checkInputsFit(task, bert.config);
  } catch (err) {
    bert.dispose();
    throw err;
  }
  return new BertTaskModel(bert);
}

/**
 * Records the task's class names in the model's config (`id2label`/`label2id`, as Hugging Face
 * does), so that every checkpoint of the run says which output is which class; regression marks
 * `problem_type`.
 */
export function nameLabels(bert: BertForSequenceClassification, task: EncodedTask): void {
  if (task.labelNames && task.labelNames.length === bert.config.num_labels) {
    bert.config.id2label = Object.fromEntries(task.labelNames.map((n, i) => [String(i), n]));
    bert.config.label2id = Object.fromEntries(task.labelNames.map((n, i) => [n, i]));
  } else if (task.numLabels === 1) {
    bert.config.problem_type = 'regression';
  }
}

/** Tokenizer files to save beside a checkpoint, so that it is a complete model directory. */
export function tokenizerFiles(choice: TaskChoice): string[] {
  const dir = choice.task === BUILTIN_TASK && !choice.files ? NEGATION_TASK_DIR : choice.modelDir;
  if (!dir) return [];
  return ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].map((f) => join(dir, f)).filter(existsSync);
}

