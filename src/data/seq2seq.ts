/**
 * Sequence-to-sequence data: (source text, target text) pairs for summarization and translation,
 * read from a user's files and tokenised the way Hugging Face's `run_summarization.py` /
 * `run_translation.py` do for T5: the source is `prefix + text`, both sides are encoded with the
 * tokenizer's special tokens (T5: `</s>` appended) and truncated to their own maximum length.
 *
 * Formats (by the file's extension, or `format`):
 * - CSV / TSV with a header line, JSON Lines with one object per line: two named columns,
 *   `article` and `highlights` by default (CNN/DailyMail's layout). A JSONL key may be a dotted
 *   path into nested objects (`translation.de`, the layout of the WMT sets on the hub) when no key
 *   of that literal name exists.
 * - Parallel text files, one sentence a line: `{ source: 'train.de', target: 'train.en' }`, or a
 *   stem with `format: 'parallel'` whose files end in the two columns as extensions
 *   (`train` + columns `de`, `en` -> `train.de`, `train.en`; fairseq's and IWSLT's layout).
 *
 * Files are read in pieces of whole records (a 1.2 GB CNN/DailyMail CSV is more than one V8
 * string can hold). Every error names the file, the line and the column (CSV/TSV: 1-based
 * character; JSONL: the key) and what to do.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

import { corpusBleu } from './bleu';
import { DelimitedSyntaxError, parseDelimited, type DelimitedField, type DelimitedRecord } from './delimited';
import { jsonObjectLine, labelledFileFormat, LabelledFileError } from './labelledFile';
import { loadTokenizer, type LoadTokenizerOptions } from './loadTokenizer';
import { corpusRouge } from './rouge';
import type { Tokenizer } from './tokenizer';
import { UnigramTokenizer } from './unigram';

/** A tokenizer that can also turn ids back into text (to score generated outputs). */
export interface Seq2seqTokenizer extends Tokenizer {
  /** Text of ids; special tokens (pad, `</s>`, ...) dropped unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/** True when a tokenizer can decode (T5's Unigram tokenizer can; WordPiece and BPE here cannot). */
export function isSeq2seqTokenizer(tokenizer: Tokenizer): tokenizer is Seq2seqTokenizer {
  return typeof (tokenizer as Partial<Seq2seqTokenizer>).decode === 'function';
}

/** A checkpoint directory's tokenizer for a seq2seq model, or an error naming the directory. */
export function loadSeq2seqTokenizer(dir: string, options: LoadTokenizerOptions = {}): Seq2seqTokenizer {
  const tokenizer = loadTokenizer(dir, options);
  if (!isSeq2seqTokenizer(tokenizer)) {
    throw new Error(`${dir}: its tokenizer (${tokenizer.constructor.name}) cannot turn ids back into text; a seq2seq model needs a tokenizer.json with a Unigram model, as T5's`);
  }
  return tokenizer;
}

export type Seq2seqFormat = 'csv' | 'tsv' | 'jsonl' | 'parallel';

/** A CSV/TSV/JSONL file, a parallel stem (`format: 'parallel'`), or the two parallel files. */
export type Seq2seqFiles = string | { source: string; target: string };

export const DEFAULT_SOURCE_COLUMN = 'article';
export const DEFAULT_TARGET_COLUMN = 'highlights';

export interface Seq2seqColumns {
  /** Default: by extension (`.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`); `parallel` for `{source, target}`. */
  format?: Seq2seqFormat;
  /** Source column or key; the source file's extension for a parallel stem. Default `article`. */
  sourceColumn?: string;
  /** Target column or key; the target file's extension for a parallel stem. Default `highlights`. */
  targetColumn?: string;
}

/** One pair as read. `where` is `file:line` (and `:column` in CSV/TSV, `:"key"` in JSONL) of the source. */
export interface Seq2seqRow {
  source: string;
  target: string;
  line: number;
  where: string;
}

function fail(message: string): never {
  throw new LabelledFileError(message);
}

/** A piece of a file made of whole lines (or whole CSV records), and the line it starts on. */
interface TextChunk {
  text: string;
  firstLine: number;
}

/** Default bytes read at a time: files are parsed in pieces, never held as one string (V8 caps a string near 512 M characters; CNN/DailyMail's CSV is 1.2 GB). */
export const SEQ2SEQ_CHUNK_BYTES = 1 << 24;

/**
 * The text of a file in pieces that end just after a line break, where `cut` says a piece may
 * end (the index after the last such line break, 0 for none yet). A UTF-8 byte-order mark is
 * dropped.
 */
function* textChunks(file: string, cut: (text: string) => number, chunkBytes: number): Generator<TextChunk> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    return fail(`${file}: cannot read (${(e as Error).message})`);
  }
  try {
    const decoder = new StringDecoder('utf8');
    const buf = Buffer.allocUnsafe(chunkBytes);
    let carry = '';
    let line = 1;
    let start = true;
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      let text = carry + (n > 0 ? decoder.write(buf.subarray(0, n)) : decoder.end());
      if (start && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        start = false;
      }
      if (n === 0) {
        if (text.length > 0) yield { text, firstLine: line };
        return;
      }
      const at = cut(text);
      carry = text.slice(at);
      if (at > 0) {
        const piece = text.slice(0, at);
        yield { text: piece, firstLine: line };
        for (let i = piece.indexOf('\n'); i >= 0; i = piece.indexOf('\n', i + 1)) line++;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** After the last line break of `text`. */
function afterLastLine(text: string): number {
  return text.lastIndexOf('\n') + 1;
}

/**
 * After the last line break of `text` that ends a CSV/TSV record: outside quoted fields, read as
 * src/data/delimited.ts reads them (a quote opens a quoted field only at the start of a field;
 * `""` inside one is a quote).
 */
function afterLastRecord(delimiter: string): (text: string) => number {
  return (text) => {
    let at = 0;
    let quoted = false;
    let fieldStart = true;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') i++;
          else quoted = false;
        }
      } else if (c === '"' && fieldStart) {
        quoted = true;
        fieldStart = false;
      } else if (c === '\n') {
        at = i + 1;
        fieldStart = true;
      } else fieldStart = c === delimiter;
    }
    return at;
  };
}

/** Parses CSV/TSV text with a header line into pairs. Pure; `file` only names the file. */
export function parseSeq2seqDelimited(text: string, delimiter: ',' | '\t', file: string, sourceColumn = DEFAULT_SOURCE_COLUMN, targetColumn = DEFAULT_TARGET_COLUMN): Seq2seqRow[] {
  return delimitedRows([{ text, firstLine: 1 }], delimiter, file, sourceColumn, targetColumn);
}

function delimitedRows(chunks: Iterable<TextChunk>, delimiter: ',' | '\t', file: string, sourceColumn: string, targetColumn: string): Seq2seqRow[] {
  let names: string[] | undefined;
  let iSource = -1;
  let iTarget = -1;
  const out: Seq2seqRow[] = [];
  for (const chunk of chunks) {
    const shift = chunk.firstLine - 1;
    let records: DelimitedRecord[];
    try {
      records = parseDelimited(chunk.text, delimiter, file);
    } catch (e) {
      if (!(e instanceof DelimitedSyntaxError) || shift === 0) throw e;
      const problem = e.message.slice(`${file}:${e.line}:${e.column}: `.length);
      throw new DelimitedSyntaxError(file, e.line + shift, e.column, problem);
    }
    for (const r of records) {
      if (names === undefined) {
        const header = r;
        names = header.fields.map((f) => f.value.trim());
        const find = (name: string, flag: string): number => {
          const i = (names as string[]).indexOf(name);
          if (i < 0) fail(`${file}:${header.line + shift}: the header has no column ${JSON.stringify(name)} (columns: ${(names as string[]).join(', ')}); name the column with ${flag}`);
          return i;
        };
        iSource = find(sourceColumn, '--source-column');
        iTarget = find(targetColumn, '--target-column');
        continue;
      }
      if (r.fields.length !== names.length) {
        const at = r.fields[Math.min(names.length, r.fields.length - 1)] as DelimitedField;
        fail(`${file}:${at.line + shift}:${at.column}: expected ${names.length} fields (as the header), found ${r.fields.length}` +
          (delimiter === ',' ? ' (a field holding a comma or a line break must be quoted)' : ''));
      }
      const src = r.fields[iSource] as DelimitedField;
      out.push({ source: src.value, target: (r.fields[iTarget] as DelimitedField).value, line: r.line + shift, where: `${file}:${src.line + shift}:${src.column}` });
    }
  }
  if (names === undefined) fail(`${file}: empty file, expected a header line naming the columns (${sourceColumn}, ${targetColumn})`);
  if (out.length === 0) fail(`${file}: no rows after the header`);
  return out;
}

/** `o[key]`, or the dotted path `key` into nested objects when there is no such literal key. */
function lookup(o: Record<string, unknown>, key: string): { found: boolean; value?: unknown } {
  if (key in o) return { found: true, value: o[key] };
  let v: unknown = o;
  for (const part of key.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !(part in (v as Record<string, unknown>))) return { found: false };
    v = (v as Record<string, unknown>)[part];
  }
  return { found: true, value: v };
}

/** Parses JSON Lines into pairs: one object per non-blank line. Pure; `file` only names the file. */
export function parseSeq2seqJsonl(text: string, file: string, sourceColumn = DEFAULT_SOURCE_COLUMN, targetColumn = DEFAULT_TARGET_COLUMN): Seq2seqRow[] {
  return jsonlRows([{ text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, firstLine: 1 }], file, sourceColumn, targetColumn);
}

function jsonlRows(chunks: Iterable<TextChunk>, file: string, sourceColumn: string, targetColumn: string): Seq2seqRow[] {
  const rows: Seq2seqRow[] = [];
  for (const chunk of chunks) jsonlChunk(chunk, file, sourceColumn, targetColumn, rows);
  if (rows.length === 0) fail(`${file}: no rows (expected one JSON object per line)`);
  return rows;
}

function jsonlChunk(chunk: TextChunk, file: string, sourceColumn: string, targetColumn: string, rows: Seq2seqRow[]): void {
  chunk.text.split('\n').forEach((raw, i) => {
    const lineNo = chunk.firstLine + i;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const obj = jsonObjectLine(line, `${file}:${lineNo}`);
    const field = (key: string, flag: string): string => {
      const { found, value } = lookup(obj, key);
      if (!found) fail(`${file}:${lineNo}: no key ${JSON.stringify(key)} (keys: ${Object.keys(obj).join(', ')}); name it with ${flag}`);
      if (typeof value !== 'string') fail(`${file}:${lineNo}:${JSON.stringify(key)}: expected a string, found ${JSON.stringify(value)}`);
      return value;
    };
    rows.push({ source: field(sourceColumn, '--source-column'), target: field(targetColumn, '--target-column'), line: lineNo, where: `${file}:${lineNo}:${JSON.stringify(sourceColumn)}` });
  });
}

/** The lines of a text file, without line ends; a final line end does not start an empty line. */
function lines(text: string): string[] {
  const out = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Pairs of two parallel texts, line i of one with line i of the other. Pure; the names only name the files. */
export function parseParallel(sourceText: string, targetText: string, sourceFile: string, targetFile: string): Seq2seqRow[] {
  return parallelRows(lines(sourceText), lines(targetText), sourceFile, targetFile);
}

/** The lines of a file, read in pieces. */
function fileLines(file: string, chunkBytes: number): string[] {
  const out: string[] = [];
  for (const chunk of textChunks(file, afterLastLine, chunkBytes)) for (const l of lines(chunk.text)) out.push(l);
  return out;
}

function parallelRows(src: string[], tgt: string[], sourceFile: string, targetFile: string): Seq2seqRow[] {
  if (src.length !== tgt.length) {
    fail(`${sourceFile} has ${src.length} lines but ${targetFile} has ${tgt.length}: parallel files need one sentence a line in both, line i translating line i`);
  }
  if (src.length === 0) fail(`${sourceFile}: no lines`);
  return src.map((s, i) => ({ source: s, target: tgt[i] as string, line: i + 1, where: `${sourceFile}:${i + 1}:1` }));
}

/** The format of `files` (see `Seq2seqColumns.format`). */
export function seq2seqFormat(files: Seq2seqFiles, format?: Seq2seqFormat): Seq2seqFormat {
  if (typeof files !== 'string') {
    if (format !== undefined && format !== 'parallel') fail(`${files.source}: two files (source and target) are parallel text, not ${format}`);
    return 'parallel';
  }
  return format ?? labelledFileFormat(files);
}

/** Reads pairs from files of any supported format, `chunkBytes` at a time. */
export function readSeq2seqFile(files: Seq2seqFiles, columns: Seq2seqColumns = {}, chunkBytes = SEQ2SEQ_CHUNK_BYTES): Seq2seqRow[] {
  const format = seq2seqFormat(files, columns.format);
  const sourceColumn = columns.sourceColumn ?? DEFAULT_SOURCE_COLUMN;
  const targetColumn = columns.targetColumn ?? DEFAULT_TARGET_COLUMN;
  if (format === 'parallel') {
    let pair: { source: string; target: string };
    if (typeof files === 'string') {
      if (columns.sourceColumn === undefined || columns.targetColumn === undefined) {
        fail(`${files}: a parallel stem needs the two languages as sourceColumn and targetColumn (e.g. de and en for ${files}.de and ${files}.en)`);
      }
      pair = { source: `${files}.${sourceColumn}`, target: `${files}.${targetColumn}` };
    } else pair = files;
    return parallelRows(fileLines(pair.source, chunkBytes), fileLines(pair.target, chunkBytes), pair.source, pair.target);
  }
  const file = files as string;
  if (format === 'jsonl') return jsonlRows(textChunks(file, afterLastLine, chunkBytes), file, sourceColumn, targetColumn);
  const delimiter = format === 'csv' ? ',' : '\t';
  return delimitedRows(textChunks(file, afterLastRecord(delimiter), chunkBytes), delimiter, file, sourceColumn, targetColumn);
}

/** One tokenised pair: `labels` are the target's ids (with `</s>`), before any padding. */
export interface EncodedSeq2seqExample {
  inputIds: readonly number[];
  labels: readonly number[];
}

export interface Seq2seqEncodeOptions {
  /** Prepended to every source, as T5 was trained: `'summarize: '`, `'translate German to English: '`. Default `''`. */
  prefix?: string;
  /** Source length in tokens, `</s>` included. Default 512 (T5's, and `run_summarization.py`'s `max_source_length`). */
  maxSourceLength?: number;
  /** Target length in tokens, `</s>` included. Default 128 (`run_summarization.py`'s `max_target_length`). */
  maxTargetLength?: number;
}

export const DEFAULT_MAX_SOURCE_LENGTH = 512;
export const DEFAULT_MAX_TARGET_LENGTH = 128;

/**
 * Tokenises pairs as `run_summarization.py`'s `preprocess_function`: `tokenizer(prefix + source,
 * max_length, truncation=True)` and `tokenizer(text_target=target, ...)`.
 */
export function encodeSeq2seq(tokenizer: Tokenizer, rows: readonly { source: string; target: string }[], options: Seq2seqEncodeOptions = {}): EncodedSeq2seqExample[] {
  const prefix = options.prefix ?? '';
  const maxSource = options.maxSourceLength ?? DEFAULT_MAX_SOURCE_LENGTH;
  const maxTarget = options.maxTargetLength ?? DEFAULT_MAX_TARGET_LENGTH;
  return rows.map((r) => ({
    inputIds: tokenizer.encode(prefix + r.source, { maxLength: maxSource }).inputIds,
    labels: tokenizer.encode(r.target, { maxLength: maxTarget }).inputIds,
  }));
}

export type Seq2seqKind = 'summarization' | 'translation';

/**
 * Scores of decoded predictions against the reference texts, on a 0-100 scale as Hugging Face's
 * example scripts print them: summarization gives ROUGE-1/2/L/Lsum F-measures (rouge_score with
 * the Porter stemmer, as `run_summarization.py`), translation gives sacrebleu's corpus BLEU (13a);
 * both also give `exactMatch`, the percentage of predictions equal to their reference after
 * trimming. Texts are trimmed first, as those scripts do.
 */
export function seq2seqMetrics(kind: Seq2seqKind, predictions: readonly string[], references: readonly string[]): Record<string, number> {
  if (predictions.length !== references.length) throw new Error(`seq2seq metrics: ${predictions.length} predictions but ${references.length} references`);
  const preds = predictions.map((p) => p.trim());
  const refs = references.map((r) => r.trim());
  const exactMatch = (100 * preds.filter((p, i) => p === refs[i]).length) / Math.max(1, preds.length);
  if (kind === 'translation') return { bleu: corpusBleu(preds, [refs]).score, exactMatch };
  const r = corpusRouge(preds, refs, { useStemmer: true });
  const out: Record<string, number> = {};
  for (const [type, score] of Object.entries(r)) out[type] = 100 * score.fmeasure;
  out['exactMatch'] = exactMatch;
  return out;
}

/** A tokenised seq2seq task: what the trainer and the evaluation need. */
export interface Seq2seqTask {
  name: string;
  kind: Seq2seqKind;
  train: EncodedSeq2seqExample[];
  dev: EncodedSeq2seqExample[];
  /** The dev sources and targets as read (the targets are the references of the metrics), in dev order. */
  devSources: string[];
  devTargets: string[];
  prefix: string;
  maxSourceLength: number;
  maxTargetLength: number;
  tokenizer: Seq2seqTokenizer;
  /** `seq2seqMetrics(kind, predictions, references)`. */
  metrics(predictions: readonly string[], references: readonly string[]): Record<string, number>;
}

export interface Seq2seqFileTaskOptions extends Seq2seqColumns, Seq2seqEncodeOptions {
  /** Training pairs. Optional for evaluation only. */
  train?: Seq2seqFiles;
  dev: Seq2seqFiles;
  /** Which metrics. Default: translation for parallel files, summarization otherwise. */
  kind?: Seq2seqKind;
  /** Task name in run folders and logs. Default: the training (else dev) file's name without extension, or its folder's when that is train/dev/valid/test. */
  name?: string;
}

/** The name a seq2seq task gets from its files (`cnn_dm/train.csv` -> cnn_dm, `iwslt/train` + de -> iwslt). */
export function seq2seqTaskName(files: Seq2seqFiles): string {
  const file = typeof files === 'string' ? files : files.source;
  const stem = basename(file, extname(file));
  const name = /^(train|dev|valid|validation|test)$/i.test(stem) ? basename(dirname(file)) : stem;
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_') || 'data';
}

/**
 * A summarization or translation task from a user's files, tokenised with `tokenizer`.
 * @example seq2seqFileTask({ train: 'cnn_dm/train.csv', dev: 'cnn_dm/dev.csv', prefix: 'summarize: ' }, loadTokenizer('t5-small'))
 * @example seq2seqFileTask({ train: 'iwslt/train', dev: 'iwslt/dev', format: 'parallel', sourceColumn: 'de', targetColumn: 'en', prefix: 'translate German to English: ' }, tok)
 */
export function seq2seqFileTask(o: Seq2seqFileTaskOptions, tokenizer: Seq2seqTokenizer): Seq2seqTask {
  const format = seq2seqFormat(o.dev, o.format);
  const trainRows = o.train === undefined ? [] : readSeq2seqFile(o.train, o);
  const devRows = readSeq2seqFile(o.dev, o);
  const kind = o.kind ?? (format === 'parallel' ? 'translation' : 'summarization');
  const enc: Seq2seqEncodeOptions = {
    prefix: o.prefix ?? '',
    maxSourceLength: o.maxSourceLength ?? DEFAULT_MAX_SOURCE_LENGTH,
    maxTargetLength: o.maxTargetLength ?? DEFAULT_MAX_TARGET_LENGTH,
  };
  return {
    name: o.name ?? seq2seqTaskName(o.train ?? o.dev),
    kind,
    train: encodeSeq2seq(tokenizer, trainRows, enc),
    dev: encodeSeq2seq(tokenizer, devRows, enc),
    devSources: devRows.map((r) => r.source),
    devTargets: devRows.map((r) => r.target),
    prefix: enc.prefix as string,
    maxSourceLength: enc.maxSourceLength as number,
    maxTargetLength: enc.maxTargetLength as number,
    tokenizer,
    metrics: (p, r) => seq2seqMetrics(kind, p, r),
  };
}

/** Where the built-in seq2seq task lives (data/seq2seq: train.tsv, dev.tsv and its tokenizer). */
export const SEQ2SEQ_TASK_DIR = join(__dirname, '..', '..', 'data', 'seq2seq');
/** The built-in seq2seq task's name: spell digits as words (`4 0 7` -> `four zero seven`). */
export const BUILTIN_SEQ2SEQ_TASK = 'spell-digits';
/** The T5-style task prefix of the built-in task. */
export const BUILTIN_SEQ2SEQ_PREFIX = 'spell: ';

/**
 * The built-in seq2seq task (data/seq2seq, made by scripts/make_seq2seq_task.py): 2,000 train
 * and 200 dev numbers of 2-8 digits, each to be spelled digit by digit, with the SentencePiece
 * tokenizer committed beside them. Scored as translation (BLEU) plus exact match.
 */
export function builtinSeq2seqTask(dir = SEQ2SEQ_TASK_DIR, options: Seq2seqEncodeOptions = {}): Seq2seqTask {
  return seq2seqFileTask({
    train: join(dir, 'train.tsv'),
    dev: join(dir, 'dev.tsv'),
    sourceColumn: 'source',
    targetColumn: 'target',
    prefix: options.prefix ?? BUILTIN_SEQ2SEQ_PREFIX,
    // Sources have at most 2 + 8 pieces and targets 8 (plus </s>): nothing is cut.
    maxSourceLength: options.maxSourceLength ?? 32,
    maxTargetLength: options.maxTargetLength ?? 32,
    kind: 'translation',
    name: BUILTIN_SEQ2SEQ_TASK,
  }, UnigramTokenizer.fromDirectory(dir));
}
