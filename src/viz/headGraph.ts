/**
 * The head similarity graph of one layer as a node-link diagram: heads on a circle, an edge
 * between heads within theta (labelled by their distance), the heads Algorithm 3 keeps filled
 * (a dominating set), and an arrow from each pruned head to the head that absorbs it.
 */
import { paletteColor, type Annotation, type Figure, type Trace } from './figure';

export interface HeadGraphFigureOptions {
  /** Heads within this l-infinity distance are joined. */
  theta: number;
  /** Positions of the heads kept (`findDominatingPaper(...).kept`). */
  kept?: readonly number[];
  /** For each head position, the head that replaces it (itself when kept). */
  into?: readonly number[];
  /** Label per position (original head ids). Default: the positions. */
  headIds?: readonly number[];
  title?: string;
  /** Pixels. Default 460. */
  size?: number;
}

export function headGraphFigure(distances: readonly (readonly number[])[], options: HeadGraphFigureOptions): Figure {
  const k = distances.length;
  distances.forEach((row, i) => {
    if (row.length !== k) throw new Error(`headGraphFigure: distance row ${i} has ${row.length} entries, expected ${k}`);
  });
  if (options.into && options.into.length !== k) throw new Error(`headGraphFigure: into has ${options.into.length} entries for ${k} heads`);
  const ids = options.headIds ?? distances.map((_, i) => i);
  // Head 0 at the top, clockwise.
  const pos = distances.map((_, i) => {
    const a = Math.PI / 2 - (2 * Math.PI * i) / Math.max(1, k);
    return [Math.cos(a), Math.sin(a)] as const;
  });
  const kept = new Set(options.kept ?? []);
  const data: Trace[] = [];
  const ex: number[] = [];
  const ey: number[] = [];
  const mx: number[] = [];
  const my: number[] = [];
  const mt: string[] = [];
  let edges = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      if (distances[a][b] > options.theta) continue;
      edges++;
      ex.push(pos[a][0], pos[b][0], NaN);
      ey.push(pos[a][1], pos[b][1], NaN);
      mx.push((pos[a][0] + pos[b][0]) / 2);
      my.push((pos[a][1] + pos[b][1]) / 2);
      mt.push(distances[a][b].toFixed(3));
    }
  }
  if (edges > 0) {
    data.push({ type: 'scatter', mode: 'lines', name: `similar (distance ≤ ${options.theta.toPrecision(3)})`, x: ex, y: ey, line: { color: '#999999', width: 2 }, hovertemplate: '<extra></extra>' });
    data.push({ type: 'scatter', mode: 'markers', name: 'distance', showlegend: false, x: mx, y: my, text: mt, marker: { color: '#999999', size: 4 }, hovertemplate: 'distance %{text}<extra></extra>' });
  }
  const nearest = distances.map((row, i) => Math.min(...row.filter((_, j) => j !== i)));
  const node = (which: number[], name: string, color: string, fill: boolean): void => {
    if (which.length === 0) return;
    data.push({
      type: 'scatter', mode: 'markers', name, x: which.map((i) => pos[i][0]), y: which.map((i) => pos[i][1]),
      text: which.map((i) => `head ${ids[i]}<br>nearest other head at ${Number.isFinite(nearest[i]) ? nearest[i].toFixed(3) : '-'}`),
      marker: { color: fill ? color : 'white', size: 26, line: { color, width: 3 } }, hovertemplate: '%{text}<extra></extra>',
    });
  };
  const all = distances.map((_, i) => i);
  if (options.kept) {
    node(all.filter((i) => kept.has(i)), 'kept (dominating set)', paletteColor(0), true);
    node(all.filter((i) => !kept.has(i)), 'pruned', paletteColor(3), false);
  } else {
    node(all, 'head', paletteColor(0), true);
  }
  const annotations: Annotation[] = all.map((i) => ({
    x: pos[i][0], y: pos[i][1], text: `<b>${ids[i]}</b>`, showarrow: false, font: { size: 13, color: kept.has(i) ? 'white' : '#333333' },
  }));
  if (options.into) {
    options.into.forEach((j, i) => {
      if (j === i) return;
      annotations.push({
        x: pos[j][0], y: pos[j][1], ax: pos[i][0], ay: pos[i][1], axref: 'x', ayref: 'y', xref: 'x', yref: 'y',
        showarrow: true, arrowhead: 3, arrowsize: 1.2, arrowwidth: 2, arrowcolor: paletteColor(3), standoff: 15, startstandoff: 15, text: '',
      });
    });
  }
  const size = options.size ?? 460;
  const axis = { visible: false, range: [-1.35, 1.35] as [number, number], showgrid: false, zeroline: false };
  return {
    data,
    layout: {
      title: { text: options.title ?? `Head graph: ${k} heads, ${edges} similar pairs (θ = ${options.theta.toPrecision(3)})` },
      xaxis: { ...axis }, yaxis: { ...axis, scaleanchor: 'x' },
      annotations, width: size + 200, height: size, showlegend: true,
      margin: { l: 10, r: 10, t: 50, b: 10 },
    },
  };
}
