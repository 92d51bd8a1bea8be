/**
 * A small seeded PRNG, so that shuffles, synthetic data and initialisations are reproducible
 * from one integer on every platform (Math.random cannot be seeded).
 *
 * mulberry32 (Tommy Ettinger's 32-bit generator): one uint32 of state, passes the usual
 * statistical batteries well enough for shuffling and sampling, and is a few lines of integer
 * arithmetic that gives the same stream in every JavaScript engine.
 */

/** A stream of uniform numbers in [0, 1), reproducible from its seed. */
export interface Rng {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform integer in [0, n), n >= 1. */
  int(n: number): number;
  /** The raw next uint32. */
  uint32(): number;
}

/** mulberry32 seeded with the low 32 bits of `seed`. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  const uint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    uint32,
    next: () => uint32() / 4294967296,
    int: (n: number) => {
      if (!(n >= 1)) throw new Error(`Rng.int: n must be >= 1, got ${n}`);
      return Math.floor((uint32() / 4294967296) * n);
    },
  };
}

/**
 * A seed for a sub-stream (e.g. one per epoch) derived from a base seed, so that streams for
 * different purposes do not overlap in an obvious way: one splitmix32-style mix of both.
 */
export function deriveSeed(seed: number, stream: number): number {
  let z = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((stream + 1) >>> 0, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Fisher-Yates shuffle of `items` in place, driven by `rng`; returns `items`. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
  return items;
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): number[] {
  return shuffleInPlace(Array.from({ length: n }, (_, i) => i), rng);
}

/** A seeded stream in [0, 1) (mulberry32), e.g. to draw a fresh seed per dropout mask. */
export function seededRandom(seed: number): () => number {
  const rng = mulberry32(seed);
  return () => rng.next();
}
