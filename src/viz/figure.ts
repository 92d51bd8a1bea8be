/**
 * Typed plotly figure specs: the subset of plotly.js's schema the builders emit. A figure is
 * plain data (`JSON.stringify` round-trips it), so builders stay pure and tests read the spec.
 */

export type AxisType = 'linear' | 'log' | 'category';

export interface AxisTitle {
  text: string;
}

export interface Axis {
  title?: AxisTitle;
  type?: AxisType;
  /** For log axes, plotly expects the range in log10 units. */
  range?: [number, number];
  autorange?: boolean | 'reversed';
  dtick?: number;
  /** Tick positions and their labels (e.g. head positions labelled by original head id). */
  tickvals?: number[];
  ticktext?: string[];
  tickformat?: string;
  /** Ticks spaced `dtick` apart from `tick0`, or `nticks` at most. */
  tick0?: number;
  nticks?: number;
  showticklabels?: boolean;
  visible?: boolean;
  /** `[start, end]` fractions of the plot area, for stacked panels. */
  domain?: [number, number];
  /** Share ticks with another axis (e.g. `'x'`). */
  anchor?: string;
  matches?: string;
  scaleanchor?: string;
  /** With `scaleanchor`: shrink the axis' domain (`domain`), not widen its range, to keep the aspect. */
  constrain?: 'range' | 'domain';
  showgrid?: boolean;
  zeroline?: boolean;
}

export interface Marker {
  color?: string | (string | number)[];
  size?: number;
  symbol?: string;
  opacity?: number;
  line?: { color?: string; width?: number };
}

export interface Line {
  color?: string;
  width?: number;
  dash?: 'solid' | 'dot' | 'dash' | 'dashdot';
  /** `vh`: vertical then horizontal, a step that holds each value to the right of its point. */
  shape?: 'linear' | 'hv' | 'vh' | 'spline';
}

interface TraceBase {
  name?: string;
  showlegend?: boolean;
  legendgroup?: string;
  hovertemplate?: string;
  /** Axis ids for multi-panel figures: `'x'`, `'y'`, `'y2'`, ... */
  xaxis?: string;
  yaxis?: string;
}

export interface ScatterTrace extends TraceBase {
  type: 'scatter';
  x: number[];
  y: number[];
  mode: 'markers' | 'lines' | 'lines+markers';
  text?: string[];
  marker?: Marker;
  line?: Line;
  /** Error bars (e.g. the standard deviation over seeds). */
  error_y?: ErrorBars;
  error_x?: ErrorBars;
  textposition?: string;
}

export interface ErrorBars {
  type: 'data';
  array: number[];
  visible?: boolean;
  color?: string;
  thickness?: number;
  width?: number;
}

export interface BarTrace extends TraceBase {
  type: 'bar';
  x: (number | string)[];
  y: number[];
  text?: string[];
  marker?: Marker;
  opacity?: number;
  error_y?: ErrorBars;
}

export interface HeatmapTrace extends TraceBase {
  type: 'heatmap';
  z: (number | null)[][];
  x?: (number | string)[];
  y?: (number | string)[];
  colorscale?: string;
  reversescale?: boolean;
  zmin?: number;
  zmax?: number;
  colorbar?: { title?: AxisTitle };
}

export type Trace = ScatterTrace | BarTrace | HeatmapTrace;

/** An arrow from `(ax, ay)` to `(x, y)` in data coordinates (`axref`/`ayref` 'x'/'y'), or a text label. */
export interface Annotation {
  x: number;
  y: number;
  ax?: number;
  ay?: number;
  axref?: string;
  ayref?: string;
  xref?: string;
  yref?: string;
  text?: string;
  showarrow?: boolean;
  arrowhead?: number;
  arrowsize?: number;
  arrowwidth?: number;
  arrowcolor?: string;
  standoff?: number;
  startstandoff?: number;
  font?: { size?: number; color?: string };
}

export interface Layout {
  title?: AxisTitle;
  annotations?: Annotation[];
  xaxis?: Axis;
  xaxis2?: Axis;
  xaxis3?: Axis;
  yaxis?: Axis;
  yaxis2?: Axis;
  yaxis3?: Axis;
  barmode?: 'group' | 'stack' | 'overlay';
  bargap?: number;
  showlegend?: boolean;
  legend?: { orientation?: 'h' | 'v'; x?: number; y?: number };
  width?: number;
  height?: number;
  margin?: { l?: number; r?: number; t?: number; b?: number };
}

export interface Figure {
  data: Trace[];
  layout: Layout;
}

/** Plotly's default qualitative palette ("D3"), so series keep one colour across figures. */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** One colour per training mode in every figure (the sweep plots and the notebooks agree). */
export const MODE_COLORS: Readonly<Record<string, string>> = { finetune: '#7f7f7f', magnitude: '#d62728', l1: '#ff7f0e', neuroprune: '#2ca02c' };

export function paletteColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/**
 * A d3 tick format for fractions shown as percentages, with enough decimals that ticks over the
 * values' span get distinct labels (a span of 0.4 points would repeat '73%' with '.0%').
 */
export function percentTickFormat(values: readonly number[]): string {
  const finite = values.filter(Number.isFinite);
  const span = finite.length ? Math.max(...finite) - Math.min(...finite) : 1;
  if (span >= 0.1 || span === 0) return '.0%';
  if (span >= 0.01) return '.1%';
  return '.2%';
}
