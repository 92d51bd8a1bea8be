/**
 * The training flags shared by `train` and `sweep`, and their translation to `TrainOptions`.
 */
import { CLIP_SCOPES, type ClipScope } from '../train/clip';
import { DEFAULT_TRAIN_OPTIONS, PENALTY_STEPS, TRAIN_MODES, type PenaltyStep, type TrainMode, type TrainOptions } from '../train/options';
import { numberOption, stringOption, UsageError, type OptionTable, type Parsed } from './args';
import type { FileTaskChoice } from './setup';
import type { PrunableModel } from '../models/blocks';
import { relativeTheta } from '../neuroprune/thetaScale';

const D = DEFAULT_TRAIN_OPTIONS;

/**
 * The default head-similarity threshold, relative to the model (src/neuroprune/thetaScale.ts): the
 * 0.05-quantile of its pairwise head distances, 0.450 on pretrained MiniLM-L6 and 0.207 on the
 * built-in small BERT (whose fixed default used to be 0.2).
 */
export const DEFAULT_THETA_QUANTILE = 0.05;

export const TASK_FLAGS: OptionTable = {
  task: { type: 'string', value: 'NAME', help: 'negation (built-in), text (causal language modelling; decoders), a GLUE task: cola, sst2, mrpc, qqp, stsb, mnli, mnli-mm, qnli, rte, wnli, or a seq2seq task for T5: spell-digits (built-in), summarization, translation (with --train/--dev)', default: 'negation; text for a decoder; spell-digits for a T5' },
  text: { type: 'string', value: 'FILE', help: 'task text: training text, one document or sentence a line (with --dev-text)', default: 'the built-in corpus, data/text' },
  'dev-text': { type: 'string', value: 'FILE', help: 'task text: held-out text for the perplexity' },
  'model-type': { type: 'string', value: 'TYPE', help: 'instead of --model or --config: a small model of this architecture (bert, opt, gpt2, t5; data/configs, data/models)' },
  'glue-dir': { type: 'string', value: 'DIR', help: 'GLUE root folder (standard layout), for GLUE tasks' },
  train: { type: 'string', value: 'FILE', help: 'your own training data instead of --task: .csv, .tsv (header line) or .jsonl (one object per line); needs --dev and --model. With --task summarization/translation: the pairs (also parallel text files: the stem of train.de + train.en)' },
  dev: { type: 'string', value: 'FILE', help: 'your own dev data, same format rules as --train' },
  'text-column': { type: 'string', value: 'NAME', help: 'with --train/--dev: column (JSONL: key) of the text', default: 'text' },
  'text-pair-column': { type: 'string', value: 'NAME', help: 'with --train/--dev: column of the second text of a pair (entailment, paraphrase)' },
  'label-column': { type: 'string', value: 'NAME', help: 'with --train/--dev: column of the label; classes are the training file\'s labels (numeric order when all are numbers, else sorted)', default: 'label' },
  regression: { type: 'boolean', help: 'with --train/--dev: the labels are numeric targets (one output, MSE; Pearson/Spearman)' },
  model: { type: 'string', value: 'DIR', help: 'Hugging Face directory to start from (BERT, OPT, GPT-2 or T5: config.json, model.safetensors, tokenizer)', default: 'data/models/bert-small-negation for the built-in task' },
  'reinit-classifier': { type: 'boolean', help: "with --model: replace a classifier whose label count is not the task's by a fresh one (else refused)" },
  config: { type: 'string', value: 'FILE', help: 'instead of --model: train a fresh, randomly initialised model of this config.json (e.g. data/configs/bert-small-negation.json, opt-small-text.json)' },
  'max-length': { type: 'string', value: 'N', help: 'truncate inputs to N tokens (task text: tokens per block)', default: '128 (32 for negation, 64 for text)' },
  'limit-train': { type: 'string', value: 'N', help: 'use only the first N training examples' },
  'limit-dev': { type: 'string', value: 'N', help: 'use only the first N dev examples' },
};

export const TRAIN_FLAGS: OptionTable = {
  mode: { type: 'string', value: 'MODE', help: 'finetune | magnitude (fine-tune, then prune to --target-sparsity) | l1 | neuroprune', default: D.mode },
  epochs: { type: 'string', value: 'N', help: 'epochs n_e', default: String(D.epochs) },
  'batch-size': { type: 'string', value: 'N', help: 'examples per step', default: String(D.batchSize) },
  lr: { type: 'string', value: 'X', help: 'peak learning rate (linear warm-up, then linear decay)', default: String(D.learningRate) },
  warmup: { type: 'string', value: 'X', help: 'fraction of steps spent warming up', default: String(D.warmupRatio) },
  'weight-decay': { type: 'string', value: 'X', help: "AdamW's decoupled weight decay", default: String(D.weightDecay) },
  'max-grad-norm': { type: 'string', value: 'X', help: 'clip the global gradient norm (0: off)', default: String(D.maxGradNorm) },
  'clip-scope': { type: 'string', value: 'S', help: 'task: clip only the task gradient, then add the penalties\' (default); total: clip task + penalties as one', default: D.clipScope },
  alpha: { type: 'string', value: 'X', help: 'weight of the attention regularizer (R_attn; l1 of Q/K/V/O in l1 mode)', default: String(D.alpha) },
  beta: { type: 'string', value: 'X', help: 'weight of the MLP regularizer (R_mlp; l1 of the MLP in l1 mode)', default: String(D.beta) },
  'penalty-step': { type: 'string', value: 'S', help: 'proximal: apply the penalties as a soft-threshold step after each AdamW step (weights reach exact zero); gradient: add their subgradient to the loss\'s (the paper\'s form)', default: D.penaltyStep },
  eps: { type: 'string', value: 'X', help: 'magnitude below which a weight counts as zero', default: String(D.eps) },
  theta: { type: 'string', value: 'X', help: 'head-similarity threshold (l-infinity distance), absolute', default: 'the --theta-quantile of the starting model' },
  'theta-quantile': { type: 'string', value: 'Q', help: "instead of --theta: theta = the Q-quantile of the starting model's pairwise head distances (all layers), rounded up to 4 decimals", default: String(DEFAULT_THETA_QUANTILE) },
  'head-strategy': { type: 'string', value: 'S', help: 'paper (Algorithm 3) or exact (minimum dominating set)', default: D.headStrategy },
  'no-merge': { type: 'boolean', help: "remove similar heads without merging their output weights (ablation)" },
  'no-compact': { type: 'boolean', help: 'keep dense shapes after each epoch (no physical compaction)' },
  'target-sparsity': { type: 'string', value: 'X', help: 'after the last epoch, zero the smallest prunable weights to exactly this sparsity (required by --mode magnitude)' },
  'prune-scope': { type: 'string', value: 'S', help: 'that pruning\'s threshold: global (one for the model) or layer (each layer to the target)', default: 'global' },
  seed: { type: 'string', value: 'N', help: 'seed of initialisation, data order and dropout', default: String(D.seed) },
};

const positive = (v: number) => (v > 0 ? null : `must be > 0, got ${v}`);
const nonNegative = (v: number) => (v >= 0 ? null : `must be >= 0, got ${v}`);
const integerAtLeast1 = (v: number) => (Number.isInteger(v) && v >= 1 ? null : `must be an integer >= 1, got ${v}`);

export function trainOptionsFrom(values: Parsed['values'], quiet: boolean): TrainOptions {
  const mode = (stringOption(values, 'mode') ?? D.mode) as TrainMode;
  if (!TRAIN_MODES.includes(mode)) throw new UsageError(`--mode: '${mode}' is not one of ${TRAIN_MODES.join(', ')}`);
  const strategy = stringOption(values, 'head-strategy') ?? D.headStrategy;
  if (strategy !== 'paper' && strategy !== 'exact') throw new UsageError(`--head-strategy: '${strategy}' is not paper or exact`);
  const clipScope = stringOption(values, 'clip-scope') ?? D.clipScope;
  if (!CLIP_SCOPES.includes(clipScope as ClipScope)) throw new UsageError(`--clip-scope: '${clipScope}' is not one of ${CLIP_SCOPES.join(', ')}`);
  const penaltyStep = stringOption(values, 'penalty-step') ?? D.penaltyStep;
  if (!PENALTY_STEPS.includes(penaltyStep as PenaltyStep)) throw new UsageError(`--penalty-step: '${penaltyStep}' is not one of ${PENALTY_STEPS.join(', ')}`);
  const target = numberOption(values, 'target-sparsity', (v) => (v >= 0 && v < 1 ? null : `must be in [0, 1), got ${v}`));
  if (values.theta !== undefined && values['theta-quantile'] !== undefined) throw new UsageError('--theta and --theta-quantile exclude each other: give an absolute theta or a quantile');
  const scope = stringOption(values, 'prune-scope');
  if (scope !== undefined && scope !== 'global' && scope !== 'layer') throw new UsageError(`--prune-scope: '${scope}' is not global or layer`);
  if (mode === 'magnitude' && target === undefined) throw new UsageError('--mode magnitude needs --target-sparsity X: the sparsity to prune to after fine-tuning');
  // Magnitude pruning fine-tunes without regularizers: their defaults do not apply (an explicit value is refused by validation).
  const penalty = (name: 'alpha' | 'beta') => numberOption(values, name, nonNegative) ?? (mode === 'magnitude' ? 0 : D[name]);
  return {
    mode,
    epochs: numberOption(values, 'epochs', integerAtLeast1) ?? D.epochs,
    batchSize: numberOption(values, 'batch-size', integerAtLeast1) ?? D.batchSize,
    learningRate: numberOption(values, 'lr', positive) ?? D.learningRate,
    warmupRatio: numberOption(values, 'warmup', (v) => (v >= 0 && v < 1 ? null : `must be in [0, 1), got ${v}`)) ?? D.warmupRatio,
    weightDecay: numberOption(values, 'weight-decay', nonNegative) ?? D.weightDecay,
    maxGradNorm: numberOption(values, 'max-grad-norm', nonNegative) ?? D.maxGradNorm,
    clipScope: clipScope as ClipScope,
    alpha: penalty('alpha'),
    beta: penalty('beta'),
    penaltyStep: penaltyStep as PenaltyStep,
    eps: numberOption(values, 'eps', positive) ?? D.eps,
    theta: numberOption(values, 'theta', nonNegative) ?? D.theta,
    headStrategy: strategy,
    mergeHeads: values['no-merge'] !== true,
    compact: values['no-compact'] !== true,
    ...(target !== undefined ? { targetSparsity: target } : {}),
    ...(scope !== undefined ? { pruneScope: scope } : {}),
    seed: numberOption(values, 'seed', (v) => (Number.isInteger(v) ? null : `must be an integer, got ${v}`)) ?? D.seed,
    progress: !quiet,
  };
}

/** `--model` and `--config` name two different starting points: one is refused rather than the other silently ignored. */
export function checkModelFlags(values: Parsed['values']): void {
  if (values.model !== undefined && values.config !== undefined) {
    throw new UsageError('--model and --config exclude each other: --model starts from a checkpoint, --config from a fresh random model of that config');
  }
}

/** The own-data flags (--train, --dev, columns, --regression), or undefined when neither file is given. */
export function fileTaskFlags(values: Parsed['values'], command: string): FileTaskChoice | undefined {
  const train = stringOption(values, 'train');
  const dev = stringOption(values, 'dev');
  const columnFlags = ['text-column', 'text-pair-column', 'label-column', 'regression'].filter((f) => values[f] !== undefined);
  if (train === undefined && dev === undefined) {
    if (columnFlags.length) throw new UsageError(`--${columnFlags[0]} goes with --train and --dev (your own data files)`);
    return undefined;
  }
  if (dev === undefined) throw new UsageError(`--train needs --dev FILE too: the dev file is scored after each epoch`);
  if (train === undefined && command !== 'eval') throw new UsageError(`--dev needs --train FILE too (only eval takes --dev alone)`);
  if (values.task !== undefined) throw new UsageError(`--task and --train/--dev exclude each other: the files are the task`);
  if (values['glue-dir'] !== undefined) throw new UsageError(`--glue-dir is for GLUE tasks; with --train/--dev it has no use`);
  return {
    train, dev, text: stringOption(values, 'text-column'), textPair: stringOption(values, 'text-pair-column'),
    label: stringOption(values, 'label-column'), regression: values.regression === true,
  };
}

/**
 * Sets `options.theta` from the starting model when `--theta` is not given: the `--theta-quantile`
 * (default 0.05) of its pairwise head distances. Returns the one line that says so (for
 * neuroprune mode, the one that uses theta), or null when --theta fixed it.
 */
export function resolveTheta(values: Parsed['values'], options: TrainOptions, model: PrunableModel): string | null {
  const q = numberOption(values, 'theta-quantile', (v) => (v >= 0 && v <= 1 ? null : `must be in [0, 1], got ${v}`));
  if (values.theta !== undefined) return null;
  const r = relativeTheta(model.attentionBlocks(), q ?? DEFAULT_THETA_QUANTILE);
  options.theta = Math.ceil(r.theta * 1e4) / 1e4;
  return `theta: ${options.theta} (the ${r.quantile}-quantile of the model's ${r.pairs} pairwise head distances, ${r.min.toFixed(3)}-${r.max.toFixed(3)}; --theta X fixes it)`;
}

export function intOption(values: Parsed['values'], name: string): number | undefined {
  return numberOption(values, name, integerAtLeast1);
}
