/**
 * The neuron graph of an MLP block: a layered directed graph
 * `input dims (d) -> hidden neurons (de) -> output dims (d)` with one edge per weight whose
 * magnitude is at least `eps`. `Win [de, d]` gives the edges `in:j -> h:i`, `Wout [d, de]` the
 * edges `h:i -> out:k` (weights are `[out, in]`, as Hugging Face stores them).
 *
 * A gated MLP (`act(gate(x)) * input(x)`) has two incoming maps per hidden neuron: `mlpDegrees`
 * counts the gate's weights as incoming edges too (a hidden neuron reading dimension `j` through
 * both maps has in-degree 2 from it), so degrees and density count every weight the regularizer
 * sees; the graphology view, one edge per node pair, refuses a gated block.
 *
 * Two views: `mlpDegrees` counts degrees straight from the weights (cheap, any model size; what
 * the summaries use), and `neuronGraph` builds the graphology graph with each weight on its edge
 * (for graph algorithms and drawing; a BERT-base layer has ~4.7M edges when dense, so the graph
 * view refuses more than `maxEdges`).
 */
import * as tf from '@tensorflow/tfjs';
import { DirectedGraph } from 'graphology';
import type { MlpBlock } from '../models/blocks';
import { checkEps, DEFAULT_EPS } from '../neuroprune/checks';

export type NeuronKind = 'input' | 'hidden' | 'output';

export interface NeuronAttributes {
  kind: NeuronKind;
  /** Index within its kind: input/output dimension, or hidden neuron. */
  index: number;
}

/**
 * An edge's weight is the magnitude `|w|` and its sign a separate attribute: graph tools (Gephi's
 * layouts, weighted degrees, centralities) read `weight` as a strength and go wrong on negative
 * values, and about half of a layer's weights are negative.
 */
export interface WeightEdgeAttributes {
  weight: number;
  sign: 1 | -1;
}

export type NeuronGraph = DirectedGraph<NeuronAttributes, WeightEdgeAttributes>;

/** Node keys: `in:j`, `h:i`, `out:k`. */
export function neuronKey(kind: NeuronKind, index: number): string {
  return `${kind === 'input' ? 'in' : kind === 'hidden' ? 'h' : 'out'}:${index}`;
}

/** Degrees of every neuron of an MLP block's graph. */
export interface MlpDegrees {
  eps: number;
  /** Per input dimension `j`: hidden neurons it feeds (column `j` of `Win`, plus the gate's). Length `d`. */
  inputOut: Int32Array;
  /** Per hidden neuron `i`: input dims it reads (row `i` of `Win`, plus the gate's). Length `de`. */
  hiddenIn: Int32Array;
  /** Per hidden neuron `i`: output dims it feeds (column `i` of `Wout`). Length `de`. */
  hiddenOut: Int32Array;
  /** Per output dimension `k`: hidden neurons it reads (row `k` of `Wout`). Length `d`. */
  outputIn: Int32Array;
  /** Total edges: `sum(hiddenIn) + sum(hiddenOut)`. */
  edges: number;
  /** Edges over the edges of the dense block (`2 * d * de` for the current shapes, `3 * d * de` gated). */
  density: number;
}

export interface NeuronGraphOptions {
  /** Weights with `|w| >= eps` are edges. Default 1e-4. */
  eps?: number;
}

function checkMlpShapes(block: MlpBlock, where: string): { d: number; de: number } {
  const [de, d] = block.input.weight.shape;
  const [d2, de2] = block.output.weight.shape;
  if (d2 !== d || de2 !== de) {
    throw new Error(`${where} ${block.name}: input.weight is [${block.input.weight.shape}] and output.weight [${block.output.weight.shape}]; expected [de, d] and [d, de]`);
  }
  return { d, de };
}

/** Degrees of the block's neuron graph, counted on the backend (no graph is built). */
export function mlpDegrees(block: MlpBlock, options: NeuronGraphOptions = {}): MlpDegrees {
  const eps = options.eps ?? DEFAULT_EPS;
  checkEps(eps, 'mlpDegrees');
  const { d, de } = checkMlpShapes(block, 'mlpDegrees');
  const gate = block.gate;
  if (gate && (gate.weight.shape[0] !== de || gate.weight.shape[1] !== d)) {
    throw new Error(`mlpDegrees ${block.name}: gate.weight is [${gate.weight.shape}]; expected [${de}, ${d}] as input.weight`);
  }
  const [inputOut, hiddenIn, hiddenOut, outputIn] = tf.tidy(() => {
    const edge = (w: tf.Tensor) => tf.cast(tf.greaterEqual(tf.abs(w), eps), 'int32');
    const mIn = gate ? tf.add(edge(block.input.weight), edge(gate.weight)) : edge(block.input.weight);
    const mOut = tf.cast(tf.greaterEqual(tf.abs(block.output.weight), eps), 'int32');
    return [tf.sum(mIn, 0), tf.sum(mIn, 1), tf.sum(mOut, 0), tf.sum(mOut, 1)].map((t) => Int32Array.from(t.dataSync()));
  });
  let edges = 0;
  for (const v of hiddenIn) edges += v;
  for (const v of hiddenOut) edges += v;
  const maps = gate ? 3 : 2;
  return { eps, inputOut, hiddenIn, hiddenOut, outputIn, edges, density: d * de === 0 ? 0 : edges / (maps * d * de) };
}

/** Total degree (in + out) of each hidden neuron: the sequence the preferential-attachment statistics use. */
export function hiddenDegrees(degrees: MlpDegrees): Int32Array {
  return degrees.hiddenIn.map((v, i) => v + degrees.hiddenOut[i]);
}

/** A row-major matrix `[rows, cols]` of plain numbers. */
export interface Matrix {
  data: ArrayLike<number>;
  shape: [number, number];
}

export interface NeuronGraphBuildOptions extends NeuronGraphOptions {
  /** Refuse to build graphs with more edges than this. Default 2,000,000 (about 1 GB of graphology). */
  maxEdges?: number;
}

/**
 * The neuron graph from plain matrices `win [de, d]` and `wout [d, de]`. Every node is present,
 * including isolated ones (their degree 0 is information: a dead neuron).
 */
export function neuronGraphFromWeights(win: Matrix, wout: Matrix, options: NeuronGraphBuildOptions = {}): NeuronGraph {
  const eps = options.eps ?? DEFAULT_EPS;
  const maxEdges = options.maxEdges ?? 2_000_000;
  checkEps(eps, 'neuronGraphFromWeights');
  const [de, d] = win.shape;
  if (wout.shape[0] !== d || wout.shape[1] !== de) {
    throw new Error(`neuronGraphFromWeights: win is [${win.shape}] and wout [${wout.shape}]; expected [de, d] and [d, de]`);
  }
  if (win.data.length !== de * d || wout.data.length !== d * de) {
    throw new Error(`neuronGraphFromWeights: data lengths ${win.data.length} and ${wout.data.length} do not match shapes [${win.shape}] and [${wout.shape}]`);
  }
  // Compare against eps rounded to float32, as the backend does in mlpDegrees: weights are
  // float32, and a weight stored as fround(1e-4) must count the same way in both views.
  const thr = Math.fround(eps);
  let edges = 0;
  for (const m of [win, wout]) for (let i = 0; i < m.data.length; i++) if (Math.abs(m.data[i]) >= thr) edges++;
  if (edges > maxEdges) {
    throw new Error(`neuronGraphFromWeights: ${edges} edges exceed maxEdges ${maxEdges}; use mlpDegrees for statistics, or raise maxEdges`);
  }
  const g: NeuronGraph = new DirectedGraph<NeuronAttributes, WeightEdgeAttributes>();
  for (let j = 0; j < d; j++) g.addNode(neuronKey('input', j), { kind: 'input', index: j });
  for (let i = 0; i < de; i++) g.addNode(neuronKey('hidden', i), { kind: 'hidden', index: i });
  for (let k = 0; k < d; k++) g.addNode(neuronKey('output', k), { kind: 'output', index: k });
  for (let i = 0; i < de; i++) {
    for (let j = 0; j < d; j++) {
      const w = win.data[i * d + j];
      if (Math.abs(w) >= thr) g.addDirectedEdge(neuronKey('input', j), neuronKey('hidden', i), { weight: Math.abs(w), sign: w < 0 ? -1 : 1 });
    }
  }
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < de; i++) {
      const w = wout.data[k * de + i];
      if (Math.abs(w) >= thr) g.addDirectedEdge(neuronKey('hidden', i), neuronKey('output', k), { weight: Math.abs(w), sign: w < 0 ? -1 : 1 });
    }
  }
  return g;
}

/** The neuron graph of an MLP block (reads its current weights). */
export function neuronGraph(block: MlpBlock, options: NeuronGraphBuildOptions = {}): NeuronGraph {
  const { d, de } = checkMlpShapes(block, 'neuronGraph');
  if (block.gate) throw new Error(`neuronGraph ${block.name}: a gated MLP has two edges per (input, hidden) pair; use mlpDegrees for its degrees`);
  return neuronGraphFromWeights(
    { data: block.input.weight.dataSync(), shape: [de, d] },
    { data: block.output.weight.dataSync(), shape: [d, de] },
    options,
  );
}

/** In- and out-degree of every node of one kind, in index order, read from a neuron graph. */
export function neuronDegreesOf(graph: NeuronGraph, kind: NeuronKind): { inDegree: number[]; outDegree: number[] } {
  const nodes = graph.filterNodes((_, a) => a.kind === kind).sort((a, b) => graph.getNodeAttribute(a, 'index') - graph.getNodeAttribute(b, 'index'));
  return { inDegree: nodes.map((n) => graph.inDegree(n)), outDegree: nodes.map((n) => graph.outDegree(n)) };
}
