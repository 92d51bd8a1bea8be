/**
 * One quantity against another for several groups (training modes, say), each point the mean of
 * its repeats (seeds) with their standard deviation as error bars in both directions: the shape
 * of the paper's Fig. 3-4 plots (a degree statistic, dev metric or time against sparsity).
 */
import { MODE_COLORS, paletteColor, percentTickFormat, type Figure, type ScatterTrace } from './figure';

export interface SeriesSample {
  /** Legend group, e.g. the mode. */
  group: string;
  /** Repeats of one setting share a key (e.g. the point id without the seed); default: the x value. */
  key?: string;
  x: number;
  y: number;
  /** Hover text. */
  label?: string;
}

export interface AggregatedPoint {
  group: string;
  key: string;
  n: number;
  x: number;
  y: number;
  /** Sample standard deviations (n - 1 in the denominator); 0 for a single repeat. */
  xSd: number;
  ySd: number;
  label: string;
}

function meanSd(values: readonly number[]): [number, number] {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return [mean, 0];
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return [mean, Math.sqrt(v)];
}

/** Repeats grouped by `(group, key)`: means and sample standard deviations; groups in first-seen order, then ascending x. */
export function aggregateSeries(samples: readonly SeriesSample[]): AggregatedPoint[] {
  const byKey = new Map<string, SeriesSample[]>();
  samples.forEach((s, i) => {
    if (!Number.isFinite(s.x) || !Number.isFinite(s.y)) throw new Error(`aggregateSeries: sample ${i} (${s.group}) has x ${s.x}, y ${s.y}; both must be finite`);
    const k = JSON.stringify([s.group, s.key ?? String(s.x)]);
    const list = byKey.get(k);
    if (list) list.push(s); else byKey.set(k, [s]);
  });
  const groups = [...new Set(samples.map((s) => s.group))];
  const out: AggregatedPoint[] = [];
  for (const [k, list] of byKey) {
    const [group, key] = JSON.parse(k) as [string, string];
    const [x, xSd] = meanSd(list.map((s) => s.x));
    const [y, ySd] = meanSd(list.map((s) => s.y));
    const labels = [...new Set(list.map((s) => s.label).filter((l): l is string => !!l))];
    out.push({ group, key, n: list.length, x, y, xSd, ySd, label: labels.join(', ') });
  }
  return out.sort((a, b) => groups.indexOf(a.group) - groups.indexOf(b.group) || a.x - b.x);
}

export interface SeriesFigureOptions {
  title?: string;
  xTitle: string;
  yTitle: string;
  /** Show the axis as percentages (the values are fractions). */
  xPercent?: boolean;
  yPercent?: boolean;
  yLog?: boolean;
  /** Join each group's points with a line (default true). */
  lines?: boolean;
  /** Colour per group; default `MODE_COLORS` for mode names, else the palette in group order. */
  colors?: Record<string, string>;
  width?: number;
  height?: number;
}

/** Mean and spread per setting, one trace per group (see the module comment). */
export function seriesFigure(samples: readonly SeriesSample[], options: SeriesFigureOptions): Figure {
  const points = aggregateSeries(samples);
  const groups = [...new Set(points.map((p) => p.group))];
  const data: ScatterTrace[] = groups.map((group, i) => {
    const pts = points.filter((p) => p.group === group);
    const color = options.colors?.[group] ?? MODE_COLORS[group] ?? paletteColor(i);
    const spread = pts.some((p) => p.n > 1);
    const xf = options.xPercent ? ':.1%' : ':.4g';
    const yf = options.yPercent ? ':.1%' : ':.4g';
    return {
      type: 'scatter', mode: options.lines === false ? 'markers' : 'lines+markers', name: group,
      x: pts.map((p) => p.x), y: pts.map((p) => p.y), text: pts.map((p) => `${p.label}${p.n > 1 ? ` (mean of ${p.n})` : ''}`),
      marker: { color, size: 8 }, line: { color, width: 1.5 },
      ...(spread ? {
        error_y: { type: 'data', array: pts.map((p) => p.ySd), visible: true, color, thickness: 1.2, width: 4 },
        error_x: { type: 'data', array: pts.map((p) => p.xSd), visible: true, color, thickness: 1.2, width: 4 },
      } : {}),
      hovertemplate: `${group}<br>${options.xTitle} %{x${xf}}<br>${options.yTitle} %{y${yf}}<br>%{text}<extra></extra>`,
    };
  });
  return {
    data,
    layout: {
      title: { text: options.title ?? `${options.yTitle} against ${options.xTitle}` },
      xaxis: { title: { text: options.xTitle }, type: 'linear', ...(options.xPercent ? { tickformat: percentTickFormat(points.map((p) => p.x)) } : {}) },
      yaxis: { title: { text: options.yTitle }, type: options.yLog ? 'log' : 'linear', ...(options.yPercent ? { tickformat: percentTickFormat(points.map((p) => p.y)) } : {}) },
      ...(options.width ? { width: options.width } : {}),
      ...(options.height ? { height: options.height } : {}),
    },
  };
}
