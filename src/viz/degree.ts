/**
 * Degree distributions on log-log axes with their fitted power laws: the picture of
 * preferential attachment (a straight CCDF over decades) versus a dense or uniformly pruned
 * layer (a cliff at one degree).
 */
import { hurwitzZeta, powerLawCcdf, type PowerLawFit } from '../graph/powerLaw';
import { MODE_COLORS, paletteColor, type Figure, type ScatterTrace, type Trace } from './figure';

export interface DegreeSeries {
  /** Legend name, e.g. `layer 3, after R_mlp`. */
  name: string;
  /** One degree per node. Degree 0 cannot sit on a log axis: those nodes are left out of the plot and counted in the legend. */
  degrees: ArrayLike<number>;
  /** A fit of these degrees (`fitPowerLaw`), drawn as a dashed line from `xmin`; null or absent draws none. */
  fit?: PowerLawFit | null;
  /** Colour of the series; default `MODE_COLORS` of its name (lower case) when a mode, else the palette in order. */
  color?: string;
}

function seriesColor(s: DegreeSeries, i: number): string {
  return s.color ?? MODE_COLORS[s.name.toLowerCase()] ?? paletteColor(i);
}

export interface DegreeFigureOptions {
  /**
   * `ccdf` (default): `P(X >= x)`, the plot Clauset et al. recommend (no binning, a power law is
   * a straight line of slope `1 - alpha`). `pmf`: the fraction of nodes of each degree.
   */
  kind?: 'ccdf' | 'pmf';
  title?: string;
  /** Default `degree`. */
  xTitle?: string;
  /** Points of each fitted line, spaced evenly in log x. Default 60. */
  fitPoints?: number;
}

function fmt(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

/** Integers from `lo` to `hi`, about `count` of them, evenly spaced in log scale, no duplicates. */
function logIntegers(lo: number, hi: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const x = Math.round(Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / Math.max(1, count - 1)));
    if (out.length === 0 || x > out[out.length - 1]) out.push(x);
  }
  return out;
}

/** Log-log degree distribution, one marker trace per series, plus a dashed fit per fitted series. */
export function degreeDistributionFigure(series: readonly DegreeSeries[], options: DegreeFigureOptions = {}): Figure {
  const kind = options.kind ?? 'ccdf';
  const fitPoints = options.fitPoints ?? 60;
  if (kind !== 'ccdf' && kind !== 'pmf') throw new Error(`degreeDistributionFigure: kind must be 'ccdf' or 'pmf', got '${kind as string}'`);
  const data: ScatterTrace[] = [];
  series.forEach((s, i) => {
    const color = seriesColor(s, i);
    const counts = new Map<number, number>();
    let zeros = 0;
    for (let j = 0; j < s.degrees.length; j++) {
      const v = s.degrees[j];
      if (v < 0 || !Number.isFinite(v)) throw new Error(`degreeDistributionFigure: series '${s.name}' has degree ${v} at ${j}`);
      if (v === 0) zeros++;
      else counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const n = s.degrees.length - zeros;
    const xs = [...counts.keys()].sort((a, b) => a - b);
    let ys: number[];
    if (kind === 'pmf') {
      ys = xs.map((x) => counts.get(x)! / n);
    } else {
      let above = n;
      ys = xs.map((x) => {
        const y = above / n;
        above -= counts.get(x)!;
        return y;
      });
    }
    data.push({
      type: 'scatter', mode: 'markers', name: zeros ? `${s.name} (${zeros} at degree 0 not shown)` : s.name,
      x: xs, y: ys, marker: { color, size: 6 }, legendgroup: s.name,
      hovertemplate: `degree %{x}<br>${kind === 'ccdf' ? 'P(X ≥ x)' : 'fraction'} %{y:.3g}<extra>${s.name}</extra>`,
    });
    const fit = s.fit;
    if (fit && xs.length > 0) {
      // The fit describes the tail only: scale by the tail's share of the plotted nodes.
      const share = fit.nTail / n;
      const hi = Math.max(fit.xmin, xs[xs.length - 1]);
      const fx = logIntegers(fit.xmin, hi, fitPoints);
      const z = hurwitzZeta(fit.alpha, fit.xmin);
      const fy = fx.map((x) => share * (kind === 'ccdf' ? powerLawCcdf(fit, x) : Math.pow(x, -fit.alpha) / z));
      data.push({
        type: 'scatter', mode: 'lines', name: `${s.name}: α = ${fmt(fit.alpha)} ± ${fmt(fit.sigma)}, x_min = ${fit.xmin}`,
        x: fx, y: fy, line: { color, dash: 'dash', width: 2 }, legendgroup: s.name,
        hovertemplate: `power law α=${fmt(fit.alpha)}<br>degree %{x}<br>%{y:.3g}<extra></extra>`,
      });
    }
  });
  return {
    data,
    layout: {
      title: { text: options.title ?? (kind === 'ccdf' ? 'Degree distribution (CCDF)' : 'Degree distribution') },
      xaxis: { title: { text: options.xTitle ?? 'degree' }, type: 'log' },
      yaxis: { title: { text: kind === 'ccdf' ? 'P(X ≥ x)' : 'fraction of nodes' }, type: 'log' },
      legend: { orientation: 'v' },
    },
  };
}

export interface DegreeHistogramOptions {
  title?: string;
  /** Default `degree`. */
  xTitle?: string;
  /** Bins over `[0, max degree]`. Default 30. */
  bins?: number;
}

/**
 * Degree histograms on linear axes, one translucent bar series per degree sequence over shared
 * bins, as fractions of nodes: where the log-log CCDF hides them, this shows the empty neurons
 * (degree 0) and the dense bulk side by side.
 */
export function degreeHistogramFigure(series: readonly DegreeSeries[], options: DegreeHistogramOptions = {}): Figure {
  const bins = options.bins ?? 30;
  if (!(Number.isInteger(bins) && bins > 0)) throw new Error(`degreeHistogramFigure: bins must be a positive integer, got ${bins}`);
  let max = 0;
  for (const s of series) for (let j = 0; j < s.degrees.length; j++) max = Math.max(max, s.degrees[j]);
  const width = Math.max(1, Math.ceil((max + 1) / bins));
  const nb = Math.ceil((max + 1) / width);
  const centers = Array.from({ length: nb }, (_, b) => b * width + (width - 1) / 2);
  const data: Trace[] = series.map((s, i) => {
    const counts = new Array<number>(nb).fill(0);
    for (let j = 0; j < s.degrees.length; j++) {
      const v = s.degrees[j];
      if (v < 0 || !Number.isFinite(v)) throw new Error(`degreeHistogramFigure: series '${s.name}' has degree ${v} at ${j}`);
      counts[Math.floor(v / width)]++;
    }
    const n = s.degrees.length || 1;
    return {
      type: 'bar', name: s.name, x: centers, y: counts.map((c) => c / n), marker: { color: seriesColor(s, i) }, opacity: 0.6,
      hovertemplate: `degree ${width > 1 ? `%{x:.0f} ± ${width / 2}` : '%{x}'}<br>%{y:.1%} of nodes<extra>${s.name}</extra>`,
    };
  });
  return {
    data,
    layout: {
      title: { text: options.title ?? 'Degree histogram' },
      xaxis: { title: { text: options.xTitle ?? 'degree' }, type: 'linear' },
      yaxis: { title: { text: 'fraction of nodes' }, type: 'linear', tickformat: '.0%' },
      barmode: 'overlay', bargap: 0,
    },
  };
}
