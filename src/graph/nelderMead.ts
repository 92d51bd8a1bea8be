/**
 * The bounded Nelder-Mead simplex minimiser, step for step as SciPy's
 * `minimize(method='Nelder-Mead', bounds=..., tol=...)` (scipy/optimize/_optimize.py,
 * `_minimize_neldermead`, non-adaptive). The heavy-tail fits use it because the `powerlaw` package
 * fits every distribution this way: with the same start, steps, clipping and stopping rule, the
 * fits land where `powerlaw`'s land (its `tol=1e-4` leaves a parameter about 1e-4 from the exact
 * optimum, and an exact optimiser would disagree with it by that much).
 */

export interface NelderMeadOptions {
  /** Lower bounds per parameter; `-Infinity` for none. */
  lower: readonly number[];
  /** Upper bounds per parameter; `Infinity` for none. */
  upper: readonly number[];
  /** SciPy's `tol`: both `xatol` and `fatol`. */
  tol: number;
}

export interface NelderMeadResult {
  x: number[];
  fun: number;
  /** False when the evaluation or iteration budget (200 per parameter) ran out. */
  success: boolean;
  evaluations: number;
}

class BudgetExhausted extends Error {}

/** Indices that sort `f` ascending, NaN last, stable (NumPy's argsort on these tiny arrays). */
function argsort(f: readonly number[]): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  return f.map((_, i) => i).sort((a, b) => {
    const fa = f[a];
    const fb = f[b];
    if (Number.isNaN(fa) !== Number.isNaN(fb)) return Number.isNaN(fa) ? 1 : -1;
    return key(fa) < key(fb) ? -1 : key(fa) > key(fb) ? 1 : a - b;
  });
}

export function nelderMead(func: (x: number[]) => number, x0: readonly number[], options: NelderMeadOptions): NelderMeadResult {
  const N = x0.length;
  const { lower, upper, tol } = options;
  if (lower.length !== N || upper.length !== N) throw new Error(`nelderMead: ${N} parameters but ${lower.length} lower and ${upper.length} upper bounds`);
  const clip = (x: number[]) => x.map((v, i) => Math.min(Math.max(v, lower[i]), upper[i]));
  const maxiter = 200 * N;
  const maxfun = 200 * N;
  let calls = 0;
  const f = (x: number[]): number => {
    if (calls >= maxfun) throw new BudgetExhausted();
    calls++;
    return func(x.slice());
  };

  const start = clip([...x0]);
  let sim: number[][] = [start];
  for (let k = 0; k < N; k++) {
    const y = start.slice();
    y[k] = y[k] !== 0 ? 1.05 * y[k] : 0.00025;
    sim.push(y);
  }
  // A vertex past an upper bound is reflected into the interior, then clipped (SciPy's rule).
  sim = sim.map((v) => clip(v.map((s, i) => (s > upper[i] ? 2 * upper[i] - s : s))));
  let fsim: number[] = new Array(N + 1).fill(Infinity);
  const sortSimplex = () => {
    const order = argsort(fsim);
    sim = order.map((i) => sim[i]);
    fsim = order.map((i) => fsim[i]);
  };
  try {
    for (let k = 0; k <= N; k++) fsim[k] = f(sim[k]);
  } catch (e) {
    if (!(e instanceof BudgetExhausted)) throw e;
  }
  sortSimplex();

  const rho = 1;
  const chi = 2;
  const psi = 0.5;
  const sigma = 0.5;
  let iterations = 1;
  while (calls < maxfun && iterations < maxiter) {
    try {
      let xspread = 0;
      let fspread = 0;
      for (let j = 1; j <= N; j++) {
        for (let i = 0; i < N; i++) xspread = Math.max(xspread, Math.abs(sim[j][i] - sim[0][i]));
        fspread = Math.max(fspread, Math.abs(fsim[0] - fsim[j]));
      }
      // NaN spreads compare false, as NumPy's max propagates NaN and `<=` is then false.
      if (xspread <= tol && fspread <= tol && !fsim.some(Number.isNaN)) break;

      const xbar = new Array(N).fill(0);
      for (let j = 0; j < N; j++) for (let i = 0; i < N; i++) xbar[i] += sim[j][i];
      for (let i = 0; i < N; i++) xbar[i] /= N;
      const worst = sim[N];
      const xr = clip(xbar.map((b, i) => (1 + rho) * b - rho * worst[i]));
      const fxr = f(xr);
      let shrink = false;
      if (fxr < fsim[0]) {
        const xe = clip(xbar.map((b, i) => (1 + rho * chi) * b - rho * chi * worst[i]));
        const fxe = f(xe);
        if (fxe < fxr) { sim[N] = xe; fsim[N] = fxe; } else { sim[N] = xr; fsim[N] = fxr; }
      } else if (fxr < fsim[N - 1]) {
        sim[N] = xr; fsim[N] = fxr;
      } else if (fxr < fsim[N]) {
        const xc = clip(xbar.map((b, i) => (1 + psi * rho) * b - psi * rho * worst[i]));
        const fxc = f(xc);
        if (fxc <= fxr) { sim[N] = xc; fsim[N] = fxc; } else shrink = true;
      } else {
        const xcc = clip(xbar.map((b, i) => (1 - psi) * b + psi * worst[i]));
        const fxcc = f(xcc);
        if (fxcc < fsim[N]) { sim[N] = xcc; fsim[N] = fxcc; } else shrink = true;
      }
      if (shrink) {
        for (let j = 1; j <= N; j++) {
          sim[j] = clip(sim[j].map((v, i) => sim[0][i] + sigma * (v - sim[0][i])));
          fsim[j] = f(sim[j]);
        }
      }
      iterations++;
    } catch (e) {
      if (!(e instanceof BudgetExhausted)) throw e;
    }
    sortSimplex();
  }
  const fun = fsim.reduce((m, v) => (Number.isNaN(m) || v < m ? v : m), fsim[0]);
  return { x: sim[0], fun, success: calls < maxfun && iterations < maxiter, evaluations: calls };
}
