/**
 * Linear warm-up then linear decay to 0, as `transformers.get_linear_schedule_with_warmup`:
 * lr(step) = base * step / warmup for step < warmup, then base * (total - step) / (total - warmup).
 * `step` counts updates already applied (0 for the first update).
 */
export function linearWarmupDecay(step: number, baseLr: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  return baseLr * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}
