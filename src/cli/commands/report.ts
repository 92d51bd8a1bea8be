import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '../../train/jsonl';
import { canonicalJson } from '../../train/sweep';
import { sparsityMetricFigure, toHtmlPage, writePlotlyBeside, PLOTLY_FILE } from '../../viz';
import { helpText, parseCommandArgs, stringOption, UsageError, type OptionTable } from '../args';
import type { SweepResult } from './sweep';

const TABLE: OptionTable = {
  results: { type: 'string', value: 'FILES', help: 'comma-separated sweep result files (JSONL)', default: 'sweep/results.jsonl' },
  out: { type: 'string', value: 'DIR', help: 'also write report.md, report.csv, report.tex, sparsity-vs-metric.html and plotly.js there' },
  task: { type: 'string', value: 'NAME', help: 'report only the results of this task (needed when the files hold several)' },
  json: { type: 'boolean', help: 'print the merged results as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

/** Mean and sample standard deviation (0 for one value). */
function meanSd(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

/**
 * The runs that repeat one setting with other seeds: the same point id (which has no seed) and the
 * same settings but for the seed. Runs whose task, data, model or any other option differ stay apart.
 */
export function seedGroupKey(r: SweepResult): string {
  const options = r.settings?.options ? { ...r.settings.options, seed: undefined } : null;
  return canonicalJson([r.task, r.id, r.settings?.setup ?? null, options]);
}

/** One grid point over its seeds (see `seedGroupKey`). */
export interface AggregatedResult {
  id: string;
  mode: string;
  alpha: number;
  beta: number;
  theta: number;
  targetSparsity?: number;
  seeds: number[];
  metricName: string;
  metric: { mean: number; sd: number };
  sparsity: { mean: number; sd: number };
  structuredSparsity: { mean: number; sd: number };
  headsKept: { mean: number; sd: number };
  headsOriginal: number;
  trainSeconds: { mean: number; sd: number };
}

/** Results grouped by `seedGroupKey`, in mode order, best mean metric first within a mode. */
export function aggregateResults(results: readonly SweepResult[]): AggregatedResult[] {
  const byId = new Map<string, SweepResult[]>();
  for (const r of results) {
    const k = seedGroupKey(r);
    const list = byId.get(k);
    if (list) list.push(r); else byId.set(k, [r]);
  }
  const out = [...byId.values()].map((rs): AggregatedResult => {
    const r = rs[0];
    return {
      id: r.id, mode: r.mode, alpha: r.alpha, beta: r.beta, theta: r.theta, targetSparsity: r.targetSparsity,
      seeds: rs.map((x) => x.seed).sort((a, b) => a - b), metricName: r.metricName,
      metric: meanSd(rs.map((x) => x.metric)), sparsity: meanSd(rs.map((x) => x.sparsity)),
      structuredSparsity: meanSd(rs.map((x) => x.structuredSparsity)), headsKept: meanSd(rs.map((x) => x.headsKept)),
      headsOriginal: r.headsOriginal, trainSeconds: meanSd(rs.map((x) => x.trainSeconds)),
    };
  });
  return out.sort((a, b) => a.mode.localeCompare(b.mode) || b.metric.mean - a.metric.mean);
}

/** Seconds with a decimal below 10 s, so that short runs do not print as 0. */
export function formatSeconds(s: number): string {
  return s < 10 ? s.toFixed(1) : s.toFixed(0);
}

function withSd(v: { mean: number; sd: number }, n: number, f: (x: number) => string, pm = ' ± '): string {
  return n > 1 ? `${f(v.mean)}${pm}${f(v.sd)}` : f(v.mean);
}

/** Heads kept of the original count, `6.5/8 ± 0.7` over seeds. */
function heads(a: AggregatedResult, pm: string): string {
  const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  return `${f(a.headsKept.mean)}/${a.headsOriginal}${a.seeds.length > 1 ? `${pm}${f(a.headsKept.sd)}` : ''}`;
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** One markdown table: per mode, the grid points (seeds averaged: mean ± sd) sorted by metric, best first. */
export function resultsTable(results: readonly SweepResult[]): string {
  const lines = [
    '| mode | alpha | beta | theta | seeds | dev metric | sparsity | structured | heads | train s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const a of aggregateResults(results)) {
    const n = a.seeds.length;
    lines.push(`| ${a.mode} | ${a.alpha} | ${a.beta} | ${a.mode === 'neuroprune' ? a.theta : '-'} | ${a.seeds.join(', ')} | ${a.metricName} ${withSd(a.metric, n, (x) => x.toFixed(4))} | ` +
      `${withSd(a.sparsity, n, percent)} | ${withSd(a.structuredSparsity, n, percent)} | ${heads(a, ' ± ')} | ${withSd(a.trainSeconds, n, formatSeconds)} |`);
  }
  return lines.join('\n');
}

function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Every run, one CSV row each (RFC 4180 quoting), for spreadsheets and pandas. */
export function resultsCsv(results: readonly SweepResult[]): string {
  const header = ['id', 'mode', 'alpha', 'beta', 'theta', 'target_sparsity', 'seed', 'epochs', 'metric_name', 'metric', 'sparsity', 'structured_sparsity', 'heads_kept', 'heads_original', 'train_seconds'];
  const rows = [...results].sort((a, b) => a.id.localeCompare(b.id) || a.seed - b.seed).map((r) => [
    r.id, r.mode, r.alpha, r.beta, r.theta, r.targetSparsity, r.seed, r.epochs, r.metricName, r.metric, r.sparsity, r.structuredSparsity, r.headsKept, r.headsOriginal, r.trainSeconds,
  ].map(csvField).join(','));
  return [header.join(','), ...rows].join('\n') + '\n';
}

function latexEscape(s: string): string {
  return s.replace(/\\/g, '\\textbackslash{}').replace(/([&%$#_{}])/g, '\\$1').replace(/~/g, '\\textasciitilde{}').replace(/\^/g, '\\textasciicircum{}');
}

/** The aggregated table as a LaTeX `tabular` (booktabs rules), mean $\pm$ sd over seeds. */
export function resultsLatex(results: readonly SweepResult[]): string {
  const agg = aggregateResults(results);
  const metricName = latexEscape(agg[0]?.metricName ?? 'metric');
  const pct = (x: number) => (100 * x).toFixed(1);
  const lines = [
    '% neuroprune report: mean $\\pm$ sd over seeds; sparsity in percent of the prunable weights',
    '\\begin{tabular}{lllllrrrrr}',
    '\\toprule',
    `mode & $\\alpha$ & $\\beta$ & $\\theta$ & seeds & ${metricName} & sparsity (\\%) & structured (\\%) & heads & train (s) \\\\`,
    '\\midrule',
  ];
  for (const a of agg) {
    const n = a.seeds.length;
    lines.push([
      latexEscape(a.mode), a.alpha, a.beta, a.mode === 'neuroprune' ? a.theta : '--', n,
      withSd(a.metric, n, (x) => x.toFixed(4), ' $\\pm$ '), withSd(a.sparsity, n, pct, ' $\\pm$ '), withSd(a.structuredSparsity, n, pct, ' $\\pm$ '),
      heads(a, ' $\\pm$ '), withSd(a.trainSeconds, n, formatSeconds, ' $\\pm$ '),
    ].join(' & ') + ' \\\\');
  }
  lines.push('\\bottomrule', '\\end{tabular}');
  return lines.join('\n') + '\n';
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'report');
  if (values.help) {
    console.log(helpText('report', 'Merges sweep results (one or many shards) into tables (markdown, CSV, LaTeX; seeds averaged) and sparsity-vs-metric figures.', TABLE, ['neuroprune report --results a.jsonl,b.jsonl --out report']));
    return 0;
  }
  const files = (stringOption(values, 'results') ?? join('sweep', 'results.jsonl')).split(',');
  // Merged by key (grid values and every setting), so runs of other tasks or options never replace each other.
  const byKey = new Map<string, SweepResult>();
  for (const f of files) for (const r of readJsonl<SweepResult>(f.trim())) byKey.set(r.key ?? r.id, r);
  const only = stringOption(values, 'task');
  const results = [...byKey.values()].filter((r) => only === undefined || r.task === only);
  if (results.length === 0) throw new UsageError(`no results${only ? ` of task ${only}` : ''} in ${files.join(', ')}`);
  const tasks = [...new Set(results.map((r) => r.task))];
  if (tasks.length > 1) throw new UsageError(`the results hold several tasks (${tasks.join(', ')}): pass --task NAME to report one`);
  if (values.json) { console.log(JSON.stringify(results, null, 2)); return 0; }
  const table = resultsTable(results);
  console.log(table);
  const out = stringOption(values, 'out');
  if (out) {
    mkdirSync(out, { recursive: true });
    const metricName = results[0].metricName;
    const task = results[0].task;
    const seeds = new Set(results.map((r) => r.seed)).size;
    writeFileSync(join(out, 'report.md'), `# Sweep results (${results.length} runs${seeds > 1 ? `, ${seeds} seeds: mean ± sd` : ''})\n\n${table}\n\n` +
      'Also: report.csv (every run), report.tex (this table), sparsity-vs-metric.html (figures).\n');
    writeFileSync(join(out, 'report.csv'), resultsCsv(results));
    writeFileSync(join(out, 'report.tex'), resultsLatex(results));
    // Repeats of a setting with other seeds: one marker with sd error bars.
    const points = results.map((r) => ({ mode: r.mode, key: seedGroupKey(r), metric: r.metric, label: r.id }));
    const figures = [
      sparsityMetricFigure(points.map((p, i) => ({ ...p, sparsity: results[i].sparsity })), { metricName, title: `${task}: ${metricName} against sparsity` }),
      sparsityMetricFigure(points.map((p, i) => ({ ...p, sparsity: results[i].structuredSparsity })), { metricName, sparsityName: 'structured sparsity', title: `${task}: ${metricName} against structured sparsity (whole rows and columns)` }),
    ];
    writePlotlyBeside(out);
    writeFileSync(join(out, 'sparsity-vs-metric.html'), toHtmlPage(figures.map((figure) => ({ figure })), `${task} sweep`));
    console.log(`wrote report.md, report.csv, report.tex, sparsity-vs-metric.html and ${PLOTLY_FILE} in ${out}`);
  }
  return 0;
}
