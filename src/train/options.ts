/**
 * Hyperparameters of a training run, their defaults and their ranges. Everything is checked by
 * `validateTrainOptions` before any work starts, so a bad value costs no compute.
 */
import { DEFAULT_EPS, DEFAULT_THETA, isValidEps, isValidTheta } from '../neuroprune/checks';
import { CLIP_SCOPES, type ClipScope } from './clip';

export type TrainMode = 'finetune' | 'magnitude' | 'l1' | 'neuroprune' | 'cofi' | 'dsp';

/**
 * How the penalties act (src/neuroprune/proximal.ts): `gradient` adds their (sub)gradient to the
 * loss's, as the paper writes Algorithm 1; `proximal` applies their proximal map after each AdamW
 * step (soft-thresholding by `lr * beta * c_i` for R_mlp, the exact group map for R_attn, plain
 * soft-thresholding in l1 mode), decoupled from Adam's per-weight scaling like weight decay.
 */
export type PenaltyStep = 'gradient' | 'proximal';
export const PENALTY_STEPS: readonly PenaltyStep[] = ['gradient', 'proximal'];
export const TRAIN_MODES: readonly TrainMode[] = ['finetune', 'magnitude', 'l1', 'neuroprune', 'cofi', 'dsp'];

export interface TrainOptions {
  /**
   * `finetune` (task loss only), `magnitude` (fine-tuning, then the smallest weights zeroed to
   * `targetSparsity` after the last epoch: the equal-sparsity control), `l1` (the paper's
   * baseline), `neuroprune` (Algorithm 1).
   */
  mode: TrainMode;
  /** Number of epochs n_e (>= 1). */
  epochs: number;
  batchSize: number;
  /** Peak learning rate of the linear warm-up/decay schedule. */
  learningRate: number;
  /** Fraction of all steps spent warming up, in [0, 1). */
  warmupRatio: number;
  /** AdamW's decoupled weight decay (not on biases and LayerNorm). */
  weightDecay: number;
  /** Global gradient-norm clip; 0 disables. */
  maxGradNorm: number;
  /** What the clip applies to: the task gradient only (`task`) or task + penalties (`total`); see src/train/clip.ts. */
  clipScope: ClipScope;
  /**
   * Weight of the attention regularizer: R_attn (group l_1^{1/2}) in `neuroprune` mode, plain l1
   * of Q/K/V/O in `l1` mode.
   */
  alpha: number;
  /** Weight of the MLP regularizer: R_mlp (Eq. 1) in `neuroprune` mode, plain l1 of the MLP in `l1` mode. */
  beta: number;
  /** How the penalties are applied: added to the gradient, or as a proximal step after the optimizer's (see PenaltyStep). */
  penaltyStep: PenaltyStep;
  /** Magnitude below which a weight counts as zero (Eq. 1's counts and sparsity). */
  eps: number;
  /** Head-similarity threshold (l-infinity distance, Algorithm 2). */
  theta: number;
  /** Merge a pruned head's Wo columns into its replacement (the paper's rule); false for ablations. */
  mergeHeads: boolean;
  /** Head-selection rule: Algorithm 3 (`paper`) or an exact minimum dominating set (`exact`). */
  headStrategy: 'paper' | 'exact';
  /** Physically remove dead heads, neurons and input dims after each epoch (dynamic sparse training). */
  compact: boolean;
  /** Optional final projection to this unstructured sparsity in [0, 1) (required by `magnitude`). */
  targetSparsity?: number;
  /** That projection's threshold: one for the whole model (`global`, default) or one per layer (src/neuroprune/magnitude.ts). */
  pruneScope?: 'global' | 'layer';
  /** Seed of data order, dropout and initialisation. */
  seed: number;
  /** Print a progress bar (stderr). */
  progress: boolean;
}

/**
 * Defaults of the built-in run: NeuroPrune fine-tuning of the small trained BERT of
 * data/models/bert-small-negation for three epochs (BENCHMARKS.md shows the sweep they come
 * from). For a pretrained BERT on GLUE, sweep alpha, beta and theta (`neuroprune sweep`): their
 * best values depend on the model's weight scale and the task.
 */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  mode: 'neuroprune',
  epochs: 3,
  batchSize: 32,
  learningRate: 3e-4,
  warmupRatio: 0.1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  clipScope: 'task',
  alpha: 1e-3,
  beta: 1e-1,
  penaltyStep: 'gradient',
  eps: DEFAULT_EPS,
  theta: DEFAULT_THETA,
  mergeHeads: true,
  headStrategy: 'paper',
  compact: true,
  seed: 42,
  progress: true,
};

/** Throws one error listing every out-of-range value. */
export function validateTrainOptions(o: TrainOptions): void {
  const bad: string[] = [];
  const check = (ok: boolean, msg: string) => { if (!ok) bad.push(msg); };
  check(TRAIN_MODES.includes(o.mode), `mode must be one of ${TRAIN_MODES.join(', ')} (got ${o.mode})`);
  check(Number.isInteger(o.epochs) && o.epochs >= 1, `epochs must be an integer >= 1 (got ${o.epochs})`);
  check(Number.isInteger(o.batchSize) && o.batchSize >= 1, `batch size must be an integer >= 1 (got ${o.batchSize})`);
  check(o.learningRate > 0 && Number.isFinite(o.learningRate), `learning rate must be > 0 (got ${o.learningRate})`);
  check(o.warmupRatio >= 0 && o.warmupRatio < 1, `warmup ratio must be in [0, 1) (got ${o.warmupRatio})`);
  check(o.weightDecay >= 0, `weight decay must be >= 0 (got ${o.weightDecay})`);
  check(o.maxGradNorm >= 0, `max grad norm must be >= 0 (got ${o.maxGradNorm})`);
  check(CLIP_SCOPES.includes(o.clipScope), `clip scope must be one of ${CLIP_SCOPES.join(', ')} (got ${o.clipScope})`);
  check(o.alpha >= 0 && Number.isFinite(o.alpha), `alpha must be >= 0 (got ${o.alpha})`);
  check(o.beta >= 0 && Number.isFinite(o.beta), `beta must be >= 0 (got ${o.beta})`);
  check(PENALTY_STEPS.includes(o.penaltyStep), `penalty step must be one of ${PENALTY_STEPS.join(', ')} (got ${o.penaltyStep})`);
  check(isValidEps(o.eps), `eps must be > 0 (got ${o.eps})`);
  check(isValidTheta(o.theta), `theta must be >= 0 (got ${o.theta})`);
  check(o.headStrategy === 'paper' || o.headStrategy === 'exact', `head strategy must be paper or exact (got ${o.headStrategy})`);
  check(o.targetSparsity === undefined || (o.targetSparsity >= 0 && o.targetSparsity < 1),
    `target sparsity must be in [0, 1) (got ${o.targetSparsity})`);
  check(o.mode !== 'magnitude' || o.targetSparsity !== undefined, 'mode magnitude needs a target sparsity (the sparsity to prune to after fine-tuning)');
  check(o.mode !== 'magnitude' || (o.alpha === 0 && o.beta === 0), `mode magnitude fine-tunes without regularizers: alpha and beta must be 0 (got ${o.alpha}, ${o.beta})`);
  check(o.pruneScope === undefined || o.pruneScope === 'global' || o.pruneScope === 'layer', `prune scope must be global or layer (got ${o.pruneScope})`);
  check(Number.isInteger(o.seed), `seed must be an integer (got ${o.seed})`);
  if (bad.length) throw new Error('invalid training options: ' + bad.join('; '));
}
