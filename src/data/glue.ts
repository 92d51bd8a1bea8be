/**
 * Readers for the nine GLUE tasks in the standard GLUE TSV layout (as the GLUE download
 * script writes them: one folder per task, `train.tsv`, `dev.tsv`, `test.tsv`; MNLI has
 * `dev_matched.tsv` / `dev_mismatched.tsv` and the test counterparts).
 *
 * TSV is read with quoting off: sentences contain unescaped double quotes, so a quote is just a
 * character and only tabs and newlines are structure. A missing trailing newline, a blank last
 * line, CRLF line ends and a UTF-8 byte-order mark are tolerated; anything else unexpected (a
 * row with the wrong number of columns, an unknown label, a blank line in the middle) is an
 * error naming the file and the line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { accuracy, f1, matthewsCorrcoef, pearson, spearman } from './metrics';

/** Task names as `transformers`/`datasets` spell them; `mnli-mm` is MNLI's mismatched dev/test. */
export type GlueTaskName = 'cola' | 'sst2' | 'mrpc' | 'qqp' | 'stsb' | 'mnli' | 'mnli-mm' | 'qnli' | 'rte' | 'wnli';
export type GlueSplit = 'train' | 'dev' | 'test';
export type GlueMetricName = 'accuracy' | 'f1' | 'mcc' | 'pearson' | 'spearman';

export interface GlueTaskSpec {
  name: GlueTaskName;
  /** Folder under the GLUE root. */
  folder: string;
  /** File of each split. */
  files: Record<GlueSplit, string>;
  /**
   * Columns of the sentence(s) and the label: header names, or (for CoLA's header-less
   * train/dev) indices in a row of `columns` fields.
   */
  textA: string | number;
  textB?: string | number;
  label: string | number;
  /** Header-less layout: the fixed column count. Undefined when the file has a header. */
  columns?: number;
  /** Class names in label-id order (as `transformers`' GLUE processors); null for regression. */
  labels: readonly string[] | null;
  /** Regression: the scores the task defines (STS-B: 0 to 5); a row outside is a broken file. */
  scoreRange?: readonly [number, number];
  /** Reported metrics, the first one being the task's main score. */
  metrics: readonly GlueMetricName[];
}

const NLI = ['entailment', 'not_entailment'] as const;
const BINARY = ['0', '1'] as const;

function files(dev = 'dev', test = 'test'): Record<GlueSplit, string> {
  return { train: 'train.tsv', dev: `${dev}.tsv`, test: `${test}.tsv` };
}

export const GLUE_TASKS: Readonly<Record<GlueTaskName, GlueTaskSpec>> = {
  // train/dev: no header; source, label, original author's mark, sentence. test: header index, sentence.
  cola: { name: 'cola', folder: 'CoLA', files: files(), textA: 3, label: 1, columns: 4, labels: BINARY, metrics: ['mcc'] },
  sst2: { name: 'sst2', folder: 'SST-2', files: files(), textA: 'sentence', label: 'label', labels: BINARY, metrics: ['accuracy'] },
  mrpc: {
    name: 'mrpc', folder: 'MRPC', files: files(), textA: '#1 String', textB: '#2 String', label: 'Quality',
    labels: BINARY, metrics: ['f1', 'accuracy'],
  },
  qqp: {
    name: 'qqp', folder: 'QQP', files: files(), textA: 'question1', textB: 'question2', label: 'is_duplicate',
    labels: BINARY, metrics: ['f1', 'accuracy'],
  },
  stsb: {
    name: 'stsb', folder: 'STS-B', files: files(), textA: 'sentence1', textB: 'sentence2', label: 'score',
    labels: null, scoreRange: [0, 5], metrics: ['pearson', 'spearman'],
  },
  // MNLI train has 12 columns, dev 16 (five annotator labels): columns are found by header name,
  // the label is `gold_label`.
  mnli: {
    name: 'mnli', folder: 'MNLI', files: files('dev_matched', 'test_matched'), textA: 'sentence1', textB: 'sentence2',
    label: 'gold_label', labels: ['contradiction', 'entailment', 'neutral'], metrics: ['accuracy'],
  },
  'mnli-mm': {
    name: 'mnli-mm', folder: 'MNLI', files: files('dev_mismatched', 'test_mismatched'), textA: 'sentence1',
    textB: 'sentence2', label: 'gold_label', labels: ['contradiction', 'entailment', 'neutral'], metrics: ['accuracy'],
  },
  qnli: {
    name: 'qnli', folder: 'QNLI', files: files(), textA: 'question', textB: 'sentence', label: 'label',
    labels: NLI, metrics: ['accuracy'],
  },
  rte: {
    name: 'rte', folder: 'RTE', files: files(), textA: 'sentence1', textB: 'sentence2', label: 'label',
    labels: NLI, metrics: ['accuracy'],
  },
  wnli: {
    name: 'wnli', folder: 'WNLI', files: files(), textA: 'sentence1', textB: 'sentence2', label: 'label',
    labels: BINARY, metrics: ['accuracy'],
  },
};

export const GLUE_TASK_NAMES = Object.keys(GLUE_TASKS) as GlueTaskName[];

export interface GlueExample {
  /** 1-based line of the file, for messages. */
  line: number;
  textA: string;
  textB?: string;
  /** Class id (index into the task's `labels`) or, for STS-B, the similarity score. Absent on test. */
  label?: number;
}

export interface GlueDataset {
  task: GlueTaskSpec;
  split: GlueSplit;
  file: string;
  examples: GlueExample[];
}

/** Split file text into lines, tolerating BOM, CRLF, no final newline and blank last lines. */
export function tsvLines(text: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Parse the text of one GLUE file. Pure; `file` only names the file in errors.
 * Test splits have no label column (CoLA's test file, unlike its train/dev, has a header).
 */
export function parseGlueTsv(text: string, task: GlueTaskSpec, split: GlueSplit, file: string): GlueDataset {
  const lines = tsvLines(text);
  const hasHeader = task.columns === undefined || split === 'test';
  const withLabel = split !== 'test';
  let nCols: number;
  let colA: number;
  let colB: number | undefined;
  let colLabel: number | undefined;
  let first = 0;
  if (hasHeader) {
    if (lines.length === 0) throw new Error(`${file}: empty file, expected a header line`);
    const header = (lines[0] as string).split('\t');
    nCols = header.length;
    const find = (c: string | number, fallback: string): number => {
      const name = typeof c === 'string' ? c : fallback;
      const i = header.indexOf(name);
      if (i < 0) throw new Error(`${file}:1: header has no column ${JSON.stringify(name)} (${header.join(', ')})`);
      return i;
    };
    colA = find(task.textA, 'sentence');
    colB = task.textB === undefined ? undefined : find(task.textB, 'sentence2');
    colLabel = withLabel ? find(task.label, 'label') : undefined;
    first = 1;
  } else {
    nCols = task.columns as number;
    colA = task.textA as number;
    colB = task.textB as number | undefined;
    colLabel = task.label as number;
  }
  const examples: GlueExample[] = [];
  for (let i = first; i < lines.length; i++) {
    const lineNo = i + 1;
    const fields = (lines[i] as string).split('\t');
    if (fields.length !== nCols) {
      throw new Error(`${file}:${lineNo}: expected ${nCols} tab-separated columns, found ${fields.length}`);
    }
    const ex: GlueExample = { line: lineNo, textA: fields[colA] as string };
    if (colB !== undefined) ex.textB = fields[colB] as string;
    if (colLabel !== undefined) ex.label = parseLabel(fields[colLabel] as string, task, `${file}:${lineNo}`);
    examples.push(ex);
  }
  return { task, split, file, examples };
}

function parseLabel(raw: string, task: GlueTaskSpec, where: string): number {
  if (task.labels === null) {
    const v = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(v)) throw new Error(`${where}: score ${JSON.stringify(raw)} is not a number`);
    const range = task.scoreRange;
    if (range && (v < range[0] || v > range[1])) {
      throw new Error(`${where}: score ${raw.trim()} is outside the ${task.folder} range ${range[0]}-${range[1]}`);
    }
    return v;
  }
  const id = task.labels.indexOf(raw);
  if (id < 0) {
    throw new Error(`${where}: unknown label ${JSON.stringify(raw)} (expected one of ${task.labels.join(', ')})`);
  }
  return id;
}

/**
 * Read one split of one task from a GLUE root (the folder holding `CoLA/`, `SST-2/`, ...).
 * @example loadGlue('../shared/data/glue', 'rte', 'dev')
 */
export function loadGlue(root: string, task: GlueTaskName, split: GlueSplit): GlueDataset {
  const spec = GLUE_TASKS[task];
  if (spec === undefined) throw new Error(`unknown GLUE task ${JSON.stringify(task)} (one of ${GLUE_TASK_NAMES.join(', ')})`);
  const file = join(root, spec.folder, spec.files[split]);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  return parseGlueTsv(text, spec, split, file);
}

/** The task's metrics (its `metrics` list, main score first) of predictions against labels. */
export function glueMetrics(
  task: GlueTaskName,
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
): Partial<Record<GlueMetricName, number>> {
  const out: Partial<Record<GlueMetricName, number>> = {};
  for (const m of GLUE_TASKS[task].metrics) {
    out[m] =
      m === 'accuracy' ? accuracy(yTrue, yPred)
      : m === 'f1' ? f1(yTrue, yPred)
      : m === 'mcc' ? matthewsCorrcoef(yTrue, yPred)
      : m === 'pearson' ? pearson(yTrue, yPred)
      : spearman(yTrue, yPred);
  }
  return out;
}
