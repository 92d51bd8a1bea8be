/** Loading and saving the checkpoints that the commands take and write, with their tokenizer files. */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LabelCountError, loadBertCheckpoint, saveBertCheckpoint } from '../checkpoint';
import { UsageError } from './args';
import { BertTaskModel } from '../train/bertTask';

const TOKENIZER_FILES = ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/** The one-line refusal of a checkpoint whose classifier does not fit the task. */
export function labelCountMessage(modelDir: string, err: LabelCountError, task: string, remedy: string): string {
  return `${modelDir} has ${err.checkpointLabels} labels, task ${task} has ${err.requestedLabels}: ${remedy}`;
}

/**
 * Loads a checkpoint as it is. With `task`, its classifier must have the task's label count: a
 * model of another size is refused in one line rather than scored on labels it does not predict.
 */
export function loadTaskModel(dir: string, task?: { name: string; numLabels: number }): BertTaskModel {
  try {
    return new BertTaskModel(loadBertCheckpoint(dir, task ? { numLabels: task.numLabels } : {}).model);
  } catch (err) {
    if (err instanceof LabelCountError && task) {
      throw new UsageError(labelCountMessage(dir, err, task.name, `evaluate it on a task with ${err.checkpointLabels} labels, or fine-tune it first (train --reinit-classifier)`));
    }
    throw err;
  }
}

/**
 * Saves `model` into `out` and copies the tokenizer files of `from`, so `out` is a complete model
 * directory. `dense`: original shapes with zeros in place of removed parts (loads in any transformers).
 */
export function saveTaskModel(model: BertTaskModel, out: string, from: string, options: { dense?: boolean } = {}): void {
  if (existsSync(join(out, 'model.safetensors')) && out !== from) {
    throw new Error(`${out} already holds a model; choose another --out`);
  }
  mkdirSync(out, { recursive: true });
  saveBertCheckpoint(model.bert, out, { dense: options.dense === true });
  if (out === from) return;
  for (const f of TOKENIZER_FILES) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(out, f));
}
