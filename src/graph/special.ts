/**
 * Special functions of the heavy-tail fits: the Hurwitz zeta function (normaliser of the discrete
 * power law), erfc (the discrete lognormal and the likelihood-ratio p-values), and the normaliser
 * of the discrete truncated power law (a Lerch transcendent).
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

/** erf(z) for 0 <= z < 2 by the all-positive series `2/sqrt(pi) e^-z^2 sum 2^n z^(2n+1) / (2n+1)!!` (no cancellation). */
function erfSeries(z: number): number {
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (2 * z * z) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * sum;
}

/** erfc(z) for z >= 2 by its continued fraction `e^-z^2 / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...))))` (modified Lentz). */
function erfcFraction(z: number): number {
  const tiny = 1e-300;
  let f = z;
  let c = z;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = z + a * d;
    d = d === 0 ? tiny : d;
    c = z + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/** The complementary error function, to about 1e-15 relative (SciPy's `erfc` is the reference). */
export function erfc(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z < 0) return 2 - erfc(-z);
  if (z === Infinity) return 0;
  return z < 2 ? 1 - erfSeries(z) : erfcFraction(z);
}

/** Nodes of 10-point Gauss-Legendre quadrature on [-1, 1] (half of them; the rule is symmetric). */
const GL_X = [0.1488743389816312, 0.4333953941292472, 0.6794095682990244, 0.8650633666889845, 0.9739065285171717];
const GL_W = [0.2955242247147529, 0.2692667193099963, 0.2190863625159820, 0.1494513491505806, 0.0666713443086881];

/** Terms summed directly before the Euler-Maclaurin tail of `truncatedPowerLawSum`. */
const TPL_DIRECT = 1000;

/**
 * `log sum_{y >= xmin} y^-alpha e^(-lambda y)` for integer `xmin >= 1`, `alpha >= 0`, `lambda > 0`:
 * the normaliser of the discrete truncated power law (`powerlaw` gets it from mpmath's
 * `lerchphi(e^-lambda, alpha, xmin) e^(-lambda xmin)`). Direct sum of up to 1000 terms; the rest
 * by Euler-Maclaurin, with the integral `int_Y^inf y^-alpha e^(-lambda y) dy` computed by
 * Gauss-Legendre quadrature on unit steps of `t = ln(y / Y)`, where the integrand is smooth.
 */
export function logTruncatedPowerLawSum(alpha: number, lambda: number, xmin: number): number {
  if (!(alpha >= 0) || !(lambda > 0) || !(Number.isInteger(xmin) && xmin >= 1)) {
    throw new Error(`logTruncatedPowerLawSum: need alpha >= 0, lambda > 0, integer xmin >= 1; got ${alpha}, ${lambda}, ${xmin}`);
  }
  // Terms relative to the first: g(y) = (y/xmin)^-alpha e^(-lambda (y - xmin)), so nothing underflows early.
  const g = (y: number) => Math.exp(-alpha * Math.log(y / xmin) - lambda * (y - xmin));
  let sum = 0;
  let y = xmin;
  for (; y < xmin + TPL_DIRECT; y++) {
    const t = g(y);
    sum += t;
    if (t < sum * 1e-18) return Math.log(sum) - alpha * Math.log(xmin) - lambda * xmin;
  }
  // Euler-Maclaurin from Y = y: sum_{k>=Y} g(k) = int_Y^inf g + g(Y)/2 - g'(Y)/12 + g'''(Y)/720 - ...
  const Y = y;
  const gy = g(Y);
  const h = -lambda - alpha / Y;
  const h1 = alpha / (Y * Y);
  const h2 = (-2 * alpha) / (Y * Y * Y);
  const d1 = gy * h;
  const d3 = gy * (h * h * h + 3 * h * h1 + h2);
  // int_Y^inf g(y) dy = int_0^inf g(Y e^t) Y e^t dt.
  const integrand = (t: number) => {
    const yt = Y * Math.exp(t);
    return g(yt) * yt;
  };
  let integral = 0;
  for (let step = 0; step < 20000; step++) {
    let piece = 0;
    for (let k = 0; k < GL_X.length; k++) {
      piece += GL_W[k] * (integrand(step + 0.5 - GL_X[k] / 2) + integrand(step + 0.5 + GL_X[k] / 2));
    }
    piece /= 2;
    integral += piece;
    // Past the exponential cut-off the pieces fall at least geometrically.
    if (piece < integral * 1e-18 && lambda * Y * Math.exp(step) > 1) break;
    if (piece < integral * 1e-18 && alpha > 1 && step > 50 / (alpha - 1)) break;
  }
  sum += integral + gy / 2 - d1 / 12 + d3 / 720;
  return Math.log(sum) - alpha * Math.log(xmin) - lambda * xmin;
}
