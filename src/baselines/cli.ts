/**
 * The command-line side of the baselines: their flags (shared by `train` and `sweep`), the
 * method record from the flags, the one-line epoch report, and the architecture check.
 */
import { numberOption, UsageError, type OptionTable, type Parsed } from '../cli/args';
import type { TrainOptions } from '../train/options';
import type { EpochRecord } from '../train/trainer';
import { COFI_DEFAULTS, DSP_DEFAULTS, type BaselineGateRecord, type BaselineMethod } from './train';

const C = COFI_DEFAULTS;
const D = DSP_DEFAULTS;

export const BASELINE_FLAGS: OptionTable = {
  'target-heads': { type: 'string', value: 'K', help: '--mode dsp: heads kept over the whole model (required)' },
  'finetune-epochs': { type: 'string', value: 'N', help: `--mode cofi: plain fine-tuning epochs before pruning (CoFI's paper: 4 small GLUE sets, 2 large)`, default: String(C.finetuneEpochs) },
  'prune-epochs': { type: 'string', value: 'N', help: `--mode cofi: pruning epochs (CoFI's paper: 100 small GLUE sets, 20 large)`, default: String(C.pruneEpochs) },
  'lagrangian-warmup-epochs': { type: 'string', value: 'N', help: `--mode cofi: epochs over which the target sparsity rises from 0 (CoFI's scripts: 20 small, 2 large)`, default: String(C.lagrangianWarmupEpochs) },
  'reg-lr': { type: 'string', value: 'X', help: '--mode cofi: learning rate of the gates and the Lagrange multipliers', default: String(C.regLearningRate) },
  'gate-lr': { type: 'string', value: 'X', help: '--mode dsp: learning rate of the head logits', default: String(D.gateLearningRate) },
  'initial-temperature': { type: 'string', value: 'X', help: '--mode dsp: temperature of the Gumbel-soft top-K at the first step', default: String(D.initialTemperature) },
  'final-temperature': { type: 'string', value: 'X', help: '--mode dsp: temperature after the cooldown', default: String(D.finalTemperature) },
  'cooldown': { type: 'string', value: 'F', help: '--mode dsp: fraction of the steps over which the temperature cools', default: '0.667' },
};

export const BASELINE_MODES = ['cofi', 'dsp'] as const;

export function isBaselineMode(mode: string): mode is 'cofi' | 'dsp' {
  return (BASELINE_MODES as readonly string[]).includes(mode);
}

const positive = (v: number) => (v > 0 ? null : `must be > 0, got ${v}`);
const count = (min: number) => (v: number) => (Number.isInteger(v) && v >= min ? null : `must be an integer >= ${min}, got ${v}`);

/** The method of a `--mode cofi|dsp` run from the flags; refuses flags of the other mode. */
export function baselineMethodFrom(values: Parsed['values'], options: TrainOptions): BaselineMethod {
  const given = (names: string[]) => names.filter((n) => values[n] !== undefined);
  const cofiOnly = given(['finetune-epochs', 'prune-epochs', 'lagrangian-warmup-epochs', 'reg-lr']);
  const dspOnly = given(['target-heads', 'gate-lr', 'initial-temperature', 'final-temperature', 'cooldown']);
  if (options.mode === 'cofi') {
    if (dspOnly.length) throw new UsageError(`--${dspOnly[0]} belongs to --mode dsp, not cofi`);
    if (options.targetSparsity === undefined || !(options.targetSparsity > 0)) throw new UsageError('--mode cofi needs --target-sparsity X (0 < X < 1): the expected sparsity the Lagrangian drives the gates to');
    if (values.epochs !== undefined) throw new UsageError('--mode cofi counts its epochs as --finetune-epochs + --prune-epochs; --epochs does not apply');
    return {
      kind: 'cofi', targetSparsity: options.targetSparsity,
      finetuneEpochs: numberOption(values, 'finetune-epochs', count(0)) ?? C.finetuneEpochs,
      pruneEpochs: numberOption(values, 'prune-epochs', count(1)) ?? C.pruneEpochs,
      lagrangianWarmupEpochs: numberOption(values, 'lagrangian-warmup-epochs', (v) => (v >= 0 ? null : `must be >= 0, got ${v}`)) ?? C.lagrangianWarmupEpochs,
      regLearningRate: numberOption(values, 'reg-lr', positive) ?? C.regLearningRate,
      droprateInit: C.droprateInit,
    };
  }
  if (cofiOnly.length) throw new UsageError(`--${cofiOnly[0]} belongs to --mode cofi, not dsp`);
  if (options.targetSparsity !== undefined) throw new UsageError('--mode dsp keeps a number of heads: give --target-heads K, not --target-sparsity');
  const k = numberOption(values, 'target-heads', count(1));
  if (k === undefined) throw new UsageError('--mode dsp needs --target-heads K: the number of heads kept over the whole model');
  return {
    kind: 'dsp', targetHeads: k,
    gateLearningRate: numberOption(values, 'gate-lr', positive) ?? D.gateLearningRate,
    initialTemperature: numberOption(values, 'initial-temperature', positive) ?? D.initialTemperature,
    finalTemperature: numberOption(values, 'final-temperature', positive) ?? D.finalTemperature,
    cooldownFraction: numberOption(values, 'cooldown', (v) => (v > 0 && v <= 1 ? null : `must be in (0, 1], got ${v}`)) ?? D.cooldownFraction,
  };
}

/** Refuses an architecture the gates do not cover, naming what is missing. */
export function checkBaselineArchitecture(modelType: string, mode: string): void {
  if (modelType !== 'bert') {
    throw new UsageError(`--mode ${mode} supports BERT checkpoints (model_type bert); this model is ${modelType}. ` +
      'Its gates need one self-attention and one plain MLP per layer and a classification head; use --mode neuroprune for decoders');
  }
}

/** One line per epoch, as `train` prints NeuroPrune's, with the gates' state. */
export function formatBaselineEpoch(e: EpochRecord): string {
  const metric = Object.entries(e.dev).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
  const s = e.sparsity as { unstructured: number; structured: number; headsPerLayer: number[]; headsKept: number; headsOriginal: number };
  const g = e.pruning as unknown as BaselineGateRecord;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  let gates = '';
  if (g.phase === 'finetune') gates = 'fine-tuning (no gates yet)';
  else if (g.method === 'cofi') {
    gates = g.phase === 'final' ? 'gates made permanent and removed' : `expected sparsity ${pct(g.expectedSparsity ?? 0)} (target ${pct(g.target ?? 0)}), deterministic gates ${pct(g.deterministicSparsity ?? 0)}, heads open ${(g.headsOpen ?? []).join(',')}`;
  } else {
    gates = g.phase === 'final' ? `kept heads ${(g.headsOpen ?? []).join(',')} and removed the others` : `temperature ${(g.temperature ?? 0).toExponential(1)}, top-K heads per layer ${(g.headsOpen ?? []).join(',')}`;
  }
  return `epoch ${e.epoch}: loss ${e.taskLoss.toFixed(4)}, dev ${metric}, sparsity ${pct(s.unstructured)} (structured ${pct(s.structured)}), ` +
    `heads ${s.headsKept}/${s.headsOriginal} (per layer ${s.headsPerLayer.join(',')}), ${gates}, ${e.trainSeconds.toFixed(1)} s train + ${e.evalSeconds.toFixed(1)} s eval`;
}
