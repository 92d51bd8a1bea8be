import { expect } from 'vitest';
import type * as tf from '@tensorflow/tfjs';

/** Largest absolute difference between a tensor (or values) and nested reference lists of the same size. */
export function maxAbsDiff(actual: tf.Tensor | Float32Array, expected: unknown): number {
  const a = actual instanceof Float32Array ? actual : actual.dataSync();
  const e = (expected as number[]).flat(3) as number[];
  expect(a.length).toBe(e.length);
  let m = 0;
  for (let i = 0; i < e.length; i++) m = Math.max(m, Math.abs(a[i] - e[i]));
  return m;
}

/**
 * Checks every gradient against PyTorch's, by name: the same names, and per tensor within 1e-4 of
 * its largest gradient plus 1e-6 absolute (for gradients that are zero in exact arithmetic, such
 * as a key bias, which softmax ignores, and are rounding noise in both frameworks). Returns the
 * worst ratio max|diff| / max|g| over tensors, for the log.
 */
export function expectGradientsMatch(mine: Map<string, Float32Array>, ref: Record<string, number[]>): number {
  expect([...mine.keys()].sort()).toEqual(Object.keys(ref).sort());
  let worst = 0;
  for (const [name, g] of mine) {
    const scale = Math.max(...ref[name].map(Math.abs));
    const diff = maxAbsDiff(g, ref[name]);
    expect(diff, name).toBeLessThanOrEqual(1e-4 * scale + 1e-6);
    if (scale > 1e-6) worst = Math.max(worst, diff / scale);
  }
  return worst;
}
