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
