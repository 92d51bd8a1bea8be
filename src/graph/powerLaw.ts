/**
 * Discrete power-law fits of degree distributions, after Clauset, Shalizi & Newman,
 * "Power-law distributions in empirical data" (SIAM Review 51, 2009).
 *
 * Model: `p(x) = x^-alpha / zeta(alpha, xmin)` for integers `x >= xmin >= 1`. For a fixed `xmin`
 * the exponent is the exact discrete maximum-likelihood estimate (not the continuous
 * approximation `1 + n / sum ln(x / (xmin - 1/2))`, which is biased for small `xmin`, and small
 * `xmin` is the common case for neuron degrees). `xmin` is the candidate whose fitted tail is
 * closest to the data in Kolmogorov-Smirnov distance.
 */

/** Bernoulli-number coefficients `B_2j / (2j)!` of the Euler-Maclaurin tail, j = 1..4. */
const EM_COEFFS = [1 / 12, -1 / 720, 1 / 30240, -1 / 1209600];

/** Terms summed directly before the Euler-Maclaurin tail: with a >= 10 the tail error is < 1e-12 relative. */
const DIRECT_TERMS = 10;

/**
 * The Hurwitz zeta function `zeta(s, q) = sum_{k>=0} (k + q)^-s` for `s > 1`, `q > 0`:
 * the normaliser of the discrete power law. Direct sum of the first terms, then the
 * Euler-Maclaurin expansion of the rest (accurate to about 1e-12 relative).
 */
import { mulberry32 } from '../util/random';
export function hurwitzZeta(s: number, q: number): number {
  if (!(s > 1)) throw new Error(`hurwitzZeta: s must be > 1, got ${s}`);
  if (!(q > 0)) throw new Error(`hurwitzZeta: q must be > 0, got ${q}`);
  let sum = 0;
  for (let k = 0; k < DIRECT_TERMS; k++) sum += Math.pow(q + k, -s);
  const a = q + DIRECT_TERMS;
  sum += Math.pow(a, 1 - s) / (s - 1) + Math.pow(a, -s) / 2;
  // sum_j B_2j/(2j)! * s(s+1)...(s+2j-2) * a^(-s-2j+1)
  let rising = s; // s(s+1)...(s+2j-2), starting at j = 1
  let power = Math.pow(a, -s - 1);
  for (let j = 0; j < EM_COEFFS.length; j++) {
    sum += EM_COEFFS[j] * rising * power;
    rising *= (s + 2 * j + 1) * (s + 2 * j + 2);
    power /= a * a;
  }
  return sum;
}

export interface PowerLawFit {
  /** Fitted exponent `alpha` of `p(x) ~ x^-alpha`. */
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
}

export interface PowerLawOptions {
  /** Fix `xmin` instead of choosing it by KS distance. Default: chosen. */
  xmin?: number;
  /**
   * Fewest tail samples a candidate `xmin` must leave. Default 10: below that the KS distance
   * of a handful of points is small by chance and the scan would favour a tiny extreme tail.
   */
  minTail?: number;
  /**
   * Most `xmin` candidates tried (distinct sample values, thinned evenly when there are more).
   * Default 100; each costs one MLE and one pass over the tail's range.
   */
  maxCandidates?: number;
  /** Search interval of `alpha`. Default [1.0001, 20]. */
  alphaRange?: [number, number];
}

/** Exact discrete MLE of alpha for a tail `x >= xmin`, by golden-section search (the log-likelihood is concave). */
function mleAlpha(n: number, sumLog: number, xmin: number, range: [number, number]): { alpha: number; logLikelihood: number } {
  const ll = (a: number) => -n * Math.log(hurwitzZeta(a, xmin)) - a * sumLog;
  const g = (Math.sqrt(5) - 1) / 2;
  let [lo, hi] = range;
  let c = hi - g * (hi - lo);
  let d = lo + g * (hi - lo);
  let fc = ll(c);
  let fd = ll(d);
  while (hi - lo > 1e-7) {
    if (fc > fd) {
      hi = d; d = c; fd = fc;
      c = hi - g * (hi - lo); fc = ll(c);
    } else {
      lo = c; c = d; fc = fd;
      d = lo + g * (hi - lo); fd = ll(d);
    }
  }
  const alpha = (lo + hi) / 2;
  return { alpha, logLikelihood: ll(alpha) };
}

/**
 * KS distance between the empirical CDF of `tail` (sorted ascending, all `>= xmin`) and the
 * fitted discrete law, checked at every integer of the tail's range (the model CDF jumps at
 * every integer, the empirical one only at observed values).
 */
function ksDistance(tail: readonly number[], alpha: number, xmin: number): number {
  const z = hurwitzZeta(alpha, xmin);
  const n = tail.length;
  const xmax = tail[n - 1];
  let i = 0;
  let model = 0;
  let d = 0;
  for (let x = xmin; x <= xmax; x++) {
    model += Math.pow(x, -alpha) / z;
    while (i < n && tail[i] <= x) i++;
    d = Math.max(d, Math.abs(i / n - model));
  }
  return d;
}

/**
 * Fits a discrete power law to integer samples (e.g. neuron degrees). Returns null when no fit
 * is possible: fewer than `minTail` positive samples, or every candidate tail holds a single
 * distinct value (e.g. a dense layer, where every neuron has the same degree and the MLE of
 * alpha diverges).
 */
export function fitPowerLaw(samples: ArrayLike<number>, options: PowerLawOptions = {}): PowerLawFit | null {
  const minTail = options.minTail ?? 10;
  const maxCandidates = options.maxCandidates ?? 100;
  const range = options.alphaRange ?? [1.0001, 20];
  if (!(minTail >= 2)) throw new Error(`fitPowerLaw: minTail must be >= 2, got ${minTail}`);
  if (!(maxCandidates >= 1)) throw new Error(`fitPowerLaw: maxCandidates must be >= 1, got ${maxCandidates}`);
  if (!(range[0] > 1 && range[1] > range[0])) throw new Error(`fitPowerLaw: alphaRange must satisfy 1 < lo < hi, got [${range}]`);
  if (options.xmin !== undefined && !(Number.isInteger(options.xmin) && options.xmin >= 1)) {
    throw new Error(`fitPowerLaw: xmin must be an integer >= 1, got ${options.xmin}`);
  }
  let zeros = 0;
  const xs: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i];
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`fitPowerLaw: samples must be integers >= 0, sample ${i} is ${v}`);
    if (v === 0) zeros++;
    else xs.push(v);
  }
  xs.sort((a, b) => a - b);
  const n = xs.length;

  // suffixLog[i] = sum of ln x over xs[i..]: the MLE needs it for every candidate tail.
  const suffixLog = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffixLog[i] = suffixLog[i + 1] + Math.log(xs[i]);

  // Candidates: start index of each distinct value that leaves >= minTail samples and >= 2 distinct values.
  let starts: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0 && xs[i] === xs[i - 1]) continue;
    if (n - i < minTail || xs[i] === xs[n - 1]) break;
    if (options.xmin === undefined || xs[i] === options.xmin) starts.push(i);
  }
  if (options.xmin !== undefined && starts.length === 0) {
    // A fixed xmin need not be an observed value: the tail starts at the first sample >= xmin.
    const i = xs.findIndex((v) => v >= options.xmin!);
    if (i >= 0 && n - i >= minTail && xs[i] !== xs[n - 1]) starts = [i];
  }
  if (starts.length > maxCandidates) {
    const step = starts.length / maxCandidates;
    starts = Array.from({ length: maxCandidates }, (_, j) => starts[Math.floor(j * step)]);
  }

  let best: PowerLawFit | null = null;
  for (const i of starts) {
    const xmin = options.xmin ?? xs[i];
    const nTail = n - i;
    const { alpha, logLikelihood } = mleAlpha(nTail, suffixLog[i], xmin, range);
    const tail = xs.slice(i);
    const ks = ksDistance(tail, alpha, xmin);
    if (!best || ks < best.ks) {
      best = { alpha, xmin, ks, sigma: (alpha - 1) / Math.sqrt(nTail), nTail, n, zeros, logLikelihood };
    }
  }
  return best;
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
