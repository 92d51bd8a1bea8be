import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '../../train/jsonl';
import { sparsityMetricFigure, toHtml } from '../../viz';
import { helpText, parseCommandArgs, stringOption, UsageError, type OptionTable } from '../args';
import type { SweepResult } from './sweep';

const TABLE: OptionTable = {
  results: { type: 'string', value: 'FILES', help: 'comma-separated sweep result files (JSONL)', default: 'sweep/results.jsonl' },
  out: { type: 'string', value: 'DIR', help: 'also write report.md and sparsity-vs-metric.html there' },
  task: { type: 'string', value: 'NAME', help: 'report only the results of this task (needed when the files hold several)' },
  json: { type: 'boolean', help: 'print the merged results as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

/** One markdown table: per mode, the points sorted by metric (best first). */
export function resultsTable(results: SweepResult[]): string {
  const rows = [...results].sort((a, b) => a.mode.localeCompare(b.mode) || b.metric - a.metric);
  const lines = [
    '| mode | alpha | beta | theta | dev metric | sparsity | structured | heads | train s |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.mode} | ${r.alpha} | ${r.beta} | ${r.mode === 'neuroprune' ? r.theta : '-'} | ${r.metricName} ${r.metric.toFixed(4)} | ` +
      `${(100 * r.sparsity).toFixed(1)}% | ${(100 * r.structuredSparsity).toFixed(1)}% | ${r.headsKept}/${r.headsOriginal} | ${r.trainSeconds.toFixed(0)} |`);
  }
  return lines.join('\n');
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'report');
  if (values.help) {
    console.log(helpText('report', 'Merges sweep results (one or many shards) into a table and a sparsity-vs-metric figure.', TABLE, ['neuroprune report --results a.jsonl,b.jsonl --out report']));
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
    writeFileSync(join(out, 'report.md'), `# Sweep results (${results.length} runs)\n\n${table}\n`);
    const figure = sparsityMetricFigure(results.map((r) => ({ mode: r.mode, sparsity: r.sparsity, metric: r.metric, label: r.id })), { metricName, title: `${results[0].task}: ${metricName} against sparsity` });
    writeFileSync(join(out, 'sparsity-vs-metric.html'), toHtml(figure, `${results[0].task} sweep`));
    console.log(`wrote ${join(out, 'report.md')} and ${join(out, 'sparsity-vs-metric.html')}`);
  }
  return 0;
}
