/**
 * What identifies a run on disk, so that a resume continues the same run or refuses saying why:
 * the options and the setup stored in options.json, and the trainer's state in a checkpoint's
 * trainer_state.json (validated field by field when read).
 */
import { readFileSync } from 'node:fs';
import type { TrainOptions } from './options';
import type { EpochRecord } from './trainer';
import type { TaskData } from './types';

/** A value of `RunOptions.setup`. */
export type SetupValue = string | number | boolean | null;

export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps completed. */
  step: number;
  optimizerStep: number;
  history: EpochRecord[];
}

/** What options.json holds: the options and the setup that must match for a resume to continue the same run. */
export interface RunIdentity {
  train: Record<string, unknown>;
  setup: Record<string, SetupValue>;
}

function sorted<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

export function runIdentity<B>(o: TrainOptions, data: TaskData<B>, stepsPerEpoch: number, setup: Record<string, SetupValue> = {}): RunIdentity {
  const { progress: _p, ...train } = o;
  // Runs from before the option existed applied the penalties as gradients: leaving that value
  // out keeps them resumable.
  if (train.penaltyStep === 'gradient') delete (train as Partial<typeof train>).penaltyStep;
  return { train: sorted(train), setup: sorted({ task: data.name, stepsPerEpoch, devExamples: data.devLabels().length, ...setup }) };
}

/**
 * Refuses to resume with other options or setup than options.json holds, naming every difference.
 * Files of earlier versions hold the options only: their setup cannot be checked.
 */
export function checkSameRun(path: string, now: RunIdentity): void {
  let stored: RunIdentity;
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    stored = 'train' in raw && typeof raw.train === 'object'
      ? raw as unknown as RunIdentity
      : { train: raw, setup: {} };
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message}); restore it or use a new run directory`);
  }
  const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  const differences: string[] = [];
  const compare = (a: Record<string, unknown>, b: Record<string, unknown>, onlyKnown: boolean) => {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (onlyKnown && !(k in b)) continue;
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) differences.push(`${k} is ${show(a[k])} here but ${show(b[k])} in the run`);
    }
  };
  compare(now.train, stored.train, false);
  compare(now.setup, stored.setup ?? {}, true);
  if (differences.length) {
    throw new Error(`${path}: the run was started with other options: ${differences.join('; ')}. Resume with the same ones, or use a new run directory`);
  }
}

/** Reads a checkpoint's trainer_state.json, checking every field; errors name the file and the field. */
export function readTrainerState(path: string, stepsPerEpoch: number): TrainerState {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message}); the checkpoint is damaged`);
  }
  const bad = (field: string, want: string, got: unknown) =>
    new Error(`${path}: field '${field}' must be ${want} (got ${JSON.stringify(got)}); the checkpoint is damaged or not from this trainer`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('(top level)', 'an object', raw);
  const s = raw as Record<string, unknown>;
  const count = (field: string, min: number) => {
    const v = s[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw bad(field, `an integer >= ${min}`, v);
    return v;
  };
  const epoch = count('epoch', 1);
  const step = count('step', 0);
  const optimizerStep = count('optimizerStep', 0);
  if (!Array.isArray(s.history) || s.history.length !== epoch) throw bad('history', `a list of ${epoch} epoch records`, Array.isArray(s.history) ? `${s.history.length} records` : s.history);
  s.history.forEach((r, i) => {
    const e = r as Partial<EpochRecord> | null;
    if (typeof e !== 'object' || e === null || e.kind !== 'epoch' || e.epoch !== i + 1 || typeof e.step !== 'number') {
      throw bad(`history[${i}]`, `the record of epoch ${i + 1}`, e === null || typeof e !== 'object' ? e : { kind: e.kind, epoch: e.epoch });
    }
  });
  // Every epoch has the same number of steps: another count means other data than the run's.
  if (step !== epoch * stepsPerEpoch) {
    throw bad('step', `${epoch} epochs x ${stepsPerEpoch} steps per epoch = ${epoch * stepsPerEpoch} for this data`, step);
  }
  return { epoch, step, optimizerStep, history: s.history as EpochRecord[] };
}
