/**
 * The GLUE metrics, written to agree with scikit-learn and scipy (checked against values they
 * computed, test/fixtures/metrics/expected.json). Arguments follow scikit-learn's order:
 * `(yTrue, yPred)`. Class labels are small non-negative integers.
 */

function checkPair(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, name: string): number {
  if (yTrue.length !== yPred.length) {
    throw new Error(`${name}: yTrue has ${yTrue.length} values, yPred ${yPred.length}`);
  }
  if (yTrue.length === 0) throw new Error(`${name}: no values`);
  return yTrue.length;
}

/** Fraction of exact matches. */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = checkPair(yTrue, yPred, 'accuracy');
  let ok = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === yPred[i]) ok++;
  return ok / n;
}

/**
 * F1 of the positive class (`positive`, default 1), as GLUE reports it for MRPC and QQP.
 * With no true and no predicted positives the score is 0, as scikit-learn's default
 * `zero_division` gives (with a warning there).
 */
export function f1(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, positive = 1): number {
  const n = checkPair(yTrue, yPred, 'f1');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < n; i++) {
    const t = yTrue[i] === positive;
    const p = yPred[i] === positive;
    if (t && p) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 0 : (2 * tp) / denom;
}

/**
 * Matthews correlation coefficient, multi-class form (Gorodkin's R_K, as scikit-learn):
 * 0 when either the truth or the predictions are constant (the formula is 0/0 there).
 */
export function matthewsCorrcoef(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = checkPair(yTrue, yPred, 'matthewsCorrcoef');
  const tSum = new Map<number, number>();
  const pSum = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const t = yTrue[i] as number;
    const p = yPred[i] as number;
    tSum.set(t, (tSum.get(t) ?? 0) + 1);
    pSum.set(p, (pSum.get(p) ?? 0) + 1);
    if (t === p) correct++;
  }
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (const [k, c] of tSum) {
    tp += c * (pSum.get(k) ?? 0);
    tt += c * c;
  }
  for (const c of pSum.values()) pp += c * c;
  const covYtYp = correct * n - tp;
  const covYpYp = n * n - pp;
  const covYtYt = n * n - tt;
  if (covYpYp === 0 || covYtYt === 0) return 0;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}

/** Pearson's r. NaN when either input is constant (as scipy, which also warns). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkPair(x, y, 'pearson');
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  // Clamp: rounding can push |r| a hair above 1 for perfectly (anti-)correlated data.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Ranks from 1, ties sharing the average of the ranks they span (scipy's 'average'). */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (x[a] as number) - (x[b] as number));
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && x[order[j + 1] as number] === x[order[i] as number]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k] as number] = r;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rho: Pearson's r of the average ranks. NaN when either input is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(x, y, 'spearman');
  return pearson(averageRanks(x), averageRanks(y));
}
