/** Loading and saving the checkpoints that the commands take and write, with their tokenizer files. */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadBertCheckpoint, saveBertCheckpoint } from '../checkpoint';
import { BertTaskModel } from '../train/bertTask';

const TOKENIZER_FILES = ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export function loadTaskModel(dir: string): BertTaskModel {
  return new BertTaskModel(loadBertCheckpoint(dir).model);
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
