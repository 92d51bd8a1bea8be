/**
 * Task data for the trainer: tokenised train/dev examples cut into batches, with the task's
 * metrics. Two sources: the built-in negation-scope task (data/negation) and the GLUE tasks.
 */
import {
  encodeExamples, glueMetrics, GLUE_TASKS, loadGlue, loadNegationTask, loadTokenizer, makeBatches, NEGATION_TASK_DIR,
  accuracy, type Batch, type EncodedExample, type GlueTaskName, type TextExample, type Tokenizer,
} from '../data';
import type { TaskData } from './types';

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

function countTokens(b: Batch): number {
  let n = 0;
  for (const m of b.attentionMask) n += m;
  return n;
}

/** Batches for the trainer: training order depends on (seed, epoch) only; dev order is fixed. */
export function taskData(task: EncodedTask, options: TaskDataOptions): TaskData<Batch> {
  const train = options.limitTrain ? task.train.slice(0, options.limitTrain) : task.train;
  const dev = options.limitDev ? task.dev.slice(0, options.limitDev) : task.dev;
  if (train.length === 0) throw new Error(`task ${task.name}: no training examples`);
  if (dev.length === 0) throw new Error(`task ${task.name}: no dev examples`);
  const labelType = task.numLabels === 1 ? 'float' : 'int';
  const common = { batchSize: options.batchSize, padId: options.padId, labelType } as const;
  const devBatches = makeBatches(dev, { ...common, shuffle: false, sortByLength: false });
  const devLabels = new Float32Array(devBatches.flatMap((b) => Array.from(b.labels)));
  return {
    name: task.name,
    trainBatches: (epoch) => makeBatches(train, { ...common, shuffle: true, seed: options.seed, epoch }),
    devBatches: () => devBatches,
    devLabels: () => devLabels,
    metrics: task.metrics,
    batchSize: (b) => b.size,
    batchTokens: countTokens,
  };
}
