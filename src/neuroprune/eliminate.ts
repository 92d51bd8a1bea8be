/**
 * Redundant-head elimination: similar heads (Algorithm 2) are replaced by the survivors of a
 * dominating set (Algorithm 3, or an exact minimum one), their output weights merged into the
 * survivor's, and removed physically from the block.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, Linear, StructuralChange } from '../models/blocks';
import { replaceVariable } from '../util/variables';
import { checkTheta } from './checks';
import { findDominating, type DominatingResult, type DominatingStrategy } from './dominating';
import { headDistances, similarityFromDistances, type HeadDistanceOptions } from './similarity';

export interface RemoveHeadsOptions {
  /**
   * Add each removed head's columns of `Wo` to those of the head it is replaced by (the paper's
   * `L_in,J += L_in,H_i`). Default true; false removes the head's contribution outright (ablation).
   */
  merge?: boolean;
}

/** Replaces a Linear's weight or bias by `value` (disposed afterwards), the gather `kept` along `axis` of the old one. */
function setParam(layer: Linear, key: 'weight' | 'bias', value: tf.Tensor, axis: number, kept: readonly number[]): StructuralChange {
  const old = layer[key];
  if (!old) throw new Error(`setParam: layer has no ${key}`);
  const replacement = replaceVariable(old, value);
  layer[key] = replacement;
  value.dispose();
  return { variable: old, replacement, axis, kept };
}

function headRows(heads: readonly number[], headSize: number): number[] {
  return heads.flatMap((h) => Array.from({ length: headSize }, (_, r) => h * headSize + r));
}

/**
 * Removes heads from a block. `into[i]` is the head (current position) that head `i` is replaced
 * by, `i` for a head that stays; a replacement must itself stay. Updates `numHeads` and `headIds`.
 * Returns the variables it replaced (Q/K/V rows and biases, O columns), for the optimizer state.
 */
export function removeHeads(block: AttentionBlock, into: readonly number[], options: RemoveHeadsOptions = {}): StructuralChange[] {
  const merge = options.merge ?? true;
  const { numHeads: k, headSize: dh } = block;
  if (into.length !== k) throw new Error(`removeHeads ${block.name}: got ${into.length} replacements for ${k} heads`);
  into.forEach((j, i) => {
    if (!Number.isInteger(j) || j < 0 || j >= k) throw new Error(`removeHeads ${block.name}: head ${i} replaced by ${j}, not a head of the layer`);
    if (into[j] !== j) throw new Error(`removeHeads ${block.name}: head ${i} replaced by head ${j}, which is itself removed`);
  });
  const kept = into.flatMap((j, i) => (j === i ? [i] : []));
  if (kept.length === k) return [];
  if (kept.length === 0) throw new Error(`removeHeads ${block.name}: a layer must keep at least one head`);

  const rows = headRows(kept, dh);
  const changes: StructuralChange[] = [];
  for (const l of [block.query, block.key, block.value]) {
    changes.push(setParam(l, 'weight', tf.tidy(() => tf.gather(l.weight, rows, 0)), 0, rows));
    if (l.bias) {
      const b = l.bias;
      changes.push(setParam(l, 'bias', tf.tidy(() => tf.gather(b, rows, 0)), 0, rows));
    }
  }
  const wo = block.output.weight;
  const d = wo.shape[0];
  const nextWo = tf.tidy(() => {
    if (!merge) return tf.gather(wo, rows, 1);
    // Per head, the columns of Wo as one row: [k, d*dh]. A 0/1 assignment matrix sums every
    // removed head's block into its survivor's block (0 * x and 1 * x are exact in float).
    const perHead = wo.reshape([d, k, dh]).transpose([1, 0, 2]).reshape([k, d * dh]);
    const assign = tf.tensor2d(
      kept.flatMap((h) => into.map((j) => (j === h ? 1 : 0))),
      [kept.length, k],
    );
    return tf.matMul(assign, perHead).reshape([kept.length, d, dh]).transpose([1, 0, 2]).reshape([d, kept.length * dh]);
  });
  changes.push(setParam(block.output, 'weight', nextWo, 1, rows));
  block.numHeads = kept.length;
  block.headIds = kept.map((h) => block.headIds[h]);
  return changes;
}

export interface EliminateOptions extends HeadDistanceOptions, RemoveHeadsOptions {
  /** Largest l-infinity distance at which two heads are similar; >= 0, no default. */
  theta: number;
  /** 'paper' (Algorithm 3, default) or 'exact' (minimum dominating set, up to 24 heads). */
  strategy?: DominatingStrategy;
}

/** One head removed: original ids, as `headIds` numbers them. */
export interface EliminatedHead {
  head: number;
  into: number;
}

export interface HeadElimination {
  name: string;
  stack: AttentionBlock['stack'];
  kind: AttentionBlock['kind'];
  layer: number;
  theta: number;
  strategy: DominatingStrategy;
  merged: boolean;
  headsBefore: number;
  headsAfter: number;
  /** Original ids of the surviving heads. */
  kept: number[];
  eliminated: EliminatedHead[];
  /** The variables replaced (see `removeHeads`); empty when no head was removed. */
  changes: StructuralChange[];
}

/** Applies a dominating-set result to a block and describes it in original head ids. */
function applyDominating(block: AttentionBlock, result: DominatingResult, theta: number, strategy: DominatingStrategy, merge: boolean): HeadElimination {
  const ids = block.headIds.slice();
  const eliminated = result.into.flatMap((j, i) => (j === i ? [] : [{ head: ids[i], into: ids[j] }]));
  const headsBefore = block.numHeads;
  const changes = removeHeads(block, result.into, { merge });
  return {
    name: block.name,
    stack: block.stack,
    kind: block.kind,
    layer: block.layer,
    theta,
    strategy,
    merged: merge,
    headsBefore,
    headsAfter: block.numHeads,
    kept: block.headIds.slice(),
    eliminated,
    changes,
  };
}

/** Algorithms 2 and 3 on one block: finds similar heads, merges and removes the dominated ones. */
export function eliminateRedundantHeads(block: AttentionBlock, options: EliminateOptions): HeadElimination {
  checkTheta(options.theta, `eliminateRedundantHeads ${block.name}`);
  const strategy = options.strategy ?? 'paper';
  const s = similarityFromDistances(headDistances(block, options), options.theta);
  return applyDominating(block, findDominating(s, strategy), options.theta, strategy, options.merge ?? true);
}

/** Head pruning on every layer (the step after each epoch in Algorithm 1). */
export function eliminateRedundantHeadsAll(blocks: readonly AttentionBlock[], options: EliminateOptions): HeadElimination[] {
  return blocks.map((b) => eliminateRedundantHeads(b, options));
}

// ---------------------------------------------------------------------------------------------
// A target number of heads: choose theta.

export interface HeadTargetOptions extends HeadDistanceOptions {
  /**
   * Heads to keep: per layer (a number for every layer, or one per block) with scope 'layer',
   * in total over all blocks with scope 'global'.
   */
  heads: number | readonly number[];
  /** 'layer' (default): a theta per layer; 'global': one theta for all layers. */
  scope?: 'layer' | 'global';
  strategy?: DominatingStrategy;
}

export interface HeadTargetPlan {
  scope: 'layer' | 'global';
  /** The theta chosen for each block (all equal with scope 'global'). */
  theta: number[];
  /** Heads each block keeps at that theta. */
  kept: number[];
  /** The request: per block ('layer') or a one-element total ('global'). */
  requested: number[];
  /** True when every request is met exactly. */
  met: boolean;
  /** Empty when met; otherwise which request could not be met, and the counts reachable nearby. */
  message: string;
}

/**
 * The thetas worth trying for a set of pairwise distances: one inside each interval between
 * consecutive distinct distances (the similarity graph is constant on each), ascending, starting
 * below the smallest distance when it is positive. Midpoints keep away from the breakpoints, so
 * recomputing the distances cannot flip an edge.
 */
export function candidateThetas(distances: readonly number[]): number[] {
  const b = [...new Set(distances.filter((v) => Number.isFinite(v) && v >= 0))].sort((x, y) => x - y);
  if (b.length === 0) return [0];
  const out: number[] = [];
  if (b[0] > 0) out.push(b[0] / 2);
  for (let i = 0; i < b.length; i++) {
    const next = i + 1 < b.length ? b[i + 1] : Infinity;
    let mid = next === Infinity ? (b[i] === 0 ? 1 : 2 * b[i]) : (b[i] + next) / 2;
    if (!(mid < next)) mid = b[i];
    out.push(mid);
  }
  return out;
}

interface ThetaSearch {
  index: number;
  count: number;
}

/**
 * Finds a candidate index whose count equals `target`. The count of an exact minimum dominating
 * set never grows as theta grows (more edges), so bisection over the ascending candidates finds
 * the smallest such theta. Algorithm 3 is greedy and its count is not monotone in theta in
 * general: when bisection misses, every candidate is scanned. Returns the hit, or the nearest
 * count above the target (fewer heads removed than asked, never more), or below if none is above.
 */
function searchTheta(count: (i: number) => number, n: number, target: number): { hit: ThetaSearch | null; above: ThetaSearch | null; below: ThetaSearch | null } {
  const memo = new Map<number, number>();
  const c = (i: number) => {
    let v = memo.get(i);
    if (v === undefined) memo.set(i, (v = count(i)));
    return v;
  };
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (c(mid) <= target) hi = mid;
    else lo = mid + 1;
  }
  if (c(lo) === target) return { hit: { index: lo, count: target }, above: null, below: null };
  let above: ThetaSearch | null = null;
  let below: ThetaSearch | null = null;
  for (let i = 0; i < n; i++) {
    const v = c(i);
    if (v === target) return { hit: { index: i, count: v }, above: null, below: null };
    if (v > target && (!above || v < above.count)) above = { index: i, count: v };
    if (v < target && (!below || v > below.count)) below = { index: i, count: v };
  }
  return { hit: null, above, below };
}

function upperTriangle(d: readonly (readonly number[])[]): number[] {
  return d.flatMap((row, a) => row.slice(a + 1));
}

/**
 * Chooses theta so that the requested number of heads survives (the paper's stated limitation:
 * its user cannot say how many heads to keep). Reads the weights; changes nothing. Throws on a
 * request outside `[1, numHeads]` per layer (`[layers, total]` globally); returns `met: false`
 * with a message when the count is valid but no theta yields it (e.g. three equidistant heads go
 * from 3 straight to 1), with the theta of the nearest count above the request.
 */
export function planHeadTarget(blocks: readonly AttentionBlock[], options: HeadTargetOptions): HeadTargetPlan {
  const scope = options.scope ?? 'layer';
  const strategy = options.strategy ?? 'paper';
  const dists = blocks.map((b) => headDistances(b, options));
  const countAt = (layer: number, theta: number) => findDominating(similarityFromDistances(dists[layer], theta), strategy).kept.length;

  if (scope === 'global') {
    if (typeof options.heads !== 'number') throw new Error(`planHeadTarget: scope 'global' takes one total number of heads, got a list`);
    const target = options.heads;
    const total = blocks.reduce((s, b) => s + b.numHeads, 0);
    if (!Number.isInteger(target) || target < blocks.length || target > total) {
      throw new Error(`planHeadTarget: global target ${target} heads is outside [${blocks.length}, ${total}] (each of the ${blocks.length} layers keeps at least one head)`);
    }
    const cands = candidateThetas(dists.flatMap(upperTriangle));
    const sum = (i: number) => blocks.reduce((s, _, l) => s + countAt(l, cands[i]), 0);
    const { hit, above, below } = searchTheta(sum, cands.length, target);
    const pick = hit ?? above ?? below!;
    const theta = cands[pick.index];
    const kept = blocks.map((_, l) => countAt(l, theta));
    const message = hit
      ? ''
      : `no single theta keeps exactly ${target} heads in total; nearest reachable: ${[above?.count, below?.count].filter((v) => v !== undefined).join(' and ')}`;
    return { scope, theta: blocks.map(() => theta), kept, requested: [target], met: hit !== null, message };
  }

  const requested = typeof options.heads === 'number' ? blocks.map(() => options.heads as number) : [...options.heads];
  if (requested.length !== blocks.length) throw new Error(`planHeadTarget: ${requested.length} targets for ${blocks.length} layers`);
  const theta: number[] = [];
  const kept: number[] = [];
  const misses: string[] = [];
  blocks.forEach((b, l) => {
    const target = requested[l];
    if (!Number.isInteger(target) || target < 1 || target > b.numHeads) {
      throw new Error(`planHeadTarget ${b.name}: target ${target} heads is outside [1, ${b.numHeads}]`);
    }
    const cands = candidateThetas(upperTriangle(dists[l]));
    const { hit, above, below } = searchTheta((i) => countAt(l, cands[i]), cands.length, target);
    const pick = hit ?? above ?? below!;
    theta.push(cands[pick.index]);
    kept.push(pick.count);
    if (!hit) {
      const near = [above?.count, below?.count].filter((v) => v !== undefined).join(' and ');
      misses.push(`layer ${b.layer} (${b.name}): no theta keeps exactly ${target} of ${b.numHeads} heads; nearest reachable: ${near}`);
    }
  });
  return { scope, theta, kept, requested, met: misses.length === 0, message: misses.join('; ') };
}

export interface PruneToTargetOptions extends HeadTargetOptions, RemoveHeadsOptions {
  /** What to do when a request cannot be met: 'error' (default) throws; 'closest' prunes to the nearest count above. */
  ifUnreachable?: 'error' | 'closest';
}

/** Plans theta for a target number of heads (see `planHeadTarget`) and eliminates accordingly. */
export function pruneHeadsToTarget(blocks: readonly AttentionBlock[], options: PruneToTargetOptions): { plan: HeadTargetPlan; eliminations: HeadElimination[] } {
  const plan = planHeadTarget(blocks, options);
  if (!plan.met && (options.ifUnreachable ?? 'error') === 'error') {
    throw new Error(`pruneHeadsToTarget: ${plan.message}`);
  }
  const eliminations = blocks.map((b, l) =>
    eliminateRedundantHeads(b, { theta: plan.theta[l], strategy: options.strategy, merge: options.merge, includeBias: options.includeBias }),
  );
  return { plan, eliminations };
}
