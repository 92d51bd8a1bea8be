/**
 * Sparsity versus task metric for sweep results: the trade-off plot of the paper (one colour per
 * training mode, e.g. finetune / l1 / neuroprune).
 */
import { MODE_COLORS, paletteColor, percentTickFormat, type Figure, type Trace } from './figure';
import { aggregateSeries } from './series';

export interface SweepResultPoint {
  mode: string;
  /** Fraction in [0, 1] of prunable parameters that are zero (see sparsityReport). */
  sparsity: number;
  metric: number;
  /** Hover text, e.g. the hyperparameters of the point. */
  label?: string;
  /** Points with the same key are repeats of one setting (seeds): drawn as their mean with sd error bars. Default: every point its own. */
  key?: string;
}

export interface SweepFigureOptions {
  /** Axis title of the metric. Default `metric`. */
  metricName?: string;
  /**
   * Draw each mode's Pareto frontier (best metric at this sparsity or higher) as a step line.
   * Default true: a sweep's scatter is noisy, the frontier is what a user can pick from.
   */
  frontier?: boolean;
  /** Direction of the metric for the frontier. Default true (accuracy, F1, correlation). */
  higherIsBetter?: boolean;
  title?: string;
  /** Axis title of the sparsity, e.g. `structured sparsity`. Default `sparsity`. */
  sparsityName?: string;
}

/** Points `(sparsity, metric)` not beaten by any point of at least the same sparsity; ascending sparsity. */
export function paretoFrontier(points: readonly { sparsity: number; metric: number }[], higherIsBetter = true): { sparsity: number; metric: number }[] {
  const better = (a: number, b: number) => (higherIsBetter ? a > b : a < b);
  const byDesc = [...points].sort((a, b) => b.sparsity - a.sparsity || (better(a.metric, b.metric) ? -1 : 1));
  const out: { sparsity: number; metric: number }[] = [];
  for (const p of byDesc) if (out.length === 0 || better(p.metric, out[out.length - 1].metric)) out.push({ sparsity: p.sparsity, metric: p.metric });
  return out.reverse();
}

export function sparsityMetricFigure(points: readonly SweepResultPoint[], options: SweepFigureOptions = {}): Figure {
  const metricName = options.metricName ?? 'metric';
  const sparsityName = options.sparsityName ?? 'sparsity';
  const frontier = options.frontier ?? true;
  const higher = options.higherIsBetter ?? true;
  points.forEach((p, i) => {
    if (!(p.sparsity >= 0 && p.sparsity <= 1)) throw new Error(`sparsityMetricFigure: point ${i} (${p.mode}) has ${sparsityName} ${p.sparsity}, expected a fraction in [0, 1]`);
    if (!Number.isFinite(p.metric)) throw new Error(`sparsityMetricFigure: point ${i} (${p.mode}) has metric ${p.metric}`);
  });
  // Repeats of one setting (seeds) become one point: their mean, with the sd as error bars.
  const agg = aggregateSeries(points.map((p, i) => ({ group: p.mode, key: p.key ?? `#${i}`, x: p.sparsity, y: p.metric, label: p.label })));
  const modes = [...new Set(agg.map((p) => p.group))];
  const data: Trace[] = [];
  modes.forEach((mode, i) => {
    const pts = agg.filter((p) => p.group === mode);
    const color = MODE_COLORS[mode] ?? paletteColor(i);
    const spread = pts.some((p) => p.n > 1);
    data.push({
      type: 'scatter', mode: 'markers', name: mode, legendgroup: mode, x: pts.map((p) => p.x), y: pts.map((p) => p.y),
      text: pts.map((p) => `${p.label}${p.n > 1 ? ` (mean of ${p.n})` : ''}`), marker: { color, size: 8 },
      ...(spread ? {
        error_y: { type: 'data', array: pts.map((p) => p.ySd), visible: true, color, thickness: 1.2, width: 4 },
        error_x: { type: 'data', array: pts.map((p) => p.xSd), visible: true, color, thickness: 1.2, width: 4 },
      } : {}),
      hovertemplate: `${mode}<br>${sparsityName} %{x:.1%}<br>${metricName} %{y:.4g}<br>%{text}<extra></extra>`,
    });
    if (frontier && pts.length > 1) {
      const f = paretoFrontier(pts.map((p) => ({ sparsity: p.x, metric: p.y })), higher);
      // Between two frontier points the best metric at that sparsity or more is the next point's:
      // drop at each point, then hold to the right ('vh').
      data.push({
        type: 'scatter', mode: 'lines', name: `${mode} frontier`, legendgroup: mode, showlegend: false,
        x: f.map((p) => p.sparsity), y: f.map((p) => p.metric), line: { color, shape: 'vh', width: 1.5 },
        hovertemplate: `${mode} frontier<extra></extra>`,
      });
    }
  });
  return {
    data,
    layout: {
      title: { text: options.title ?? `${sparsityName} against ${metricName}` },
      xaxis: { title: { text: sparsityName }, type: 'linear', tickformat: percentTickFormat(agg.map((p) => p.x)) },
      yaxis: { title: { text: metricName }, type: 'linear' },
    },
  };
}
