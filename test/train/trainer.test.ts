import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { tinyBertTaskModel } from './tinyBert';
import type { TaskModel } from '../../src/train/taskModel';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/train/options';
import { builtinTask, taskData } from '../../src/train/taskData';
import { train, type EpochRecord, type TrainerOps } from '../../src/train/trainer';
import { loadTensorFile } from '../../src/checkpoint';
import { readJsonl } from '../../src/train/jsonl';
import { latestCheckpoint } from '../../src/train/runDir';

const task = builtinTask();
const data = taskData(task, { batchSize: 16, seed: 7, padId: task.tokenizer.special.pad, limitTrain: 64, limitDev: 32 });

const newModel = () => tinyBertTaskModel(task.tokenizer.vocabSize, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32 });
const options = (o: Partial<TrainOptions> = {}): TrainOptions => ({ ...DEFAULT_TRAIN_OPTIONS, epochs: 2, batchSize: 16, progress: false, ...o });

function weights(m: TaskModel): Map<string, Float32Array> {
  return new Map([...m.namedVariables()].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
}

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'np-train-')); dirs.push(d); return d; };

beforeAll(async () => { await initBackend({ force: 'cpu' }); });
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('trainer', () => {
  it('an interrupted and resumed run ends with bitwise the same weights as an uninterrupted one', async () => {
    const o = options({ mode: 'neuroprune', theta: 0.05, alpha: 1e-3, beta: 1e-3 });
    const straight = await train({ model: newModel(), data, ops: neuropruneOps(), options: o, runDir: tmp() });
    expect(straight.interrupted).toBe(false);

    const runDir = tmp();
    // Stop in the middle of the second epoch (4 steps per epoch).
    const first = await train({ model: newModel(), data, ops: neuropruneOps(), options: o, runDir, shouldStop: (step) => step === 6 });
    expect(first.interrupted).toBe(true);
    first.model.dispose();
    expect(latestCheckpoint(runDir)).toBeDefined();
    const resumed = await train({ model: newModel(), data, ops: neuropruneOps(), options: o, runDir, resume: true });
    expect(resumed.interrupted).toBe(false);

    const a = weights(straight.model);
    const b = weights(resumed.model);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, w] of a) expect(Array.from(b.get(name)!), name).toEqual(Array.from(w));
    // The log holds each step once: the lines of the interrupted epoch were replaced.
    const steps = readJsonl<{ kind: string; step: number }>(join(runDir, 'log.jsonl')).filter((r) => r.kind === 'step').map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    straight.model.dispose();
    resumed.model.dispose();
  });

  it('records per epoch: losses, regularizers, sparsity, heads and eliminations, timings, the dev metric', async () => {
    const before = tf.memory().numTensors;
    const model = newModel();
    // theta large enough that random heads are similar: heads are eliminated after epoch 1.
    const result = await train({ model, data, ops: neuropruneOps(), options: options({ theta: 1, epochs: 2 }) });
    const e: EpochRecord = result.epochs[0];
    expect(Object.keys(e.regularizers).sort()).toEqual(['l1Attention', 'l1Mlp', 'rAttn', 'rMlp']);
    expect(e.dev.accuracy).toBeGreaterThanOrEqual(0);
    expect(e.trainSeconds).toBeGreaterThan(0);
    const heads = (e.pruning as { heads: { before: number; after: number; eliminated: unknown[] }[] }).heads;
    expect(heads.every((h) => h.after === 1 && h.eliminated.length === 3)).toBe(true);
    expect((e.sparsity as { headsPerLayer: number[] }).headsPerLayer).toEqual([1, 1]);
    // The second epoch trains the compacted model (the moments' shapes are checked in the next test).
    expect(Number.isFinite(result.epochs[1].taskLoss)).toBe(true);
    result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const compact of [false, true]) {
    it(`after head removal${compact ? ' and compaction' : ''}, the AdamW moments keep the kept rows' values and lose the removed ones`, async () => {
      const base = neuropruneOps();
      const eps = 0.05;
      const pre = new Map<string, { shape: number[]; data: Float32Array }>();
      // What the trainer handed each remap (m, then v), and where each surviving entry came from.
      const moments = new Map<string, Float32Array[]>();
      const source = new Map<string, Float32Array>();
      const ops: TrainerOps<TaskModel> = {
        ...base,
        pruneAfterEpoch(model, o) {
          for (const [name, v] of model.namedVariables()) pre.set(name, { shape: v.shape, data: Float32Array.from(v.dataSync() as Float32Array) });
          const r = base.pruneAfterEpoch(model, o);
          const remap = new Map<string, ((t: tf.Tensor) => tf.Tensor) | null>();
          for (const [name, fn] of r.remap) {
            if (!fn) { remap.set(name, null); continue; }
            const { shape, data } = pre.get(name)!;
            const positions = tf.tidy(() => fn(tf.range(0, data.length, 1, 'float32').reshape(shape)));
            source.set(name, Float32Array.from(positions.dataSync() as Float32Array));
            positions.dispose();
            remap.set(name, (t) => {
              moments.set(name, [...(moments.get(name) ?? []), Float32Array.from(t.dataSync() as Float32Array)]);
              return fn(t);
            });
          }
          return { record: r.record, remap };
        },
      };
      const runDir = tmp();
      // No merge: surviving weights keep their values, so they prove where each surviving entry came from.
      const o = options({ mode: 'neuroprune', theta: 1, epochs: 1, compact, eps, mergeHeads: false });
      const result = await train({ model: newModel(), data, ops, options: o, runDir });
      const saved = loadTensorFile(join(latestCheckpoint(runDir)!, 'optimizer.safetensors'));
      const post = result.model.namedVariables();

      expect(result.model.attentionBlocks().map((b) => b.numHeads)).toEqual([1, 1]);
      if (compact) {
        expect(result.model.mlpBlocks().every((b) => b.input.weight.shape[0] < 32)).toBe(true);
        expect(result.model.attentionBlocks().every((b) => (b.query.weight.shape[1] as number) < 16)).toBe(true);
      }
      let checked = 0;
      for (const [name, variable] of post) {
        const m = saved.get(`m.${name}`)!;
        const v = saved.get(`v.${name}`)!;
        // Every moment has its parameter's current shape: removed rows and columns are gone.
        expect(m.shape, name).toEqual(variable.shape);
        expect(v.shape, name).toEqual(variable.shape);
        const before = pre.get(name)!;
        if (before.data.length === variable.size) continue;
        const from = source.get(name)!;
        const [m0, v0] = moments.get(name)!;
        expect(from.length, name).toBe(variable.size);
        // The surviving weights are the pre-prune weights at those positions (weights below eps zeroed when compacting).
        const w = variable.dataSync();
        from.forEach((k, i) => {
          const x = before.data[k];
          expect(w[i], `${name}[${i}]`).toBe(compact && name.endsWith('.weight') && Math.abs(x) < Math.fround(eps) ? 0 : x);
        });
        // ... and so are the moments: kept rows keep their values exactly.
        expect(Array.from(m.dataSync()), name).toEqual(Array.from(from, (k) => m0[k]));
        expect(Array.from(v.dataSync()), name).toEqual(Array.from(from, (k) => v0[k]));
        checked++;
      }
      // Q, K, V (weights and biases) and O of both layers; with compaction also both MLPs' three matrices.
      expect(checked).toBe(compact ? 2 * (7 + 3) : 2 * 7);
      tf.dispose([...saved.values()]);
      result.model.dispose();
    });
  }

  it('stops on a non-finite loss with an error naming epoch and step, keeping the last checkpoint', async () => {
    const runDir = tmp();
    const model = newModel();
    const original = model.taskLoss.bind(model);
    let calls = 0;
    model.taskLoss = (batch, ctx) => (++calls === 6 ? tf.tidy(() => tf.mul(original(batch, ctx), NaN)) : original(batch, ctx));
    await expect(train({ model, data, ops: neuropruneOps(), options: options({ mode: 'finetune' }), runDir }))
      .rejects.toThrow(/loss is NaN at epoch 2, step 6.*last good checkpoint is .*checkpoint/);
    const state = JSON.parse(readFileSync(join(latestCheckpoint(runDir)!, 'trainer_state.json'), 'utf8'));
    expect(state.epoch).toBe(1);
    model.dispose();
  });

  it('refuses out-of-range hyperparameters before any work, and a second run in a used directory', async () => {
    const model = newModel();
    await expect(train({ model, data, ops: neuropruneOps(), options: options({ alpha: -1, theta: -0.1, eps: 0, epochs: 0 }) }))
      .rejects.toThrow(/epochs must be an integer >= 1.*alpha must be >= 0.*eps must be > 0.*theta must be >= 0/);
    const runDir = tmp();
    const r = await train({ model, data, ops: neuropruneOps(), options: options({ mode: 'finetune', epochs: 1 }), runDir });
    expect(existsSync(join(runDir, 'checkpoint', 'model.safetensors'))).toBe(true);
    await expect(train({ model: r.model, data, ops: neuropruneOps(), options: options({ mode: 'finetune', epochs: 1 }), runDir }))
      .rejects.toThrow(/already holds a run; pass --resume/);
    r.model.dispose();
  });
});
