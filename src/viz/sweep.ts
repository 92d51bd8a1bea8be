/**
 * Sparsity versus task metric for sweep results: the trade-off plot of the paper (one colour per
 * training mode, e.g. finetune / l1 / neuroprune).
 */
import { paletteColor, type Figure, type Trace } from './figure';

export interface SweepResultPoint {
  mode: string;
  /** Fraction in [0, 1] of prunable parameters that are zero (see sparsityReport). */
  sparsity: number;
  metric: number;
  /** Hover text, e.g. the hyperparameters of the point. */
  label?: string;
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
  const frontier = options.frontier ?? true;
  const higher = options.higherIsBetter ?? true;
  points.forEach((p, i) => {
    if (!(p.sparsity >= 0 && p.sparsity <= 1)) throw new Error(`sparsityMetricFigure: point ${i} (${p.mode}) has sparsity ${p.sparsity}, expected a fraction in [0, 1]`);
    if (!Number.isFinite(p.metric)) throw new Error(`sparsityMetricFigure: point ${i} (${p.mode}) has metric ${p.metric}`);
  });
  const modes = [...new Set(points.map((p) => p.mode))];
  const data: Trace[] = [];
  modes.forEach((mode, i) => {
    const pts = points.filter((p) => p.mode === mode).sort((a, b) => a.sparsity - b.sparsity);
    const color = paletteColor(i);
    data.push({
      type: 'scatter', mode: 'markers', name: mode, legendgroup: mode, x: pts.map((p) => p.sparsity), y: pts.map((p) => p.metric),
      text: pts.map((p) => p.label ?? ''), marker: { color, size: 8 },
      hovertemplate: `${mode}<br>sparsity %{x:.1%}<br>${metricName} %{y:.4g}<br>%{text}<extra></extra>`,
    });
    if (frontier && pts.length > 1) {
      const f = paretoFrontier(pts, higher);
      data.push({
        type: 'scatter', mode: 'lines', name: `${mode} frontier`, legendgroup: mode, showlegend: false,
        x: f.map((p) => p.sparsity), y: f.map((p) => p.metric), line: { color, shape: 'hv', width: 1.5 },
        hovertemplate: `${mode} frontier<extra></extra>`,
      });
    }
  });
  return {
    data,
    layout: {
      title: { text: options.title ?? `Sparsity vs ${metricName}` },
      xaxis: { title: { text: 'sparsity' }, type: 'linear', tickformat: '.0%' },
      yaxis: { title: { text: metricName }, type: 'linear' },
    },
  };
}
