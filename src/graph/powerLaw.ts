/**
 * Discrete power-law fits of degree distributions, after Clauset, Shalizi & Newman,
 * "Power-law distributions in empirical data" (SIAM Review 51, 2009), with the conventions of the
 * Python `powerlaw` package (Alstott et al., version 2.0) so that the numbers can be checked
 * against it (test/fixtures/powerlaw, made by scripts/make_powerlaw_fixtures.py):
 *
 * - Model `p(x) = x^-alpha / zeta(alpha, xmin)` for integers `x >= xmin`, exactly normalised.
 * - For a given `xmin`, alpha maximises the likelihood (SciPy's bounded Nelder-Mead, `tol=1e-4`,
 *   from `1 + n / sum ln(x / xmin)`), inside `alphaRange` (default `powerlaw`'s (0, 3)). For
 *   `xmin >= 10` the closed form `1 + n / sum ln(x / (xmin - 1/2))` (Clauset et al., Eq. 3.7) is
 *   taken as it is when it lies in (1.5, 3].
 * - A fit whose alpha is within 0.01 of a bound, or whose search did not converge, is not valid.
 * - `xmin` is the valid candidate with the smallest KS distance; candidates are the distinct values
 *   except the two largest, and (our addition) those leaving at least `minTail` samples.
 * - The KS distance compares `P(X < x)` of the data and of the law at the observed values.
 *
 * What the package does not do and this module adds: a minimum tail size, and a fit result that
 * says when alpha sits at its search bound (then it is a bound, not an estimate).
 */
import { mulberry32 } from '../util/random';
import { nelderMead } from './nelderMead';
import { hurwitzZeta } from './special';

export { hurwitzZeta } from './special';

/** `log(10^-307)`: `powerlaw` replaces a zero likelihood by the smallest decade of a double. */
export const LOG_TINY = Math.log(1e-307);

/** Distance from a bound below which a fitted parameter counts as "at the bound" (`powerlaw`'s 0.01). */
export const BOUND_MARGIN = 0.01;

/** Fewest samples in a fitted tail unless the caller says otherwise (see `PowerLawOptions.minTail`). */
export const DEFAULT_MIN_TAIL = 50;

export interface PowerLawFit {
  /** Fitted exponent `alpha` of `p(x) ~ x^-alpha`; a bound when `atBound` (then not an estimate). */
  alpha: number;
  /** Smallest value of the power-law tail. */
  xmin: number;
  /** Kolmogorov-Smirnov distance between the tail and the fitted law (the `xmin` criterion). */
  ks: number;
  /** Standard error of `alpha`, `(alpha - 1) / sqrt(nTail)` (Clauset et al., Eq. 3.2). */
  sigma: number;
  /** Samples `>= xmin`. */
  nTail: number;
  /** Samples `>= 1` that entered the fit (zeros are dropped: a power law has no mass at 0). */
  n: number;
  /** Samples equal to 0, reported so that isolated neurons are not silently forgotten. */
  zeros: number;
  /** Log-likelihood of the tail at the fitted `alpha`. */
  logLikelihood: number;
  /** Alpha is within 0.01 of a bound of `alphaRange`: the likelihood wanted a value outside it. */
  atBound: boolean;
  /** `powerlaw`'s validity: alpha inside its range, not at a bound, and the search converged. */
  valid: boolean;
  /** Why the fit should not be read as an estimate; null when it can. */
  warning: string | null;
}

export interface PowerLawOptions {
  /** Fix `xmin` instead of choosing it by KS distance. Default: chosen. */
  xmin?: number;
  /**
   * Fewest tail samples a candidate `xmin` must leave. Default 50: Clauset et al. find that below
   * about 50 samples the tests cannot tell a power law from its alternatives, and the KS scan
   * otherwise favours a handful of extreme points (on pruned layers: 15 points and alpha 20).
   * 1 reproduces `powerlaw`, which has no such limit.
   */
  minTail?: number;
  /** Search interval of alpha. Default [0, 3], `powerlaw`'s (a discrete power law needs alpha > 1). */
  alphaRange?: [number, number];
}

/** Exponent of one tail: `powerlaw`'s `Power_Law` fit at a fixed `xmin`. */
interface TailFit {
  alpha: number;
  /** In range, converged, not at a bound. */
  valid: boolean;
  atBound: boolean;
  ks: number;
}

/** Negative log-likelihood of the tail at alpha, as `powerlaw` evaluates it (including outside the range). */
function negLogLikelihood(alpha: number, nTail: number, sumLog: number, xmin: number, range: [number, number]): number {
  if (!(alpha > range[0] && alpha < range[1])) return -nTail * LOG_TINY;
  if (alpha < 1) return NaN; // zeta diverges: SciPy's zeta gives NaN there
  if (alpha === 1) return -nTail * LOG_TINY;
  return alpha * sumLog + nTail * Math.log(hurwitzZeta(alpha, xmin));
}

/**
 * `powerlaw`'s KS distance: `P(X < x)` of the tail against the law's, at each distinct tail value.
 * The law's `zeta(alpha, x)` is carried from one value to the next by subtracting the terms in
 * between (exact up to rounding, about 1e-13 here) across short gaps, and recomputed across long
 * ones: the `xmin` scan calls this once per candidate, and layers of thousands of neurons have a
 * thousand candidates.
 */
function ksDistance(tail: readonly number[], alpha: number, xmin: number, range: [number, number]): number {
  const n = tail.length;
  const inRange = alpha > range[0] && alpha < range[1] && alpha > 1;
  const zmin = inRange ? hurwitzZeta(alpha, xmin) : NaN;
  let z = zmin;
  let at = xmin;
  let dPlus = -Infinity;
  let dMinus = -Infinity;
  for (let i = 0; i < n; i++) {
    if (i > 0 && tail[i] === tail[i - 1]) continue;
    const empirical = i / n;
    let model = 1e-307;
    if (inRange) {
      // Short gaps by subtraction, long ones (sparse far tails) by a fresh evaluation.
      if (tail[i] - at > 16) {
        z = hurwitzZeta(alpha, tail[i]);
        at = tail[i];
      }
      for (; at < tail[i]; at++) z -= Math.pow(at, -alpha);
      model = (1 - z - (1 - zmin)) / (1 - (1 - zmin));
    }
    dPlus = Math.max(dPlus, model - empirical);
    dMinus = Math.max(dMinus, empirical - model);
  }
  return Math.max(dPlus, dMinus);
}

function fitTail(tail: readonly number[], xmin: number, range: [number, number]): TailFit {
  const n = tail.length;
  let sumLog = 0;
  for (const x of tail) sumLog += Math.log(x);
  const inRange = (a: number) => a > range[0] && a < range[1];
  // Closed form of Eq. 3.7 where `powerlaw` trusts it (xmin >= 10, estimate in (1.5, 3]).
  if (xmin >= 10) {
    const estimate = 1 + n / (sumLog - n * Math.log(xmin - 0.5));
    if (estimate > 1.5 && estimate <= range[1]) {
      return { alpha: estimate, valid: inRange(estimate), atBound: false, ks: ksDistance(tail, estimate, xmin, range) };
    }
  }
  const start = Math.max(1, 1 + n / (sumLog - n * Math.log(xmin)));
  const res = nelderMead(([a]) => negLogLikelihood(a, n, sumLog, xmin, range), [start], { lower: [range[0]], upper: [range[1]], tol: 1e-4 });
  const alpha = res.x[0];
  const atBound = alpha - BOUND_MARGIN < range[0] || alpha + BOUND_MARGIN > range[1];
  return { alpha, valid: inRange(alpha) && res.success && !atBound, atBound, ks: ksDistance(tail, alpha, xmin, range) };
}

function checkOptions(options: PowerLawOptions): { minTail: number; range: [number, number] } {
  const minTail = options.minTail ?? DEFAULT_MIN_TAIL;
  const range = options.alphaRange ?? [0, 3];
  if (!(Number.isInteger(minTail) && minTail >= 1)) throw new Error(`fitPowerLaw: minTail must be an integer >= 1, got ${minTail}`);
  if (!(range[0] >= 0 && range[1] > Math.max(1, range[0]))) throw new Error(`fitPowerLaw: alphaRange must satisfy 0 <= lo < hi and hi > 1, got [${range}]`);
  if (options.xmin !== undefined && !(Number.isInteger(options.xmin) && options.xmin >= 1)) {
    throw new Error(`fitPowerLaw: xmin must be an integer >= 1, got ${options.xmin}`);
  }
  return { minTail, range };
}

/** Positive samples sorted ascending, and the number of zeros; rejects anything but integers >= 0. */
export function positiveSorted(samples: ArrayLike<number>, where: string): { xs: number[]; zeros: number } {
  let zeros = 0;
  const xs: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i];
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`${where}: samples must be integers >= 0, sample ${i} is ${v}`);
    if (v === 0) zeros++;
    else xs.push(v);
  }
  xs.sort((a, b) => a - b);
  return { xs, zeros };
}

function warningOf(fit: TailFit, range: [number, number], scanned: boolean): string | null {
  if (fit.atBound) {
    const side = fit.alpha + BOUND_MARGIN > range[1] ? `above ${range[1]}` : `below ${range[0]}`;
    return `alpha is at its search bound (the likelihood wants alpha ${side}${scanned ? ' for every x_min' : ''}): a bound, not an estimate; the tail falls faster than a power law`;
  }
  if (!fit.valid) return 'the alpha search did not converge';
  return null;
}

/**
 * Fits a discrete power law to integer samples (e.g. neuron degrees). Returns null when no fit is
 * possible: fewer than 4 distinct positive values (`powerlaw` needs two candidate `xmin`), no
 * candidate leaves `minTail` samples, or a fixed `xmin` leaves fewer than `minTail` samples or a
 * single distinct value.
 */
export function fitPowerLaw(samples: ArrayLike<number>, options: PowerLawOptions = {}): PowerLawFit | null {
  const { minTail, range } = checkOptions(options);
  const { xs, zeros } = positiveSorted(samples, 'fitPowerLaw');
  const n = xs.length;
  const result = (i: number, xmin: number, fit: TailFit, scanned: boolean): PowerLawFit => {
    const nTail = n - i;
    let sumLog = 0;
    for (let j = i; j < n; j++) sumLog += Math.log(xs[j]);
    return {
      alpha: fit.alpha, xmin, ks: fit.ks, sigma: (fit.alpha - 1) / Math.sqrt(nTail), nTail, n, zeros,
      logLikelihood: -negLogLikelihood(fit.alpha, nTail, sumLog, xmin, range),
      atBound: fit.atBound, valid: fit.valid, warning: warningOf(fit, range, scanned),
    };
  };

  if (options.xmin !== undefined) {
    const i = xs.findIndex((v) => v >= options.xmin!);
    if (i < 0 || n - i < Math.max(2, minTail) || xs[i] === xs[n - 1]) return null;
    return result(i, options.xmin, fitTail(xs.slice(i), options.xmin, range), false);
  }

  const scan = scanCandidates(xs, minTail, range);
  if (scan === null || scan.length === 0) return null;
  let best: ScannedCandidate | null = null;
  let bestAny: ScannedCandidate | null = null;
  for (const c of scan) {
    if (!bestAny || c.fit.ks < bestAny.fit.ks) bestAny = c;
    if (c.fit.valid && (!best || c.fit.ks < best.fit.ks)) best = c;
  }
  const chosen = best ?? bestAny!;
  return result(chosen.i, xs[chosen.i], chosen.fit, true);
}

interface ScannedCandidate {
  /** Index of the candidate's first sample in the sorted samples. */
  i: number;
  fit: TailFit;
}

/**
 * Fits at every candidate `xmin`: every distinct value but the two largest (`powerlaw`'s rule),
 * leaving >= minTail samples. Null when there are fewer than two candidates at all (`powerlaw`
 * gives up there too).
 */
function scanCandidates(xs: readonly number[], minTail: number, range: [number, number]): ScannedCandidate[] | null {
  const distinct: number[] = [];
  for (let i = 0; i < xs.length; i++) if (i === 0 || xs[i] !== xs[i - 1]) distinct.push(i);
  const all = distinct.slice(0, Math.max(0, distinct.length - 2));
  if (all.length < 2) return null;
  return all.filter((i) => xs.length - i >= minTail).map((i) => ({ i, fit: fitTail(xs.slice(i), xs[i], range) }));
}

/**
 * Every candidate of the `xmin` scan (for plots of KS distance against `xmin`, and for checking the
 * scan against `powerlaw`'s `xmin_fitting_results`).
 */
export function powerLawCandidates(samples: ArrayLike<number>, options: Omit<PowerLawOptions, 'xmin'> = {}): { xmin: number; nTail: number; alpha: number; ks: number; valid: boolean }[] {
  const { minTail, range } = checkOptions(options);
  const { xs } = positiveSorted(samples, 'powerLawCandidates');
  return (scanCandidates(xs, minTail, range) ?? []).map(({ i, fit }) => ({ xmin: xs[i], nTail: xs.length - i, alpha: fit.alpha, ks: fit.ks, valid: fit.valid }));
}

/** `P(X >= x)` under a fitted law, for `x >= xmin` (the curve drawn over an empirical CCDF). */
export function powerLawCcdf(fit: Pick<PowerLawFit, 'alpha' | 'xmin'>, x: number): number {
  if (x <= fit.xmin) return 1;
  return hurwitzZeta(fit.alpha, x) / hurwitzZeta(fit.alpha, fit.xmin);
}

/** Uniform numbers in [0, 1) from a seed (mulberry32, src/util/random.ts), so samples are reproducible. */
export function seededRandom(seed: number): () => number {
  const rng = mulberry32(seed);
  return () => rng.next();
}

/**
 * `count` exact samples of the discrete power law `(alpha, xmin)`, by inverting its CCDF with a
 * doubling-then-bisection search (no continuous approximation, so fits can be tested tightly).
 */
export function samplePowerLaw(count: number, alpha: number, xmin: number, random: () => number): number[] {
  if (!(alpha > 1)) throw new Error(`samplePowerLaw: alpha must be > 1, got ${alpha}`);
  if (!(Number.isInteger(xmin) && xmin >= 1)) throw new Error(`samplePowerLaw: xmin must be an integer >= 1, got ${xmin}`);
  const z = hurwitzZeta(alpha, xmin);
  const ccdf = (x: number) => hurwitzZeta(alpha, x) / z;
  const out: number[] = [];
  for (let s = 0; s < count; s++) {
    const u = 1 - random(); // in (0, 1]
    // Find the largest x with ccdf(x) >= u; ccdf(xmin) = 1 >= u always.
    let lo = xmin;
    let hi = xmin + 1;
    while (ccdf(hi) >= u) {
      lo = hi;
      hi = xmin + 2 * (hi - xmin);
      if (hi > 1e12) break; // u below float resolution of the far tail
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (ccdf(mid) >= u) lo = mid;
      else hi = mid;
    }
    out.push(lo);
  }
  return out;
}
