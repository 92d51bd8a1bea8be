/**
 * Pick a tokenizer from the files of a Hugging Face checkpoint directory:
 * `tokenizer.json` (through `@huggingface/tokenizers`) when present, else `vocab.txt`
 * (our WordPiece), with the switches of `tokenizer_config.json` (`do_lower_case`,
 * `strip_accents`, `tokenize_chinese_chars`, `model_max_length`, special token names).
 * A `tokenizer.json` whose model is Unigram (T5's SentencePiece) or BPE (OPT, GPT-2) gets its
 * own implementation, chosen by the file's `model.type`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ByteLevelBpeTokenizer, isBpeTokenizerDir } from './bpeTokenizer';
import { configMaxLength, HfTokenizer } from './hfTokenizer';
import type { Compat, Tokenizer } from './tokenizer';
import { isUnigramTokenizerDir, UnigramTokenizer } from './unigram';
import { WordPieceTokenizer } from './wordpiece';

export interface LoadTokenizerOptions {
  /** Which `transformers` tokenizer to agree with where they differ. Default `'fast'`. */
  compat?: Compat;
  /**
   * Which file to use when both exist. Default `'tokenizer.json'` (what `AutoTokenizer`
   * loads); `'vocab.txt'` forces the WordPiece implementation.
   */
  prefer?: 'tokenizer.json' | 'vocab.txt';
  /** Overrides `model_max_length`. */
  modelMaxLength?: number;
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

function tokenName(config: Record<string, unknown>, key: string): string | undefined {
  const v = config[key];
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Record<string, unknown>)['content'] === 'string') {
    return (v as Record<string, unknown>)['content'] as string;
  }
  return undefined;
}

function optBool(config: Record<string, unknown>, key: string, path: string): boolean | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new Error(`${path}: ${key} must be true, false or null, got ${JSON.stringify(v)}`);
  return v;
}

export function loadTokenizer(dir: string, options: LoadTokenizerOptions = {}): Tokenizer {
  const jsonPath = join(dir, 'tokenizer.json');
  const vocabPath = join(dir, 'vocab.txt');
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? readJson(configPath) : {};
  const hasJson = existsSync(jsonPath);
  const hasVocab = existsSync(vocabPath);
  // T5 and other SentencePiece models: a Unigram tokenizer.json.
  if (!(hasVocab && options.prefer === 'vocab.txt') && isUnigramTokenizerDir(dir)) {
    return UnigramTokenizer.fromDirectory(dir, { modelMaxLength: options.modelMaxLength });
  }
  // OPT and GPT-2: byte-level BPE (a BPE tokenizer.json, or vocab.json + merges.txt).
  if (!(hasVocab && options.prefer === 'vocab.txt') && isBpeTokenizerDir(dir)) {
    return ByteLevelBpeTokenizer.fromDirectory(dir, { modelMaxLength: options.modelMaxLength });
  }
  const useJson = hasJson && (options.prefer !== 'vocab.txt' || !hasVocab);
  if (useJson) {
    return new HfTokenizer(readJson(jsonPath), config, {
      compat: options.compat,
      modelMaxLength: options.modelMaxLength,
      source: jsonPath,
    });
  }
  if (hasVocab) {
    return WordPieceTokenizer.fromVocabFile(vocabPath, {
      compat: options.compat,
      // BertTokenizer's defaults when the config is silent: uncased, accents follow casing.
      doLowerCase: optBool(config, 'do_lower_case', configPath) ?? true,
      stripAccents: optBool(config, 'strip_accents', configPath),
      tokenizeChineseChars: optBool(config, 'tokenize_chinese_chars', configPath) ?? true,
      modelMaxLength: options.modelMaxLength ?? configMaxLength(config),
      unkToken: tokenName(config, 'unk_token'),
      clsToken: tokenName(config, 'cls_token'),
      sepToken: tokenName(config, 'sep_token'),
      padToken: tokenName(config, 'pad_token'),
      maskToken: tokenName(config, 'mask_token'),
    });
  }
  throw new Error(`${dir}: no tokenizer found (looked for tokenizer.json and vocab.txt, and for vocab.json with merges.txt)`);
}
