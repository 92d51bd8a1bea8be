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
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../checkpoint/atomic';
import { AdamW } from './adamw';
import { combineGradients, squaredGlobalNorm } from './clip';
import { variableGrads } from './gradients';
import { appendJsonl, readJsonl, writeJsonlAtomic } from './jsonl';
import { type TrainOptions, validateTrainOptions } from './options';
import { checkSameRun, readTrainerState, runIdentity, type SetupValue, type TrainerState } from './runIdentity';
import { ProgressBar } from './progress';
import { latestCheckpoint, logPath, optionsPath, recoverRunDir, writeCheckpoint } from './runDir';
import { linearWarmupDecay } from './schedule';
import { availableMemory, checkTrainingMemory, estimateTrainingMemory } from './memory';
import type { StepMemory, TaskData, TrainableModel } from './types';

export type { SetupValue, TrainerState } from './runIdentity';
export { readTrainerState } from './runIdentity';

/** What the pruning side of a run does to a model; see `src/train/neuropruneOps.ts`. */
export interface TrainerOps<M> {
  /** Regularizer terms as scalar tensors for the loss closure, already weighted by alpha and beta. */
  regularizer(model: M, options: TrainOptions): { attention: tf.Scalar | null; mlp: tf.Scalar | null };
  /**
   * The penalties' proximal step (`penaltyStep: 'proximal'`), applied after each optimizer step
   * with that step's learning rate; returns alpha * R_attn + beta * R_mlp (or the l1 terms) at
   * the point it was applied to, for the log. Needed only for that option.
   */
  proximalStep?(model: M, options: TrainOptions, lr: number): number;
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
  /** Where an interrupted run stopped: the epoch it was in (1-based) and the optimizer steps done. */
  stoppedAt?: { epoch: number; step: number; totalSteps: number };
}

export interface RunOptions<M, B> {
  /**
   * Refuse, before any work, a batch whose estimated step memory exceeds what is available
   * (src/train/memory.ts; the model must implement `stepMemory`). Default true.
   */
  memoryCheck?: boolean;
  model: M;
  data: TaskData<B>;
  ops: TrainerOps<M>;
  options: TrainOptions;
  /** Directory of the run's log and checkpoint; none means nothing is written. */
  runDir?: string;
  /** Continue from the run's last checkpoint (the options and the setup must be the same). */
  resume?: boolean;
  /**
   * What else decides the run's result besides `options`: task, data subset, maximum length,
   * tokenizer, starting model. Stored in options.json with the options; a resume with a
   * different value is refused with the name of the differing entry. The trainer adds what it
   * sees itself (`task`, `stepsPerEpoch`, `devExamples`).
   */
  setup?: Record<string, SetupValue>;
  /**
   * Asked before every step: true stops the run cleanly (e.g. on SIGINT). The last checkpoint stays.
   * The trainer yields to the event loop before asking, so a signal handler gets to run.
   */
  shouldStop?: (globalStep: number) => boolean;
  /** Log one JSONL line per step (default true when runDir is set). */
  logSteps?: boolean;
}

class NonFiniteLossError extends Error {}

/** True when the run's objective has penalty terms (alpha * R_attn + beta * R_mlp, or the l1 terms). */
function usesPenalties(options: TrainOptions): boolean {
  return options.mode !== 'finetune' && (options.alpha > 0 || options.beta > 0);
}

/** The per-step dropout seed: a pure function of the run seed and the step, so resumes draw the same masks. */
export function stepSeed(seed: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (step + 0x85ebca6b), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Refuses a run whose largest training batch would not fit in memory (src/train/memory.ts), when
 * the model can estimate its activations. The estimate uses the model as it is now: on a resume,
 * before the checkpoint's (possibly smaller) model is loaded, so it errs on the safe side.
 */
function checkStepMemory<B>(model: TrainableModel<B>, batches: readonly B[]): void {
  if (!model.stepMemory) return;
  let worst: StepMemory | undefined;
  for (const b of batches) {
    const m = model.stepMemory(b);
    if (!worst || m.activationBytes > worst.activationBytes) worst = m;
  }
  if (!worst) return;
  const parameters = [...model.namedVariables().values()].reduce((n, v) => n + v.size, 0);
  checkTrainingMemory({
    estimate: estimateTrainingMemory({ parameters, embeddingParameters: worst.embeddingParameters, activationBytes: worst.activationBytes }),
    available: availableMemory(tf.getBackend()), batchSize: worst.examples, seqLen: worst.length,
  });
}

export async function train<M extends TrainableModel<B>, B>(run: RunOptions<M, B>): Promise<TrainResult<M>> {
  const { data, ops, options, runDir } = run;
  validateTrainOptions(options);
  if (usesPenalties(options) && options.penaltyStep === 'proximal' && !ops.proximalStep) {
    throw new Error('penaltyStep is proximal but these TrainerOps have no proximalStep: use penaltyStep gradient, or give the ops a proximal step');
  }
  const firstEpoch = data.trainBatches(0);
  // Before anything is written: a batch too large for memory is refused with one that fits.
  if (run.memoryCheck !== false) checkStepMemory(run.model, firstEpoch);
  let model = run.model;
  const optimizer = new AdamW({ weightDecay: options.weightDecay });
  let state: TrainerState = { epoch: 0, step: 0, optimizerStep: 0, history: [] };

  const stepsPerEpoch = firstEpoch.length;
  const totalSteps = stepsPerEpoch * options.epochs;

  if (runDir) {
    const optPath = optionsPath(runDir);
    const identity = runIdentity(options, data, stepsPerEpoch, run.setup);
    if (!run.resume && latestCheckpoint(runDir)) {
      throw new Error(`${runDir} already holds a run; pass --resume to continue it, or choose another directory`);
    }
    if (run.resume && existsSync(optPath)) checkSameRun(optPath, identity);
    // Repair what a kill left (temporary folders, the link), keeping the latest checkpoint.
    const ckpt = recoverRunDir(runDir);
    if (ckpt) {
      const loaded = await ops.loadModel(ckpt);
      state = readTrainerState(join(ckpt, 'trainer_state.json'), stepsPerEpoch);
      model.dispose();
      model = loaded;
      optimizer.loadTensors(state.optimizerStep, ops.loadTensors(join(ckpt, 'optimizer.safetensors')));
    } else {
      mkdirSync(runDir, { recursive: true });
    }
    // Lines after the checkpoint (of an unfinished epoch, or of a run killed before its first
    // checkpoint) will be written again.
    truncateLogAfterStep(logPath(runDir), state.step);
    writeFileAtomic(optPath, JSON.stringify(identity, null, 2) + '\n');
  }

  const warmupSteps = Math.round(totalSteps * options.warmupRatio);
  const logSteps = run.logSteps ?? Boolean(runDir);

  try {
    for (let epoch = state.epoch; epoch < options.epochs; epoch++) {
      const batches = epoch === 0 ? firstEpoch : data.trainBatches(epoch);
      const bar = new ProgressBar(`epoch ${epoch + 1}/${options.epochs}`, batches.length, { quiet: !options.progress, unit: 'step' });
      let lossSum = 0;
      let tokens = 0;
      const t0 = performance.now();
      for (const batch of batches) {
        // The step below is synchronous: without this yield a SIGINT handler would never run.
        if (run.shouldStop) await new Promise<void>((resolve) => setImmediate(resolve));
        if (run.shouldStop?.(state.step)) {
          return { model, epochs: state.history, interrupted: true, stoppedAt: { epoch: epoch + 1, step: state.step, totalSteps } };
        }
        const lr = linearWarmupDecay(state.step, options.learningRate, warmupSteps, totalSteps);
        const loss = trainStep(model, batch, ops, options, optimizer, lr, stepSeed(options.seed, state.step));
        if (!loss.applied) {
          const where = runDir ? `; the last good checkpoint is ${latestCheckpoint(runDir) ?? '(none yet)'}` : '';
          const what = Number.isFinite(loss.total)
            ? `gradient norm is not finite (task ${loss.gradNorm}, clipped ${loss.clippedGradNorm}) at epoch ${epoch + 1}, step ${state.step + 1}; nothing was applied`
            : `loss is ${loss.total} at epoch ${epoch + 1}, step ${state.step + 1} (task loss ${loss.task})`;
          throw new NonFiniteLossError(what + where);
        }
        state.step += 1;
        lossSum += loss.task;
        tokens += data.batchTokens(batch);
        if (logSteps && runDir) appendJsonl(logPath(runDir), { kind: 'step', epoch: epoch + 1, step: state.step, lr, taskLoss: loss.task, totalLoss: loss.total, gradNorm: loss.gradNorm, clippedGradNorm: loss.clippedGradNorm });
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
        await writeCheckpoint(runDir, state.epoch, async (dir) => {
          await ops.saveModel(model, dir);
          ops.saveTensors(join(dir, 'optimizer.safetensors'), optimizer.toTensors());
          writeFileAtomic(join(dir, 'trainer_state.json'), JSON.stringify(state));
        });
      }
    }
  } finally {
    optimizer.dispose();
  }
  return { model, epochs: state.history, interrupted: false };
}

interface StepResult {
  task: number;
  total: number;
  /** l2 norm of the task gradient before clipping. */
  gradNorm: number;
  /** l2 norm that the clip compared with maxGradNorm (the task's, or task + penalties' under `total`). */
  clippedGradNorm: number;
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

  const taskPart = variableGrads(() => model.taskLoss(batch, { training: true, seed }), vars);
  let penaltyPart: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  // The penalty terms are alpha * R_attn and beta * R_mlp (or plain l1): none when both weights
  // are 0. As a proximal step they are applied after the optimizer's step, not differentiated.
  const proximal = usesPenalties(options) && options.penaltyStep === 'proximal';
  if (usesPenalties(options) && !proximal) {
    penaltyPart = variableGrads(() => {
      const { attention, mlp } = ops.regularizer(model, options);
      const terms = [attention, mlp].filter((t): t is tf.Scalar => t !== null);
      if (terms.length === 0) throw new Error(`TrainerOps.regularizer returned no term although alpha = ${options.alpha}, beta = ${options.beta}`);
      return terms.length === 1 ? terms[0] : tf.addN(terms) as tf.Scalar;
    }, vars);
  }
  const taskGrads = named(taskPart.grads);
  // The task loss, the penalty and the task gradient's squared norm in one read: on a GPU each
  // read waits for the queue to drain. The clip decides on the host, from the same float32 values
  // as before, so the cpu backends give the same bits.
  const scalars = tf.tidy(() => tf.stack([taskPart.value, penaltyPart?.value ?? tf.scalar(0), squaredGlobalNorm(taskGrads.values())]));
  const [task, penalty, taskSquared] = scalars.dataSync();
  tf.dispose([scalars, taskPart.value, penaltyPart?.value ?? []]);
  const penaltyGrads = penaltyPart ? named(penaltyPart.grads) : new Map<string, tf.Tensor>();
  let total = task + penalty;
  const combined = combineGradients(taskGrads, penaltyGrads, options.maxGradNorm, options.clipScope, Math.sqrt(taskSquared));
  const finite = Number.isFinite(total) && Number.isFinite(combined.taskNorm) && Number.isFinite(combined.clippedNorm);
  if (finite) optimizer.apply(params, combined.grads, lr);
  combined.grads.forEach((g) => g.dispose());
  if (finite && proximal) total = task + ops.proximalStep!(model, options, lr);
  return { task, total, gradNorm: combined.taskNorm, clippedGradNorm: combined.clippedNorm, applied: finite };
}

/** Dev-set metrics in eval mode. */
export function evaluate<B>(model: TrainableModel<B>, data: TaskData<B>): Record<string, number> {
  if (data.evaluate) return data.evaluate(model);
  const parts = data.devBatches().map((b) => model.predict(b));
  const predictions = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) { predictions.set(p, offset); offset += p.length; }
  return data.metrics(predictions, data.devLabels());
}

/**
 * Keeps the log lines up to `step`, each (kind, step) once, dropping what an interruption left
 * behind; the rewrite is atomic, so a kill during it keeps the old log.
 */
function truncateLogAfterStep(path: string, step: number): void {
  if (!existsSync(path)) return;
  if (step === 0) { rmSync(path, { force: true }); return; }
  const records = readJsonl<{ kind: string; step: number }>(path);
  // Of duplicates left by earlier versions, the last line is the one the checkpoint continues.
  const last = new Map<string, number>();
  records.forEach((r, i) => last.set(`${r.kind}:${r.step}`, i));
  const kept = records.filter((r, i) => r.step <= step && last.get(`${r.kind}:${r.step}`) === i);
  if (kept.length === records.length) return;
  writeJsonlAtomic(path, kept);
}

export { NonFiniteLossError };
