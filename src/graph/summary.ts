/**
 * One JSON-able report of the graph views of a whole model: per layer, the head graph
 * (Algorithm 2 at `theta`) and the neuron graph of the MLP (edges = weights with `|w| >= eps`),
 * with degree statistics and power-law fits. This is what `neuroprune analyze` prints.
 *
 * Usage:
 * ```ts
 * const report = summarizeModelGraphs(model, { theta: 0.2 });          // eps defaults to 1e-4
 * writeFileSync('graphs.json', JSON.stringify(report, null, 2));
 * report.layers[3].mlp?.hidden.powerLaw?.alpha;                        // exponent of layer 3's hidden degrees
 * ```
 * Every field is a number, string, boolean, null, array or plain object: no typed arrays, no
 * NaN (statistics of empty sequences are 0, impossible fits are null).
 */
import type { AttentionBlock, MlpBlock, PrunableModel } from '../models/blocks';
import { headDistances } from '../neuroprune/similarity';
import { basicStats, summarizeDegrees, type BasicStats, type DegreeSummary, type DegreeSummaryOptions } from './degreeStats';
import { connectedComponents, degrees, headGraphFromDistances } from './headGraph';
import { DEFAULT_GRAPH_EPS, hiddenDegrees, mlpDegrees } from './neuronGraph';

export interface SummarizeOptions extends DegreeSummaryOptions {
  /** Magnitude below which a weight is no edge of the neuron graph. Default 1e-4 (Eq. 1's eps). */
  eps?: number;
  /** Head-similarity threshold (l-infinity distance) of the head graph; >= 0, required. */
  theta: number;
  /** Compare Q/K/V biases too when measuring head distances. Default false (as the paper). */
  includeBias?: boolean;
}

export interface AttentionGraphSummary {
  name: string;
  heads: number;
  originalHeads: number;
  /** Original ids of the surviving heads. */
  headIds: number[];
  /** Pairs of heads within `theta`. */
  edges: number;
  /** Degrees of the head graph (similar heads per head). */
  degree: BasicStats;
  /** Connected components of the head graph; `heads` when no two heads are similar. */
  components: number;
  /** Sizes of the components, largest first. */
  componentSizes: number[];
  /** Heads with no similar head (nothing to merge them into). */
  isolatedHeads: number;
  /** Per head, the distance to its nearest other head: how far `theta` is from merging anything. */
  nearestDistance: BasicStats;
}

export interface MlpGraphSummary {
  name: string;
  /** Model width `d`. */
  inputSize: number;
  /** Current width `de`. */
  intermediateSize: number;
  /** Width before compaction. */
  originalIntermediateSize: number;
  edges: number;
  /** Edges over `2 * d * de` (current shapes). */
  density: number;
  /** Total degree (in + out) of the hidden neurons: the preferential-attachment view. */
  hidden: DegreeSummary;
  /** In-degree of the hidden neurons (rows of `Win`, the neurons Eq. 1 weights). */
  hiddenIn: DegreeSummary;
  /** In-degree of the output dimensions (rows of `Wout`, the other neurons Eq. 1 weights). */
  outputIn: DegreeSummary;
  /** Out-degree of the hidden neurons (columns of `Wout`). */
  hiddenOut: BasicStats;
  /** Out-degree of the input dimensions (columns of `Win`). */
  inputOut: BasicStats;
}

export interface LayerGraphSummary {
  layer: number;
  attention: AttentionGraphSummary | null;
  mlp: MlpGraphSummary | null;
}

export interface ModelGraphSummary {
  eps: number;
  theta: number;
  hiddenSize: number;
  layers: LayerGraphSummary[];
  totals: {
    heads: number;
    originalHeads: number;
    headEdges: number;
    mlpEdges: number;
    /** Edges of the dense MLPs at their original widths. */
    mlpDenseEdges: number;
    hiddenNeurons: number;
    /** Hidden neurons of degree 0 over all layers (compaction would remove them). */
    isolatedHiddenNeurons: number;
  };
}

/** Head-graph summary of one block. */
export function summarizeAttentionBlock(block: AttentionBlock, options: SummarizeOptions): AttentionGraphSummary {
  const dist = headDistances(block, { includeBias: options.includeBias });
  const g = headGraphFromDistances(dist, { theta: options.theta, headIds: block.headIds });
  const comps = connectedComponents(g).map((c) => c.length).sort((a, b) => b - a);
  const deg = degrees(g);
  const nearest = dist.map((row, a) => Math.min(...row.filter((_, b) => b !== a)));
  return {
    name: block.name,
    heads: block.numHeads,
    originalHeads: block.originalNumHeads,
    headIds: [...block.headIds],
    edges: g.size,
    degree: basicStats(deg),
    components: comps.length,
    componentSizes: comps,
    isolatedHeads: deg.filter((v) => v === 0).length,
    // A single head has no neighbour: report no distances rather than Infinity (not JSON).
    nearestDistance: basicStats(nearest.filter(Number.isFinite)),
  };
}

/** Neuron-graph summary of one MLP block. */
export function summarizeMlpBlock(block: MlpBlock, options: Omit<SummarizeOptions, 'theta'> = {}): MlpGraphSummary {
  const deg = mlpDegrees(block, { eps: options.eps ?? DEFAULT_GRAPH_EPS });
  const stat = { topFraction: options.topFraction, powerLaw: options.powerLaw };
  const [de, d] = block.input.weight.shape;
  return {
    name: block.name,
    inputSize: d,
    intermediateSize: de,
    originalIntermediateSize: block.originalIntermediateSize ?? de,
    edges: deg.edges,
    density: deg.density,
    hidden: summarizeDegrees(hiddenDegrees(deg), stat),
    hiddenIn: summarizeDegrees(deg.hiddenIn, stat),
    outputIn: summarizeDegrees(deg.outputIn, stat),
    hiddenOut: basicStats(deg.hiddenOut),
    inputOut: basicStats(deg.inputOut),
  };
}

/** The graph report of a whole model; see the module comment for its use. */
export function summarizeModelGraphs(model: PrunableModel, options: SummarizeOptions): ModelGraphSummary {
  const eps = options.eps ?? DEFAULT_GRAPH_EPS;
  if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`summarizeModelGraphs: eps must be a finite number > 0, got ${eps}`);
  if (!(options.theta >= 0)) throw new Error(`summarizeModelGraphs: theta must be a number >= 0, got ${options.theta}`);
  const opts = { ...options, eps };
  const byLayer = new Map<number, LayerGraphSummary>();
  const at = (layer: number) => {
    let s = byLayer.get(layer);
    if (!s) byLayer.set(layer, (s = { layer, attention: null, mlp: null }));
    return s;
  };
  for (const b of model.attentionBlocks()) at(b.layer).attention = summarizeAttentionBlock(b, opts);
  for (const b of model.mlpBlocks()) at(b.layer).mlp = summarizeMlpBlock(b, opts);
  const layers = [...byLayer.values()].sort((a, b) => a.layer - b.layer);
  const totals = { heads: 0, originalHeads: 0, headEdges: 0, mlpEdges: 0, mlpDenseEdges: 0, hiddenNeurons: 0, isolatedHiddenNeurons: 0 };
  for (const { attention: a, mlp: m } of layers) {
    if (a) {
      totals.heads += a.heads;
      totals.originalHeads += a.originalHeads;
      totals.headEdges += a.edges;
    }
    if (m) {
      totals.mlpEdges += m.edges;
      totals.mlpDenseEdges += 2 * m.inputSize * m.originalIntermediateSize;
      totals.hiddenNeurons += m.intermediateSize;
      totals.isolatedHiddenNeurons += m.hidden.isolated;
    }
  }
  return { eps, theta: options.theta, hiddenSize: model.hiddenSize, layers, totals };
}
