/**
 * The head graph of an attention block (Algorithm 2 as a graph): one node per head, an undirected
 * edge between two heads whose `[Wq; Wk; Wv]` slices are within `theta` in l-infinity distance,
 * with the distance on the edge. Its closed neighbourhoods are the rows of the similarity matrix,
 * so the heads Algorithm 3 keeps form a dominating set of this graph; each node says whether it
 * is kept and which head it would be merged into.
 */
import { UndirectedGraph } from 'graphology';
import type Graph from 'graphology';
import { connectedComponents } from 'graphology-components';
import type { AttentionBlock } from '../models/blocks';
import { checkTheta } from '../neuroprune/checks';
import { findDominating, type DominatingStrategy } from '../neuroprune/dominating';
import { headDistances, similarityFromDistances, type HeadDistanceOptions, type SimilarityMatrix } from '../neuroprune/similarity';

export interface HeadAttributes {
  /** Current position of the head in the block. */
  position: number;
  /** Index of the head in the original dense layer (differs from `position` after pruning). */
  headId: number;
  /** In the dominating set Algorithm 3 keeps at this `theta` (`strategy`). */
  kept: boolean;
  /** Original id of the kept head this head would be merged into (its own id when kept). */
  mergeInto: number;
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
  /** How the kept heads are chosen (see `findDominating`). Default 'paper' (Algorithm 3). */
  strategy?: DominatingStrategy;
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
  }
  const { into } = findDominating(similarityFromDistances(distances, options.theta), options.strategy ?? 'paper');
  for (let h = 0; h < k; h++) g.addNode(headKey(h), { position: h, headId: ids[h], kept: into[h] === h, mergeInto: ids[into[h]] });
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
  return headGraphFromDistances(headDistances(block, options), { theta: options.theta, headIds: block.headIds, strategy: options.strategy });
}

/** The similarity matrix of a head graph (rows by position): what `isDominatingSet` and `findDominating` read. */
export function similarityOfGraph(graph: HeadGraph): SimilarityMatrix {
  const k = graph.order;
  const s = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => a === b));
  graph.forEachEdge((_, __, source, target, sa, ta) => {
    s[sa.position][ta.position] = true;
    s[ta.position][sa.position] = true;
  });
  return s;
}

/** Sizes of the connected components of a head graph (graphology-components), largest first. */
export function componentSizes(graph: Graph): number[] {
  return connectedComponents(graph).map((c) => c.length).sort((a, b) => b - a);
}
