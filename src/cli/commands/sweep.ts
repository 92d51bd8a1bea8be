import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeBackend, initBackend } from '../../backend';
import { appendJsonl, readJsonl } from '../../train/jsonl';
import { neuropruneOps } from '../../train/neuropruneOps';
import { TRAIN_MODES, validateTrainOptions, type TrainMode } from '../../train/options';
import { latestCheckpoint, logPath } from '../../train/runDir';
import { defaultGrid, expandGrid, paperGrid, pointId, parseNumberList, parseShard, pointKey, shardOf, sweepSettings, type SweepPoint, type SweepSettings } from '../../train/sweep';
import { taskData, type EncodedTask } from '../../train/taskData';
import { evaluate, train, type EpochRecord, type TrainResult } from '../../train/trainer';
import { helpText, parseCommandArgs, stringOption, UsageError, type OptionTable } from '../args';
import { defaultTask, loadModel, loadTask, taskNameOf, tokenizerFiles } from '../setup';
import { checkModelFlags, fileTaskFlags, intOption, resolveTheta, TASK_FLAGS, TRAIN_FLAGS, trainOptionsFrom } from '../trainOptions';
import { describeStop, onFirstInterrupt, runSetup } from './train';
import { BASELINE_FLAGS, baselineMethodFrom, checkBaselineArchitecture, isBaselineMode } from '../../baselines/cli';
import { trainBaseline } from '../../baselines/train';
import type { SetupValue } from '../../train/runIdentity';

const { 'target-heads': _targetHeads, ...SWEEP_BASELINE_FLAGS } = BASELINE_FLAGS;

const { mode: _mode, alpha: _alpha, beta: _beta, ...SHARED_TRAIN_FLAGS } = TRAIN_FLAGS;

const TABLE: OptionTable = {
  ...TASK_FLAGS,
  ...SHARED_TRAIN_FLAGS,
  modes: { type: 'string', value: 'LIST', help: 'comma-separated modes', default: 'finetune,magnitude,l1,neuroprune (paper grid: finetune,l1,neuroprune)' },
  alphas: { type: 'string', value: 'LIST', help: 'alpha values', default: '1e-4,1e-3 (paper grid: 1e-7,...,1e-1)' },
  betas: { type: 'string', value: 'LIST', help: 'beta values', default: '1e-2,1e-1 (paper grid: 1e-7,...,1e-1)' },
  thetas: { type: 'string', value: 'LIST', help: 'theta values', default: '--theta (paper grid: 0.15,0.2,0.25)' },
  sparsities: { type: 'string', value: 'LIST', help: 'target sparsities of the magnitude points (fine-tune, then prune) and of the cofi points', default: '0.5,0.8' },
  'head-counts': { type: 'string', value: 'LIST', help: 'heads kept (over the model) of the dsp points; required with --modes ...,dsp' },
  ...SWEEP_BASELINE_FLAGS,
  'paper-grid': { type: 'boolean', help: "the paper's full grid: alpha, beta in 1e-7..1e-1, theta in 0.15, 0.2, 0.25 (197 runs, about 20 hours for MiniLM on 2,000 SST-2 examples here)" },
  shard: { type: 'string', value: 'i/n', help: 'run only every n-th point starting at i (0-based): one share of the grid per machine' },
  results: { type: 'string', value: 'FILE', help: 'JSONL file that receives one line per finished point; points already there are skipped', default: 'sweep/results.jsonl' },
  'runs-dir': { type: 'string', value: 'DIR', help: "folder of the points' run directories (an interrupted point resumes)", default: 'sweep/runs' },
  'dry-run': { type: 'boolean', help: 'list the points of this shard and exit' },
  quiet: { type: 'boolean', help: 'no progress bars' },
  help: { type: 'boolean', help: 'show this help' },
};

const HELP = helpText('sweep',
  'Trains every point of a grid over modes x alpha x beta x theta (finetune runs once, magnitude once per --sparsities value;\n' +
  'l1 ignores theta) and appends one JSONL line per point to --results. The default grid (11 points, 9 trainings:\n' +
  'magnitude points prune the finished finetune run) takes about an hour for\n' +
  'MiniLM-L6 on 2,000 SST-2 training examples (--limit-train 2000, 3 epochs) on 2 cores; --paper-grid runs the paper\'s 197.\n' +
  'With --shard i/n each machine of a batch job runs its share, e.g.\n' +
  '  Slurm:       neuroprune sweep --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT\n' +
  '  Kubernetes:  neuroprune sweep --shard $JOB_COMPLETION_INDEX/<completions>\n' +
  'Give each shard its own --results file (or a shared file system that appends whole lines) and merge with report.',
  TABLE, ['neuroprune sweep --modes neuroprune --alphas 1e-5,1e-4 --betas 1e-5,1e-4 --thetas 0.2 --epochs 2', 'neuroprune report --results sweep/results.jsonl']);

export interface SweepResult {
  id: string;
  /** `pointKey`: the id and a hash of every setting that changes the result. */
  key: string;
  /** The settings the key hashes (task, data, model, training options). */
  settings: SweepSettings;
  task: string;
  mode: TrainMode;
  alpha: number;
  beta: number;
  theta: number;
  /** Magnitude points: the target sparsity they were pruned to; cofi points: their target. */
  targetSparsity?: number;
  /** Dsp points: the heads kept. */
  targetHeads?: number;
  seed: number;
  epochs: number;
  metricName: string;
  metric: number;
  dev: Record<string, number>;
  sparsity: number;
  structuredSparsity: number;
  headsKept: number;
  headsOriginal: number;
  trainSeconds: number;
  runDir: string;
  /** Magnitude points scored from the finished finetune run of the same settings (its id), not trained again. */
  derivedFrom?: string;
  finishedAt: string;
}

function list(values: Record<string, unknown>, name: string, fallback: number[]): number[] {
  const raw = stringOption(values as never, name);
  return raw === undefined ? fallback : parseNumberList(raw, `--${name}`);
}

export async function sweepCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'sweep');
  if (values.help) { console.log(HELP); return 0; }
  const base = trainOptionsFrom(values, values.quiet === true);
  const configFile = stringOption(values, 'config');
  checkModelFlags(values);
  const files = fileTaskFlags(values, 'sweep');
  const modelChoice = { modelDir: stringOption(values, 'model'), configFile, modelType: stringOption(values, 'model-type') };
  const taskChoice = {
    task: files ? taskNameOf(undefined, files) : stringOption(values, 'task') ?? defaultTask(modelChoice), files, glueDir: stringOption(values, 'glue-dir'), ...modelChoice,
    maxLength: intOption(values, 'max-length'), textFile: stringOption(values, 'text'), devTextFile: stringOption(values, 'dev-text'),
  };
  const load = (task: EncodedTask) => loadModel({ ...modelChoice, seed: base.seed, reinitClassifier: values['reinit-classifier'] === true }, task);
  let task: EncodedTask | undefined;
  if (values.thetas === undefined && values.theta === undefined && values['paper-grid'] !== true) {
    // The grid's one theta is relative to the starting model unless --theta fixes it (src/neuroprune/thetaScale.ts).
    for (const line of describeBackend(await initBackend())) process.stderr.write(line + '\n');
    task = loadTask(taskChoice);
    const probe = load(task);
    const line = resolveTheta(values, base, probe);
    probe.dispose();
    if (line) process.stderr.write(line + '\n');
  }
  const preset = values['paper-grid'] === true ? paperGrid() : defaultGrid(base.theta);
  const modes = (stringOption(values, 'modes')?.split(',').map((s) => s.trim()) ?? preset.modes) as TrainMode[];
  for (const m of modes) if (!TRAIN_MODES.includes(m)) throw new UsageError(`--modes: '${m}' is not one of ${TRAIN_MODES.join(', ')}`);
  const sparsities = list(values, 'sparsities', preset.sparsities);
  for (const s of sparsities) if (!(s >= 0 && s < 1)) throw new UsageError(`--sparsities: ${s} is not in [0, 1)`);
  const headCounts = list(values, 'head-counts', []);
  for (const k of headCounts) if (!(Number.isInteger(k) && k >= 1)) throw new UsageError(`--head-counts: ${k} is not an integer >= 1`);
  if (modes.includes('dsp') && headCounts.length === 0) throw new UsageError('--modes dsp needs --head-counts LIST: the numbers of heads to keep');
  for (const s of modes.includes('cofi') ? sparsities : []) if (!(s > 0)) throw new UsageError(`--sparsities: cofi points need targets in (0, 1), got ${s}`);
  const grid = { modes, alphas: list(values, 'alphas', preset.alphas), betas: list(values, 'betas', preset.betas), thetas: list(values, 'thetas', preset.thetas), sparsities, headCounts };
  const all = expandGrid(grid);
  const shardText = stringOption(values, 'shard');
  const points = shardText ? shardOf(all, parseShard(shardText)) : all;
  // Every point's options are checked before the first one trains.
  for (const p of points) validateTrainOptions(pointOptions(p, base));
  const resultsFile = stringOption(values, 'results') ?? join('sweep', 'results.jsonl');
  const limits = { limitTrain: intOption(values, 'limit-train'), limitDev: intOption(values, 'limit-dev') };
  const setup = runSetup(values, taskChoice);
  // The baselines' own flags change their points' results: part of their settings when given.
  const baselineSetup: Record<string, SetupValue> = Object.fromEntries(Object.keys(SWEEP_BASELINE_FLAGS).flatMap((f) => (values[f] === undefined ? [] : [[`--${f}`, String(values[f])]])));
  // A point is done only when a line with the same key exists: same grid values and same settings.
  const settings = (p: SweepPoint): SweepSettings => sweepSettings(isBaselineMode(p.mode) ? { ...setup, ...baselineSetup } : setup, pointOptions(p, base));
  const keys = new Map(all.map((p) => [p.id, pointKey(p, settings(p))]));
  const previous = existsSync(resultsFile) ? readJsonl<SweepResult>(resultsFile) : [];
  const done = new Set(previous.map((r) => r.key).filter(Boolean));
  const todo = points.filter((p) => !done.has(keys.get(p.id)!));
  const gridKeys = new Set(keys.values());
  const other = previous.filter((r) => !gridKeys.has(r.key)).length;
  process.stderr.write(`sweep: ${all.length} points in the grid, ${points.length} in this shard, ${points.length - todo.length} already in ${resultsFile}, ${todo.length} to run` +
    (other > 0 ? ` (${other} other lines there are of other points or settings: grid values, task, data, model or options)` : '') + '\n');
  if (values['dry-run']) { for (const p of todo) console.log(p.id); return 0; }

  if (task === undefined) {
    for (const line of describeBackend(await initBackend())) process.stderr.write(line + '\n');
    task = loadTask(taskChoice);
  }
  const data = taskData(task, { batchSize: base.batchSize, seed: base.seed, padId: task.tokenizer.special.pad, ...limits });
  const runsDir = stringOption(values, 'runs-dir') ?? join('sweep', 'runs');
  mkdirSync(dirname(resultsFile), { recursive: true });

  const interrupt = onFirstInterrupt('interrupt: stopping this point before its next step (Ctrl-C again to quit at once)');
  try {
    for (const [i, p] of todo.entries()) {
      if (interrupt.stopRequested()) return 130;
      process.stderr.write(`[${i + 1}/${todo.length}] ${p.id}\n`);
      const result = await runPoint(p, settings(p), base, task.name, data, runsDir, interrupt.stopRequested, {
        load: () => load(task),
        values,
        ops: neuropruneOps({ numLabels: task.numLabels, extraFiles: tokenizerFiles(taskChoice) }),
        setup,
        settings,
      });
      if ('stopped' in result) {
        // Not recorded: the point's run folder resumes when the same command runs again.
        process.stderr.write(`point ${p.id}: ${describeStop(result.stopped, result.runDir)}; rerun the same command to continue\n`);
        return 130;
      }
      appendJsonl(resultsFile, result);
      if (result.derivedFrom) process.stderr.write(`point ${p.id}: pruned the finished ${result.derivedFrom} run instead of training it again\n`);
      console.log(`${p.id}: ${result.metricName} ${result.metric.toFixed(4)}, sparsity ${(100 * result.sparsity).toFixed(1)}%, heads ${result.headsKept}/${result.headsOriginal}`);
    }
    return 0;
  } finally {
    interrupt.dispose();
  }
}

/** The training options of one point: the shared ones with the point's mode and hyperparameters. */
function pointOptions(p: SweepPoint, base: ReturnType<typeof trainOptionsFrom>): ReturnType<typeof trainOptionsFrom> {
  return {
    ...base, mode: p.mode, alpha: p.alpha, beta: p.beta, theta: p.mode === 'neuroprune' ? p.theta : base.theta,
    ...(p.sparsity !== undefined ? { targetSparsity: p.sparsity } : {}),
  };
}

/** The run folder of a point: the key's hash in the name, so points of other settings never resume each other's runs. */
function pointRunDir(runsDir: string, p: SweepPoint, key: string): string {
  return join(runsDir, `${p.id.replace(/[^A-Za-z0-9_.=-]+/g, '_')}-${key.slice(key.indexOf('#') + 1)}`);
}

interface PointMakers {
  load: () => ReturnType<typeof loadModel>;
  ops: ReturnType<typeof neuropruneOps>;
  setup: ReturnType<typeof runSetup>;
  settings: (p: SweepPoint) => SweepSettings;
  /** The command's flags (the baselines read theirs). */
  values: Record<string, unknown>;
}

/**
 * A magnitude point trains exactly as the finetune point of the same settings (no regularizer,
 * the same seeds), then prunes after its last epoch: when that finetune run has finished in this
 * sweep, its last checkpoint is pruned and scored as the trainer would, instead of training again.
 * Only without a --target-sparsity of the whole sweep (then finetune runs prune too).
 */
async function derivedMagnitude(
  p: SweepPoint, options: ReturnType<typeof trainOptionsFrom>, data: ReturnType<typeof taskData>, runsDir: string, make: PointMakers, base: ReturnType<typeof trainOptionsFrom>,
): Promise<{ dev: Record<string, number>; sparsity: Record<string, unknown>; trainSeconds: number; runDir: string; from: string } | null> {
  if (p.mode !== 'magnitude' || p.sparsity === undefined || base.targetSparsity !== undefined) return null;
  const twin: SweepPoint = { id: pointId({ mode: 'finetune', alpha: 0, beta: 0, theta: 0 }), mode: 'finetune', alpha: 0, beta: 0, theta: 0 };
  const runDir = pointRunDir(runsDir, twin, pointKey(twin, make.settings(twin)));
  const ckpt = latestCheckpoint(runDir);
  if (!ckpt || !existsSync(logPath(runDir))) return null;
  const epochs = readJsonl<EpochRecord>(logPath(runDir)).filter((r) => r.kind === 'epoch');
  if (epochs.length !== options.epochs) return null;
  const model = await make.ops.loadModel(ckpt);
  try {
    make.ops.projectToSparsity(model, p.sparsity, options);
    return { dev: evaluate(model, data), sparsity: make.ops.sparsity(model, options), trainSeconds: epochs.reduce((t, e) => t + e.trainSeconds, 0), runDir, from: twin.id };
  } finally {
    model.dispose();
  }
}

async function runPoint(
  p: SweepPoint, settings: SweepSettings, base: ReturnType<typeof trainOptionsFrom>, taskName: string, data: ReturnType<typeof taskData>, runsDir: string,
  shouldStop: () => boolean, make: PointMakers,
): Promise<SweepResult | { stopped: TrainResult<unknown>; runDir: string }> {
  const options = pointOptions(p, base);
  const key = pointKey(p, settings);
  const record = (dev: Record<string, number>, sparsity: Record<string, unknown>, trainSeconds: number, runDir: string, derivedFrom?: string): SweepResult => {
    const [metricName, metric] = Object.entries(dev)[0];
    const s = sparsity as { unstructured: number; structured: number; headsKept: number; headsOriginal: number };
    return {
      id: p.id, key, settings, task: taskName, mode: p.mode, alpha: p.alpha, beta: p.beta, theta: p.theta,
      ...(p.sparsity !== undefined ? { targetSparsity: p.sparsity } : {}), seed: options.seed, epochs: options.epochs,
      metricName, metric, dev, sparsity: s.unstructured, structuredSparsity: s.structured, headsKept: s.headsKept,
      headsOriginal: s.headsOriginal, trainSeconds, runDir, ...(derivedFrom ? { derivedFrom } : {}), finishedAt: new Date().toISOString(),
    };
  };
  const derived = await derivedMagnitude(p, options, data, runsDir, make, base);
  if (derived) return record(derived.dev, derived.sparsity, derived.trainSeconds, derived.runDir, derived.from);
  const runDir = pointRunDir(runsDir, p, key);
  if (isBaselineMode(p.mode)) {
    // A baseline point cannot resume: an unrecorded one (interrupted, or killed before its line) starts again.
    const { epochs: _e, ...flags } = make.values;
    const method = baselineMethodFrom({ ...flags, ...(p.heads !== undefined ? { 'target-heads': String(p.heads) } : {}) } as never, options);
    const model = make.load();
    checkBaselineArchitecture(model.modelType, p.mode);
    rmSync(runDir, { recursive: true, force: true });
    const r = await trainBaseline({ model, data, ops: make.ops, options, method, runDir, setup: make.setup, shouldStop });
    r.model.dispose();
    if (r.interrupted) return { stopped: r, runDir };
    const last = r.epochs[r.epochs.length - 1];
    return { ...record(last.dev, last.sparsity, r.epochs.reduce((t, e) => t + e.trainSeconds, 0), runDir), epochs: r.epochs.length, ...(p.heads !== undefined ? { targetHeads: p.heads } : {}) };
  }
  const r = await train({ model: make.load(), data, ops: make.ops, options, runDir, resume: latestCheckpoint(runDir) !== undefined, setup: make.setup, shouldStop });
  r.model.dispose();
  if (r.interrupted) return { stopped: r, runDir };
  const last = r.epochs[r.epochs.length - 1];
  return record(last.dev, last.sparsity, r.epochs.reduce((t, e) => t + e.trainSeconds, 0), runDir);
}
