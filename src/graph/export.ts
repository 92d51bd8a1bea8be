/**
 * Writes the graph views of a model for Gephi and other graph tools, one file per layer and
 * view: `layer<L>.neurons.<ext>` (the MLP's neuron graph: edge weight `|w|`, its sign an edge
 * attribute, per node its degrees and weighted degree) and `layer<L>.heads.<ext>` (the head
 * graph at `theta`: edge `distance`, per node whether Algorithm 3 keeps the head, the head it
 * would be merged into, its degree centrality and component).
 *
 * GEXF 1.3 through `graphology-gexf`. GraphML by the writer below: `graphology-graphml` only
 * parses, and the format is a flat list of typed keys, nodes and edges (GraphML primer,
 * graphml.graphdrawing.org).
 *
 * Usage:
 * ```ts
 * const files = exportModelGraphs(model, { dir: 'graphs', format: 'gexf', theta: 0.2 });
 * const xml = writeGraph(neuronGraph(model.mlpBlocks()[0]), 'graphml');
 * ```
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Graph from 'graphology';
import { connectedComponents } from 'graphology-components';
import { write as writeGexf } from 'graphology-gexf';
import { degreeCentrality } from 'graphology-metrics/centrality/degree';
import { weightedDegree, weightedInDegree, weightedOutDegree } from 'graphology-metrics/node/weighted-degree';
import type { PrunableModel } from '../models/blocks';
import { checkEps, checkTheta, DEFAULT_EPS } from '../neuroprune/checks';
import type { DominatingStrategy } from '../neuroprune/dominating';
import { headGraph, type HeadGraph } from './headGraph';
import { neuronGraph, type NeuronGraph } from './neuronGraph';

export type GraphFormat = 'gexf' | 'graphml';
export const GRAPH_FORMATS: readonly GraphFormat[] = ['gexf', 'graphml'];

type Scalar = string | number | boolean;

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The GraphML type of an attribute: `int` only when every value is an integer, `double` otherwise. */
function graphmlType(values: Scalar[]): 'boolean' | 'int' | 'double' | 'string' {
  if (values.every((v) => typeof v === 'boolean')) return 'boolean';
  if (values.every((v) => typeof v === 'number')) return values.every((v) => Number.isInteger(v)) ? 'int' : 'double';
  return 'string';
}

/** GraphML of a graphology graph: every scalar node and edge attribute becomes a typed `<key>`. */
function writeGraphml(graph: Graph): string {
  const keys: string[] = [];
  const keyIds = { node: new Map<string, string>(), edge: new Map<string, string>() };
  const declare = (kind: 'node' | 'edge', attrs: Record<string, Scalar>[]) => {
    const names = [...new Set(attrs.flatMap((a) => Object.keys(a)))];
    for (const name of names) {
      const values = attrs.map((a) => a[name]).filter((v) => v !== undefined && v !== null);
      if (!values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) continue;
      const id = `${kind[0]}${keyIds[kind].size}`;
      keyIds[kind].set(name, id);
      keys.push(`  <key id="${id}" for="${kind}" attr.name="${xmlEscape(name)}" attr.type="${graphmlType(values)}"/>`);
    }
  };
  const nodeAttrs = graph.mapNodes((_, a) => a as Record<string, Scalar>);
  const edgeAttrs = graph.mapEdges((_, a) => a as Record<string, Scalar>);
  declare('node', nodeAttrs);
  declare('edge', edgeAttrs);
  const data = (kind: 'node' | 'edge', attrs: Record<string, Scalar>) =>
    [...keyIds[kind]].filter(([name]) => attrs[name] !== undefined && attrs[name] !== null)
      .map(([name, id]) => `<data key="${id}">${xmlEscape(String(attrs[name]))}</data>`).join('');
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
    ...keys,
    `  <graph edgedefault="${graph.type === 'undirected' ? 'undirected' : 'directed'}">`,
  ];
  graph.forEachNode((node, attrs) => lines.push(`    <node id="${xmlEscape(node)}">${data('node', attrs as Record<string, Scalar>)}</node>`));
  graph.forEachEdge((edge, attrs, source, target) => {
    lines.push(`    <edge id="${xmlEscape(edge)}" source="${xmlEscape(source)}" target="${xmlEscape(target)}">${data('edge', attrs as Record<string, Scalar>)}</edge>`);
  });
  lines.push('  </graph>', '</graphml>', '');
  return lines.join('\n');
}

/** A graph as GEXF 1.3 (Gephi's format) or GraphML text. */
export function writeGraph(graph: Graph, format: GraphFormat): string {
  switch (format) {
    case 'gexf': return writeGexf(graph, { version: '1.3' });
    case 'graphml': return writeGraphml(graph);
    default: throw new Error(`writeGraph: unknown format '${format as string}' (expected ${GRAPH_FORMATS.join(' or ')})`);
  }
}

/** Adds the neuron graph's per-node degrees and weighted degrees (sum of `|w|`, graphology-metrics) as attributes. */
export function annotateNeuronGraph(graph: NeuronGraph): NeuronGraph {
  graph.forEachNode((node) => {
    graph.mergeNodeAttributes(node, {
      label: node,
      inDegree: graph.inDegree(node),
      outDegree: graph.outDegree(node),
      strength: weightedDegree(graph, node),
      inStrength: weightedInDegree(graph, node),
      outStrength: weightedOutDegree(graph, node),
    } as never);
  });
  return graph;
}

/** Adds the head graph's degree, degree centrality (graphology-metrics) and component index as node attributes. */
export function annotateHeadGraph(graph: HeadGraph): HeadGraph {
  const centrality = degreeCentrality(graph);
  const components = connectedComponents(graph);
  components.forEach((nodes, c) => {
    for (const node of nodes) {
      const a = graph.getNodeAttributes(node);
      graph.mergeNodeAttributes(node, { label: `head ${a.headId}`, degree: graph.degree(node), centrality: centrality[node], component: c } as never);
    }
  });
  return graph;
}

export interface ExportOptions {
  /** Directory to write into (created when missing). */
  dir: string;
  format: GraphFormat;
  /** Head-similarity threshold of the head graphs; >= 0, required. */
  theta: number;
  /** Weights with `|w| >= eps` are edges of the neuron graphs. Default 1e-4. */
  eps?: number;
  /** How the kept heads are chosen. Default 'paper' (Algorithm 3). */
  strategy?: DominatingStrategy;
  /** Compare Q/K/V biases too when measuring head distances. Default false. */
  includeBias?: boolean;
  /** Refuse neuron graphs with more edges (see `neuronGraph`). Default 2,000,000. */
  maxEdges?: number;
}

/** Writes every layer's neuron and head graphs; returns the paths written, in layer order. */
export function exportModelGraphs(model: PrunableModel, options: ExportOptions): string[] {
  const eps = options.eps ?? DEFAULT_EPS;
  checkEps(eps, 'exportModelGraphs');
  checkTheta(options.theta, 'exportModelGraphs');
  if (!GRAPH_FORMATS.includes(options.format)) throw new Error(`exportModelGraphs: unknown format '${options.format}' (expected ${GRAPH_FORMATS.join(' or ')})`);
  mkdirSync(options.dir, { recursive: true });
  const written: { layer: number; path: string }[] = [];
  const save = (layer: number, view: string, graph: Graph) => {
    const path = join(options.dir, `layer${layer}.${view}.${options.format}`);
    writeFileSync(path, writeGraph(graph, options.format));
    written.push({ layer, path });
  };
  for (const b of model.mlpBlocks()) save(b.layer, 'neurons', annotateNeuronGraph(neuronGraph(b, { eps, maxEdges: options.maxEdges })));
  for (const b of model.attentionBlocks()) {
    save(b.layer, 'heads', annotateHeadGraph(headGraph(b, { theta: options.theta, strategy: options.strategy, includeBias: options.includeBias })));
  }
  return written.sort((a, b) => a.layer - b.layer).map((w) => w.path);
}
