/**
 * `neuroprune train` on sequence-to-sequence tasks with a T5: the built-in task (spell-digits),
 * summarization and translation from a user's files; the model from a T5 directory, a config
 * file (a fresh model), or the built-in small T5 (`--model-type t5`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONFIG_FILE, loadCheckpoint, parseModelConfig } from '../checkpoint';
import {
  BUILTIN_SEQ2SEQ_TASK, builtinSeq2seqTask, loadTokenizer, SEQ2SEQ_TASK_DIR, seq2seqFileTask,
  type Seq2seqFiles, type Seq2seqKind, type Seq2seqTask, type Seq2seqTokenizer,
} from '../data';
import { T5Model } from '../models/t5';
import { Seq2seqTaskModel } from '../train/seq2seqTask';
import type { SetupValue } from '../train/runIdentity';
import { numberOption, stringOption, UsageError, type OptionTable, type Parsed } from './args';
import { TOKENIZER_FILES } from './setup';

export const SEQ2SEQ_KINDS: readonly Seq2seqKind[] = ['summarization', 'translation'];
export const SEQ2SEQ_TASKS = [BUILTIN_SEQ2SEQ_TASK, ...SEQ2SEQ_KINDS];

/**
 * The built-in small T5 (data/configs/t5-small-spell.json) trained on the built-in task by
 * scripts/make_builtin_model.sh: where `--model-type t5` starts.
 */
export const T5_MODEL_DIR = join(__dirname, '..', '..', 'data', 'models', 't5-small-spell');
export const T5_CONFIG = join(__dirname, '..', '..', 'data', 'configs', 't5-small-spell.json');

export const SEQ2SEQ_FLAGS: OptionTable = {
  'source-column': { type: 'string', value: 'NAME', help: 'summarization/translation: column (JSONL: key, dotted path allowed) of the source; for parallel text files, the source file\'s extension (train.de)', default: 'article' },
  'target-column': { type: 'string', value: 'NAME', help: 'summarization/translation: column of the target; for parallel text files, the target file\'s extension (train.en)', default: 'highlights' },
  prefix: { type: 'string', value: 'TEXT', help: "T5's task prefix put before every source, e.g. 'summarize: ' or 'translate German to English: '", default: "none ('spell: ' for spell-digits)" },
  tokenizer: { type: 'string', value: 'DIR', help: 'seq2seq: directory of the tokenizer.json (SentencePiece Unigram) to use with --config', default: "the --model directory's" },
  'max-source-length': { type: 'string', value: 'N', help: 'seq2seq: truncate sources to N tokens (</s> included)', default: '512 (32 for spell-digits)' },
  'max-target-length': { type: 'string', value: 'N', help: 'seq2seq: truncate targets to N tokens; also the longest dev generation (decoder positions, start token included)', default: '128 (32 for spell-digits)' },
  'num-beams': { type: 'string', value: 'N', help: 'seq2seq: beams of the dev generation (1: greedy)', default: '1' },
};

const isT5 = (file: string): boolean => {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { model_type?: unknown }).model_type === 't5';
  } catch {
    return false;
  }
};

/** A seq2seq run: a seq2seq task, `--model-type t5`, or a T5 `--model` / `--config`. */
export function isSeq2seqRun(values: Parsed['values']): boolean {
  const task = stringOption(values, 'task');
  if (task !== undefined) return SEQ2SEQ_TASKS.includes(task);
  if (stringOption(values, 'model-type') === 't5') return true;
  const model = stringOption(values, 'model');
  const config = stringOption(values, 'config');
  return (model !== undefined && isT5(join(model, CONFIG_FILE))) || (config !== undefined && isT5(config));
}

const positiveInt = (v: number) => (Number.isInteger(v) && v >= 1 ? null : `must be an integer >= 1, got ${v}`);

/** The model a seq2seq run starts from: a directory, or the config of a fresh model. */
export function seq2seqModelChoice(values: Parsed['values'], task: string): { modelDir: string } | { configFile: string } {
  const model = stringOption(values, 'model');
  const config = stringOption(values, 'config');
  const type = stringOption(values, 'model-type');
  if (type !== undefined && type !== 't5') throw new UsageError(`--model-type ${type} does not train on seq2seq task ${task}: use --model-type t5 or a T5 --model`);
  if (model !== undefined) return { modelDir: model };
  if (config !== undefined) return { configFile: config };
  if (task === BUILTIN_SEQ2SEQ_TASK) return existsSync(T5_MODEL_DIR) ? { modelDir: T5_MODEL_DIR } : { configFile: T5_CONFIG };
  throw new UsageError(`task ${task} needs --model DIR (a T5 directory with its tokenizer.json) or --config FILE with --tokenizer DIR`);
}

/** The tokenizer directory of a seq2seq run. */
function tokenizerDir(values: Parsed['values'], task: string, model: { modelDir: string } | { configFile: string }): string {
  const given = stringOption(values, 'tokenizer');
  if (given !== undefined) return given;
  if ('modelDir' in model && existsSync(join(model.modelDir, 'tokenizer.json'))) return model.modelDir;
  if (task === BUILTIN_SEQ2SEQ_TASK) return SEQ2SEQ_TASK_DIR;
  const where = 'modelDir' in model ? `${model.modelDir} has no tokenizer.json` : `a fresh model (--config) has none`;
  throw new UsageError(`task ${task}: ${where}; pass --tokenizer DIR (a directory with T5's tokenizer.json)`);
}

/** The files of `--train`/`--dev`: a CSV/TSV/JSONL file, or a stem of parallel text files (`train` -> train.de, train.en). */
function seq2seqFiles(file: string, source: string | undefined, target: string | undefined, flag: string): { files: Seq2seqFiles; parallel: boolean } {
  if (existsSync(file)) return { files: file, parallel: false };
  if (source !== undefined && target !== undefined && existsSync(`${file}.${source}`) && existsSync(`${file}.${target}`)) {
    return { files: { source: `${file}.${source}`, target: `${file}.${target}` }, parallel: true };
  }
  const hint = source !== undefined && target !== undefined ? ` (nor ${file}.${source} and ${file}.${target})` : ' (for parallel text files give the stem and --source-column/--target-column as their extensions)';
  throw new UsageError(`${flag} ${file}: no such file${hint}`);
}

export interface Seq2seqRun {
  task: Seq2seqTask;
  model: { modelDir: string } | { configFile: string };
  tokenizerDir: string;
  numBeams: number;
}

/** The task of a seq2seq run, from the flags (cheap checks first). */
export function loadSeq2seqTask(values: Parsed['values']): Seq2seqRun {
  const task = stringOption(values, 'task') ?? BUILTIN_SEQ2SEQ_TASK;
  const train = stringOption(values, 'train');
  const dev = stringOption(values, 'dev');
  const numBeams = numberOption(values, 'num-beams', positiveInt) ?? 1;
  const maxSourceLength = numberOption(values, 'max-source-length', positiveInt);
  const maxTargetLength = numberOption(values, 'max-target-length', positiveInt);
  const prefix = stringOption(values, 'prefix');
  const sourceColumn = stringOption(values, 'source-column');
  const targetColumn = stringOption(values, 'target-column');
  for (const flag of ['text', 'dev-text', 'glue-dir', 'text-column', 'text-pair-column', 'label-column', 'regression', 'max-length']) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} is not a flag of seq2seq task ${task}${flag === 'max-length' ? ': use --max-source-length and --max-target-length' : ''}`);
  }
  if (task !== BUILTIN_SEQ2SEQ_TASK && (train === undefined || dev === undefined)) {
    throw new UsageError(`task ${task} needs --train FILE and --dev FILE (CSV, TSV or JSONL with --source-column/--target-column, or parallel text files)`);
  }
  const model = seq2seqModelChoice(values, task);
  const dir = tokenizerDir(values, task, model);
  const lengths = { ...(maxSourceLength !== undefined ? { maxSourceLength } : {}), ...(maxTargetLength !== undefined ? { maxTargetLength } : {}) };
  if (task === BUILTIN_SEQ2SEQ_TASK) {
    if (train !== undefined || dev !== undefined) throw new UsageError(`task ${task} is built in: --train/--dev go with --task summarization or translation`);
    if (sourceColumn !== undefined || targetColumn !== undefined) throw new UsageError(`task ${task} is built in: --source-column/--target-column go with your own files`);
    return { task: builtinSeq2seqTask(SEQ2SEQ_TASK_DIR, { ...lengths, ...(prefix !== undefined ? { prefix } : {}) }), model, tokenizerDir: SEQ2SEQ_TASK_DIR, numBeams };
  }
  const t = seq2seqFiles(train as string, sourceColumn, targetColumn, '--train');
  const d = seq2seqFiles(dev as string, sourceColumn, targetColumn, '--dev');
  const tokenizer = loadTokenizer(dir) as Seq2seqTokenizer;
  if (typeof tokenizer.decode !== 'function') throw new UsageError(`${dir}: its tokenizer cannot decode ids to text, which scoring generated outputs needs (use T5's tokenizer.json)`);
  return {
    task: seq2seqFileTask({
      train: t.files, dev: d.files, kind: task as Seq2seqKind, ...lengths,
      ...(prefix !== undefined ? { prefix } : {}),
      ...(t.parallel ? {} : { ...(sourceColumn !== undefined ? { sourceColumn } : {}), ...(targetColumn !== undefined ? { targetColumn } : {}) }),
    }, tokenizer),
    model, tokenizerDir: dir, numBeams,
  };
}

/** The T5 of a seq2seq run, checked against the task's tokenizer. */
export function loadSeq2seqModel(run: Seq2seqRun, seed: number): Seq2seqTaskModel {
  let model: T5Model;
  if ('modelDir' in run.model) {
    const loaded = loadCheckpoint(run.model.modelDir, { seed, dropoutSeed: seed });
    if (loaded.modelType !== 't5') {
      loaded.model.dispose();
      throw new UsageError(`--model ${run.model.modelDir} is a ${loaded.modelType}; seq2seq task ${run.task.name} needs a T5 (model_type t5)`);
    }
    model = loaded.model as unknown as T5Model;
  } else {
    const file = run.model.configFile;
    if (!existsSync(file)) throw new UsageError(`--config ${file}: no such file`);
    const parsed = parseModelConfig(JSON.parse(readFileSync(file, 'utf8')), file);
    if (parsed.modelType !== 't5') throw new UsageError(`--config ${file} is a ${parsed.modelType}; seq2seq task ${run.task.name} needs a T5 config (model_type t5)`);
    model = T5Model.random(parsed.config, { seed, dropoutSeed: seed });
  }
  const vocab = model.config.vocab_size;
  if (vocab < run.task.tokenizer.vocabSize) {
    model.dispose();
    throw new UsageError(`the model's vocab_size ${vocab} is smaller than the tokenizer's ${run.task.tokenizer.vocabSize} ids (${run.tokenizerDir})`);
  }
  return new Seq2seqTaskModel(model);
}

/** Tokenizer files saved beside every checkpoint, so that it is a complete model directory. */
export function seq2seqTokenizerFiles(run: Seq2seqRun): string[] {
  return TOKENIZER_FILES.map((f) => join(run.tokenizerDir, f)).filter(existsSync);
}

/** What besides the options decides a seq2seq run's result (a resume with another is refused). */
export function seq2seqSetup(values: Parsed['values'], run: Seq2seqRun): Record<string, SetupValue> {
  const path = (name: string) => { const v = stringOption(values, name); return v === undefined ? null : resolve(v); };
  const str = (name: string) => stringOption(values, name) ?? null;
  return {
    '--task': run.task.name,
    '--model': 'modelDir' in run.model ? resolve(run.model.modelDir) : null,
    '--config': 'configFile' in run.model ? resolve(run.model.configFile) : null,
    '--tokenizer': resolve(run.tokenizerDir),
    '--train': path('train'),
    '--dev': path('dev'),
    '--source-column': str('source-column'),
    '--target-column': str('target-column'),
    '--prefix': run.task.prefix,
    '--max-source-length': run.task.maxSourceLength,
    '--max-target-length': run.task.maxTargetLength,
    '--num-beams': run.numBeams,
    '--limit-train': str('limit-train') === null ? null : Number(str('limit-train')),
    '--limit-dev': str('limit-dev') === null ? null : Number(str('limit-dev')),
  };
}
