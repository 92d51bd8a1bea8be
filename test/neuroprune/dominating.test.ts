import { describe, expect, it } from 'vitest';
import {
  findDominating,
  findDominatingExact,
  findDominatingPaper,
  isDominatingSet,
  type SimilarityMatrix,
} from '../../src/neuroprune';
import { rng } from './helpers';

function graph(k: number, edges: [number, number][]): SimilarityMatrix {
  const s = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => a === b));
  for (const [a, b] of edges) s[a][b] = s[b][a] = true;
  return s;
}

function randomGraph(k: number, p: number, r: () => number): SimilarityMatrix {
  const edges: [number, number][] = [];
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) if ((r() + 1) / 2 < p) edges.push([a, b]);
  return graph(k, edges);
}

function popcount(x: number): number { let c = 0; while (x) { x &= x - 1; c++; } return c; }

/** Every minimum dominating set by brute force, with the documented tie rule applied. */
function bruteForceMinimum(s: SimilarityMatrix): { size: number; best: number[] } {
  const k = s.length;
  const nb = s.map((row) => row.reduce((m, v, b) => (v ? m | (1 << b) : m), 0));
  const deg = nb.map(popcount);
  let size = Infinity; let best = -1; let bestScore = -1;
  for (let mask = 1; mask < 1 << k; mask++) {
    let dom = 0; let score = 0;
    for (let h = 0; h < k; h++) if (mask & (1 << h)) { dom |= nb[h]; score += deg[h]; }
    if (dom !== (1 << k) - 1) continue;
    const sz = popcount(mask);
    if (sz < size || (sz === size && (score > bestScore || (score === bestScore && mask > best)))) {
      size = sz; best = mask; bestScore = score;
    }
  }
  return { size, best: Array.from({ length: k }, (_, h) => h).filter((h) => best & (1 << h)) };
}

describe('FIND_DOMINATING (Algorithm 3)', () => {
  it('keeps the last of identical heads', () => {
    const r = findDominatingPaper(graph(3, [[0, 1], [0, 2], [1, 2]]));
    expect(r.kept).toEqual([2]);
    expect(r.into).toEqual([2, 2, 2]);
  });

  it('keeps the head with more similar neighbours, even when it comes first', () => {
    // Star centred on head 0: rows 1..3 are strictly inside row 0.
    expect(findDominatingPaper(graph(4, [[0, 1], [0, 2], [0, 3]])).kept).toEqual([0]);
    // Path 0-1-2: the middle head contains both ends.
    expect(findDominatingPaper(graph(3, [[0, 1], [1, 2]])).kept).toEqual([1]);
  });

  it('prunes nothing when no two heads are similar', () => {
    expect(findDominatingPaper(graph(5, [])).kept).toEqual([0, 1, 2, 3, 4]);
  });

  it('merges into a similar survivor along replacement chains', () => {
    // 0-1, 1-2, 1-3, 2-3: head 0's replacement 1 is itself replaced by 3 (rows {1,2,3} equal, later wins)
    const s = graph(4, [[0, 1], [1, 2], [1, 3], [2, 3]]);
    const r = findDominatingPaper(s);
    r.into.forEach((j, i) => {
      expect(s[i][j]).toBe(true);
      expect(r.into[j]).toBe(j);
    });
  });

  it('keeps a dominating set, never empty (property test, 600 random graphs)', () => {
    const r = rng(42);
    for (let t = 0; t < 600; t++) {
      const k = 1 + Math.floor(((r() + 1) / 2) * 14);
      const s = randomGraph(k, (r() + 1) / 2, r);
      const res = findDominatingPaper(s);
      expect(res.kept.length).toBeGreaterThan(0);
      expect(isDominatingSet(s, res.kept)).toBe(true);
      res.into.forEach((j, i) => {
        expect(s[i][j]).toBe(true);
        expect(res.kept).toContain(j);
      });
    }
  });
});

describe('exact minimum dominating set', () => {
  it('is minimum and follows the documented tie rule (brute force, 400 random graphs)', () => {
    const r = rng(7);
    for (let t = 0; t < 400; t++) {
      const k = 1 + Math.floor(((r() + 1) / 2) * 11);
      const s = randomGraph(k, (r() + 1) / 2 * 0.7, r);
      const exact = findDominatingExact(s);
      const brute = bruteForceMinimum(s);
      expect(exact.kept).toEqual(brute.best);
      expect(isDominatingSet(s, exact.kept)).toBe(true);
      expect(exact.kept.length).toBeLessThanOrEqual(findDominatingPaper(s).kept.length);
      exact.into.forEach((j, i) => expect(s[i][j] && exact.into[j] === j).toBe(true));
    }
  });

  it('leans like Algorithm 3: later heads, then more neighbours', () => {
    expect(findDominatingExact(graph(3, [[0, 1], [0, 2], [1, 2]])).kept).toEqual([2]);
    // Path 0-1-2-3: {1,3}, {0,2}, {0,3}, {1,2}... are minimum; {1,2} has degree sum 6, the most.
    expect(findDominatingExact(graph(4, [[0, 1], [1, 2], [2, 3]])).kept).toEqual([1, 2]);
  });

  it('handles 24 heads quickly and refuses more', () => {
    const r = rng(9);
    const t0 = Date.now();
    for (const p of [0, 0.1, 0.2, 0.5, 1]) {
      const s = randomGraph(24, p, r);
      const res = findDominating(s, 'exact');
      expect(isDominatingSet(s, res.kept)).toBe(true);
      if (p === 0) expect(res.kept.length).toBe(24);
      if (p === 1) expect(res.kept).toEqual([23]);
    }
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(() => findDominatingExact(graph(25, []))).toThrow(/at most 24/);
  });

  it('rejects malformed matrices', () => {
    expect(() => findDominatingPaper([[true, true], [false, true]])).toThrow(/not symmetric/);
    expect(() => findDominatingExact([[false]])).toThrow(/S\[0\]\[0\] = true/);
  });
});
