import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBackend, initBackend } from '../../src/backend';
import { adapterLabel, isSoftwareAdapter } from '../../src/backend/webgpu';
import { BertForSequenceClassification, bertLoss, type BertConfig } from '../../src/models/bert';
import { attentionGroupL12, mlpPreferentialL1 } from '../../src/neuroprune/regularizers';
import { variableGrads } from '../../src/train/gradients';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/train/options';
import { builtinTask, taskData } from '../../src/train/taskData';
import { train, type EpochRecord } from '../../src/train/trainer';
import type { TaskModel } from '../../src/train/taskModel';
import { tinyBertTaskModel } from '../train/tinyBert';
import { webgpuAvailability } from './webgpuAvailable';

const webgpu = webgpuAvailability('webgpu');

describe('adapter description', () => {
  it('lavapipe and SwiftShader are software rasterisers; a discrete GPU is not', () => {
    // The fields Dawn reports for Mesa's lavapipe (bookworm-backports) and for an NVIDIA card.
    const lavapipe = { vendor: 'mesa', architecture: '', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' };
    expect(isSoftwareAdapter(lavapipe)).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', device: 'swiftshader device', description: 'SwiftShader' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'ada', description: 'NVIDIA GeForce RTX 4090' }, true)).toBe(true);
    const nvidia = { vendor: 'nvidia', architecture: 'ada', device: '', description: 'NVIDIA GeForce RTX 4090' };
    expect(isSoftwareAdapter(nvidia)).toBe(false);
    expect(adapterLabel({ ...nvidia, software: false })).toBe('nvidia ada NVIDIA GeForce RTX 4090, GPU');
    expect(adapterLabel({ ...lavapipe, software: true })).toBe('mesa llvmpipe: Mesa 25.0.7 (LLVM 15.0.6), software rasteriser: correctness, not speed');
  });
});

const tiny: BertConfig = {
  vocab_size: 40, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 16,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 3,
};

/** Value and gradients of one training step (dropout, both penalties) on the current backend. */
function stepGradients(): { value: number; grads: Map<string, Float32Array> } {
  const model = BertForSequenceClassification.random(tiny, { seed: 1 });
  const inputs = {
    inputIds: tf.tensor2d([[2, 7, 9, 11, 3, 0], [2, 5, 3, 0, 0, 0], [2, 6, 8, 12, 13, 3]], undefined, 'int32'),
    attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], undefined, 'int32'),
  };
  const labels = tf.tensor1d([0, 2, 1], 'int32');
  const named = model.namedParameters();
  const loss = () => tf.tidy(() => {
    const task = bertLoss(model, model.forward(inputs, { training: true, dropoutSeed: 5 }).logits, labels);
    return tf.addN([task, tf.mul(attentionGroupL12(model.attentionBlocks()), 1e-3), tf.mul(mlpPreferentialL1(model.mlpBlocks()), 1e-3)]) as tf.Scalar;
  });
  const out = variableGrads(loss, [...named.values()]);
  const byTfName = new Map([...named].map(([name, v]) => [v.name, name]));
  const grads = new Map(Object.entries(out.grads).map(([k, g]) => [byTfName.get(k)!, Float32Array.from(g.dataSync() as Float32Array)]));
  const value = out.value.dataSync()[0];
  tf.dispose([out.value, ...Object.values(out.grads), labels, ...Object.values(inputs)]);
  model.dispose();
  return { value, grads };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function weights(m: TaskModel): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map([...m.namedVariables()].map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.dataSync() as Float32Array) }]));
}

const measured: string[] = [];
const dirs: string[] = [];
afterAll(() => {
  if (measured.length) console.log(measured.join('\n'));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!webgpu.ok)('webgpu backend', () => {
  beforeAll(async () => { await initBackend({ force: 'webgpu' }); });

  it('is TF.js\'s webgpu backend and the backend line names the adapter', async () => {
    const report = await initBackend({ force: 'webgpu' });
    expect(tf.getBackend()).toBe('webgpu');
    expect(report.tfName).toBe('webgpu');
    expect(report.adapter).toBeDefined();
    const line = describeBackend(report)[0];
    expect(line).toBe(`backend: webgpu (${adapterLabel(report.adapter!)}) (forced)`);
    expect(line).toContain(report.adapter!.description || report.adapter!.device);
  });

  it('runs small ops in shaders when NEUROPRUNE_WEBGPU_CPU_FORWARD=off (as these tests set it)', () => {
    expect(tf.env().getBool('WEBGPU_CPU_FORWARD')).toBe(false);
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.add(x, 1);
    // A result of TF.js's CPU kernels carries its values; a shader's lives in a GPU buffer only.
    const stored = (tf.backend() as unknown as { tensorMap: { get(id: object): { values: unknown; resource: unknown } } }).tensorMap.get(y.dataId);
    expect(stored.values ?? null).toBeNull();
    expect(stored.resource).toBeDefined();
    expect(Array.from(y.dataSync())).toEqual([2, 3, 4]);
    tf.dispose([x, y]);
  });

  it('dataSync reads what the asynchronous read gives, for float32, int32 and bool, with work still queued', async () => {
    const n = 70_001; // Not a multiple of 4 or of a workgroup.
    const x = tf.tidy(() => tf.sin(tf.range(0, n, 1, 'float32')));
    const i = tf.tidy(() => tf.cast(tf.mul(x, 1000), 'int32'));
    const b = tf.tidy(() => tf.greater(x, 0));
    const viaSync = [x, i, b].map((t) => Array.from(t.dataSync()));
    const copies = [x, i, b].map((t) => tf.tidy(() => tf.add(t, tf.zerosLike(t)).asType(t.dtype)));
    const viaAsync = await Promise.all(copies.map(async (t) => Array.from(await t.data())));
    expect(viaSync).toEqual(viaAsync);
    // Against host arithmetic: sin in float32 on the GPU, within float32 rounding of Math.sin.
    expect(maxAbsDiff(viaSync[0], Array.from({ length: n }, (_, k) => Math.sin(k)))).toBeLessThan(1e-3);
    tf.dispose([x, i, b, ...copies]);
  });

  it('adds more tensors than one shader may bind (AddN in chunks), as the cpu backend does', async () => {
    // 8 storage buffers per shader stage by default: TF.js's own AddN fails to compile beyond 7 inputs.
    const values = Array.from({ length: 23 }, (_, k) => Array.from({ length: 5 }, (_, j) => Math.fround(Math.sin(k * 5 + j) / (k + 1))));
    const sum = async (backend: 'cpu' | 'webgpu') => {
      await initBackend({ force: backend });
      const xs = values.map((v) => tf.tensor1d(v));
      const s = tf.addN(xs);
      const out = Array.from(s.dataSync());
      tf.dispose([s, ...xs]);
      return out;
    };
    const ref = await sum('cpu');
    const before = tf.memory().numTensors;
    const ours = await sum('webgpu');
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbsDiff(ours, ref)).toBeLessThanOrEqual(1e-6);
  });

  it('gives the gradients of a BERT training step (dropout, R_attn, R_mlp) within 1e-4 of the cpu backend', async () => {
    await initBackend({ force: 'cpu' });
    const ref = stepGradients();
    await initBackend({ force: 'webgpu' });
    const before = tf.memory().numTensors;
    const ours = stepGradients();
    expect(tf.memory().numTensors).toBe(before);
    expect([...ours.grads.keys()].sort()).toEqual([...ref.grads.keys()].sort());
    expect(Math.abs(ours.value - ref.value)).toBeLessThanOrEqual(1e-4);
    let worst = 0;
    for (const [name, g] of ref.grads) {
      const d = maxAbsDiff(ours.grads.get(name)!, g);
      expect(d, name).toBeLessThanOrEqual(1e-4);
      worst = Math.max(worst, d);
    }
    measured.push(`webgpu vs cpu, BERT step gradients: max|diff| ${worst.toExponential(2)}, loss ${Math.abs(ours.value - ref.value).toExponential(2)}`);
  });

  it('trains two epochs (regularizers, head elimination, compaction, AdamW, checkpoints) as the cpu backend does, and resumes', async () => {
    const task = builtinTask();
    // One step per epoch: two steps, a prune and a compaction between them.
    const data = taskData(task, { batchSize: 16, seed: 7, padId: task.tokenizer.special.pad, limitTrain: 16, limitDev: 16 });
    const newModel = () => tinyBertTaskModel(task.tokenizer.vocabSize, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32 });
    // theta 1: random heads are similar enough that each layer keeps one.
    const options: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, mode: 'neuroprune', epochs: 2, batchSize: 16, progress: false, theta: 1, alpha: 1e-3, beta: 1e-3, compact: true };
    const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'np-webgpu-')); dirs.push(d); return d; };
    const run = async (backend: 'cpu' | 'webgpu', stop?: number, runDir = tmp(), resume = false) => {
      await initBackend({ force: backend });
      return train({ model: newModel(), data, ops: neuropruneOps(), options, runDir, resume, shouldStop: stop === undefined ? undefined : (s) => s === stop });
    };
    const cpu = await run('cpu');
    const cpuWeights = weights(cpu.model);
    cpu.model.dispose();

    const gpu = await run('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    const heads = (e: EpochRecord) => (e.pruning as { heads: { after: number; eliminated: unknown[] }[] }).heads.map((h) => [h.after, h.eliminated]);
    expect(heads(gpu.epochs[0])).toEqual(heads(cpu.epochs[0]));
    expect((gpu.epochs[0].sparsity as { headsPerLayer: number[] }).headsPerLayer).toEqual([1, 1]);
    for (const [i, e] of gpu.epochs.entries()) {
      expect(Math.abs(e.taskLoss - cpu.epochs[i].taskLoss), `epoch ${i + 1} loss`).toBeLessThanOrEqual(1e-4);
      for (const [k, v] of Object.entries(e.regularizers)) expect(Math.abs(v - cpu.epochs[i].regularizers[k]), k).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(v)));
    }
    const gpuWeights = weights(gpu.model);
    expect([...gpuWeights.keys()]).toEqual([...cpuWeights.keys()]);
    let worst = 0;
    for (const [name, w] of cpuWeights) {
      expect(gpuWeights.get(name)!.shape, name).toEqual(w.shape);
      const d = maxAbsDiff(gpuWeights.get(name)!.data, w.data);
      expect(d, name).toBeLessThanOrEqual(1e-4);
      worst = Math.max(worst, d);
    }
    measured.push(`webgpu vs cpu, weights after two trained epochs: max|diff| ${worst.toExponential(2)}`);

    // Stopped before the second step, resumed from the first epoch's checkpoint (saved from and
    // loaded into webgpu tensors): the weights of the uninterrupted webgpu run.
    const runDir = tmp();
    const first = await run('webgpu', 1, runDir);
    expect(first.interrupted).toBe(true);
    first.model.dispose();
    const resumed = await run('webgpu', undefined, runDir, true);
    expect(resumed.interrupted).toBe(false);
    const resumedWeights = weights(resumed.model);
    for (const [name, w] of gpuWeights) expect(maxAbsDiff(resumedWeights.get(name)!.data, w.data), name).toBeLessThanOrEqual(1e-6);
    gpu.model.dispose();
    resumed.model.dispose();
  });

  it('the trainer reads from the GPU once per step: two more steps, two more reads', async () => {
    await initBackend({ force: 'webgpu' });
    const task = builtinTask();
    const reads = async (limitTrain: number) => {
      const data = taskData(task, { batchSize: 16, seed: 7, padId: task.tokenizer.special.pad, limitTrain, limitDev: 16 });
      const model = tinyBertTaskModel(task.tokenizer.vocabSize);
      const spy = vi.spyOn(tf.engine(), 'readSync');
      try {
        const result = await train({ model, data, ops: neuropruneOps(), options: { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 16, progress: false, theta: 1 } });
        result.model.dispose();
        return spy.mock.calls.length;
      } finally {
        spy.mockRestore();
      }
    };
    // 2 and 4 steps; the epoch's end (regularizer values, pruning, evaluation) reads the same in both.
    expect((await reads(64)) - (await reads(32))).toBe(2);
  });

  // Last: it destroys the device.
  it('dataSync on a lost device throws a clear error instead of waiting for ever', async () => {
    await initBackend({ force: 'webgpu' });
    const x = tf.tidy(() => tf.add(tf.ones([4096]), 1)); // Over TF.js's 1000 elements: computed on the GPU, not handed to the CPU.
    (tf.backend() as unknown as { device: { destroy(): void } }).device.destroy();
    expect(() => x.dataSync()).toThrow(/webgpu readSync: the GPU did not map the staging buffer .*the device may be lost/);
  });
});
