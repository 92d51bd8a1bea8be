/**
 * Training curves from the trainer's JSONL log (`log.jsonl` of a run directory): task loss, dev
 * metric and sparsity per epoch, in three stacked panels sharing the epoch axis.
 */
import { MODE_COLORS, paletteColor, type Figure, type Trace } from './figure';

/** The fields of an epoch line that the curves use (the trainer's `EpochRecord` has these and more). */
export interface EpochLogRecord {
  kind?: string;
  epoch: number;
  taskLoss?: number;
  dev?: Record<string, number>;
  sparsity?: Record<string, unknown>;
}

export interface TrainingRun {
  name: string;
  records: readonly EpochLogRecord[];
}

export interface TrainingCurvesOptions {
  /** Dev metric to plot. Default: the first key of the first record's `dev` (the trainer puts the primary metric first). */
  metric?: string;
  /** Numeric field of `sparsity`. Default `unstructuredFraction` when present, else the first numeric field. */
  sparsityKey?: string;
  title?: string;
}

/**
 * Parses JSONL text and keeps the epoch lines (`kind: 'epoch'`, or lines with an `epoch` and no
 * `kind`); step lines are skipped. A malformed line is an error naming its number, except a cut
 * last line (a run interrupted mid-write).
 */
export function parseEpochLog(text: string): EpochLogRecord[] {
  const lines = text.split('\n');
  const out: EpochLogRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      if (lines.slice(i + 1).every((l) => l.trim() === '')) return;
      throw new Error(`parseEpochLog: line ${i + 1} is not JSON`);
    }
    const r = rec as EpochLogRecord;
    if (typeof r === 'object' && r !== null && typeof r.epoch === 'number' && (r.kind === undefined || r.kind === 'epoch')) out.push(r);
  });
  return out;
}

function numericKeys(o: Record<string, unknown> | undefined): string[] {
  return o ? Object.keys(o).filter((k) => typeof o[k] === 'number') : [];
}

export function trainingCurvesFigure(runs: readonly TrainingRun[], options: TrainingCurvesOptions = {}): Figure {
  const first = runs.flatMap((r) => r.records)[0];
  const metric = options.metric ?? numericKeys(first?.dev)[0];
  const sKeys = numericKeys(first?.sparsity);
  const sparsityKey = options.sparsityKey ?? (sKeys.includes('unstructuredFraction') ? 'unstructuredFraction' : sKeys[0]);
  const data: Trace[] = [];
  runs.forEach((run, i) => {
    const recs = [...run.records].filter((r) => r.kind === undefined || r.kind === 'epoch').sort((a, b) => a.epoch - b.epoch);
    const color = MODE_COLORS[run.name] ?? paletteColor(i);
    const panel = (yaxis: string, pick: (r: EpochLogRecord) => unknown, what: string, showlegend: boolean): void => {
      const kept = recs.filter((r) => typeof pick(r) === 'number');
      if (kept.length === 0) return;
      data.push({
        type: 'scatter', mode: 'lines+markers', name: run.name, legendgroup: run.name, showlegend, yaxis, xaxis: 'x',
        x: kept.map((r) => r.epoch), y: kept.map((r) => pick(r) as number), line: { color }, marker: { color, size: 5 },
        hovertemplate: `${run.name}<br>epoch %{x}<br>${what} %{y:.4g}<extra></extra>`,
      });
    };
    panel('y', (r) => r.taskLoss, 'task loss', true);
    if (metric) panel('y2', (r) => r.dev?.[metric], metric, false);
    if (sparsityKey) panel('y3', (r) => r.sparsity?.[sparsityKey], 'sparsity', false);
  });
  return {
    data,
    layout: {
      title: { text: options.title ?? 'Training curves' },
      xaxis: { title: { text: 'epoch' }, type: 'linear', dtick: 1, anchor: 'y3' },
      yaxis: { title: { text: 'task loss' }, type: 'linear', domain: [0.7, 1], anchor: 'x' },
      yaxis2: { title: { text: metric ?? 'metric' }, type: 'linear', domain: [0.37, 0.63], anchor: 'x' },
      yaxis3: { title: { text: sparsityKey ? `sparsity (${sparsityKey})` : 'sparsity' }, type: 'linear', domain: [0, 0.3], tickformat: '.0%', anchor: 'x' },
      height: 700,
    },
  };
}
