/**
 * The training loop of the two baselines, beside Algorithm 1's (src/train/trainer.ts), with the
 * same data, optimizer, schedule, clip, evaluation and checkpoint layout, and the parts each
 * method adds:
 *
 * - CoFI: `finetuneEpochs` of plain fine-tuning, then pruning epochs in which each step samples the
 *   hard-concrete gates, adds the Lagrangian term, and updates the weights (AdamW, the run's
 *   schedule restarted over the pruning steps, as CoFI's trainer restarts it), the gate locations
 *   (AdamW at `regLearningRate`, constant, no decay) and the multipliers (the same, by gradient
 *   ascent); the target sparsity rises linearly from 0 over `lagrangianWarmupEpochs`; locations
 *   are clamped after each step; the clip covers the model's gradient only. Evaluation during
 *   pruning uses the deterministic gates. At the end those gates are multiplied into the weights
 *   and what they close is removed (src/baselines/removal.ts).
 * - DSP: every step draws the Gumbel-soft top-K mask at the annealed temperature; logits and
 *   weights train jointly (the logits at `gateLearningRate` on the same linear schedule, clipped
 *   with the model as the authors' trainer does); evaluation uses the hard top-K mask; at the end
 *   the other heads are removed.
 *
 * Distillation is off (CoFI's paper distils from a fine-tuned teacher; the NeuroPrune paper
 * compares without it). A baseline run cannot be resumed: its gates live beside the model and
 * only the final, pruned model is an ordinary checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../checkpoint/atomic';
import type { PrunableModel } from '../models/blocks';
import { AdamW } from '../train/adamw';
import { clipByGlobalNorm, squaredGlobalNorm } from '../train/clip';
import { variableGrads } from '../train/gradients';
import { appendJsonl } from '../train/jsonl';
import type { TrainOptions } from '../train/options';
import { ProgressBar } from '../train/progress';
import { latestCheckpoint, logPath, optionsPath, writeCheckpoint } from '../train/runDir';
import { linearWarmupDecay } from '../train/schedule';
import { evaluate, stepSeed, type EpochRecord, type TrainerOps, type TrainResult } from '../train/trainer';
import type { TaskData, TrainableModel } from '../train/types';
import { deriveSeed, mulberry32 } from '../util/random';
import { CofiGates, disposeGates, openHeads } from './cofi';
import { DspGates } from './dsp';
import { foldGates, substituteGates, type ModelGates } from './gates';
import { annealedTemperature } from './gumbelTopK';
import { removeClosed } from './removal';

export interface CofiMethod {
  kind: 'cofi';
  /** Target sparsity t in [0, 1): CoFI's expected sparsity of the prunable parameters. */
  targetSparsity: number;
  /** Plain fine-tuning epochs before the gates (CoFI's paper: 4 on small GLUE sets, 2 on large). */
  finetuneEpochs: number;
  /** Pruning epochs (CoFI's paper: 100 on small GLUE sets, 20 on large). */
  pruneEpochs: number;
  /** Epochs over which the target rises linearly from 0 (CoFI's scripts: 20 small, 2 large). */
  lagrangianWarmupEpochs: number;
  /**
   * Learning rate of the gate locations and the multipliers. CoFI's scripts use 0.01 over about
   * 10,000 pruning steps (100 epochs of RTE or MRPC); its argument default is 0.1, the default here,
   * where a run has a few hundred pruning steps: at 0.01 a gate needs some 600 Adam steps to
   * close, and the expected sparsity of a 625-step run ends 9 points past its target.
   */
  regLearningRate: number;
  /** Initial droprate of the neuron gates (CoFI: 0.5). */
  droprateInit?: number;
}

export interface DspMethod {
  kind: 'dsp';
  /** Heads kept, over the whole model. */
  targetHeads: number;
  /** Learning rate of the head logits (the authors': 0.5). */
  gateLearningRate: number;
  /** Annealing of the temperature (the authors': 1000 to 1e-8). */
  initialTemperature: number;
  finalTemperature: number;
  /** Fraction of the run's steps over which the temperature cools (the authors': 25,000 of 36,816). */
  cooldownFraction: number;
}

export type BaselineMethod = CofiMethod | DspMethod;

/**
 * Defaults for the built-in task (125 steps an epoch): 1 + 5 epochs, the target reached after 1
 * (measured: expected sparsity 50.0% for a 50% target from the third epoch on). The papers' values are in the field comments.
 */
export const COFI_DEFAULTS: Omit<CofiMethod, 'targetSparsity'> = {
  kind: 'cofi', finetuneEpochs: 1, pruneEpochs: 5, lagrangianWarmupEpochs: 1, regLearningRate: 0.1, droprateInit: 0.5,
};

export const DSP_DEFAULTS: Omit<DspMethod, 'targetHeads'> = {
  kind: 'dsp', gateLearningRate: 0.5, initialTemperature: 1000, finalTemperature: 1e-8, cooldownFraction: 2 / 3,
};

type Model<B> = TrainableModel<B> & PrunableModel;

export interface BaselineRun<M extends Model<B>, B> {
  model: M;
  data: TaskData<B>;
  /** The shared options: batch size, learning rate, warm-up, weight decay, clip, eps, seed, progress; `epochs` is ignored (the method has its own). */
  options: TrainOptions;
  method: BaselineMethod;
  /** Sparsity, saving and loading, as NeuroPrune's runs (src/train/neuropruneOps.ts). */
  ops: TrainerOps<M>;
  runDir?: string;
  setup?: Record<string, unknown>;
  shouldStop?: (step: number) => boolean;
}

/** What a baseline epoch adds to the trainer's record, under `pruning`. */
export interface BaselineGateRecord {
  method: 'cofi' | 'dsp';
  phase: 'finetune' | 'prune' | 'final';
  /** CoFI: expected sparsity of the gates and the target of the last step; the multipliers. */
  expectedSparsity?: number;
  target?: number;
  lambda1?: number;
  lambda2?: number;
  /** DSP: temperature of the last step. */
  temperature?: number;
  /** Heads open under the evaluation gates (deterministic / hard), per attention block. */
  headsOpen?: number[];
  /** CoFI: neurons open per MLP block and hidden dimensions open under the deterministic gates. */
  neuronsOpen?: number[];
  hiddenOpen?: number;
  /** CoFI's sparsity of the deterministic gates (its `calculate_model_size`). */
  deterministicSparsity?: number;
  /** After the removal: heads kept (original ids), MLP widths, attention input widths. */
  removal?: unknown;
}

export function baselineEpochs(method: BaselineMethod, options: TrainOptions): number {
  return method.kind === 'cofi' ? method.finetuneEpochs + method.pruneEpochs : options.epochs;
}

export function validateBaseline(method: BaselineMethod): void {
  const bad: string[] = [];
  const check = (ok: boolean, msg: string) => { if (!ok) bad.push(msg); };
  if (method.kind === 'cofi') {
    check(method.targetSparsity > 0 && method.targetSparsity < 1, `--target-sparsity must be in (0, 1) for --mode cofi (got ${method.targetSparsity})`);
    check(Number.isInteger(method.finetuneEpochs) && method.finetuneEpochs >= 0, `--finetune-epochs must be an integer >= 0 (got ${method.finetuneEpochs})`);
    check(Number.isInteger(method.pruneEpochs) && method.pruneEpochs >= 1, `--prune-epochs must be an integer >= 1 (got ${method.pruneEpochs})`);
    check(method.lagrangianWarmupEpochs >= 0, `--lagrangian-warmup-epochs must be >= 0 (got ${method.lagrangianWarmupEpochs})`);
    check(method.regLearningRate > 0, `--reg-lr must be > 0 (got ${method.regLearningRate})`);
  } else {
    check(Number.isInteger(method.targetHeads) && method.targetHeads >= 1, `--target-heads must be an integer >= 1 for --mode dsp (got ${method.targetHeads})`);
    check(method.gateLearningRate > 0, `--gate-lr must be > 0 (got ${method.gateLearningRate})`);
    check(method.initialTemperature > 0 && method.finalTemperature > 0, `temperatures must be > 0 (got ${method.initialTemperature}, ${method.finalTemperature})`);
    check(method.cooldownFraction > 0 && method.cooldownFraction <= 1, `cooldown fraction must be in (0, 1] (got ${method.cooldownFraction})`);
  }
  if (bad.length) throw new Error('invalid baseline options: ' + bad.join('; '));
}

/** Runs a function with gates substituted into the model and puts the variables back; `dispose` the gated tensors after (no tape). */
function withGates<T>(model: PrunableModel, gates: ModelGates, f: () => T, dispose: boolean): T {
  const sub = substituteGates(model, gates);
  try {
    return f();
  } finally {
    sub.restore();
    if (dispose) tf.dispose(sub.created);
  }
}

/** Dev metrics of the model with evaluation gates (or none). */
function evaluateWith<B>(model: Model<B>, data: TaskData<B>, gates: ModelGates | null): Record<string, number> {
  if (!gates) return evaluate(model, data);
  return withGates(model, gates, () => evaluate(model, data), true);
}

/** CoFI's `calculate_model_size` of deterministic gates: the sparsity of what they keep. */
function deterministicSparsity(cofi: CofiGates, g: ModelGates): { sparsity: number; heads: number[]; neurons: number[]; hidden: number } {
  const heads = openHeads(g, cofi.shape.heads).map((h) => h.length);
  const neurons = g.mlp.map((m, l) => {
    const n = m?.neurons ? Array.from(m.neurons.dataSync()).filter((v) => v !== 0).length : cofi.shape.widths[l];
    return (m?.layer ? m.layer.dataSync()[0] : 1) !== 0 ? n : 0;
  });
  const hidden = g.hidden ? Array.from(g.hidden.dataSync()).filter((v) => v !== 0).length : cofi.shape.hiddenSize;
  const remaining = hidden * heads.reduce((s, h, l) => s + h * 4 * cofi.shape.headSize[l], 0) + hidden * neurons.reduce((a, b) => a + b, 0) * 2;
  return { sparsity: 1 - remaining / cofi.prunableSize(), heads, neurons, hidden };
}

export async function trainBaseline<M extends Model<B>, B>(run: BaselineRun<M, B>): Promise<TrainResult<M>> {
  const { model, data, options, method, ops, runDir } = run;
  validateBaseline(method);
  const epochs = baselineEpochs(method, options);
  const batches0 = data.trainBatches(0);
  const stepsPerEpoch = batches0.length;
  const totalSteps = stepsPerEpoch * epochs;
  if (runDir) {
    if (latestCheckpoint(runDir)) throw new Error(`${runDir} already holds a run; a ${method.kind} run cannot be resumed: choose another --out`);
    mkdirSync(runDir, { recursive: true });
    // Lines of an interrupted attempt (it left no checkpoint): this run starts again.
    rmSync(logPath(runDir), { force: true });
    writeFileAtomic(optionsPath(runDir), JSON.stringify({ options, method, setup: run.setup ?? {}, stepsPerEpoch }, null, 2) + '\n');
  }
  const rng = mulberry32(deriveSeed(options.seed, 0x6a7e));
  const cofi = method.kind === 'cofi' ? new CofiGates(model, { seed: options.seed, droprateInit: method.droprateInit }) : null;
  const dsp = method.kind === 'dsp' ? new DspGates(model, method.targetHeads, { seed: options.seed }) : null;
  const gateVars = cofi ? cofi.gateVariables() : dsp!.gateVariables();
  const lambdaVars = cofi ? cofi.lambdaVariables() : new Map<string, tf.Variable>();
  let optimizer = new AdamW({ weightDecay: options.weightDecay });
  const gateOptimizer = new AdamW({ weightDecay: 0 });
  const lambdaOptimizer = new AdamW({ weightDecay: 0 });
  const history: EpochRecord[] = [];
  const pruneStart = method.kind === 'cofi' ? method.finetuneEpochs * stepsPerEpoch : 0;
  const cooldown = method.kind === 'dsp' ? Math.max(1, Math.round(method.cooldownFraction * totalSteps)) : 0;
  let step = 0;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const batches = epoch === 0 ? batches0 : data.trainBatches(epoch);
      const pruning = method.kind === 'dsp' || epoch >= (method as CofiMethod).finetuneEpochs;
      if (cofi && step === pruneStart && pruneStart > 0) {
        // CoFI's trainer starts a new optimizer and schedule for the weights when pruning starts.
        optimizer.dispose();
        optimizer = new AdamW({ weightDecay: options.weightDecay });
      }
      const bar = new ProgressBar(`epoch ${epoch + 1}/${epochs}${pruning ? ` (${method.kind})` : ' (fine-tune)'}`, batches.length, { quiet: !options.progress, unit: 'step' });
      let lossSum = 0;
      let tokens = 0;
      let last: { target?: number; expected?: number; temperature?: number } = {};
      const t0 = performance.now();
      for (const batch of batches) {
        if (run.shouldStop) await new Promise<void>((resolve) => setImmediate(resolve));
        if (run.shouldStop?.(step)) return { model, epochs: history, interrupted: true, stoppedAt: { epoch: epoch + 1, step, totalSteps } };
        // Learning rate: CoFI restarts the schedule over the pruning steps; DSP runs one over the whole run.
        const [phaseStep, phaseSteps] = cofi && pruning ? [step - pruneStart, totalSteps - pruneStart] : cofi ? [step, pruneStart] : [step, totalSteps];
        const lr = linearWarmupDecay(phaseStep, options.learningRate, Math.round(phaseSteps * options.warmupRatio), phaseSteps);
        const seed = stepSeed(options.seed, step);
        const params = model.namedVariables();
        const byTf = new Map<string, string>();
        for (const [n, v] of [...params, ...(pruning ? [...gateVars, ...lambdaVars] : [])]) byTf.set(v.name, n);
        const kept: tf.Tensor[] = [];
        let target: number | undefined;
        let temperature: number | undefined;
        const vars = [...params.values(), ...(pruning ? [...gateVars.values(), ...lambdaVars.values()] : [])];
        const { value, grads } = variableGrads(() => {
          if (!pruning) { const l = model.taskLoss(batch, { training: true, seed }); kept.push(tf.keep(l)); return l; }
          let gates: ModelGates;
          if (cofi) {
            gates = cofi.sample(rng);
          } else {
            const m = method as DspMethod;
            temperature = annealedTemperature(step, m.initialTemperature, m.finalTemperature, cooldown);
            gates = dsp!.sample(temperature, rng);
          }
          const task = withGates(model, gates, () => model.taskLoss(batch, { training: true, seed }), false);
          kept.push(tf.keep(task));
          if (!cofi) return task;
          const m = method as CofiMethod;
          const warm = m.lagrangianWarmupEpochs * stepsPerEpoch;
          target = warm > 0 ? m.targetSparsity * Math.min(1, (step - pruneStart) / warm) : m.targetSparsity;
          const lag = cofi.lagrangian(target);
          kept.push(tf.keep(lag.expectedSparsity));
          return tf.add(task, lag.loss) as tf.Scalar;
        }, vars);
        const named = new Map(Object.entries(grads).map(([k, g]) => [byTf.get(k)!, g]));
        const modelGrads = new Map([...named].filter(([n]) => params.has(n) || (dsp !== null && gateVars.has(n))));
        const [taskLoss, expected] = kept.map((t) => t.dataSync()[0]);
        // (Not clip.ts's globalNorm, which leaves its scalar behind.)
        const squared = squaredGlobalNorm(modelGrads.values());
        const norm = Math.sqrt(squared.dataSync()[0]);
        squared.dispose();
        if (!Number.isFinite(taskLoss) || !Number.isFinite(norm)) {
          tf.dispose([value, ...kept, ...named.values()]);
          throw new Error(`${method.kind}: loss ${taskLoss}, gradient norm ${norm} at epoch ${epoch + 1}, step ${step + 1}: not finite; nothing was applied`);
        }
        const clipped = clipByGlobalNorm(modelGrads, options.maxGradNorm, norm).grads;
        const weightGrads = new Map([...clipped].filter(([n]) => params.has(n)));
        optimizer.apply(params, weightGrads, lr);
        if (pruning) {
          const gateGrads = new Map([...(dsp ? clipped : named)].filter(([n]) => gateVars.has(n)));
          const gateLr = cofi ? (method as CofiMethod).regLearningRate : (method as DspMethod).gateLearningRate * (lr / options.learningRate);
          gateOptimizer.apply(gateVars, gateGrads, gateLr);
          if (cofi) {
            // Gradient ascent on the multipliers: descent on the negated gradient.
            const ascent = new Map([...named].filter(([n]) => lambdaVars.has(n)).map(([n, g]) => [n, tf.neg(g)]));
            lambdaOptimizer.apply(lambdaVars, ascent, (method as CofiMethod).regLearningRate);
            tf.dispose([...ascent.values()]);
            cofi.constrain();
          }
        }
        tf.dispose([value, ...kept, ...named.values(), ...clipped.values()]);
        last = { target, expected, temperature };
        step += 1;
        lossSum += taskLoss;
        tokens += data.batchTokens(batch);
        if (runDir) appendJsonl(logPath(runDir), { kind: 'step', epoch: epoch + 1, step, lr, taskLoss, ...(target !== undefined ? { target, expectedSparsity: expected } : {}), ...(temperature !== undefined ? { temperature } : {}) });
        bar.tick(1, `loss ${taskLoss.toFixed(4)}${expected !== undefined ? `, E[sparsity] ${(100 * expected).toFixed(1)}%` : ''}`);
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      const final = epoch === epochs - 1;
      let gateRecord: BaselineGateRecord = { method: method.kind, phase: pruning ? 'prune' : 'finetune' };
      const e0 = performance.now();
      let dev: Record<string, number>;
      if (final) {
        // Make the evaluation gates permanent and remove what they close.
        const g = cofi ? cofi.deterministic() : dsp!.hard();
        const view = cofi ? deterministicSparsity(cofi, g) : null;
        const keep = cofi ? openHeads(g, cofi.shape.heads) : dsp!.keptHeads();
        foldGates(model, g);
        disposeGates(g);
        const removal = removeClosed(model, keep);
        gateRecord = { ...gateRecord, phase: 'final', removal: removal.record, headsOpen: keep.map((k) => k.length), ...(view ? { deterministicSparsity: view.sparsity, neuronsOpen: view.neurons, hiddenOpen: view.hidden } : {}) };
        dev = evaluate(model, data);
      } else if (pruning) {
        const g = cofi ? cofi.deterministic() : dsp!.hard();
        if (cofi) {
          const view = deterministicSparsity(cofi, g);
          gateRecord = { ...gateRecord, deterministicSparsity: view.sparsity, headsOpen: view.heads, neuronsOpen: view.neurons, hiddenOpen: view.hidden };
        } else {
          gateRecord = { ...gateRecord, headsOpen: dsp!.keptHeads().map((k) => k.length) };
        }
        dev = evaluateWith(model, data, g);
        disposeGates(g);
      } else {
        dev = evaluate(model, data);
      }
      if (cofi && pruning) {
        gateRecord = { ...gateRecord, expectedSparsity: last.expected, target: last.target, lambda1: cofi.lambda1.dataSync()[0], lambda2: cofi.lambda2.dataSync()[0] };
      }
      if (dsp && last.temperature !== undefined) gateRecord.temperature = last.temperature;
      const evalSeconds = (performance.now() - e0) / 1000;
      const record: EpochRecord = {
        kind: 'epoch', epoch: epoch + 1, step, mode: method.kind as EpochRecord['mode'], taskLoss: lossSum / Math.max(1, batches.length),
        regularizers: {}, dev, sparsity: ops.sparsity(model, options), pruning: gateRecord as unknown as Record<string, unknown>,
        trainSeconds, evalSeconds, tokensPerSecond: tokens / Math.max(1e-9, trainSeconds),
      };
      history.push(record);
      if (runDir) {
        appendJsonl(logPath(runDir), record);
        if (final) {
          await writeCheckpoint(runDir, epoch + 1, async (dir) => {
            await ops.saveModel(model, dir);
            writeFileAtomic(join(dir, 'trainer_state.json'), JSON.stringify({ epoch: epoch + 1, step, optimizerStep: step, history }));
          });
        }
      }
    }
  } finally {
    optimizer.dispose();
    gateOptimizer.dispose();
    lambdaOptimizer.dispose();
    cofi?.dispose();
    dsp?.dispose();
  }
  return { model, epochs: history, interrupted: false };
}
