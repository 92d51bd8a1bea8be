/** Loading and saving the checkpoints that the commands take and write, with their tokenizer files. */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabelCountError } from '../checkpoint';
import { NEGATION_TASK_DIR } from '../data';
import { BUILTIN_TASK } from '../train/taskData';
import { loadTaskModel as loadModelDir, type TaskModel } from '../train/taskModel';
import { UsageError } from './args';
import { TOKENIZER_FILES } from './setup';

/** The one-line refusal of a checkpoint whose classifier does not fit the task. */
export function labelCountMessage(modelDir: string, err: LabelCountError, task: string, remedy: string): string {
  return `${modelDir} has ${err.checkpointLabels} labels, task ${task} has ${err.requestedLabels}: ${remedy}`;
}

export interface LoadTaskModelOptions {
  /** Put a fresh classifier in place of a missing or wrongly sized one (`eval --reinit-classifier`), with a one-line notice. */
  reinitClassifier?: boolean;
  /** Seed of that fresh classifier. Default 42. */
  seed?: number;
  /** Where the notice goes. Default: stderr. */
  notice?: (line: string) => void;
}

/**
 * Loads a checkpoint as it is. With `task`, its classifier must have the task's label count: a
 * model of another size is refused in one line rather than scored on labels it does not predict,
 * and so is a bare encoder (no classifier at all), unless `reinitClassifier` asks for a fresh head.
 */
export function loadTaskModel(dir: string, task?: { name: string; numLabels: number; languageModel?: boolean }, options: LoadTaskModelOptions = {}): TaskModel {
  const reinit = options.reinitClassifier === true;
  const classify = task !== undefined && !task.languageModel;
  let result;
  try {
    result = loadModelDir(dir, classify ? { numLabels: task.numLabels, initMissingHead: true, reinitClassifier: reinit, seed: options.seed ?? 42 } : {});
  } catch (err) {
    if (err instanceof LabelCountError && task) {
      throw new UsageError(labelCountMessage(dir, err, task.name, `evaluate it on a task with ${err.checkpointLabels} labels, or fine-tune it first (train --reinit-classifier)`));
    }
    throw err;
  }
  const { model, loaded } = result;
  const notice = options.notice ?? ((line: string) => { process.stderr.write(line + '\n'); });
  if (classify && loaded.initialised.length > 0) {
    if (!reinit && !loaded.replacedClassifier) {
      model.dispose();
      throw new UsageError(`${dir} has no classifier (a bare encoder such as all-MiniLM-L6-v2): fine-tune it first (neuroprune train --model ${dir} ...), or pass --reinit-classifier to score a fresh random ${task.numLabels}-label head (a chance-level baseline)`);
    }
    notice(loaded.replacedClassifier
      ? `model: replaced the ${loaded.replacedClassifier.from}-label classifier of ${dir} with a fresh random ${loaded.replacedClassifier.to}-label one (--reinit-classifier)`
      : `model: ${dir} has no classifier (a bare encoder): scoring a fresh random ${task.numLabels}-label head (--reinit-classifier)`);
  }
  return model;
}

/**
 * Refuses to evaluate a model without the tokenizer it was trained with: another vocabulary gives
 * a number, and a wrong one. The built-in task tokenizes with its own vocabulary, so the model's
 * must be that one.
 */
export function requireTokenizer(dir: string, task: string | undefined): void {
  const vocab = join(dir, 'vocab.txt');
  const builtin = join(NEGATION_TASK_DIR, 'vocab.txt');
  if (!existsSync(vocab) && !existsSync(join(dir, 'tokenizer.json')) && !existsSync(join(dir, 'vocab.json'))) {
    const hint = task === BUILTIN_TASK ? ` (the built-in task's is ${builtin})` : '';
    throw new Error(`${dir} has no tokenizer (vocab.txt, tokenizer.json or vocab.json): eval needs the one the model was trained with; copy it into ${dir}${hint}`);
  }
  if (task === BUILTIN_TASK && !(existsSync(vocab) && readFileSync(vocab).equals(readFileSync(builtin)))) {
    throw new Error(`${existsSync(vocab) ? vocab : dir + ' (no vocab.txt)'} is not the built-in task's vocabulary (${builtin}): the model was trained on another tokenizer; evaluate it on its own task`);
  }
}

/**
 * Saves `model` into `out` and copies the tokenizer files of `from`, so `out` is a complete model
 * directory. `dense`: original shapes with zeros in place of removed parts (loads in any transformers).
 * Returns a one-line note when `from` has no tokenizer to copy (then neither has `out`), else null.
 */
export function saveTaskModel(model: TaskModel, out: string, from: string, options: { dense?: boolean } = {}): string | null {
  if (existsSync(join(out, 'model.safetensors')) && out !== from) {
    throw new Error(`${out} already holds a model; choose another --out`);
  }
  mkdirSync(out, { recursive: true });
  model.save(out, { dense: options.dense === true });
  if (out === from) return null;
  for (const f of TOKENIZER_FILES) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(out, f));
  if (!existsSync(join(from, 'vocab.txt')) && !existsSync(join(from, 'tokenizer.json')) && !existsSync(join(from, 'vocab.json'))) {
    return `note: ${from} has no tokenizer files (vocab.txt, tokenizer.json, vocab.json): ${out} has none either; copy them in before eval`;
  }
  return null;
}
