/**
 * The head graph of an attention block (Algorithm 2 as a graph): one node per head, an undirected
 * edge between two heads whose `[Wq; Wk; Wv]` slices are within `theta` in l-infinity distance,
 * with the distance on the edge. Its closed neighbourhoods are the rows of the similarity matrix,
 * so the heads Algorithm 3 keeps form a dominating set of this graph.
 */
import { UndirectedGraph } from 'graphology';
import type Graph from 'graphology';
import type { AttentionBlock } from '../models/blocks';
import { headDistances, type HeadDistanceOptions } from '../neuroprune/similarity';

export interface HeadAttributes {
  /** Current position of the head in the block. */
  position: number;
  /** Index of the head in the original dense layer (differs from `position` after pruning). */
  headId: number;
}

export interface DistanceEdgeAttributes {
  /** l-infinity distance between the two heads' Q/K/V slices. */
  distance: number;
}

export type HeadGraph = UndirectedGraph<HeadAttributes, DistanceEdgeAttributes>;

export interface HeadGraphOptions {
  /** Largest l-infinity distance at which two heads are joined; >= 0, no default (it is the model's choice). */
  theta: number;
  /** Original head ids of the positions, for node attributes. Default: the positions. */
  headIds?: readonly number[];
}

function checkTheta(theta: number, where: string): void {
  if (!(theta >= 0) || Number.isNaN(theta)) throw new Error(`${where}: theta must be a number >= 0, got ${theta}`);
}

/** Node key of the head at a position: its position as a string (graphology keys are strings). */
export function headKey(position: number): string {
  return String(position);
}

/** The head graph from a symmetric `[k][k]` distance matrix (see `headDistances`). */
export function headGraphFromDistances(distances: readonly (readonly number[])[], options: HeadGraphOptions): HeadGraph {
  checkTheta(options.theta, 'headGraphFromDistances');
  const k = distances.length;
  const ids = options.headIds ?? distances.map((_, h) => h);
  if (ids.length !== k) throw new Error(`headGraphFromDistances: ${ids.length} head ids for ${k} heads`);
  const g: HeadGraph = new UndirectedGraph<HeadAttributes, DistanceEdgeAttributes>();
  for (let h = 0; h < k; h++) {
    if (distances[h].length !== k) throw new Error(`headGraphFromDistances: distance row ${h} has ${distances[h].length} entries, expected ${k}`);
    g.addNode(headKey(h), { position: h, headId: ids[h] });
  }
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const dist = distances[a][b];
      if (dist !== distances[b][a]) throw new Error(`headGraphFromDistances: distances are not symmetric at (${a}, ${b}): ${dist} vs ${distances[b][a]}`);
      if (dist <= options.theta) g.addUndirectedEdge(headKey(a), headKey(b), { distance: dist });
    }
  }
  return g;
}

/** The head graph of an attention block, from its current Q/K/V weights. */
export function headGraph(block: AttentionBlock, options: Omit<HeadGraphOptions, 'headIds'> & HeadDistanceOptions): HeadGraph {
  checkTheta(options.theta, `headGraph ${block.name}`);
  return headGraphFromDistances(headDistances(block, options), { theta: options.theta, headIds: block.headIds });
}

/**
 * Connected components, each as node keys in graph order, components ordered by their first
 * node. Breadth-first search; works on any graphology graph (edges are followed both ways).
 */
export function connectedComponents(graph: Pick<Graph, 'forEachNode' | 'forEachNeighbor'>): string[][] {
  const seen = new Set<string>();
  const components: string[][] = [];
  graph.forEachNode((start) => {
    if (seen.has(start)) return;
    seen.add(start);
    const component = [start];
    for (let i = 0; i < component.length; i++) {
      graph.forEachNeighbor(component[i], (next) => {
        if (!seen.has(next)) {
          seen.add(next);
          component.push(next);
        }
      });
    }
    components.push(component);
  });
  return components;
}

/**
 * True when every node of the graph is in `nodes` or adjacent to a node of `nodes`.
 * Unknown node keys are an error (a typo would otherwise make a set look smaller than it is).
 */
export function isDominatingSet(graph: Pick<Graph, 'forEachNode' | 'hasNode' | 'someNeighbor'>, nodes: Iterable<string | number>): boolean {
  const set = new Set<string>();
  for (const n of nodes) {
    const key = String(n);
    if (!graph.hasNode(key)) throw new Error(`isDominatingSet: node '${key}' is not in the graph`);
    set.add(key);
  }
  let ok = true;
  graph.forEachNode((node) => {
    if (ok && !set.has(node) && !graph.someNeighbor(node, (nb) => set.has(nb))) ok = false;
  });
  return ok;
}

/** Degree of every node, in graph order. */
export function degrees(graph: Pick<Graph, 'mapNodes' | 'degree'>): number[] {
  return graph.mapNodes((node) => graph.degree(node));
}
