/**
 * Classic BERT tokenisation from a `vocab.txt`: `BasicTokenizer` (clean text, CJK splitting,
 * lower-casing and accent stripping, punctuation splitting) followed by greedy longest-match
 * WordPiece with the `##` continuation prefix. Follows `transformers`' `tokenization_bert.py`
 * and the Rust `BertNormalizer` / `BertPreTokenizer` / `WordPiece` model; where those two
 * differ, `compat` picks one (see `Compat` in ./tokenizer).
 */
import { readFileSync } from 'node:fs';

import {
  BertLayoutTokenizer,
  type Compat,
  DEFAULT_MODEL_MAX_LENGTH,
  type SpecialTokenIds,
  splitOnSpecialTokens,
} from './tokenizer';

// ---- character classes, as BERT defines them -------------------------------------------------

// Unicode White_Space, not just Zs: Python's str.split() and Rust's char::is_whitespace both
// split on U+2028/U+2029 too (the control characters in White_Space are removed before).
const WHITESPACE_RE = /\p{White_Space}/u;
const OTHER_RE = /\p{C}/u; // Cc, Cf, Cs, Co, Cn
const PUNCT_RE = /\p{P}/u;
const MARK_NONSPACING_RE = /\p{Mn}/gu;

/** Space, tab, newline, carriage return, or any other Unicode White_Space character. */
export function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || WHITESPACE_RE.test(ch);
}

/** Any "Other" category (Cc, Cf, Cn, Co, Cs) except tab, newline and carriage return. */
export function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return OTHER_RE.test(ch);
}

/**
 * All non-letter/number ASCII (so `$`, `^`, `` ` `` count, although Unicode calls them
 * symbols), plus every Unicode punctuation category (P*).
 */
export function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return PUNCT_RE.test(ch);
}

/** The CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana: those are spaced). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

// ---- BasicTokenizer -------------------------------------------------------------------------

export interface BasicTokenizerOptions {
  /** Lower-case the text. Default true (an uncased checkpoint). */
  doLowerCase?: boolean;
  /**
   * Strip accents (NFD, then drop non-spacing marks). Default: follows `doLowerCase`, as
   * `transformers` does when `strip_accents` is null.
   */
  stripAccents?: boolean;
  /** Put spaces around CJK ideographs so each is a word. Default true. */
  tokenizeChineseChars?: boolean;
  /** See `Compat`; `'slow'` adds the NFC step of the Python tokenizer. Default `'fast'`. */
  compat?: Compat;
}

/** Text → words and punctuation marks, before WordPiece. Pure. */
export function basicTokenize(text: string, options: BasicTokenizerOptions = {}): string[] {
  const doLowerCase = options.doLowerCase ?? true;
  const stripAccents = options.stripAccents ?? doLowerCase;
  const chinese = options.tokenizeChineseChars ?? true;
  // Clean: drop NUL, U+FFFD and control characters; every whitespace becomes a space.
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) cleaned += ' ';
    else if (chinese && isChineseChar(cp)) cleaned += ` ${ch} `;
    else cleaned += ch;
  }
  if (options.compat === 'slow') cleaned = cleaned.normalize('NFC');
  const out: string[] = [];
  for (let word of cleaned.split(' ')) {
    if (word.length === 0) continue;
    if (doLowerCase) word = word.toLowerCase();
    if (stripAccents) word = word.normalize('NFD').replace(MARK_NONSPACING_RE, '');
    // Split on punctuation: every punctuation character is a word of its own.
    let current = '';
    for (const ch of word) {
      if (isPunctuation(ch)) {
        if (current.length > 0) out.push(current);
        out.push(ch);
        current = '';
      } else {
        current += ch;
      }
    }
    if (current.length > 0) out.push(current);
  }
  return out;
}

// ---- WordPiece ------------------------------------------------------------------------------

/**
 * Greedy longest-match-first WordPiece of one word: the longest prefix in the vocabulary, then
 * the longest `##`-prefixed continuation, and so on; if any position has no match, or the word
 * is longer than `maxInputCharsPerWord` code points, the whole word is `unkToken`. Pure.
 */
export function wordPiece(
  word: string,
  vocab: ReadonlyMap<string, number>,
  unkToken = '[UNK]',
  maxInputCharsPerWord = 100,
  prefix = '##',
): string[] {
  const chars = Array.from(word); // code points, as Python's list(str) and Rust's chars()
  if (chars.length > maxInputCharsPerWord) return [unkToken];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: string | undefined;
    while (start < end) {
      let sub = chars.slice(start, end).join('');
      if (start > 0) sub = prefix + sub;
      if (vocab.has(sub)) {
        found = sub;
        break;
      }
      end--;
    }
    if (found === undefined) return [unkToken];
    pieces.push(found);
    start = end;
  }
  return pieces;
}

/**
 * Parse a `vocab.txt`: one token per line, id = line number from 0. A token listed twice keeps
 * its last line, as `transformers`' `load_vocab` does. Only `\n` ends a line (also as there).
 */
export function parseVocab(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export interface WordPieceTokenizerOptions extends BasicTokenizerOptions {
  /** Default 100, as BERT. */
  maxInputCharsPerWord?: number;
  /** Default 512 (`DEFAULT_MODEL_MAX_LENGTH`). */
  modelMaxLength?: number;
  unkToken?: string; // default '[UNK]'
  clsToken?: string; // default '[CLS]'
  sepToken?: string; // default '[SEP]'
  padToken?: string; // default '[PAD]'
  maskToken?: string; // default '[MASK]'
  /** Names the tokenizer in errors, e.g. the vocab file's path. Default 'vocab.txt'. */
  source?: string;
}

export class WordPieceTokenizer extends BertLayoutTokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
  readonly modelMaxLength: number;
  readonly compat: Compat;
  private readonly vocab: Map<string, number>;
  private readonly inverse: string[];
  private readonly specialTokens: string[];
  private readonly options: Required<Pick<WordPieceTokenizerOptions, 'maxInputCharsPerWord' | 'unkToken'>> &
    BasicTokenizerOptions;
  protected readonly source: string;

  constructor(tokens: readonly string[], options: WordPieceTokenizerOptions = {}) {
    super();
    this.source = options.source ?? 'vocab.txt';
    this.vocab = new Map();
    tokens.forEach((t, i) => this.vocab.set(t, i));
    this.inverse = [...tokens];
    this.vocabSize = tokens.length;
    this.modelMaxLength = options.modelMaxLength ?? DEFAULT_MODEL_MAX_LENGTH;
    this.compat = options.compat ?? 'fast';
    const need = (tok: string, what: string): number => {
      const id = this.vocab.get(tok);
      if (id === undefined) throw new Error(`${this.source}: the ${what} token ${JSON.stringify(tok)} is not in the vocabulary`);
      return id;
    };
    const unkToken = options.unkToken ?? '[UNK]';
    const maskToken = options.maskToken ?? '[MASK]';
    this.special = {
      cls: need(options.clsToken ?? '[CLS]', 'cls'),
      sep: need(options.sepToken ?? '[SEP]', 'sep'),
      pad: need(options.padToken ?? '[PAD]', 'pad'),
      unk: need(unkToken, 'unk'),
      mask: this.vocab.get(maskToken),
    };
    this.specialTokens = [options.clsToken ?? '[CLS]', options.sepToken ?? '[SEP]', options.padToken ?? '[PAD]', unkToken];
    if (this.special.mask !== undefined) this.specialTokens.push(maskToken);
    this.options = {
      doLowerCase: options.doLowerCase ?? true,
      stripAccents: options.stripAccents,
      tokenizeChineseChars: options.tokenizeChineseChars ?? true,
      compat: this.compat,
      maxInputCharsPerWord: options.maxInputCharsPerWord ?? 100,
      unkToken,
    };
  }

  /** Read a `vocab.txt`; errors name the file. */
  static fromVocabFile(path: string, options: WordPieceTokenizerOptions = {}): WordPieceTokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`${path}: cannot read the vocabulary (${(e as Error).message})`);
    }
    const tokens = parseVocab(text);
    if (tokens.length === 0) throw new Error(`${path}: empty vocabulary`);
    return new WordPieceTokenizer(tokens, { source: path, ...options });
  }

  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const chunk of splitOnSpecialTokens(text, this.specialTokens)) {
      if (chunk.special) {
        out.push(chunk.text);
        continue;
      }
      for (const word of basicTokenize(chunk.text, this.options)) {
        out.push(...wordPiece(word, this.vocab, this.options.unkToken, this.options.maxInputCharsPerWord));
      }
    }
    return out;
  }

  encodeText(text: string): number[] {
    // Every piece comes from the vocabulary (or is [UNK]), so the lookup cannot miss.
    return this.tokenize(text).map((t) => this.vocab.get(t) ?? this.special.unk);
  }


  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.inverse[id];
  }
}
