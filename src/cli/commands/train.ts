import { join } from 'node:path';
import { describeBackend, initBackend } from '../../backend';
import { taskData } from '../../train/taskData';
import { neuropruneOps } from '../../train/neuropruneOps';
import { train, type EpochRecord } from '../../train/trainer';
import { validateTrainOptions } from '../../train/options';
import { latestCheckpoint } from '../../train/runDir';
import { helpText, parseCommandArgs, stringOption, type OptionTable } from '../args';
import { loadModel, loadTask, tokenizerFiles } from '../setup';
import { intOption, TASK_FLAGS, TRAIN_FLAGS, trainOptionsFrom } from '../trainOptions';

export const TRAIN_TABLE: OptionTable = {
  ...TASK_FLAGS,
  ...TRAIN_FLAGS,
  out: { type: 'string', value: 'DIR', help: 'run directory: log.jsonl and the last epoch checkpoint', default: 'runs/<task>-<mode>-<time>' },
  resume: { type: 'boolean', help: 'continue the run in --out from its last checkpoint' },
  json: { type: 'boolean', help: 'print the epoch records as JSON on stdout (no progress bar)' },
  quiet: { type: 'boolean', help: 'no progress bar' },
  help: { type: 'boolean', help: 'show this help' },
};

export const TRAIN_HELP = helpText('train',
  'Fine-tunes a BERT with NeuroPrune (Algorithm 1), or a baseline, and evaluates on dev after each epoch.\n' +
  'With no arguments it trains a small BERT from scratch on the built-in negation-scope task.',
  TRAIN_TABLE, [
    'neuroprune train',
    'neuroprune train --mode finetune --epochs 5 --out runs/ft',
    'neuroprune train --out runs/ft --resume',
    'neuroprune train --task rte --glue-dir ../glue --model ./bert-base-uncased --alpha 1e-5 --beta 1e-5 --theta 0.2',
  ]);

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

export function formatEpoch(e: EpochRecord): string {
  const metric = Object.entries(e.dev).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
  const s = e.sparsity as { unstructured: number; structured: number; headsPerLayer: number[]; headsKept: number; headsOriginal: number };
  return `epoch ${e.epoch}: loss ${e.taskLoss.toFixed(4)}, dev ${metric}, sparsity ${(100 * s.unstructured).toFixed(1)}% ` +
    `(structured ${(100 * s.structured).toFixed(1)}%), heads ${s.headsKept}/${s.headsOriginal} (per layer ${s.headsPerLayer.join(',')}), ` +
    `${e.trainSeconds.toFixed(1)} s train + ${e.evalSeconds.toFixed(1)} s eval, ${Math.round(e.tokensPerSecond)} tokens/s`;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TRAIN_TABLE, 'train');
  if (values.help) { console.log(TRAIN_HELP); return 0; }
  const json = values.json === true;
  const options = trainOptionsFrom(values, json || values.quiet === true);
  const taskName = stringOption(values, 'task') ?? 'negation';
  const taskChoice = { task: taskName, glueDir: stringOption(values, 'glue-dir'), modelDir: stringOption(values, 'model'), configFile: stringOption(values, 'config'), maxLength: intOption(values, 'max-length') };
  // Cheap checks first: a bad flag costs no compute.
  validateTrainOptions(options);
  const report = await initBackend();
  for (const line of describeBackend(report)) process.stderr.write(line + '\n');

  const task = loadTask(taskChoice);
  const data = taskData(task, { batchSize: options.batchSize, seed: options.seed, padId: task.tokenizer.special.pad, limitTrain: intOption(values, 'limit-train'), limitDev: intOption(values, 'limit-dev') });
  const model = loadModel({ modelDir: taskChoice.modelDir, configFile: stringOption(values, 'config'), seed: options.seed, reinitClassifier: values['reinit-classifier'] === true }, task);
  const runDir = stringOption(values, 'out') ?? join('runs', `${task.name}-${options.mode}-${timestamp()}`);
  process.stderr.write(`run: ${runDir} (task ${task.name}: ${data.trainBatches(0).length} steps per epoch, ${options.epochs} epochs, mode ${options.mode})\n`);

  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\ninterrupt: stopping before the next step (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await train({
      model, data, options, runDir, resume: values.resume === true,
      ops: neuropruneOps({ numLabels: task.numLabels, extraFiles: tokenizerFiles(taskChoice) }),
      shouldStop: () => stopRequested,
    });
    if (json) console.log(JSON.stringify({ runDir, interrupted: result.interrupted, epochs: result.epochs }, null, 2));
    else for (const e of result.epochs) console.log(formatEpoch(e));
    const ckpt = latestCheckpoint(runDir);
    if (result.interrupted) {
      process.stderr.write(`stopped; the last checkpoint is ${ckpt ?? '(none: no epoch finished)'}. Continue with: neuroprune train ${argv.join(' ')} --out ${runDir} --resume\n`);
      result.model.dispose();
      return 130;
    }
    if (!json) console.log(`model: ${ckpt}`);
    result.model.dispose();
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
