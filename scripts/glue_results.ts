/**
 * Turns the GLUE experiment's results (scripts/reproduce_glue.ts, `<dir>/results.jsonl`) into the
 * tables between the `<!-- glue:begin -->` and `<!-- glue:end -->` markers of RESULTS.md and the
 * figures docs/figures/glue-*.png. Seeds are averaged as mean ± sample sd (n in the tables).
 *
 *   npx tsx scripts/glue_results.ts --results experiments/glue/results.jsonl
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Figure, ScatterTrace } from '../src/viz/figure';
import { PALETTE } from '../src/viz/figure';
import { FigureRenderer } from '../src/viz/image';

const ROOT = resolve(__dirname, '..');
const { values: args } = parseArgs({
  options: {
    results: { type: 'string', default: join(ROOT, 'experiments', 'glue', 'results.jsonl') },
    doc: { type: 'string', default: join(ROOT, 'RESULTS.md') },
    figures: { type: 'string', default: join(ROOT, 'docs', 'figures') },
    'no-figures': { type: 'boolean', default: false },
  },
});

interface EpochRow { dev: Record<string, number>; trainSeconds: number; evalSeconds: number }
interface Row {
  kind: 'train' | 'point' | 'torch';
  key: string; task: string; mode: string; seed: number; target?: number; limitTrain?: number;
  metric?: number; metricName?: string; evalSeconds?: number; sparsity?: number; structuredSparsity?: number;
  headsKept?: number; headsPerLayer?: number[]; neuronsPerLayer?: number[]; degreeSd?: number[];
  alreadySparser?: number; load?: number;
  epochs?: (EpochRow & { metric?: number })[];
}

const rows = readFileSync(resolve(args.results as string), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
const TASKS = ['sst2', 'cola', 'rte'].filter((t) => rows.some((r) => r.task === t));
const TASK_NAMES: Record<string, string> = { sst2: 'SST-2 (accuracy)', cola: 'CoLA (Matthews)', rte: 'RTE (accuracy)' };
const POINT_MODES = [...new Set(rows.filter((r) => r.kind === 'point').map((r) => r.mode))];
const TRAIN_MODES = [...new Set(rows.filter((r) => r.kind === 'train').map((r) => r.mode))];
const TARGETS = [...new Set(rows.filter((r) => r.kind === 'point').map((r) => r.target!))].sort((a, b) => a - b);

function stats(xs: number[]): { mean: number; sd: number; n: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, sd, n };
}
function fmt(xs: number[], digits = 3, scale = 1): string {
  if (xs.length === 0) return '-';
  const s = stats(xs.map((x) => x * scale));
  return Number.isNaN(s.sd) ? s.mean.toFixed(digits) : `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const seeds = (rs: Row[]) => [...new Set(rs.map((r) => r.seed))].length;

const out: string[] = [];
const line = (s = '') => out.push(s);

line('### Training runs (each mode once per seed; dev metric after each epoch)');
line();
line('| task | mode | seeds | epoch 1 | epoch 2 | epoch 3 | train s / epoch | eval s | sparsity | structured | heads kept |');
line('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const task of TASKS) {
  const torch = rows.filter((r) => r.kind === 'torch' && r.task === task);
  if (torch.length) {
    const ep = (i: number) => fmt(torch.map((r) => r.epochs![i]?.metric).filter((x): x is number => x !== undefined));
    line(`| ${task} | PyTorch finetune | ${seeds(torch)} | ${ep(0)} | ${ep(1)} | ${ep(2)} | ${fmt(torch.map((r) => mean(r.epochs!.map((e) => e.trainSeconds))), 1)} | ${fmt(torch.map((r) => mean(r.epochs!.map((e) => e.evalSeconds))), 1)} | 0 | 0 | 72 |`);
  }
  for (const mode of TRAIN_MODES) {
    const rs = rows.filter((r) => r.kind === 'train' && r.task === task && r.mode === mode);
    if (!rs.length) continue;
    const ep = (i: number) => fmt(rs.map((r) => r.epochs![i] && Object.values(r.epochs![i].dev)[0]).filter((x): x is number => x !== undefined));
    line(`| ${task} | ${mode} | ${seeds(rs)} | ${ep(0)} | ${ep(1)} | ${ep(2)} | ${fmt(rs.map((r) => mean(r.epochs!.map((e) => e.trainSeconds))), 1)} | ${fmt(rs.map((r) => r.evalSeconds!), 1)} | ${fmt(rs.map((r) => r.sparsity!), 2)} | ${fmt(rs.map((r) => r.structuredSparsity!), 2)} | ${fmt(rs.map((r) => r.headsKept!), 1)} |`);
  }
}
line();

for (const task of TASKS) {
  line(`### ${TASK_NAMES[task]}: dev metric at equal sparsity (pruned by global magnitude, then compacted)`);
  line();
  line(`| target sparsity | ${POINT_MODES.join(' | ')} |`);
  line(`|---:|${POINT_MODES.map(() => '---:').join('|')}|`);
  for (const target of TARGETS) {
    const cells = POINT_MODES.map((mode) => {
      const rs = rows.filter((r) => r.kind === 'point' && r.task === task && r.mode === mode && r.target === target);
      const scored = rs.filter((r) => r.metric !== undefined);
      if (!scored.length) return rs.length ? `(trained model already ${(100 * rs[0].alreadySparser!).toFixed(0)}% sparse)` : '-';
      return fmt(scored.map((r) => r.metric!));
    });
    line(`| ${(100 * target).toFixed(0)}% | ${cells.join(' | ')} |`);
  }
  line();
  line(`Structured sparsity (whole heads, neurons and input dimensions removed), heads kept, evaluation seconds and hidden-neuron degree sd (mean over layers) at each point:`);
  line();
  line(`| target | ${POINT_MODES.map((m) => `${m}: structured / heads / eval s / degree sd`).join(' | ')} |`);
  line(`|---:|${POINT_MODES.map(() => '---:').join('|')}|`);
  for (const target of TARGETS) {
    const cells = POINT_MODES.map((mode) => {
      const rs = rows.filter((r) => r.kind === 'point' && r.task === task && r.mode === mode && r.target === target && r.metric !== undefined);
      if (!rs.length) return '-';
      return `${fmt(rs.map((r) => r.structuredSparsity!), 2)} / ${fmt(rs.map((r) => r.headsKept!), 0)} / ${fmt(rs.map((r) => r.evalSeconds!), 1)} / ${fmt(rs.map((r) => mean(r.degreeSd!)), 1)}`;
    });
    line(`| ${(100 * target).toFixed(0)}% | ${cells.join(' | ')} |`);
  }
  line();
}

line('### Heads and MLP neurons per layer after training (mean over seeds)');
line();
line('| task | mode | heads per layer (of 12) | MLP neurons per layer (of 1536) |');
line('|---|---|---|---|');
for (const task of TASKS) {
  for (const mode of TRAIN_MODES) {
    const rs = rows.filter((r) => r.kind === 'train' && r.task === task && r.mode === mode);
    if (!rs.length) continue;
    const layers = rs[0].headsPerLayer!.length;
    const per = (f: (r: Row) => number[]) => Array.from({ length: layers }, (_, i) => mean(rs.map((r) => f(r)[i])).toFixed(1).replace(/\.0$/, '')).join(', ');
    line(`| ${task} | ${mode} | ${per((r) => r.headsPerLayer!)} | ${per((r) => r.neuronsPerLayer!)} |`);
  }
}
line();
const loads = rows.map((r) => r.load).filter((x): x is number => x !== undefined);
line(`Load average (1 min) when each step finished: ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} (median ${loads.sort((a, b) => a - b)[Math.floor(loads.length / 2)].toFixed(1)}); times are comparable only within a table row's load.`);

const doc = resolve(args.doc as string);
const text = existsSync(doc) ? readFileSync(doc, 'utf8') : '<!-- glue:begin -->\n<!-- glue:end -->\n';
const begin = text.indexOf('<!-- glue:begin -->');
const end = text.indexOf('<!-- glue:end -->');
if (begin < 0 || end < begin) throw new Error(`${doc}: needs the markers <!-- glue:begin --> and <!-- glue:end --> (the tables go between them)`);
writeFileSync(doc, text.slice(0, begin) + '<!-- glue:begin -->\n' + out.join('\n') + '\n' + text.slice(end));
console.log(`${doc}: tables from ${rows.length} results`);

function metricFigure(task: string): Figure {
  const data: ScatterTrace[] = POINT_MODES.map((mode, i) => {
    const xs = TARGETS.filter((t) => rows.some((r) => r.kind === 'point' && r.task === task && r.mode === mode && r.target === t && r.metric !== undefined));
    const per = xs.map((t) => stats(rows.filter((r) => r.kind === 'point' && r.task === task && r.mode === mode && r.target === t && r.metric !== undefined).map((r) => r.metric!)));
    return {
      type: 'scatter', mode: 'lines+markers', name: mode, x: xs.map((t) => 100 * t), y: per.map((s) => s.mean),
      error_y: { type: 'data', array: per.map((s) => (Number.isNaN(s.sd) ? 0 : s.sd)), visible: true }, line: { color: PALETTE[i % PALETTE.length] },
    };
  });
  const ft = rows.filter((r) => r.kind === 'train' && r.task === task && r.mode === 'finetune').map((r) => r.metric!);
  if (ft.length) data.push({ type: 'scatter', mode: 'markers', name: 'finetune (dense)', x: [0], y: [mean(ft)], marker: { color: '#000', size: 9, symbol: 'star' } });
  return {
    data,
    layout: {
      title: { text: `MiniLM-L6 on ${TASK_NAMES[task]}: dev metric at equal sparsity` },
      xaxis: { title: { text: 'unstructured sparsity of the prunable weights (%)' } },
      yaxis: { title: { text: TASK_NAMES[task] } }, width: 720, height: 440,
    },
  };
}

function degreeFigure(): Figure {
  const data: ScatterTrace[] = [];
  TASKS.forEach((task, ti) => POINT_MODES.forEach((mode, i) => {
    const xs = TARGETS.filter((t) => rows.some((r) => r.kind === 'point' && r.task === task && r.mode === mode && r.target === t && r.degreeSd));
    data.push({
      type: 'scatter', mode: 'lines+markers', name: `${mode}`, legendgroup: mode, showlegend: ti === 0,
      x: xs.map((t) => 100 * t), y: xs.map((t) => mean(rows.filter((r) => r.kind === 'point' && r.task === task && r.mode === mode && r.target === t && r.degreeSd).map((r) => mean(r.degreeSd!)))),
      line: { color: PALETTE[i % PALETTE.length], dash: (['solid', 'dash', 'dot'] as const)[ti % 3] },
    });
  }));
  return {
    data,
    layout: {
      title: { text: 'Hidden-neuron degree sd vs sparsity (solid SST-2, dashed CoLA, dotted RTE)' },
      xaxis: { title: { text: 'unstructured sparsity (%)' } }, yaxis: { title: { text: 'sd of the hidden neurons\' degrees' } }, width: 720, height: 440,
    },
  };
}

function headsFigure(): Figure {
  const np = rows.filter((r) => r.kind === 'train' && r.mode.startsWith('neuroprune'));
  const modes = [...new Set(np.map((r) => r.mode))];
  const data = TASKS.flatMap((task, ti) => modes.map((mode) => {
    const rs = np.filter((r) => r.task === task && r.mode === mode);
    const layers = rs[0]?.headsPerLayer?.length ?? 0;
    return {
      type: 'bar' as const, name: `${task} ${mode}`, x: Array.from({ length: layers }, (_, i) => `layer ${i}`),
      y: Array.from({ length: layers }, (_, i) => mean(rs.map((r) => r.headsPerLayer![i]))), marker: { color: PALETTE[ti % PALETTE.length] },
    };
  }));
  return { data, layout: { title: { text: 'Heads kept per layer after NeuroPrune training (of 12; mean over seeds)' }, barmode: 'group', yaxis: { title: { text: 'heads kept' } }, width: 720, height: 400 } };
}

async function main(): Promise<void> {
  if (args['no-figures']) return;
  const renderer = await FigureRenderer.launch();
  try {
    for (const task of TASKS) await renderer.save(metricFigure(task), join(resolve(args.figures as string), `glue-${task}-sparsity.png`));
    await renderer.save(degreeFigure(), join(resolve(args.figures as string), 'glue-degree-sd.png'));
    await renderer.save(headsFigure(), join(resolve(args.figures as string), 'glue-heads-per-layer.png'));
  } finally {
    await renderer.close();
  }
  console.log(`figures in ${resolve(args.figures as string)}`);
}
void main();
