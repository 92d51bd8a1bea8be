/**
 * The trainer's proximal penalty step: one step is AdamW on the task loss, then the penalties'
 * proximal maps (src/neuroprune/proximal.ts, checked against brute force there) with that step's
 * learning rate; and over a run, rows and input dimensions reach exact zero and compaction removes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { tinyBertTaskModel } from './tinyBert';
import type { TaskModel } from '../../src/train/taskModel';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/train/options';
import { builtinTask, taskData } from '../../src/train/taskData';
import { train } from '../../src/train/trainer';
import { mlpLinears, proximalAttentionGroups, proximalL1, proximalMlpPreferential } from '../../src/neuroprune';

const task = builtinTask();
const data = taskData(task, { batchSize: 16, seed: 7, padId: task.tokenizer.special.pad, limitTrain: 64, limitDev: 32 });
const newModel = () => tinyBertTaskModel(task.tokenizer.vocabSize, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32 });
const options = (o: Partial<TrainOptions> = {}): TrainOptions => ({ ...DEFAULT_TRAIN_OPTIONS, epochs: 2, batchSize: 16, progress: false, penaltyStep: 'proximal', ...o });

function weights(m: TaskModel): Map<string, Float32Array> {
  return new Map([...m.namedVariables()].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
}

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'np-prox-')); dirs.push(d); return d; };

beforeAll(async () => { await initBackend({ force: 'cpu' }); });
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('penaltyStep proximal', () => {
  for (const mode of ['neuroprune', 'l1'] as const) {
    it(`${mode}: a step is the AdamW step on the task loss, then the proximal maps with lr * alpha and lr * beta`, async () => {
      const lr = 1e-3;
      const alpha = 2;
      const beta = 30;
      const o = options({ mode, alpha, beta, learningRate: lr, warmupRatio: 0, eps: 0.02 });
      // One step each: with no warm-up its learning rate is the peak.
      const stopAfterOne = (step: number) => step === 1;
      const withPenalty = await train({ model: newModel(), data, ops: neuropruneOps(), options: o, shouldStop: stopAfterOne });
      const taskOnly = await train({ model: newModel(), data, ops: neuropruneOps(), options: { ...o, alpha: 0, beta: 0 }, shouldStop: stopAfterOne });
      const m = taskOnly.model;
      if (mode === 'neuroprune') {
        proximalAttentionGroups(m.attentionBlocks(), lr * alpha);
        proximalMlpPreferential(m.mlpBlocks(), lr * beta, { eps: 0.02 });
      } else {
        proximalL1(m.attentionBlocks().flatMap((b) => [b.query, b.key, b.value, b.output]), lr * alpha);
        proximalL1(m.mlpBlocks().flatMap(mlpLinears), lr * beta);
      }
      const a = weights(withPenalty.model);
      const b = weights(m);
      let zeros = 0;
      for (const [name, w] of a) {
        expect(Array.from(w), name).toEqual(Array.from(b.get(name)!));
        zeros += w.filter((x) => x === 0).length;
      }
      // The thresholds are large enough that the step set weights to exactly zero.
      expect(zeros).toBeGreaterThan(0);
      withPenalty.model.dispose();
      m.dispose();
    });
  }

  it('over a run, MLP neurons and attention input dimensions reach exact zero and compaction removes them', async () => {
    const o = options({ alpha: 7, beta: 12, learningRate: 1e-3, theta: 0, epochs: 2, eps: 0.01 });
    const runDir = tmp();
    const result = await train({ model: newModel(), data, ops: neuropruneOps(), options: o, runDir });
    const c = result.epochs[1].pruning!.compaction as { mlp: { before: number; after: number }[]; attentionInputs: { before: number; after: number }[] };
    const removedNeurons = c.mlp.reduce((n, l) => n + l.before - l.after, 0) + (result.epochs[0].pruning!.compaction as typeof c).mlp.reduce((n, l) => n + l.before - l.after, 0);
    const removedInputs = [result.epochs[0], result.epochs[1]].reduce((n, e) => n + (e.pruning!.compaction as typeof c).attentionInputs.reduce((k, l) => k + l.before - l.after, 0), 0);
    // Some, not all: 2 layers x 32 neurons, 2 x 16 input dimensions (47 and 9 here).
    expect(removedNeurons).toBeGreaterThan(0);
    expect(removedNeurons).toBeLessThan(60);
    expect(removedInputs).toBeGreaterThan(0);
    expect(removedInputs).toBeLessThan(28);
    expect(Number.isFinite(result.epochs[1].taskLoss)).toBe(true);
    // The run's options name the penalty step; a gradient run's leave it out (runs from before the option resume).
    expect(JSON.parse(readFileSync(join(runDir, 'options.json'), 'utf8')).train.penaltyStep).toBe('proximal');
    result.model.dispose();
    const gradientDir = tmp();
    const g = await train({ model: newModel(), data, ops: neuropruneOps(), options: { ...o, penaltyStep: 'gradient', epochs: 1 }, runDir: gradientDir });
    expect(JSON.parse(readFileSync(join(gradientDir, 'options.json'), 'utf8')).train).not.toHaveProperty('penaltyStep');
    g.model.dispose();
  });

  it('is refused with ops that have no proximal step, and an unknown value is refused', async () => {
    const { proximalStep: _p, ...ops } = neuropruneOps();
    await expect(train({ model: newModel(), data, ops, options: options({ beta: 1 }) })).rejects.toThrow(/penaltyStep is proximal but these TrainerOps have no proximalStep/);
    await expect(train({ model: newModel(), data, ops: neuropruneOps(), options: options({ penaltyStep: 'adam' as TrainOptions['penaltyStep'] }) }))
      .rejects.toThrow(/penalty step must be one of gradient, proximal \(got adam\)/);
  });
});
