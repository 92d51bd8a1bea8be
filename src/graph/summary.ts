/**
 * One JSON-able report of the graph views of a whole model: per layer, the head graph
 * (Algorithm 2 at `theta`) and the neuron graph of the MLP (edges = weights with `|w| >= eps`),
 * with degree statistics and heavy-tail tests; the same statistics pooled over the model. This is
 * what `neuroprune analyze` prints.
 *
 * Usage:
 * ```ts
 * const report = summarizeModelGraphs(model, { theta: 0.2 });          // eps defaults to 1e-4
 * writeFileSync('graphs.json', JSON.stringify(report, null, 2));
 * report.layers[3].mlp?.hidden.powerLaw?.alpha;                        // exponent of layer 3's hidden degrees
 * report.layers[3].mlp?.hidden.comparisons;                            // power law against lognormal, ...
 * report.model.hidden.gini;                                            // inequality of degrees over all layers
 * ```
 * Every field is a number, string, boolean, null, array or plain object: no typed arrays, no
 * NaN (statistics of empty sequences are 0, impossible fits are null).
 */
import type { AttentionBlock, MlpBlock, PrunableModel } from '../models/blocks';
import { density } from 'graphology-metrics/graph/density';
import { checkEps, checkTheta, DEFAULT_EPS } from '../neuroprune/checks';
import type { DominatingStrategy } from '../neuroprune/dominating';
import { headDistances } from '../neuroprune/similarity';
import { basicStats, summarizeDegrees, type BasicStats, type DegreeSummary } from './degreeStats';
import type { HeavyTailOptions } from './heavyTail';
import { componentSizes, headGraphFromDistances } from './headGraph';
import { hiddenDegrees, mlpDegrees } from './neuronGraph';

export interface SummarizeOptions {
  /** Magnitude below which a weight is no edge of the neuron graph. Default 1e-4 (Eq. 1's eps). */
  eps?: number;
  /** Head-similarity threshold (l-infinity distance) of the head graph; >= 0, required. */
  theta: number;
  /** Compare Q/K/V biases too when measuring head distances. Default false (as the paper). */
  includeBias?: boolean;
  /** How the kept heads of the head graphs are chosen. Default 'paper' (Algorithm 3). */
  strategy?: DominatingStrategy;
  /** Fraction of nodes in the "rich club". Default 0.1 (the top 10%). */
  topFraction?: number;
  /** Options of the heavy-tail tests of the hidden neurons' degrees (e.g. `{ bootstrap: 200 }`), or false to skip them. */
  powerLaw?: HeavyTailOptions | false;
}

export interface AttentionGraphSummary {
  name: string;
  heads: number;
  originalHeads: number;
  /** Original ids of the surviving heads. */
  headIds: number[];
  /** Pairs of heads within `theta`. */
  edges: number;
  /** Edges over the `k (k - 1) / 2` possible pairs (graphology-metrics). */
  density: number;
  /** Heads Algorithm 3 would keep at `theta` (the dominating set's size). */
  keptAtTheta: number;
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
  /** Total degree (in + out, at most `2d`) of the hidden neurons, with the heavy-tail tests (bootstrap included): the preferential-attachment view. */
  hidden: DegreeSummary;
  /** In-degree of the hidden neurons (rows of `Win`, at most `d`; the neurons Eq. 1 weights), with the fit and the likelihood ratios. */
  hiddenIn: DegreeSummary;
  /** Out-degree of the hidden neurons (columns of `Wout`, at most `d`). */
  hiddenOut: DegreeSummary;
  /** In-degree of the output dimensions (rows of `Wout`, at most `de`; the other neurons Eq. 1 weights). */
  outputIn: DegreeSummary;
  /** Out-degree of the input dimensions (columns of `Win`, at most `de`). */
  inputOut: DegreeSummary;
}

/** Degree statistics of the hidden neurons of all layers together (no fits: the layers' laws differ). */
export interface PooledDegreeSummary {
  hidden: DegreeSummary;
  hiddenIn: DegreeSummary;
  hiddenOut: DegreeSummary;
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
  /** Null for a model without MLP blocks. */
  model: PooledDegreeSummary | null;
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
  const g = headGraphFromDistances(dist, { theta: options.theta, headIds: block.headIds, strategy: options.strategy });
  const deg = g.mapNodes((node) => g.degree(node));
  const comps = componentSizes(g);
  const nearest = dist.map((row, a) => Math.min(...row.filter((_, b) => b !== a)));
  return {
    name: block.name,
    heads: block.numHeads,
    originalHeads: block.originalNumHeads,
    headIds: [...block.headIds],
    edges: g.size,
    density: g.order > 1 ? density(g) : 0,
    keptAtTheta: g.filterNodes((_, a) => a.kept).length,
    degree: basicStats(deg),
    components: comps.length,
    componentSizes: comps,
    isolatedHeads: deg.filter((v) => v === 0).length,
    // A single head has no neighbour: report no distances rather than Infinity (not JSON).
    nearestDistance: basicStats(nearest.filter(Number.isFinite)),
  };
}

/** The degree sequences of one MLP block with their largest possible values. */
function mlpSequences(block: MlpBlock, eps: number) {
  const deg = mlpDegrees(block, { eps });
  const [de, d] = block.input.weight.shape;
  // A gate is a second incoming map: in-degrees can reach twice the width.
  const fanIn = block.gate ? 2 : 1;
  return {
    deg, d, de,
    hidden: { values: hiddenDegrees(deg), max: (fanIn + 1) * d },
    hiddenIn: { values: deg.hiddenIn, max: fanIn * d },
    hiddenOut: { values: deg.hiddenOut, max: d },
    outputIn: { values: deg.outputIn, max: de },
    inputOut: { values: deg.inputOut, max: fanIn * de },
  };
}

/** Neuron-graph summary of one MLP block. */
export function summarizeMlpBlock(block: MlpBlock, options: Omit<SummarizeOptions, 'theta'> = {}): MlpGraphSummary {
  const eps = options.eps ?? DEFAULT_EPS;
  checkEps(eps, `summarizeMlpBlock ${block.name}`);
  const seq = mlpSequences(block, eps);
  const tests = options.powerLaw ?? {};
  // The bootstrap (the slow part: a full refit per replicate) runs on the total degree only.
  const summary = (s: { values: ArrayLike<number>; max: number }, fit: 'bootstrap' | 'fit' | false) =>
    summarizeDegrees(s.values, {
      topFraction: options.topFraction,
      maxDegree: s.max,
      powerLaw: fit === false || tests === false ? false : fit === 'fit' ? { ...tests, bootstrap: 0 } : tests,
    });
  return {
    name: block.name,
    inputSize: seq.d,
    intermediateSize: seq.de,
    originalIntermediateSize: block.originalIntermediateSize ?? seq.de,
    edges: seq.deg.edges,
    density: seq.deg.density,
    hidden: summary(seq.hidden, 'bootstrap'),
    hiddenIn: summary(seq.hiddenIn, 'fit'),
    hiddenOut: summary(seq.hiddenOut, false),
    outputIn: summary(seq.outputIn, false),
    inputOut: summary(seq.inputOut, false),
  };
}

/** The hidden neurons' degree statistics pooled over blocks; null without blocks. */
function pooledSummary(blocks: readonly MlpBlock[], options: SummarizeOptions & { eps: number }): PooledDegreeSummary | null {
  if (blocks.length === 0) return null;
  const seqs = blocks.map((b) => mlpSequences(b, options.eps));
  const pool = (key: 'hidden' | 'hiddenIn' | 'hiddenOut') =>
    summarizeDegrees(seqs.flatMap((s) => Array.from(s[key].values)), {
      topFraction: options.topFraction,
      maxDegree: Math.max(...seqs.map((s) => s[key].max)),
      powerLaw: false,
    });
  return { hidden: pool('hidden'), hiddenIn: pool('hiddenIn'), hiddenOut: pool('hiddenOut') };
}

/** The graph report of a whole model; see the module comment for its use. */
export function summarizeModelGraphs(model: PrunableModel, options: SummarizeOptions): ModelGraphSummary {
  const eps = options.eps ?? DEFAULT_EPS;
  checkEps(eps, 'summarizeModelGraphs');
  checkTheta(options.theta, 'summarizeModelGraphs');
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
  return { eps, theta: options.theta, hiddenSize: model.hiddenSize, layers, model: pooledSummary(model.mlpBlocks(), opts), totals };
}
