/**
 * Causal language modelling on plain text files: the text is tokenised line by line (with the
 * tokenizer's own special tokens, e.g. OPT's leading `</s>`), the ids concatenated and cut into
 * blocks of `blockSize` tokens, as `transformers`' `run_clm.py` groups texts (the last, shorter
 * block is kept only when there is no full one). The metric is the dev set's perplexity:
 * `exp(total negative log-likelihood / predicted tokens)`, each block predicting its tokens 1..n-1.
 *
 * The examples' labels carry each block's number of predicted tokens, and the model's `predict`
 * returns each block's summed negative log-likelihood (decoderTask.ts): with these the trainer's
 * generic evaluation computes the token-weighted perplexity.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, type EncodedExample, type Tokenizer } from '../data';
import type { EncodedTask } from './taskData';

/** The built-in text task: data/text (a seeded grammar, scripts/make_text_corpus.py) with its byte-level BPE. */
export const TEXT_TASK = 'text';
export const TEXT_TASK_DIR = join(__dirname, '..', '..', 'data', 'text');

/** A language-modelling task: `EncodedTask` whose labels are predicted-token counts. */
export interface LmTask extends EncodedTask {
  languageModel: true;
  blockSize: number;
}

export function isLmTask(task: EncodedTask): task is LmTask {
  return (task as Partial<LmTask>).languageModel === true;
}

function readText(file: string, what: string): string[] {
  if (!existsSync(file)) throw new Error(`${what} ${file}: no such file`);
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines.length === 0) throw new Error(`${what} ${file}: no text (only empty lines)`);
  return lines;
}

/** Concatenated ids of the lines, cut into blocks of `blockSize` (see the module comment). */
export function textBlocks(lines: readonly string[], tokenizer: Tokenizer, blockSize: number): EncodedExample[] {
  if (!Number.isInteger(blockSize) || blockSize < 2) throw new Error(`block size must be an integer >= 2, got ${blockSize}`);
  const ids: number[] = [];
  for (const line of lines) ids.push(...tokenizer.encode(line, { maxLength: Number.MAX_SAFE_INTEGER }).inputIds);
  const blocks: EncodedExample[] = [];
  const full = Math.floor(ids.length / blockSize);
  const n = full > 0 ? full : 1;
  for (let b = 0; b < n; b++) {
    const inputIds = ids.slice(b * blockSize, (b + 1) * blockSize);
    if (inputIds.length < 2) break;
    blocks.push({ inputIds, tokenTypeIds: new Array<number>(inputIds.length).fill(0), label: inputIds.length - 1 });
  }
  return blocks;
}

/** Perplexity and mean negative log-likelihood per token (`nll`) from per-block summed NLL and per-block token counts. */
export function perplexityMetrics(nllSums: Float32Array, counts: Float32Array): Record<string, number> {
  let nll = 0;
  let n = 0;
  for (let i = 0; i < nllSums.length; i++) { nll += nllSums[i]; n += counts[i]; }
  const loss = n > 0 ? nll / n : NaN;
  return { perplexity: Math.exp(loss), nll: loss };
}

export interface TextTaskOptions {
  /** Tokens per block. Default 64 (the built-in corpus' sentences are about 12 tokens). */
  blockSize?: number;
  /** Task name in logs. Default 'text'. */
  name?: string;
}

/** A language-modelling task from a training and a dev text file (one document or sentence a line). */
export function textTask(trainFile: string, devFile: string, tokenizer: Tokenizer, options: TextTaskOptions = {}): LmTask {
  const blockSize = options.blockSize ?? 64;
  return {
    name: options.name ?? TEXT_TASK,
    train: textBlocks(readText(trainFile, 'training text'), tokenizer, blockSize),
    dev: textBlocks(readText(devFile, 'dev text'), tokenizer, blockSize),
    numLabels: 0,
    labelNames: null,
    metrics: perplexityMetrics,
    tokenizer,
    languageModel: true,
    blockSize,
  };
}

/** The built-in text task (data/text) with its tokenizer. */
export function builtinTextTask(blockSize?: number): LmTask {
  return textTask(join(TEXT_TASK_DIR, 'train.txt'), join(TEXT_TASK_DIR, 'dev.txt'), loadTokenizer(TEXT_TASK_DIR), { blockSize });
}
