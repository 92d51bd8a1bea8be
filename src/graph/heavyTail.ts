/**
 * Is a degree distribution heavy-tailed, and is a power law the right word for it? The three
 * steps of Clauset, Shalizi & Newman (2009): the power-law fit (powerLaw.ts), its bootstrap
 * goodness-of-fit p-value (Sec. 4.1), and likelihood-ratio tests against the alternatives
 * (alternatives.ts, Sec. 5). A power law is plausible when the p-value is at least 0.1; it is
 * preferred to an alternative when R > 0 with p < 0.1, and the alternative is preferred when
 * R < 0 with p < 0.1 (otherwise the data cannot tell them apart).
 *
 * Usage:
 * ```ts
 * const t = testHeavyTail(degrees, { bootstrap: 200, seed: 1 });
 * t.fit?.alpha; t.goodnessOfFit?.p; t.comparisons.map((c) => `${c.alternative}: ${c.verdict}`);
 * ```
 */
import { ALTERNATIVES, alternativeLogLikelihoods, fitAlternative, likelihoodRatio, type AlternativeName } from './alternatives';
import { fitPowerLaw, hurwitzZeta, positiveSorted, samplePowerLaw, seededRandom, type PowerLawFit, type PowerLawOptions } from './powerLaw';

/** Significance level of the verdicts and the plausibility threshold of the p-value (Clauset et al.'s 0.1). */
export const SIGNIFICANCE = 0.1;

export interface GoodnessOfFit {
  /** Share of synthetic data sets whose fitted KS distance is at least the data's. */
  p: number;
  replicates: number;
  seed: number;
}

/**
 * The bootstrap p-value of a power-law fit (Clauset et al. 2009, Sec. 4.1). Each synthetic data set
 * has as many positive samples as the data; each sample comes, with probability `nTail / n`, from
 * the fitted law and otherwise uniformly from the data below `xmin`. Each is fitted exactly like the
 * data (`xmin` scanned again, same options), and p is the share whose KS distance is at least the
 * data's. Its Monte-Carlo standard error is `sqrt(p (1 - p) / replicates)`: 2500 replicates give
 * p to about 0.01.
 */
export function powerLawGoodnessOfFit(
  samples: ArrayLike<number>,
  fit: PowerLawFit,
  options: PowerLawOptions & { replicates: number; seed: number },
): GoodnessOfFit {
  const { replicates, seed, ...fitOptions } = options;
  if (!(Number.isInteger(replicates) && replicates >= 1)) throw new Error(`powerLawGoodnessOfFit: replicates must be an integer >= 1, got ${replicates}`);
  const { xs } = positiveSorted(samples, 'powerLawGoodnessOfFit');
  const body = xs.filter((x) => x < fit.xmin);
  const random = seededRandom(seed);
  let hits = 0;
  for (let r = 0; r < replicates; r++) {
    let fromTail = 0;
    for (let i = 0; i < xs.length; i++) if (random() < fit.nTail / xs.length) fromTail++;
    const synthetic = samplePowerLaw(fromTail, fit.alpha, fit.xmin, random);
    for (let i = fromTail; i < xs.length; i++) synthetic.push(body[Math.floor(random() * body.length)]);
    const f = fitPowerLaw(synthetic, fitOptions);
    // A synthetic set with too few distinct values for a fit counts as no hit, as `powerlaw`'s NaN distance would.
    if (f && f.ks >= fit.ks) hits++;
  }
  return { p: hits / replicates, replicates, seed };
}

export type Verdict = 'power law' | 'alternative' | 'inconclusive';

export interface Comparison {
  alternative: AlternativeName;
  parameters: Record<string, number>;
  /** Normalised log-likelihood ratio, power law over the alternative (> 0 favours the power law). */
  R: number | null;
  p: number | null;
  /** Which law the data favour at `SIGNIFICANCE`. */
  verdict: Verdict;
  /** The alternative's fit had a parameter at a bound or did not converge. */
  noisy: boolean;
}

export interface HeavyTailTest {
  /** Null when no power law can be fitted (see `fitPowerLaw`). */
  fit: PowerLawFit | null;
  /** Null unless a bootstrap was asked for. */
  goodnessOfFit: GoodnessOfFit | null;
  /** One per alternative; empty without a fit. */
  comparisons: Comparison[];
}

export interface HeavyTailOptions extends PowerLawOptions {
  /** Bootstrap replicates of the goodness-of-fit p-value; 0 skips it. Default 0 (it refits every replicate). */
  bootstrap?: number;
  /** Seed of the bootstrap. Default 1. */
  seed?: number;
  /** Alternatives to test. Default all four. */
  alternatives?: readonly AlternativeName[];
}

/** Per-sample log-likelihoods of a tail under a fitted power law (exact discrete normalisation). */
function powerLawLogLikelihoods(fit: PowerLawFit, tail: readonly number[]): number[] {
  const logZ = Math.log(hurwitzZeta(fit.alpha, fit.xmin));
  return tail.map((x) => -fit.alpha * Math.log(x) - logZ);
}

/** Compares a power-law fit with each alternative on the fit's tail, as `powerlaw.Fit.distribution_compare`. */
export function compareAlternatives(samples: ArrayLike<number>, fit: PowerLawFit, alternatives: readonly AlternativeName[] = ALTERNATIVES): Comparison[] {
  const { xs } = positiveSorted(samples, 'compareAlternatives');
  const tail = xs.filter((x) => x >= fit.xmin);
  const llPower = powerLawLogLikelihoods(fit, tail);
  return alternatives.map((name) => {
    const alt = fitAlternative(name, tail, fit.xmin);
    const ll = alternativeLogLikelihoods(name, Object.values(alt.parameters), tail, fit.xmin);
    const { R, p } = likelihoodRatio(llPower, ll, name === 'truncated_power_law');
    const verdict: Verdict = R === null || p === null || p >= SIGNIFICANCE || R === 0 ? 'inconclusive' : R > 0 ? 'power law' : 'alternative';
    return { alternative: name, parameters: alt.parameters, R, p, verdict, noisy: alt.noisy };
  });
}

/** The fit, the bootstrap p-value (when asked) and the likelihood-ratio tests of one sample. */
export function testHeavyTail(samples: ArrayLike<number>, options: HeavyTailOptions = {}): HeavyTailTest {
  const { bootstrap = 0, seed = 1, alternatives = ALTERNATIVES, ...fitOptions } = options;
  if (!(Number.isInteger(bootstrap) && bootstrap >= 0)) throw new Error(`testHeavyTail: bootstrap must be an integer >= 0, got ${bootstrap}`);
  const fit = fitPowerLaw(samples, fitOptions);
  if (!fit) return { fit: null, goodnessOfFit: null, comparisons: [] };
  return {
    fit,
    goodnessOfFit: bootstrap > 0 ? powerLawGoodnessOfFit(samples, fit, { ...fitOptions, replicates: bootstrap, seed }) : null,
    comparisons: compareAlternatives(samples, fit, alternatives),
  };
}
