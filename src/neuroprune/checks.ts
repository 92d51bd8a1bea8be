/** Range checks shared by the NeuroPrune functions; each error names the function and the value. */

export function checkEps(eps: number, where: string): void {
  if (!(eps > 0) || !Number.isFinite(eps)) {
    throw new Error(`${where}: eps must be a finite number > 0, got ${eps}`);
  }
}

export function checkTheta(theta: number, where: string): void {
  if (!(theta >= 0) || Number.isNaN(theta)) {
    throw new Error(`${where}: theta must be a number >= 0 (an l-infinity distance), got ${theta}`);
  }
}
