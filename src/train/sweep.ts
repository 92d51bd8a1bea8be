/**
 * Hyperparameter grids, split into shards for batch schedulers.
 *
 * The grid is the cross product of modes x alpha x beta x theta, in a fixed order, so that every
 * machine that runs `--shard i/n` computes the same list and takes every n-th point starting at i
 * (round robin balances cheap and expensive points). Modes that do not use a hyperparameter do not
 * multiply the grid by it: `finetune` runs once, `magnitude` and `cofi` once per target sparsity,
 * `dsp` once per head count, `l1` ignores theta.
 */
import { createHash } from 'node:crypto';
import type { TrainMode, TrainOptions } from './options';
import type { SetupValue } from './runIdentity';

export interface SweepGrid {
  modes: TrainMode[];
  alphas: number[];
  betas: number[];
  thetas: number[];
  /** Target sparsities of `magnitude` points (fine-tune, then prune to each) and of `cofi` points. */
  sparsities: number[];
  /** Heads kept (over the model) of `dsp` points. */
  headCounts?: number[];
}

export interface SweepPoint {
  /** Readable name of the point within its grid (mode and hyperparameters); see `pointKey` for its identity. */
  id: string;
  mode: TrainMode;
  alpha: number;
  beta: number;
  theta: number;
  /** `magnitude` points: the sparsity pruned to after fine-tuning; `cofi` points: the target sparsity. */
  sparsity?: number;
  /** `dsp` points: the heads kept. */
  heads?: number;
}

/**
 * The default grid: 11 points (finetune; magnitude at 50% and 80%; l1 and neuroprune at alpha in
 * {1e-4, 1e-3} x beta in {1e-2, 1e-1}, around the built-in defaults, at one theta), 9 trainings
 * since `neuroprune sweep` scores magnitude points from the finished finetune run, about an hour
 * for MiniLM-L6 on 2,000 SST-2 training examples for 3 epochs on this 2-core machine (about 6
 * minutes a run, from the 197-point paper grid's 20 hours there). `--paper-grid` runs the paper's 197.
 */
export function defaultGrid(theta: number, modes: TrainMode[] = ['finetune', 'magnitude', 'l1', 'neuroprune']): SweepGrid {
  return { modes, alphas: [1e-4, 1e-3], betas: [1e-2, 1e-1], thetas: [theta], sparsities: [0.5, 0.8] };
}

/** The paper's grid: alpha and beta from 1e-7 to 1e-1 by factors of 10, theta in {0.15, 0.2, 0.25}. */
export function paperGrid(modes: TrainMode[] = ['finetune', 'l1', 'neuroprune']): SweepGrid {
  const decades = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1];
  return { modes, alphas: decades, betas: decades, thetas: [0.15, 0.2, 0.25], sparsities: [0.5, 0.8] };
}

export function pointId(p: Omit<SweepPoint, 'id'>): string {
  return `${p.mode}:a=${p.alpha}:b=${p.beta}:t=${p.theta}` + (p.sparsity !== undefined ? `:s=${p.sparsity}` : '') + (p.heads !== undefined ? `:k=${p.heads}` : '');
}

/**
 * Everything besides the grid's own hyperparameters that changes a point's result: the run's setup
 * (task and data, starting model, tokenizer: what `train` stores in options.json as its setup) and
 * every training option (the progress bar aside).
 */
export interface SweepSettings {
  setup: Record<string, SetupValue>;
  options: Omit<TrainOptions, 'progress' | 'mode' | 'alpha' | 'beta' | 'theta'>;
}

export function sweepSettings(setup: Record<string, SetupValue>, trainOptions: TrainOptions): SweepSettings {
  const { progress: _p, mode: _m, alpha: _a, beta: _b, theta: _t, ...options } = trainOptions;
  return { setup, options };
}

/** JSON with object keys sorted at every depth, so equal settings give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The identity of a point in a results file: its id and a hash of its settings. Two points with
 * the same key train the same run; a point whose task, data, model or any option differs has
 * another key and is not taken as done.
 */
export function pointKey(p: SweepPoint, settings: SweepSettings): string {
  const hash = createHash('sha256').update(canonicalJson({ mode: p.mode, alpha: p.alpha, beta: p.beta, theta: p.theta, sparsity: p.sparsity, heads: p.heads, settings })).digest('hex');
  return `${p.id}#${hash.slice(0, 12)}`;
}

export function expandGrid(grid: SweepGrid): SweepPoint[] {
  const points: SweepPoint[] = [];
  const seen = new Set<string>();
  const push = (p: Omit<SweepPoint, 'id'>) => {
    const id = pointId(p);
    if (!seen.has(id)) { seen.add(id); points.push({ id, ...p }); }
  };
  for (const mode of grid.modes) {
    if (mode === 'finetune') { push({ mode, alpha: 0, beta: 0, theta: 0 }); continue; }
    if (mode === 'magnitude' || mode === 'cofi') { for (const sparsity of grid.sparsities) push({ mode, alpha: 0, beta: 0, theta: 0, sparsity }); continue; }
    if (mode === 'dsp') { for (const heads of grid.headCounts ?? []) push({ mode, alpha: 0, beta: 0, theta: 0, heads }); continue; }
    for (const alpha of grid.alphas) for (const beta of grid.betas) {
      if (mode === 'l1') { push({ mode, alpha, beta, theta: 0 }); continue; }
      for (const theta of grid.thetas) push({ mode, alpha, beta, theta });
    }
  }
  return points;
}

/** Parses `i/n` (0-based i < n). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shard must look like i/n (e.g. 0/4), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new Error(`--shard ${text}: need 0 <= i < n`);
  return { index, count };
}

export function shardOf<T>(items: T[], shard: { index: number; count: number }): T[] {
  return items.filter((_, i) => i % shard.count === shard.index);
}

/** Parses a comma-separated list of numbers, e.g. `1e-5,1e-4`. */
export function parseNumberList(text: string, what: string): number[] {
  const values = text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new Error(`${what}: '${text}' is not a comma-separated list of numbers`);
  return values;
}
