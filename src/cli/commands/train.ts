import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describeBackend, initBackend } from '../../backend';
import { taskData } from '../../train/taskData';
import { neuropruneOps } from '../../train/neuropruneOps';
import { train, type EpochRecord, type SetupValue, type TrainerOps, type TrainResult } from '../../train/trainer';
import { validateTrainOptions, type TrainOptions } from '../../train/options';
import type { Seq2seqBatch } from '../../data';
import { seq2seqTaskData } from '../../train/seq2seqTask';
import type { TaskModel } from '../../train/taskModel';
import type { TaskData } from '../../train/types';
import { isSeq2seqRun, loadSeq2seqModel, loadSeq2seqTask, SEQ2SEQ_FLAGS, seq2seqSetup, seq2seqTokenizerFiles } from '../seq2seq';
import { latestCheckpoint } from '../../train/runDir';
import { helpText, parseCommandArgs, stringOption, UsageError, type OptionTable, type Parsed } from '../args';
import { defaultTask, loadModel, loadTask, resolveModel, taskNameOf, tokenizerFiles, type TaskChoice } from '../setup';
import { checkModelFlags, fileTaskFlags, intOption, resolveTheta, TASK_FLAGS, TRAIN_FLAGS, trainOptionsFrom } from '../trainOptions';
import { BASELINE_FLAGS, baselineMethodFrom, checkBaselineArchitecture, formatBaselineEpoch, isBaselineMode } from '../../baselines/cli';
import { baselineEpochs, trainBaseline, type BaselineMethod } from '../../baselines/train';

export const TRAIN_TABLE: OptionTable = {
  ...TASK_FLAGS,
  ...SEQ2SEQ_FLAGS,
  ...TRAIN_FLAGS,
  ...BASELINE_FLAGS,
  out: { type: 'string', value: 'DIR', help: 'run directory: log.jsonl and the last epoch checkpoint', default: 'runs/<task>-<mode>-<time>' },
  resume: { type: 'boolean', help: 'continue the run in --out from its last checkpoint' },
  json: { type: 'boolean', help: 'print the epoch records as JSON on stdout (no progress bar)' },
  quiet: { type: 'boolean', help: 'no progress bar' },
  help: { type: 'boolean', help: 'show this help' },
};

export const TRAIN_HELP = helpText('train',
  'Fine-tunes a BERT, OPT, GPT-2 or T5 with NeuroPrune (Algorithm 1), or a baseline, and evaluates on dev after each epoch.\n' +
  'With no arguments it trains a small BERT from scratch on the built-in negation-scope task; with --model-type opt\n' +
  '(or gpt2) a small decoder on the built-in text corpus, reporting its perplexity; with --model-type t5 a small T5 on the\n' +
  'built-in seq2seq task (spell-digits, BLEU). A T5 --model trains on --task summarization (ROUGE) or translation (BLEU).',
  TRAIN_TABLE, [
    'neuroprune train',
    'neuroprune train --mode finetune --epochs 5 --out runs/ft',
    'neuroprune train --out runs/ft --resume',
    'neuroprune train --mode cofi --target-sparsity 0.7',
    'neuroprune train --mode dsp --target-heads 4',
    'neuroprune train --model-type opt --epochs 3',
    'neuroprune train --model-type t5 --epochs 1',
    "neuroprune train --model ./t5-small --task summarization --train cnn_dm/train.csv --dev cnn_dm/dev.csv --prefix 'summarize: '",
    "neuroprune train --model ./t5-small --task translation --train iwslt/train --dev iwslt/dev --source-column de --target-column en --prefix 'translate German to English: '",
    'neuroprune train --model ./opt-125m --task text --text wiki.train.txt --dev-text wiki.valid.txt --max-length 128',
    'neuroprune train --task rte --glue-dir ../glue --model ./bert-base-uncased --alpha 1e-5 --beta 1e-5 --theta 0.2',
    'neuroprune train --train news/train.csv --dev news/dev.csv --text-column title --label-column topic --model models/all-MiniLM-L6-v2',
  ]);

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

export function formatEpoch(e: EpochRecord): string {
  const metric = Object.entries(e.dev).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
  const s = e.sparsity as { unstructured: number; structured: number; headsPerLayer: number[]; headsKept: number; headsOriginal: number; groups?: { stack: string; kind: string; headsPerLayer?: number[] }[] };
  // Several attention groups (T5: encoder self, decoder self and cross): heads per layer of each.
  const attention = (s.groups ?? []).filter((g) => g.headsPerLayer);
  const perLayer = attention.length > 1
    ? attention.map((g) => `${g.stack} ${g.kind} ${g.headsPerLayer!.join(',')}`).join('; ')
    : `per layer ${s.headsPerLayer.join(',')}`;
  return `epoch ${e.epoch}: loss ${e.taskLoss.toFixed(4)}, dev ${metric}, sparsity ${(100 * s.unstructured).toFixed(1)}% ` +
    `(structured ${(100 * s.structured).toFixed(1)}%), heads ${s.headsKept}/${s.headsOriginal} (${perLayer}), ` +
    `${e.trainSeconds.toFixed(1)} s train + ${e.evalSeconds.toFixed(1)} s eval, ${Math.round(e.tokensPerSecond)} tokens/s`;
}

/**
 * The setup of a run besides its hyperparameters, by flag: a resume with a different one is
 * refused (see `RunOptions.setup`). Paths are made absolute; the tokenizer is identified by the
 * contents of its files, so that another vocabulary under the same path is caught too.
 */
export function runSetup(values: Parsed['values'], choice: TaskChoice): Record<string, SetupValue> {
  const path = (name: string) => { const v = stringOption(values, name); return v === undefined ? null : resolve(v); };
  const hash = createHash('sha256');
  for (const f of tokenizerFiles(choice)) hash.update(basename(f)).update('\0').update(readFileSync(f)).update('\0');
  const config = path('config');
  return {
    '--task': choice.task,
    '--glue-dir': path('glue-dir'),
    '--model': path('model') ?? (config === null ? defaultModelDir(choice) : null),
    '--config': config,
    '--max-length': choice.maxLength ?? null,
    '--model-type': choice.modelType ?? null,
    '--text': path('text'),
    '--dev-text': path('dev-text'),
    '--limit-train': stringOption(values, 'limit-train') === undefined ? null : Number(stringOption(values, 'limit-train')),
    '--limit-dev': stringOption(values, 'limit-dev') === undefined ? null : Number(stringOption(values, 'limit-dev')),
    tokenizer: hash.digest('hex').slice(0, 16),
    // Own data only: absent keys leave the setups (and sweep keys) of named tasks as they were.
    ...(choice.files ? {
      '--train': path('train'), '--dev': path('dev'), '--text-column': choice.files.text ?? null, '--text-pair-column': choice.files.textPair ?? null,
      '--label-column': choice.files.label ?? null, '--regression': choice.files.regression,
    } : {}),
  };
}

/** The checkpoint a run without --model and --config starts from (absolute), or null for a fresh model. */
function defaultModelDir(choice: TaskChoice): string | null {
  const model = resolveModel({ task: choice.task, modelType: choice.modelType, files: choice.files });
  return 'modelDir' in model ? resolve(model.modelDir) : null;
}

/** Quotes an argument for a POSIX shell when it needs it. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command that continues this run: the same arguments, with `--out` and `--resume` given once. */
export function resumeCommand(argv: string[], runDir: string): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') { i++; continue; }
    if (argv[i].startsWith('--out=') || argv[i] === '--resume') continue;
    kept.push(argv[i]);
  }
  return ['neuroprune', 'train', ...kept, '--out', runDir, '--resume'].map(shellQuote).join(' ');
}

/**
 * Ctrl-C: the first asks the run to stop before its next step (the trainer yields to the event
 * loop once per step, so this handler runs); it then removes itself, so a second Ctrl-C gets
 * Node's default action and ends the process at once, even in the middle of a step: the run
 * folder is safe at every instant.
 */
export function onFirstInterrupt(message: string): { stopRequested: () => boolean; dispose: () => void } {
  let stop = false;
  const handler = () => {
    stop = true;
    process.stderr.write(`\n${message}\n`);
  };
  process.once('SIGINT', handler);
  return { stopRequested: () => stop, dispose: () => { process.off('SIGINT', handler); } };
}

/** Where an interrupted run stopped and what a resume will redo, in one line. */
export function describeStop(result: TrainResult<unknown>, runDir: string): string {
  const at = result.stoppedAt;
  const ckpt = latestCheckpoint(runDir);
  const where = at ? `stopped in epoch ${at.epoch} after step ${at.step} of ${at.totalSteps}` : 'stopped';
  const kept = ckpt
    ? `the last checkpoint is ${ckpt} (epoch ${result.epochs.length}); a resume redoes the steps after it`
    : 'no epoch finished, so a resume starts from the beginning';
  return `${where}; ${kept}`;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TRAIN_TABLE, 'train');
  if (values.help) { console.log(TRAIN_HELP); return 0; }
  const json = values.json === true;
  const options = trainOptionsFrom(values, json || values.quiet === true);
  checkModelFlags(values);
  if (isSeq2seqRun(values)) return trainSeq2seq(argv, values, options);
  const files = fileTaskFlags(values, 'train');
  const modelChoice = { modelDir: stringOption(values, 'model'), configFile: stringOption(values, 'config'), modelType: stringOption(values, 'model-type') };
  const taskName = files ? taskNameOf(undefined, files) : stringOption(values, 'task') ?? defaultTask(modelChoice);
  const taskChoice = {
    task: taskName, files, glueDir: stringOption(values, 'glue-dir'), ...modelChoice, maxLength: intOption(values, 'max-length'),
    textFile: stringOption(values, 'text'), devTextFile: stringOption(values, 'dev-text'),
  };
  // Cheap checks first: a bad flag costs no compute.
  validateTrainOptions(options);
  const baseline = isBaselineMode(options.mode) ? baselineMethodFrom(values, options) : null;
  if (baseline && values.resume === true) throw new UsageError(`--mode ${options.mode} runs cannot be resumed (the gates are not checkpointed); start a new run`);
  const report = await initBackend();
  for (const line of describeBackend(report)) process.stderr.write(line + '\n');

  const task = loadTask(taskChoice);
  const data = taskData(task, { batchSize: options.batchSize, seed: options.seed, padId: task.tokenizer.special.pad, limitTrain: intOption(values, 'limit-train'), limitDev: intOption(values, 'limit-dev') });
  const model = loadModel({ ...modelChoice, seed: options.seed, reinitClassifier: values['reinit-classifier'] === true }, task);
  if (baseline) checkBaselineArchitecture(model.modelType, options.mode);
  return runTraining(argv, values, options, {
    taskName: task.name, data, model, setup: runSetup(values, taskChoice), baseline,
    ops: neuropruneOps({ numLabels: task.numLabels, extraFiles: tokenizerFiles(taskChoice) }),
  });
}

/** `train` on a seq2seq task (summarization, translation, spell-digits) with a T5: src/cli/seq2seq.ts. */
async function trainSeq2seq(argv: string[], values: Parsed['values'], options: TrainOptions): Promise<number> {
  validateTrainOptions(options);
  if (isBaselineMode(options.mode)) checkBaselineArchitecture('t5', options.mode);
  const run = loadSeq2seqTask(values);
  const report = await initBackend();
  for (const line of describeBackend(report)) process.stderr.write(line + '\n');
  const data = seq2seqTaskData(run.task, { batchSize: options.batchSize, seed: options.seed, numBeams: run.numBeams, limitTrain: intOption(values, 'limit-train'), limitDev: intOption(values, 'limit-dev') });
  const model = loadSeq2seqModel(run, options.seed);
  return runTraining(argv, values, options, {
    taskName: run.task.name, data, model, setup: seq2seqSetup(values, run), baseline: null,
    ops: neuropruneOps<Seq2seqBatch>({ extraFiles: seq2seqTokenizerFiles(run), loadModel: (dir) => loadSeq2seqModel({ ...run, model: { modelDir: dir } }, options.seed) }),
  });
}

/**
 * The run itself, whatever the task: theta, the run folder, the trainer (NeuroPrune's, or a
 * baseline's own loop), the epoch lines, an interrupt.
 */
async function runTraining<B>(
  argv: string[], values: Parsed['values'], options: TrainOptions,
  r: { taskName: string; data: TaskData<B>; model: TaskModel<B>; setup: Record<string, SetupValue>; ops: TrainerOps<TaskModel<B>>; baseline: BaselineMethod | null },
): Promise<number> {
  const { data, model, baseline } = r;
  const json = values.json === true;
  const thetaLine = resolveTheta(values, options, model);
  if (thetaLine && options.mode === 'neuroprune') process.stderr.write(thetaLine + '\n');
  const runDir = stringOption(values, 'out') ?? join('runs', `${r.taskName}-${options.mode}-${timestamp()}`);
  const epochs = baseline ? baselineEpochs(baseline, options) : options.epochs;
  process.stderr.write(`run: ${runDir} (task ${r.taskName}: ${data.trainBatches(0).length} steps per epoch, ${epochs} epochs, mode ${options.mode})\n`);

  const interrupt = onFirstInterrupt('interrupt: stopping before the next step (Ctrl-C again to quit at once)');
  try {
    const result = baseline
      ? await trainBaseline({ model, data, options, method: baseline, ops: r.ops, runDir, setup: r.setup, shouldStop: interrupt.stopRequested })
      : await train({ model, data, options, runDir, resume: values.resume === true, setup: r.setup, ops: r.ops, shouldStop: interrupt.stopRequested });
    if (json) console.log(JSON.stringify({ runDir, interrupted: result.interrupted, epochs: result.epochs }, null, 2));
    else for (const e of result.epochs) console.log(baseline ? formatBaselineEpoch(e) : formatEpoch(e));
    if (result.interrupted) {
      if (baseline) process.stderr.write(`stopped at step ${result.stoppedAt?.step ?? 0}; a ${options.mode} run cannot be resumed\n`);
      else process.stderr.write(`${describeStop(result, runDir)}.\nContinue with: ${resumeCommand(argv, runDir)}\n`);
      result.model.dispose();
      return 130;
    }
    if (!json) console.log(`model: ${latestCheckpoint(runDir)}`);
    result.model.dispose();
    return 0;
  } finally {
    interrupt.dispose();
  }
}
