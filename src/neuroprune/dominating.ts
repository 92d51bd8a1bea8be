/**
 * Which heads survive: dominating sets of the head-similarity graph.
 *
 * Both strategies return, for every head, the surviving head it is merged into (itself when it
 * survives). The survivors always dominate the similarity graph (every pruned head is similar to
 * the survivor it merges into) and are never empty, so a layer never loses its last head.
 */
import type { SimilarityMatrix } from './similarity';

export type DominatingStrategy = 'paper' | 'exact';

export interface DominatingResult {
  /** Surviving heads, ascending positions. */
  kept: number[];
  /** `into[i]`: the surviving head that head `i` is merged into (`i` when it survives). */
  into: number[];
}

function checkSquare(s: SimilarityMatrix, where: string): void {
  const k = s.length;
  s.forEach((row, a) => {
    if (row.length !== k) throw new Error(`${where}: similarity matrix row ${a} has ${row.length} entries, expected ${k}`);
    if (!row[a]) throw new Error(`${where}: similarity matrix must have S[${a}][${a}] = true`);
    row.forEach((v, b) => {
      if (v !== s[b][a]) throw new Error(`${where}: similarity matrix is not symmetric at (${a}, ${b})`);
    });
  });
}

/** Row `a` contains row `b` (as sets of heads). */
function contains(ra: readonly boolean[], rb: readonly boolean[]): boolean {
  for (let i = 0; i < ra.length; i++) if (rb[i] && !ra[i]) return false;
  return true;
}

function rowsEqual(ra: readonly boolean[], rb: readonly boolean[]): boolean {
  for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return false;
  return true;
}

/**
 * FIND_DOMINATING, Algorithm 3 exactly: for head `i`, start at `j* = i` and scan `j = 0..k-1`,
 * moving `j* <- j` when row `S[j]` strictly contains row `S[j*]`, or when the rows are equal and
 * `j* < j`. Head `i` is replaced by `j*`.
 *
 * The replacement `j*` of a head may itself be replaced (the scan is greedy and containment is
 * only a partial order). Every move strictly increases `(|S[j*]|, j*)` in lexicographic order, so
 * following replacements ends at a head replaced by itself, whose row still contains `S[i]` and so
 * is similar to `i`: `into[i]` is that end. The survivors are the heads with `j* = i`.
 */
export function findDominatingPaper(s: SimilarityMatrix): DominatingResult {
  checkSquare(s, 'findDominatingPaper');
  const k = s.length;
  const rep: number[] = [];
  for (let i = 0; i < k; i++) {
    let star = i;
    for (let j = 0; j < k; j++) {
      const strict = contains(s[j], s[star]) && !rowsEqual(s[j], s[star]);
      const equalLater = rowsEqual(s[j], s[star]) && star < j;
      if (strict || equalLater) star = j;
    }
    rep.push(star);
  }
  const into = rep.map((_, i) => {
    let j = i;
    while (rep[j] !== j) j = rep[j];
    return j;
  });
  const kept = into.flatMap((j, i) => (j === i ? [i] : []));
  return { kept, into };
}

/** The largest layer the exact search accepts. */
export const EXACT_MAX_HEADS = 24;

function popcount(x: number): number {
  let c = 0;
  while (x) {
    x &= x - 1;
    c++;
  }
  return c;
}

/**
 * A minimum dominating set, by branch and bound over bitmasks (layers of up to 24 heads).
 *
 * Tie rule among minimum dominating sets, in the direction Algorithm 3 leans: (1) the largest
 * total closed-neighbourhood size `sum_{h in D} |S[h]|` (heads with more similar neighbours),
 * then (2) the set that holds the later head at the first head index where the sets differ,
 * scanning from the last head down (the bitmask with head `h` as bit `h` compared as an
 * integer: "the last head survives"). A pruned head is merged into its similar survivor with the
 * most similar neighbours, the later one on a tie.
 */
export function findDominatingExact(s: SimilarityMatrix): DominatingResult {
  checkSquare(s, 'findDominatingExact');
  const k = s.length;
  if (k > EXACT_MAX_HEADS) {
    throw new Error(`findDominatingExact: ${k} heads; the exact search handles at most ${EXACT_MAX_HEADS} (use strategy 'paper')`);
  }
  if (k === 0) return { kept: [], into: [] };
  const nb = s.map((row) => row.reduce((m, v, b) => (v ? m | (1 << b) : m), 0));
  const deg = nb.map(popcount);
  const full = (1 << k) - 1; // k <= 24: plain 32-bit integer bit operations are safe
  const maxCover = Math.max(...deg);

  let best = -1;
  let bestScore = -1;
  const seen = new Set<number>();
  const search = (chosen: number, dominated: number, depth: number, size: number, score: number): void => {
    if (dominated === full) {
      if (score > bestScore || (score === bestScore && chosen > best)) {
        best = chosen;
        bestScore = score;
      }
      return;
    }
    const left = size - depth;
    // Each further head dominates at most `maxCover` heads.
    if (left === 0 || popcount(full & ~dominated) > left * maxCover) return;
    if (seen.has(chosen)) return;
    seen.add(chosen);
    // Some member of the closed neighbourhood of the first undominated head must be chosen.
    const rest = full & ~dominated;
    const v = 31 - Math.clz32(rest & -rest);
    for (let u = 0; u < k; u++) {
      if (nb[v] & (1 << u) && !(chosen & (1 << u))) {
        search(chosen | (1 << u), dominated | nb[u], depth + 1, size, score + deg[u]);
      }
    }
  };
  for (let size = 1; size <= k && best < 0; size++) {
    seen.clear();
    search(0, 0, 0, size, 0);
  }
  const kept: number[] = [];
  for (let h = 0; h < k; h++) if (best & (1 << h)) kept.push(h);
  const into = s.map((row, i) => {
    if (best & (1 << i)) return i;
    let target = -1;
    for (const h of kept) {
      if (row[h] && (target < 0 || deg[h] > deg[target] || (deg[h] === deg[target] && h > target))) target = h;
    }
    return target;
  });
  return { kept, into };
}

/** Runs the chosen strategy. */
export function findDominating(s: SimilarityMatrix, strategy: DominatingStrategy = 'paper'): DominatingResult {
  switch (strategy) {
    case 'paper': return findDominatingPaper(s);
    case 'exact': return findDominatingExact(s);
    default: throw new Error(`findDominating: unknown strategy '${strategy as string}' (expected 'paper' or 'exact')`);
  }
}

/**
 * True when every head is in `kept` or similar to a head in `kept` (a dominating set of the
 * similarity graph). The one check of this property, for matrices and, through
 * `similarityOfGraph` (src/graph), for head graphs. A position outside the matrix is an error (a
 * typo would otherwise make a set look smaller than it is).
 */
export function isDominatingSet(s: SimilarityMatrix, kept: readonly number[]): boolean {
  for (const h of kept) {
    if (!(Number.isInteger(h) && h >= 0 && h < s.length)) throw new Error(`isDominatingSet: head ${h} is not a position of the ${s.length}-head similarity matrix`);
  }
  return s.every((row) => kept.some((h) => row[h]));
}
