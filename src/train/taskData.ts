/**
 * Task data for the trainer: tokenised train/dev examples cut into batches, with the task's
 * metrics. Three sources: the built-in negation-scope task (data/negation), the GLUE tasks, and a
 * user's own CSV, TSV or JSONL files (`fileTask`).
 */
import { basename, dirname, extname } from 'node:path';
import {
  encodeExamples, glueMetrics, GLUE_TASKS, loadGlue, loadNegationTask, loadTokenizer, makeBatches, NEGATION_TASK_DIR,
  accuracy, classExamples, discoverLabels, matthewsCorrcoef, pearson, readLabelledFile, regressionExamples, spearman,
  type Batch, type EncodedExample, type GlueTaskName, type LabelledColumns, type TextExample, type Tokenizer,
} from '../data';
import type { TaskData, TrainableModel } from './types';

export interface EncodedTask {
  name: string;
  train: EncodedExample[];
  dev: EncodedExample[];
  /** Number of classes, or 1 for regression. */
  numLabels: number;
  /** Class names in id order; null for regression. */
  labelNames: string[] | null;
  metrics(predictions: Float32Array, labels: Float32Array): Record<string, number>;
  tokenizer: Tokenizer;
}

export interface TaskDataOptions {
  batchSize: number;
  seed: number;
  /** Id of [PAD]. */
  padId: number;
  /** Use only the first n training examples (quick runs). */
  limitTrain?: number;
  /** Use only the first n dev examples. */
  limitDev?: number;
}

export const BUILTIN_TASK = 'negation';

/** The built-in task, tokenised with its own WordPiece vocabulary. */
export function builtinTask(dir = NEGATION_TASK_DIR, maxLength?: number): EncodedTask {
  const tokenizer = loadTokenizer(dir);
  return {
    name: BUILTIN_TASK,
    train: encodeExamples(tokenizer, loadNegationTask('train', dir), maxLength),
    dev: encodeExamples(tokenizer, loadNegationTask('dev', dir), maxLength),
    numLabels: 2,
    labelNames: ['negative', 'positive'],
    metrics: (p, y) => ({ accuracy: accuracy(y, p) }),
    tokenizer,
  };
}

/** A GLUE task from a GLUE root folder (standard layout), tokenised with `tokenizer`. */
export function glueTask(root: string, task: GlueTaskName, tokenizer: Tokenizer, maxLength = 128): EncodedTask {
  const spec = GLUE_TASKS[task];
  if (!spec) throw new Error(`unknown task '${task}' (built-in: ${BUILTIN_TASK}; GLUE: ${Object.keys(GLUE_TASKS).join(', ')})`);
  const encode = (xs: TextExample[]) => encodeExamples(tokenizer, xs, maxLength);
  return {
    name: task,
    train: encode(loadGlue(root, task, 'train').examples),
    dev: encode(loadGlue(root, task, 'dev').examples),
    numLabels: spec.labels ? spec.labels.length : 1,
    labelNames: spec.labels ? [...spec.labels] : null,
    metrics: (p, y) => glueMetrics(task, y, p) as Record<string, number>,
    tokenizer,
  };
}

export interface FileTaskOptions extends LabelledColumns {
  /** Training file (.csv, .tsv or .jsonl). Optional for evaluation only; then `labels` or the dev file names the classes. */
  train?: string;
  /** Dev file, same format rules. */
  dev: string;
  tokenizer: Tokenizer;
  /** Truncate inputs to this many tokens. Default 128. */
  maxLength?: number;
  /** Numeric targets (one output, MSE; Pearson and Spearman) instead of classes. Default false. */
  regression?: boolean;
  /**
   * Class names in id order, e.g. a trained checkpoint's `id2label`. Default: the training file's
   * labels in the order of src/data/labelledFile.ts (numeric when all are numbers, else sorted).
   */
  labels?: readonly string[];
  /** Where `labels` came from, for the message about a label outside them. Default 'the given labels'. */
  labelsSource?: string;
  /** Task name in run folders and logs. Default: the training (else dev) file's name without extension, or its folder's when that name is train/dev. */
  name?: string;
}

/** The task name `fileTask` gives a file: `news.csv` -> news, `agnews/train.csv` -> agnews. */
export function fileTaskName(file: string): string {
  const stem = basename(file, extname(file));
  const name = /^(train|dev|valid|validation|test)$/i.test(stem) ? basename(dirname(file)) : stem;
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_') || 'data';
}

/**
 * A user's own task from CSV, TSV or JSONL files (src/data/labelledFile.ts), tokenised with
 * `tokenizer`: classification over the labels of the training file, or regression.
 * @example fileTask({ train: 'news/train.csv', dev: 'news/dev.csv', text: 'title', label: 'topic', tokenizer: loadTokenizer('models/all-MiniLM-L6-v2') })
 */
export function fileTask(o: FileTaskOptions): EncodedTask {
  const trainRows = o.train === undefined ? [] : readLabelledFile(o.train, o);
  const devRows = readLabelledFile(o.dev, o);
  const encode = (xs: TextExample[]) => encodeExamples(o.tokenizer, xs, o.maxLength ?? 128);
  const name = o.name ?? fileTaskName(o.train ?? o.dev);
  if (o.regression) {
    return {
      name, train: encode(regressionExamples(trainRows)), dev: encode(regressionExamples(devRows)), numLabels: 1, labelNames: null,
      metrics: (p, y) => ({ pearson: pearson(y, p), spearman: spearman(y, p) }), tokenizer: o.tokenizer,
    };
  }
  let labels: string[];
  let source: string;
  if (o.labels) {
    labels = [...o.labels];
    source = o.labelsSource ?? 'the given labels';
  } else {
    labels = discoverLabels(trainRows.length > 0 ? trainRows : devRows);
    source = `the training file ${o.train ?? o.dev}`;
  }
  if (labels.length < 2) {
    throw new Error(`${o.train ?? o.dev}: only one label (${labels.join('')}) in ${source}: classification needs two or more (or pass --regression for numeric targets)`);
  }
  return {
    name, train: encode(classExamples(trainRows, labels, source)), dev: encode(classExamples(devRows, labels, source)),
    numLabels: labels.length, labelNames: labels,
    metrics: (p, y) => ({ accuracy: accuracy(y, p), mcc: matthewsCorrcoef(y, p) }), tokenizer: o.tokenizer,
  };
}

function countTokens(b: Batch): number {
  let n = 0;
  for (const m of b.attentionMask) n += m;
  return n;
}

/**
 * Predictions of `batches` (e.g. length-sorted dev batches) in the original order of their
 * examples, by each batch's `indices`: entry i is the prediction of example i.
 */
export function predictInOrder(model: Pick<TrainableModel<Batch>, 'predict'>, batches: readonly Batch[]): Float32Array {
  const n = batches.reduce((m, b) => m + b.size, 0);
  const out = new Float32Array(n).fill(NaN);
  for (const b of batches) {
    const p = model.predict(b);
    b.indices.forEach((example, row) => { out[example] = p[row] as number; });
  }
  return out;
}

/** Batches for the trainer: training order depends on (seed, epoch) only; dev order is fixed. */
export function taskData(task: EncodedTask, options: TaskDataOptions): TaskData<Batch> {
  const train = options.limitTrain ? task.train.slice(0, options.limitTrain) : task.train;
  const dev = options.limitDev ? task.dev.slice(0, options.limitDev) : task.dev;
  if (dev.length === 0) throw new Error(`task ${task.name}: no dev examples`);
  const labelType = task.numLabels === 1 ? 'float' : 'int';
  const common = { batchSize: options.batchSize, padId: options.padId, labelType } as const;
  // Dev batches are cut from the examples sorted by length (stable: equal lengths keep their
  // order), so each batch is padded only to lengths close to its own: the forward pass skips most
  // of the padding. `devLabels` follows the batches; `predictInOrder` maps predictions back.
  const devBatches = makeBatches(dev, { ...common, shuffle: false, sortByLength: true, bucketBatches: Math.ceil(dev.length / options.batchSize) });
  const devLabels = new Float32Array(devBatches.flatMap((b) => Array.from(b.labels)));
  return {
    name: task.name,
    trainBatches: (epoch) => {
      // Evaluation needs no training examples (fileTask without a training file); training does.
      if (train.length === 0) throw new Error(`task ${task.name}: no training examples`);
      return makeBatches(train, { ...common, shuffle: true, seed: options.seed, epoch });
    },
    devBatches: () => devBatches,
    devLabels: () => devLabels,
    metrics: task.metrics,
    batchSize: (b) => b.size,
    batchTokens: countTokens,
  };
}
