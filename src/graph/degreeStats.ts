/**
 * Statistics of degree sequences that tell whether a layer's connectivity is "rich get richer":
 * histogram, standard deviation (the paper's Fig. 2 number), Gini coefficient, the share of edges
 * held by the best-connected neurons, the shares of full and empty neurons, and the heavy-tail
 * tests (a power-law fit, its goodness of fit and the comparisons with the alternatives; see
 * heavyTail.ts).
 */
import { testHeavyTail, type Comparison, type GoodnessOfFit, type HeavyTailOptions } from './heavyTail';
import type { PowerLawFit } from './powerLaw';

/** How many nodes have each degree; `degree` ascending, only degrees that occur. */
export interface DegreeHistogram {
  degree: number[];
  count: number[];
}

export function degreeHistogram(degrees: ArrayLike<number>): DegreeHistogram {
  const counts = new Map<number, number>();
  for (let i = 0; i < degrees.length; i++) counts.set(degrees[i], (counts.get(degrees[i]) ?? 0) + 1);
  const degree = [...counts.keys()].sort((a, b) => a - b);
  return { degree, count: degree.map((d) => counts.get(d)!) };
}

function sortedAscending(values: ArrayLike<number>): number[] {
  return Array.from(values).sort((a, b) => a - b);
}

/**
 * Gini coefficient of non-negative values: 0 when all are equal (a dense layer), close to 1 when
 * one node holds everything. Returns 0 for an empty or all-zero sequence.
 */
export function giniCoefficient(values: ArrayLike<number>): number {
  const x = sortedAscending(values);
  const n = x.length;
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    if (x[i] < 0) throw new Error(`giniCoefficient: values must be >= 0, got ${x[i]}`);
    total += x[i];
    weighted += (2 * (i + 1) - n - 1) * x[i];
  }
  return total === 0 ? 0 : weighted / (n * total);
}

/**
 * Share of all edge endpoints held by the top `fraction` of nodes by degree ("rich club"
 * share): `ceil(fraction * n)` nodes. With one node kind per edge side (e.g. the hidden neurons
 * of an MLP), this is the fraction of edges incident to the top nodes. A uniform layer gives
 * about `fraction`; preferential attachment pushes it up. Returns 0 when there are no edges.
 */
export function topShare(degrees: ArrayLike<number>, fraction = 0.1): number {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`topShare: fraction must be in (0, 1], got ${fraction}`);
  const x = sortedAscending(degrees);
  const k = Math.ceil(fraction * x.length);
  let total = 0;
  let top = 0;
  for (let i = 0; i < x.length; i++) {
    total += x[i];
    if (i >= x.length - k) top += x[i];
  }
  return total === 0 ? 0 : top / total;
}

export interface BasicStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  std: number;
}

/** Count, min, max, mean, median and population standard deviation; zeros for an empty sequence. */
export function basicStats(values: ArrayLike<number>): BasicStats {
  const x = sortedAscending(values);
  const n = x.length;
  if (n === 0) return { count: 0, min: 0, max: 0, mean: 0, median: 0, std: 0 };
  const mean = x.reduce((a, b) => a + b, 0) / n;
  const variance = x.reduce((a, b) => a + (b - mean) * (b - mean), 0) / n;
  const median = n % 2 ? x[(n - 1) / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
  return { count: n, min: x[0], max: x[n - 1], mean, median, std: Math.sqrt(variance) };
}

export interface DegreeSummaryOptions {
  /** Fraction of nodes in the "rich club". Default 0.1 (the top 10%). */
  topFraction?: number;
  /** Largest possible degree (a neuron's fan-in, say), for the share of full nodes. Default: the largest observed. */
  maxDegree?: number;
  /** Options of the heavy-tail tests, or false to skip them (statistics only). */
  powerLaw?: HeavyTailOptions | false;
}

/** Everything the analyses report about one degree sequence; plain JSON. */
export interface DegreeSummary extends BasicStats {
  /** Nodes of degree 0 (dead neurons, removable by compaction). */
  isolated: number;
  /** `isolated / count`. */
  emptyFraction: number;
  /** The largest possible degree the full share refers to. */
  maxDegree: number;
  /** Share of nodes of degree `maxDegree` (neurons connected to everything they can be). */
  fullFraction: number;
  gini: number;
  /** Share of edges held by the top `topFraction` of nodes. */
  topShare: number;
  topFraction: number;
  /** Null when no fit is possible (e.g. every node has the same degree) or the tests were skipped. */
  powerLaw: PowerLawFit | null;
  /** The bootstrap p-value of the fit; null unless asked for. */
  goodnessOfFit: GoodnessOfFit | null;
  /** Likelihood-ratio tests against the alternatives; empty without a fit. */
  comparisons: Comparison[];
}

export function summarizeDegrees(degrees: ArrayLike<number>, options: DegreeSummaryOptions = {}): DegreeSummary {
  const topFraction = options.topFraction ?? 0.1;
  const stats = basicStats(degrees);
  const maxDegree = options.maxDegree ?? stats.max;
  if (stats.max > maxDegree) throw new Error(`summarizeDegrees: a degree of ${stats.max} exceeds maxDegree ${maxDegree}`);
  let isolated = 0;
  let full = 0;
  for (let i = 0; i < degrees.length; i++) {
    if (degrees[i] === 0) isolated++;
    if (degrees[i] === maxDegree) full++;
  }
  const tests = options.powerLaw === false ? { fit: null, goodnessOfFit: null, comparisons: [] } : testHeavyTail(degrees, options.powerLaw);
  const share = (k: number) => (stats.count === 0 ? 0 : k / stats.count);
  return {
    ...stats,
    isolated,
    emptyFraction: share(isolated),
    maxDegree,
    fullFraction: maxDegree > 0 ? share(full) : 0,
    gini: giniCoefficient(degrees),
    topShare: topShare(degrees, topFraction),
    topFraction,
    powerLaw: tests.fit,
    goodnessOfFit: tests.goodnessOfFit,
    comparisons: tests.comparisons,
  };
}
