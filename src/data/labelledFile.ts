/**
 * A user's own labelled text: a CSV, TSV or JSON Lines file, chosen by the file's extension
 * (`.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`), with the text (and optionally a second text of a
 * pair) and the label in named columns (CSV/TSV: a header line; JSONL: one object per line, the
 * columns being its keys).
 *
 * Labels are names: a CSV cell as written, a JSON string as it is, a JSON number or boolean as
 * `String(value)`. The classes of a task are the distinct names of its training file, in a stable
 * order that does not depend on the order of the rows: numerically when every name is a number
 * (so labels 0..k-1 get ids 0..k-1), else by UTF-16 code units (JavaScript's default sort, which
 * for ASCII names is Python's `sorted`, as Hugging Face's `run_glue.py` orders labels). A dev
 * label that the training file does not have is an error naming the file, the line and the column.
 *
 * Every error names the file, the line (where the record starts) and the column (1-based
 * character of a CSV/TSV field; the key of a JSONL field) and what to do.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDelimited, type DelimitedField } from './delimited';
import type { TextExample } from './batching';

export type LabelledFileFormat = 'csv' | 'tsv' | 'jsonl';

const EXTENSIONS: Record<string, LabelledFileFormat> = { '.csv': 'csv', '.tsv': 'tsv', '.tab': 'tsv', '.jsonl': 'jsonl', '.ndjson': 'jsonl' };

/** Column (CSV/TSV header) or key (JSONL) names. */
export interface LabelledColumns {
  /** The text. Default `text`. */
  text?: string;
  /** The second text of a pair (entailment, paraphrase, ...). Default: none (single texts). */
  textPair?: string;
  /** The label. Default `label`. */
  label?: string;
}

export const DEFAULT_TEXT_COLUMN = 'text';
export const DEFAULT_LABEL_COLUMN = 'label';

/** One row as read, before labels become ids. `where` is `file:line:column` of the label. */
export interface LabelledRow {
  line: number;
  textA: string;
  textB?: string;
  /** Label name (see the module comment). */
  label: string;
  where: string;
}

export class LabelledFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelledFileError';
  }
}

/** The format a file's extension names; an unknown extension is an error listing the known ones. */
export function labelledFileFormat(file: string): LabelledFileFormat {
  const format = EXTENSIONS[extname(file).toLowerCase()];
  if (!format) {
    throw new LabelledFileError(`${file}: cannot tell the format from the extension '${extname(file)}': name the file .csv, .tsv or .jsonl`);
  }
  return format;
}

function columnsOf(columns: LabelledColumns): { text: string; textPair?: string; label: string } {
  return { text: columns.text ?? DEFAULT_TEXT_COLUMN, textPair: columns.textPair, label: columns.label ?? DEFAULT_LABEL_COLUMN };
}

/** Parses the text of a CSV or TSV file with a header line. Pure; `file` only names the file. */
export function parseLabelledDelimited(text: string, delimiter: ',' | '\t', file: string, columns: LabelledColumns = {}): LabelledRow[] {
  const cols = columnsOf(columns);
  const records = parseDelimited(text, delimiter, file);
  if (records.length === 0) throw new LabelledFileError(`${file}: empty file, expected a header line naming the columns (${cols.text}, ${cols.label})`);
  const [header, ...rows] = records;
  const names = header.fields.map((f) => f.value.trim());
  const flag = { text: '--text-column', textPair: '--text-pair-column', label: '--label-column' } as const;
  const find = (key: keyof typeof flag): number | undefined => {
    const name = cols[key];
    if (name === undefined) return undefined;
    const i = names.indexOf(name);
    if (i < 0) throw new LabelledFileError(`${file}:${header.line}: the header has no column ${JSON.stringify(name)} (columns: ${names.join(', ')}); name the column with ${flag[key]}`);
    return i;
  };
  const iText = find('text') as number;
  const iPair = find('textPair');
  const iLabel = find('label') as number;
  if (rows.length === 0) throw new LabelledFileError(`${file}: no rows after the header`);
  return rows.map((r) => {
    if (r.fields.length !== names.length) {
      // Too many: the column of the first field beyond the header's; too few: of the last one.
      const at = r.fields[Math.min(names.length, r.fields.length - 1)] as DelimitedField;
      throw new LabelledFileError(`${file}:${at.line}:${at.column}: expected ${names.length} fields (as the header), found ${r.fields.length}` +
        (delimiter === ',' ? ' (a field holding a comma must be quoted)' : ''));
    }
    const label = r.fields[iLabel] as DelimitedField;
    const row: LabelledRow = { line: r.line, textA: (r.fields[iText] as DelimitedField).value, label: label.value, where: `${file}:${label.line}:${label.column}` };
    if (iPair !== undefined) row.textB = (r.fields[iPair] as DelimitedField).value;
    if (label.value.trim() === '') throw new LabelledFileError(`${row.where}: the label (column ${JSON.stringify(cols.label)}) is empty`);
    return row;
  });
}

/** Parses JSON Lines: one object per non-blank line. Pure; `file` only names the file. */
export function parseLabelledJsonl(text: string, file: string, columns: LabelledColumns = {}): LabelledRow[] {
  const cols = columnsOf(columns);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const rows: LabelledRow[] = [];
  body.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const o = jsonObjectLine(line, `${file}:${lineNo}`);
    const field = (key: string, flag: string, kind: 'text' | 'label'): string => {
      if (!(key in o)) throw new LabelledFileError(`${file}:${lineNo}: no key ${JSON.stringify(key)} (keys: ${Object.keys(o).join(', ')}); name it with ${flag}`);
      const v = o[key];
      if (typeof v === 'string') {
        if (kind === 'label' && v.trim() === '') throw new LabelledFileError(`${file}:${lineNo}: key ${JSON.stringify(key)}: the label is empty`);
        return v;
      }
      if (kind === 'label' && (typeof v === 'number' || typeof v === 'boolean')) return String(v);
      throw new LabelledFileError(`${file}:${lineNo}: key ${JSON.stringify(key)}: expected ${kind === 'text' ? 'a string' : 'a string, number or boolean'}, found ${JSON.stringify(v)}`);
    };
    const row: LabelledRow = {
      line: lineNo, textA: field(cols.text, '--text-column', 'text'), label: field(cols.label, '--label-column', 'label'),
      where: `${file}:${lineNo}:${JSON.stringify(cols.label)}`,
    };
    if (cols.textPair !== undefined) row.textB = field(cols.textPair, '--text-pair-column', 'text');
    rows.push(row);
  });
  if (rows.length === 0) throw new LabelledFileError(`${file}: no rows (expected one JSON object per line)`);
  return rows;
}

/**
 * The 1-based column of a JSON.parse error in `line`, from V8's message: "... at position N"
 * (0-based), or for an unexpected token the quoted context (10 characters either side of it),
 * located in the line; "Unexpected end" is the end of the line. Undefined when the message says
 * neither (another engine): the error then names the line only.
 */
export function jsonErrorColumn(line: string, message: string): number | undefined {
  const pos = /at position (\d+)/.exec(message);
  if (pos) return Number(pos[1]) + 1;
  if (/^Unexpected end of JSON input/.test(message)) return line.length + 1;
  const m = /^Unexpected token '(.)', (\.\.\.)?"(.*)"(?:\.\.\.)? is not valid JSON/.exec(message);
  if (!m) return undefined;
  const [, token, cut, context] = m;
  // The context starts 10 characters before the token, or at the start of the line when it is not cut.
  for (let i = line.indexOf(token); i >= 0; i = line.indexOf(token, i + 1)) {
    const start = cut ? i - 10 : 0;
    if (start >= 0 && line.slice(start, start + context.length) === context && context[i - start] === token) return i + 1;
  }
  return undefined;
}

/**
 * One line of a JSONL file as the object it must hold; `where` (file:line) starts the error,
 * with the column of a syntax error when the engine's message locates it.
 */
export function jsonObjectLine(line: string, where: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    const column = jsonErrorColumn(line, (e as Error).message);
    const at = column === undefined ? '' : `:${column}`;
    throw new LabelledFileError(`${where}${at}: not valid JSON (${(e as Error).message.split('\n')[0]}): each line must be one JSON object`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new LabelledFileError(`${where}: expected a JSON object, found ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
  }
  return obj as Record<string, unknown>;
}

/** Reads a labelled file of any supported format (by extension). */
export function readLabelledFile(file: string, columns: LabelledColumns = {}): LabelledRow[] {
  const format = labelledFileFormat(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new LabelledFileError(`${file}: cannot read (${(e as Error).message})`);
  }
  if (format === 'jsonl') return parseLabelledJsonl(text, file, columns);
  return parseLabelledDelimited(text, format === 'csv' ? ',' : '\t', file, columns);
}

const isNumber = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));

/** The distinct label names of rows in the stable order of the module comment. */
export function discoverLabels(rows: readonly LabelledRow[]): string[] {
  const names = [...new Set(rows.map((r) => r.label))];
  if (names.every(isNumber)) return names.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  return names.sort();
}

/**
 * Rows to examples with class ids, by `labels` (names in id order). A name not among them is an
 * error naming the row's spot and `source`, where the labels came from.
 */
export function classExamples(rows: readonly LabelledRow[], labels: readonly string[], source: string): TextExample[] {
  const ids = new Map(labels.map((name, i) => [name, i]));
  return rows.map((r) => {
    const id = ids.get(r.label);
    if (id === undefined) {
      const shown = labels.length > 12 ? `${labels.slice(0, 12).join(', ')}, ...` : labels.join(', ');
      throw new LabelledFileError(`${r.where}: label ${JSON.stringify(r.label)} does not occur in ${source} (labels: ${shown})`);
    }
    return withTexts(r, id);
  });
}

/** Rows to examples with numeric targets (regression); a label that is not a number is an error at its spot. */
export function regressionExamples(rows: readonly LabelledRow[]): TextExample[] {
  return rows.map((r) => {
    if (!isNumber(r.label)) throw new LabelledFileError(`${r.where}: label ${JSON.stringify(r.label)} is not a number (a regression target must be one)`);
    return withTexts(r, Number(r.label));
  });
}

function withTexts(r: LabelledRow, label: number): TextExample {
  return r.textB === undefined ? { textA: r.textA, label } : { textA: r.textA, textB: r.textB, label };
}
