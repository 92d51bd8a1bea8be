/**
 * Attention-head figures: how many heads each layer keeps, and which heads are near duplicates.
 */
import { paletteColor, type Figure, type Trace } from './figure';

export interface LayerHeads {
  layer: number;
  /** Heads the layer has now. */
  heads: number;
  /** Heads it had before pruning; when given, the pruned ones are stacked on top. */
  originalHeads?: number;
}

export interface HeadsPerLayerOptions {
  title?: string;
}

/** Bar chart of heads per layer: `kept` bars, and `pruned` bars stacked on them when the original count is known. */
export function headsPerLayerFigure(layers: readonly LayerHeads[], options: HeadsPerLayerOptions = {}): Figure {
  const sorted = [...layers].sort((a, b) => a.layer - b.layer);
  for (const l of sorted) {
    if (l.originalHeads !== undefined && l.originalHeads < l.heads) {
      throw new Error(`headsPerLayerFigure: layer ${l.layer} has ${l.heads} heads but originalHeads ${l.originalHeads}`);
    }
  }
  const x = sorted.map((l) => l.layer);
  const data: Trace[] = [{
    type: 'bar', name: 'kept', x, y: sorted.map((l) => l.heads), marker: { color: paletteColor(0) },
    text: sorted.map((l) => String(l.heads)), hovertemplate: 'layer %{x}: %{y} heads kept<extra></extra>',
  }];
  if (sorted.some((l) => l.originalHeads !== undefined)) {
    data.push({
      type: 'bar', name: 'pruned', x, y: sorted.map((l) => (l.originalHeads ?? l.heads) - l.heads), marker: { color: '#d3d3d3' },
      hovertemplate: 'layer %{x}: %{y} heads pruned<extra></extra>',
    });
  }
  const kept = sorted.reduce((a, l) => a + l.heads, 0);
  const orig = sorted.reduce((a, l) => a + (l.originalHeads ?? l.heads), 0);
  return {
    data,
    layout: {
      title: { text: options.title ?? `Heads per layer (${kept} of ${orig} kept)` },
      xaxis: { title: { text: 'layer' }, type: 'linear', dtick: 1 },
      yaxis: { title: { text: 'heads' }, type: 'linear', dtick: 1 },
      barmode: 'stack',
    },
  };
}

export interface HeadSimilarityOptions {
  /** Mark the off-diagonal pairs with distance `<= theta` (the edges of the head graph). */
  theta?: number;
  /** Labels of the heads (original ids); default their positions. */
  headIds?: readonly number[];
  /** Heads that survive pruning (positions), marked on the diagonal. */
  kept?: readonly number[];
  title?: string;
}

/**
 * Heatmap of pairwise l-infinity head distances (`headDistances`), head 0 at the top; darker is
 * closer. With `theta`, the similar pairs are marked; with `kept`, the surviving heads.
 */
export function headSimilarityHeatmap(distances: readonly (readonly number[])[], options: HeadSimilarityOptions = {}): Figure {
  const k = distances.length;
  distances.forEach((row, a) => {
    if (row.length !== k) throw new Error(`headSimilarityHeatmap: row ${a} has ${row.length} entries, expected ${k}`);
  });
  const ids = options.headIds ?? distances.map((_, h) => h);
  if (ids.length !== k) throw new Error(`headSimilarityHeatmap: ${ids.length} head ids for ${k} heads`);
  // Numeric positions on linear axes, labelled by head id: cells, pair markers and kept markers share coordinates.
  const positions = distances.map((_, h) => h);
  const labels = ids.map((id) => `h${id}`);
  const data: Trace[] = [{
    type: 'heatmap', z: distances.map((row) => [...row]), x: positions, y: positions, colorscale: 'Viridis',
    zmin: 0, colorbar: { title: { text: 'l∞ distance' } },
    hovertemplate: 'head %{y} vs %{x}: %{z:.4g}<extra></extra>',
  }];
  if (options.theta !== undefined) {
    const theta = options.theta;
    const x: number[] = [];
    const y: number[] = [];
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) if (a !== b && distances[a][b] <= theta) { x.push(b); y.push(a); }
    data.push({
      type: 'scatter', mode: 'markers', name: `distance ≤ θ = ${theta}`, x, y,
      marker: { symbol: 'x', color: '#ffffff', size: 9, line: { color: '#000000', width: 1 } },
      hovertemplate: 'similar pair<extra></extra>',
    });
  }
  if (options.kept) {
    for (const h of options.kept) if (!(Number.isInteger(h) && h >= 0 && h < k)) throw new Error(`headSimilarityHeatmap: kept head ${h} is not a position in 0..${k - 1}`);
    data.push({
      type: 'scatter', mode: 'markers', name: 'kept', x: [...options.kept], y: [...options.kept],
      marker: { symbol: 'circle-open', color: '#ff4136', size: 14, line: { width: 3 } },
      hovertemplate: 'kept<extra></extra>',
    });
  }
  // constrain 'domain': the square cells shrink the plot area instead of padding the axis range,
  // so the tick labels stay next to the cells.
  const axis = { title: { text: 'head' }, type: 'linear' as const, tickvals: positions, ticktext: labels, showgrid: false, zeroline: false, constrain: 'domain' as const };
  return {
    data,
    layout: {
      title: { text: options.title ?? 'Head distances (l∞ over [Wq; Wk; Wv])' },
      xaxis: axis,
      yaxis: { ...axis, autorange: 'reversed', scaleanchor: 'x' },
      legend: { orientation: 'h', y: -0.2 },
      width: 620, height: 540, margin: { l: 60, r: 20, t: 60, b: 90 },
    },
  };
}
