/**
 * The alternatives a power-law tail is tested against (Clauset, Shalizi & Newman 2009, Sec. 5,
 * Table 2.1), fitted to the same tail `x >= xmin` by maximum likelihood, and Vuong's
 * likelihood-ratio test between two fits. Everything follows the Python `powerlaw` package
 * (version 2.0) for discrete data, so the ratios match it (test/fixtures/powerlaw):
 *
 * - exponential `e^(-lambda x)`: exact discrete normalisation `(1 - e^-lambda) e^(lambda xmin)`;
 * - truncated power law `x^-alpha e^(-lambda x)`: exact normalisation (a Lerch transcendent);
 * - lognormal and stretched exponential `(lambda x)^(beta-1) e^(-(lambda x)^beta)`: no closed
 *   discrete form, so `powerlaw`'s default "round" approximation, the continuous law's mass in
 *   `[x - 1/2, x + 1/2]` renormalised over `[xmin - 1/2, inf)`;
 * - parameters by SciPy's bounded Nelder-Mead (`tol=1e-4`) from `powerlaw`'s starting values;
 * - a likelihood of 0 (or outside the parameter ranges) counts as 1e-307.
 */
import { nelderMead } from './nelderMead';
import { erfc, logTruncatedPowerLawSum } from './special';
import { LOG_TINY } from './powerLaw';

export type AlternativeName = 'lognormal' | 'exponential' | 'stretched_exponential' | 'truncated_power_law';

export const ALTERNATIVES: readonly AlternativeName[] = ['lognormal', 'exponential', 'stretched_exponential', 'truncated_power_law'];

export interface AlternativeFit {
  name: AlternativeName;
  /** Fitted parameters by `powerlaw`'s names (`mu`, `sigma`, `Lambda`, `beta`, `alpha`). */
  parameters: Record<string, number>;
  /** Sum of the log-likelihoods of the tail. */
  logLikelihood: number;
  /** A parameter within 0.01 of a bound or a search that did not converge (`powerlaw`'s noise flag). */
  noisy: boolean;
}

interface Spec {
  names: string[];
  lower: number[];
  upper: number[];
  start(tail: readonly number[], xmin: number): number[];
  /** Per-sample likelihoods at `p` for the tail `>= xmin`, before the zero floor. */
  likelihoods(p: number[], tail: readonly number[], xmin: number): number[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mass of each integer `x` under a continuous CDF `F`, renormalised over `[xmin - 1/2, inf)` ("round"). */
function roundedMass(F: (x: number) => number, tail: readonly number[], xmin: number): number[] {
  const fmin = F(xmin - 0.5);
  if (fmin === 1) return tail.map(() => 0);
  const cdf = (x: number) => (F(x) - fmin) / (1 - fmin);
  return tail.map((x) => cdf(x + 0.5) - cdf(x - 0.5));
}

const SPECS: Record<AlternativeName, Spec> = {
  exponential: {
    names: ['Lambda'],
    lower: [0],
    upper: [Infinity],
    start: (tail) => [1 / mean(tail)],
    likelihoods: ([lambda], tail, xmin) => {
      const logC = Math.log(1 - Math.exp(-lambda)) + lambda * xmin;
      return tail.map((x) => (Math.exp(-lambda * x) === 0 ? 0 : Math.exp(-lambda * x + logC)));
    },
  },
  stretched_exponential: {
    names: ['Lambda', 'beta'],
    lower: [0, 0],
    upper: [Infinity, Infinity],
    start: (tail) => [1 / mean(tail), 1],
    likelihoods: ([lambda, beta], tail, xmin) => roundedMass((x) => 1 - Math.exp(-Math.pow(lambda * x, beta)), tail, xmin),
  },
  truncated_power_law: {
    names: ['alpha', 'Lambda'],
    lower: [0, 0],
    upper: [3, Infinity],
    start: (tail, xmin) => [1 + tail.length / tail.reduce((a, x) => a + Math.log(x / xmin), 0), 1 / mean(tail)],
    likelihoods: ([alpha, lambda], tail, xmin) => {
      const c = Math.exp(-logTruncatedPowerLawSum(alpha, lambda, xmin));
      return tail.map((x) => Math.pow(x, -alpha) * Math.exp(-lambda * x) * c);
    },
  },
  lognormal: {
    names: ['mu', 'sigma'],
    lower: [-Infinity, 0],
    upper: [Infinity, Infinity],
    start: (tail) => {
      const logs = tail.map(Math.log);
      const m = mean(logs);
      return [m, Math.sqrt(mean(logs.map((v) => (v - m) * (v - m))))];
    },
    // Written with erfc, as `powerlaw` does, so that far tails keep their digits.
    likelihoods: ([mu, sigma], tail, xmin) => {
      const z = (x: number) => (Math.log(x) - mu) / (Math.SQRT2 * sigma);
      const norm = 0.5 * erfc(z(xmin - 0.5));
      return tail.map((x) => (0.5 * (erfc(z(x - 0.5)) - erfc(z(x + 0.5)))) / norm);
    },
  },
};

function inRange(spec: Spec, p: readonly number[]): boolean {
  return p.every((v, i) => v > spec.lower[i] && v < spec.upper[i]);
}

/** Per-sample log-likelihoods of `tail` under an alternative with parameters `p`, floored as `powerlaw` does. */
export function alternativeLogLikelihoods(name: AlternativeName, p: readonly number[], tail: readonly number[], xmin: number): number[] {
  const spec = SPECS[name];
  if (!inRange(spec, p)) return tail.map(() => LOG_TINY);
  return spec.likelihoods([...p], tail, xmin).map((l) => (l === 0 ? LOG_TINY : Math.log(l)));
}

/** Fits one alternative to a tail (integers `>= xmin`, at least two of them). */
export function fitAlternative(name: AlternativeName, tail: readonly number[], xmin: number): AlternativeFit {
  const spec = SPECS[name];
  if (!spec) throw new Error(`fitAlternative: unknown distribution '${name}' (expected one of ${ALTERNATIVES.join(', ')})`);
  if (tail.length < 2) throw new Error(`fitAlternative ${name}: the tail needs at least 2 samples, got ${tail.length}`);
  const cost = (p: number[]) => -alternativeLogLikelihoods(name, p, tail, xmin).reduce((a, b) => a + b, 0);
  const res = nelderMead(cost, spec.start(tail, xmin), { lower: spec.lower, upper: spec.upper, tol: 1e-4 });
  const atBound = res.x.some((v, i) => v - 0.01 < spec.lower[i] || v + 0.01 > spec.upper[i]);
  return {
    name,
    parameters: Object.fromEntries(spec.names.map((k, i) => [k, res.x[i]])),
    logLikelihood: -cost(res.x),
    noisy: !inRange(spec, res.x) || !res.success || atBound,
  };
}

export interface LikelihoodRatio {
  /** Normalised log-likelihood ratio `R / (sqrt(n) sd)`: > 0 favours the first law, < 0 the second. Null when every point gives the same ratio. */
  R: number | null;
  /** Significance of the sign of R (Vuong; chi-squared with 1 degree of freedom when nested). */
  p: number | null;
}

/**
 * Vuong's test from per-sample log-likelihoods of the same data under two fitted laws, as
 * `powerlaw.loglikelihood_ratio(..., normalized_ratio=True)`. `nested`: the first law is a special
 * case of the second (the power law of the truncated power law), where the p-value is
 * `P(chi2_1 > 2 |R|)` on the unnormalised R.
 */
export function likelihoodRatio(ll1: readonly number[], ll2: readonly number[], nested: boolean): LikelihoodRatio {
  const n = ll1.length;
  if (ll2.length !== n) throw new Error(`likelihoodRatio: ${n} and ${ll2.length} log-likelihoods`);
  if (n === 0) return { R: 0, p: 1 };
  const diff = ll1.map((v, i) => v - ll2[i]);
  const R = diff.reduce((a, b) => a + b, 0);
  const meanDiff = R / n;
  const variance = diff.reduce((a, d) => a + (d - meanDiff) * (d - meanDiff), 0) / n;
  const p = nested ? erfc(Math.sqrt(Math.abs(R))) : erfc(Math.abs(R) / Math.sqrt(2 * n * variance));
  const normalized = R / Math.sqrt(n * variance);
  return { R: Number.isFinite(normalized) ? normalized : null, p: Number.isFinite(p) ? p : null };
}
