/** Range checks and defaults shared by the NeuroPrune functions, the graph views and the CLI; each error names the function and the value. */

/**
 * Default magnitude below which a weight counts as zero: Eq. 1's `eps`, the sparsity accounting,
 * the edges of the neuron graphs and `compact --zero-below`. Far below the weights of a trained
 * BERT (~1e-2) and above float32 noise from the optimiser's updates of a zeroed weight.
 */
export const DEFAULT_EPS = 1e-4;

/** Default head-similarity threshold (l-infinity distance of Q/K/V slices) of training and `analyze`. */
export const DEFAULT_THETA = 0.2;

/** A usable `eps`: finite and > 0. */
export function isValidEps(eps: number): boolean {
  return eps > 0 && Number.isFinite(eps);
}

/** A usable `theta`: >= 0 (Infinity makes every pair of heads similar). */
export function isValidTheta(theta: number): boolean {
  return theta >= 0;
}

export function checkEps(eps: number, where: string): void {
  if (!isValidEps(eps)) {
    throw new Error(`${where}: eps must be a finite number > 0, got ${eps}`);
  }
}

export function checkTheta(theta: number, where: string): void {
  if (!isValidTheta(theta)) {
    throw new Error(`${where}: theta must be a number >= 0 (an l-infinity distance), got ${theta}`);
  }
}
