/**
 * The training flags shared by `train` and `sweep`, and their translation to `TrainOptions`.
 */
import { CLIP_SCOPES, type ClipScope } from '../train/clip';
import { DEFAULT_TRAIN_OPTIONS, TRAIN_MODES, type TrainMode, type TrainOptions } from '../train/options';
import { numberOption, stringOption, UsageError, type OptionTable, type Parsed } from './args';

const D = DEFAULT_TRAIN_OPTIONS;

export const TASK_FLAGS: OptionTable = {
  task: { type: 'string', value: 'NAME', help: 'negation (built-in), text (causal language modelling; decoders) or a GLUE task: cola, sst2, mrpc, qqp, stsb, mnli, mnli-mm, qnli, rte, wnli', default: 'negation; text for a decoder' },
  text: { type: 'string', value: 'FILE', help: 'task text: training text, one document or sentence a line (with --dev-text)', default: 'the built-in corpus, data/text' },
  'dev-text': { type: 'string', value: 'FILE', help: 'task text: held-out text for the perplexity' },
  'model-type': { type: 'string', value: 'TYPE', help: 'instead of --model or --config: a fresh small model of this architecture (bert, opt, gpt2; data/configs)' },
  'glue-dir': { type: 'string', value: 'DIR', help: 'GLUE root folder (standard layout), for GLUE tasks' },
  model: { type: 'string', value: 'DIR', help: 'Hugging Face directory to start from (BERT, OPT or GPT-2: config.json, model.safetensors, tokenizer)', default: 'data/models/bert-small-negation for the built-in task' },
  'reinit-classifier': { type: 'boolean', help: "with --model: replace a classifier whose label count is not the task's by a fresh one (else refused)" },
  config: { type: 'string', value: 'FILE', help: 'instead of --model: train a fresh, randomly initialised model of this config.json (e.g. data/configs/bert-small-negation.json, opt-small-text.json)' },
  'max-length': { type: 'string', value: 'N', help: 'truncate inputs to N tokens (task text: tokens per block)', default: '128 (32 for negation, 64 for text)' },
  'limit-train': { type: 'string', value: 'N', help: 'use only the first N training examples' },
  'limit-dev': { type: 'string', value: 'N', help: 'use only the first N dev examples' },
};

export const TRAIN_FLAGS: OptionTable = {
  mode: { type: 'string', value: 'MODE', help: 'finetune | l1 | neuroprune', default: D.mode },
  epochs: { type: 'string', value: 'N', help: 'epochs n_e', default: String(D.epochs) },
  'batch-size': { type: 'string', value: 'N', help: 'examples per step', default: String(D.batchSize) },
  lr: { type: 'string', value: 'X', help: 'peak learning rate (linear warm-up, then linear decay)', default: String(D.learningRate) },
  warmup: { type: 'string', value: 'X', help: 'fraction of steps spent warming up', default: String(D.warmupRatio) },
  'weight-decay': { type: 'string', value: 'X', help: "AdamW's decoupled weight decay", default: String(D.weightDecay) },
  'max-grad-norm': { type: 'string', value: 'X', help: 'clip the global gradient norm (0: off)', default: String(D.maxGradNorm) },
  'clip-scope': { type: 'string', value: 'S', help: 'task: clip only the task gradient, then add the penalties\' (default); total: clip task + penalties as one', default: D.clipScope },
  alpha: { type: 'string', value: 'X', help: 'weight of the attention regularizer (R_attn; l1 of Q/K/V/O in l1 mode)', default: String(D.alpha) },
  beta: { type: 'string', value: 'X', help: 'weight of the MLP regularizer (R_mlp; l1 of the MLP in l1 mode)', default: String(D.beta) },
  eps: { type: 'string', value: 'X', help: 'magnitude below which a weight counts as zero', default: String(D.eps) },
  theta: { type: 'string', value: 'X', help: 'head-similarity threshold (l-infinity distance)', default: String(D.theta) },
  'head-strategy': { type: 'string', value: 'S', help: 'paper (Algorithm 3) or exact (minimum dominating set)', default: D.headStrategy },
  'no-merge': { type: 'boolean', help: "remove similar heads without merging their output weights (ablation)" },
  'no-compact': { type: 'boolean', help: 'keep dense shapes after each epoch (no physical compaction)' },
  'target-sparsity': { type: 'string', value: 'X', help: 'after the last epoch, zero the smallest weights to this sparsity' },
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
  const target = numberOption(values, 'target-sparsity', (v) => (v >= 0 && v < 1 ? null : `must be in [0, 1), got ${v}`));
  return {
    mode,
    epochs: numberOption(values, 'epochs', integerAtLeast1) ?? D.epochs,
    batchSize: numberOption(values, 'batch-size', integerAtLeast1) ?? D.batchSize,
    learningRate: numberOption(values, 'lr', positive) ?? D.learningRate,
    warmupRatio: numberOption(values, 'warmup', (v) => (v >= 0 && v < 1 ? null : `must be in [0, 1), got ${v}`)) ?? D.warmupRatio,
    weightDecay: numberOption(values, 'weight-decay', nonNegative) ?? D.weightDecay,
    maxGradNorm: numberOption(values, 'max-grad-norm', nonNegative) ?? D.maxGradNorm,
    clipScope: clipScope as ClipScope,
    alpha: numberOption(values, 'alpha', nonNegative) ?? D.alpha,
    beta: numberOption(values, 'beta', nonNegative) ?? D.beta,
    eps: numberOption(values, 'eps', positive) ?? D.eps,
    theta: numberOption(values, 'theta', nonNegative) ?? D.theta,
    headStrategy: strategy,
    mergeHeads: values['no-merge'] !== true,
    compact: values['no-compact'] !== true,
    ...(target !== undefined ? { targetSparsity: target } : {}),
    seed: numberOption(values, 'seed', (v) => (Number.isInteger(v) ? null : `must be an integer, got ${v}`)) ?? D.seed,
    progress: !quiet,
  };
}

export function intOption(values: Parsed['values'], name: string): number | undefined {
  return numberOption(values, name, integerAtLeast1);
}
