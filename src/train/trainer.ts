/**
 * Algorithm 1 of NeuroPrune, with its two baselines on the same code path:
 *
 *   for epoch in 1..n_e:
 *     for each mini-batch: minimise loss_task + alpha * sum R_attn + beta * sum R_mlp   (AdamW)
 *     eliminate redundant heads in every layer (theta), then optionally compact the model
 *     evaluate on dev; log; checkpoint atomically
 *
 * `finetune` drops the regularizers and the pruning, `l1` replaces both regularizers by plain l1
 * and does not prune heads. The trainer is architecture-agnostic: it sees a `TrainableModel`, a
 * `TaskData` and the pruning operations of `TrainerOps`.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW } from './adamw';
import { combineGradients } from './clip';
import { appendJsonl, readJsonl } from './jsonl';
import { type TrainOptions, validateTrainOptions } from './options';
import { ProgressBar } from './progress';
import { latestCheckpoint, logPath, optionsPath, writeCheckpointAtomically } from './runDir';
import { linearWarmupDecay } from './schedule';
import type { TaskData, TrainableModel } from './types';

/** What the pruning side of a run does to a model; see `src/train/neuropruneOps.ts`. */
export interface TrainerOps<M> {
  /** Regularizer terms as scalar tensors for the loss closure, already weighted by alpha and beta. */
  regularizer(model: M, options: TrainOptions): { attention: tf.Scalar | null; mlp: tf.Scalar | null };
  /** Unweighted regularizer values for the log. */
  regularizerValues(model: M, options: TrainOptions): Record<string, number>;
  /**
   * End-of-epoch structural step (head elimination and compaction). Returns a JSON-able record
   * and a remapper for the optimizer: for each parameter name whose shape changed, the gather to
   * apply to its moments (or null when the parameter vanished).
   */
  pruneAfterEpoch(model: M, options: TrainOptions): { record: Record<string, unknown>; remap: Map<string, ((t: tf.Tensor) => tf.Tensor) | null> };
  /** Zero the smallest weights to reach an exact unstructured sparsity. */
  projectToSparsity(model: M, target: number, options: TrainOptions): void;
  /** Sparsity record of the model (src/neuroprune/sparsity.ts), JSON-able. */
  sparsity(model: M, options: TrainOptions): Record<string, unknown>;
  saveModel(model: M, dir: string): Promise<void>;
  loadModel(dir: string): Promise<M>;
  saveTensors(path: string, tensors: Map<string, tf.Tensor>): void;
  /** Loads tensors; the caller owns them. */
  loadTensors(path: string): Map<string, tf.Tensor>;
}

export interface EpochRecord {
  kind: 'epoch';
  epoch: number;
  step: number;
  mode: TrainOptions['mode'];
  taskLoss: number;
  regularizers: Record<string, number>;
  dev: Record<string, number>;
  sparsity: Record<string, unknown>;
  pruning: Record<string, unknown> | null;
  trainSeconds: number;
  evalSeconds: number;
  tokensPerSecond: number;
}

export interface TrainResult<M> {
  model: M;
  epochs: EpochRecord[];
  /** True when the run stopped early because `shouldStop` said so (resume with the same runDir). */
  interrupted: boolean;
}

export interface RunOptions<M, B> {
  model: M;
  data: TaskData<B>;
  ops: TrainerOps<M>;
  options: TrainOptions;
  /** Directory of the run's log and checkpoint; none means nothing is written. */
  runDir?: string;
  /** Continue from the run's last checkpoint (the options must be the same). */
  resume?: boolean;
  /** Asked before every step: true stops the run cleanly (e.g. on SIGINT). The last checkpoint stays. */
  shouldStop?: (globalStep: number) => boolean;
  /** Log one JSONL line per step (default true when runDir is set). */
  logSteps?: boolean;
}

interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps completed. */
  step: number;
  optimizerStep: number;
  history: EpochRecord[];
}

class NonFiniteLossError extends Error {}

/** The per-step dropout seed: a pure function of the run seed and the step, so resumes draw the same masks. */
export function stepSeed(seed: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (step + 0x85ebca6b), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Options that must match for a resume to continue the same run. */
function comparableOptions(o: TrainOptions): string {
  const { progress: _p, ...rest } = o;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

export async function train<M extends TrainableModel<B>, B>(run: RunOptions<M, B>): Promise<TrainResult<M>> {
  const { data, ops, options, runDir } = run;
  validateTrainOptions(options);
  let model = run.model;
  const optimizer = new AdamW({ weightDecay: options.weightDecay });
  let state: TrainerState = { epoch: 0, step: 0, optimizerStep: 0, history: [] };

  if (runDir) {
    const optPath = optionsPath(runDir);
    const ckpt = latestCheckpoint(runDir);
    if (run.resume && ckpt) {
      if (existsSync(optPath) && readFileSync(optPath, 'utf8') !== comparableOptions(options)) {
        throw new Error(`${optPath}: the run was started with other options; resume with the same ones or use a new run directory`);
      }
      model.dispose();
      model = await ops.loadModel(ckpt);
      state = JSON.parse(readFileSync(join(ckpt, 'trainer_state.json'), 'utf8')) as TrainerState;
      optimizer.loadTensors(state.optimizerStep, ops.loadTensors(join(ckpt, 'optimizer.safetensors')));
      // Drop step lines of the unfinished epoch: they will be written again.
      truncateLogAfterStep(logPath(runDir), state.step);
    } else if (!run.resume && ckpt) {
      throw new Error(`${runDir} already holds a run; pass --resume to continue it, or choose another directory`);
    } else {
      mkdirSync(runDir, { recursive: true });
    }
    writeFileSync(optPath, comparableOptions(options));
  }

  const stepsPerEpoch = data.trainBatches(0).length;
  const totalSteps = stepsPerEpoch * options.epochs;
  const warmupSteps = Math.round(totalSteps * options.warmupRatio);
  const logSteps = run.logSteps ?? Boolean(runDir);

  for (let epoch = state.epoch; epoch < options.epochs; epoch++) {
    const batches = data.trainBatches(epoch);
    const bar = new ProgressBar(`epoch ${epoch + 1}/${options.epochs}`, batches.length, { quiet: !options.progress, unit: 'step' });
    let lossSum = 0;
    let tokens = 0;
    const t0 = performance.now();
    for (const batch of batches) {
      if (run.shouldStop?.(state.step)) {
        optimizer.dispose();
        return { model, epochs: state.history, interrupted: true };
      }
      const lr = linearWarmupDecay(state.step, options.learningRate, warmupSteps, totalSteps);
      const loss = trainStep(model, batch, ops, options, optimizer, lr, stepSeed(options.seed, state.step));
      if (!loss.applied) {
        optimizer.dispose();
        const where = runDir ? `; the last good checkpoint is ${latestCheckpoint(runDir) ?? '(none yet)'}` : '';
        const what = Number.isFinite(loss.total)
          ? `gradient norm is not finite (task ${loss.gradNorm}, penalties ${loss.penaltyGradNorm}) at epoch ${epoch + 1}, step ${state.step + 1}; nothing was applied`
          : `loss is ${loss.total} at epoch ${epoch + 1}, step ${state.step + 1} (task loss ${loss.task})`;
        throw new NonFiniteLossError(what + where);
      }
      state.step += 1;
      lossSum += loss.task;
      tokens += data.batchTokens(batch);
      if (logSteps && runDir) appendJsonl(logPath(runDir), { kind: 'step', epoch: epoch + 1, step: state.step, lr, taskLoss: loss.task, totalLoss: loss.total, gradNorm: loss.gradNorm, penaltyGradNorm: loss.penaltyGradNorm });
      bar.tick(1, `loss ${loss.task.toFixed(4)}`);
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    const regularizers = ops.regularizerValues(model, options);

    let pruning: Record<string, unknown> | null = null;
    if (options.mode === 'neuroprune') {
      const { record, remap } = ops.pruneAfterEpoch(model, options);
      pruning = record;
      for (const [name, fn] of remap) {
        if (fn) optimizer.remap(name, fn); else optimizer.drop(name);
      }
    }
    if (epoch === options.epochs - 1 && options.targetSparsity !== undefined) {
      ops.projectToSparsity(model, options.targetSparsity, options);
    }

    const e0 = performance.now();
    const dev = evaluate(model, data);
    const evalSeconds = (performance.now() - e0) / 1000;
    const record: EpochRecord = {
      kind: 'epoch', epoch: epoch + 1, step: state.step, mode: options.mode,
      taskLoss: lossSum / Math.max(1, batches.length), regularizers, dev,
      sparsity: ops.sparsity(model, options), pruning, trainSeconds, evalSeconds,
      tokensPerSecond: tokens / Math.max(1e-9, trainSeconds),
    };
    state.history.push(record);
    state.epoch = epoch + 1;
    state.optimizerStep = optimizer.step;
    if (runDir) {
      appendJsonl(logPath(runDir), record);
      await writeCheckpointAtomically(runDir, async (dir) => {
        await ops.saveModel(model, dir);
        ops.saveTensors(join(dir, 'optimizer.safetensors'), optimizer.toTensors());
        writeFileSync(join(dir, 'trainer_state.json'), JSON.stringify(state));
      });
    }
  }
  optimizer.dispose();
  return { model, epochs: state.history, interrupted: false };
}

interface StepResult {
  task: number;
  total: number;
  /** l2 norm of the task gradient before clipping. */
  gradNorm: number;
  /** l2 norm of the penalties' gradient. */
  penaltyGradNorm: number;
  /** False when a value or a gradient was not finite: nothing was applied. */
  applied: boolean;
}

/**
 * One optimizer step. The task loss and the penalties are differentiated separately, so that the
 * clip can apply to the task gradient alone (`clipScope`, src/train/clip.ts); the penalties are
 * cheap next to the forward pass, so this costs little more than one joint gradient.
 */
function trainStep<M extends TrainableModel<B>, B>(
  model: M, batch: B, ops: TrainerOps<M>, options: TrainOptions, optimizer: AdamW, lr: number, seed: number,
): StepResult {
  const params = model.namedVariables();
  const vars = [...params.values()];
  const byTfName = new Map<string, string>();
  for (const [name, v] of params) byTfName.set(v.name, name);
  const named = (grads: tf.NamedTensorMap) => new Map(Object.entries(grads).map(([tfName, g]) => [byTfName.get(tfName)!, g]));

  const taskPart = tf.variableGrads(() => model.taskLoss(batch, { training: true, seed }), vars);
  const task = taskPart.value.dataSync()[0];
  taskPart.value.dispose();
  let penalty = 0;
  let penaltyGrads = new Map<string, tf.Tensor>();
  // The penalty terms are alpha * R_attn and beta * R_mlp (or plain l1): none when both weights are 0.
  if (options.mode !== 'finetune' && (options.alpha > 0 || options.beta > 0)) {
    const part = tf.variableGrads(() => {
      const { attention, mlp } = ops.regularizer(model, options);
      const terms = [attention, mlp].filter((t): t is tf.Scalar => t !== null);
      if (terms.length === 0) throw new Error(`TrainerOps.regularizer returned no term although alpha = ${options.alpha}, beta = ${options.beta}`);
      return terms.length === 1 ? terms[0] : tf.addN(terms) as tf.Scalar;
    }, vars);
    penalty = part.value.dataSync()[0];
    part.value.dispose();
    penaltyGrads = named(part.grads);
  }
  const total = task + penalty;
  const combined = combineGradients(named(taskPart.grads), penaltyGrads, options.maxGradNorm, options.clipScope);
  const finite = Number.isFinite(total) && Number.isFinite(combined.taskNorm) && Number.isFinite(combined.penaltyNorm);
  if (finite) optimizer.apply(params, combined.grads, lr);
  combined.grads.forEach((g) => g.dispose());
  return { task, total, gradNorm: combined.taskNorm, penaltyGradNorm: combined.penaltyNorm, applied: finite };
}

/** Dev-set metrics in eval mode. */
export function evaluate<B>(model: TrainableModel<B>, data: TaskData<B>): Record<string, number> {
  const parts = data.devBatches().map((b) => model.predict(b));
  const predictions = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) { predictions.set(p, offset); offset += p.length; }
  return data.metrics(predictions, data.devLabels());
}

/** Keeps log lines up to `step` (and every epoch line), dropping those an interruption left behind. */
function truncateLogAfterStep(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readJsonl<{ kind: string; step: number }>(path).filter((r) => r.step <= step);
  writeFileSync(path, kept.map((r) => JSON.stringify(r) + '\n').join(''));
}

export { NonFiniteLossError };
