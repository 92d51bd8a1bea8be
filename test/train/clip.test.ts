import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { combineGradients } from '../../src/train/clip';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/train/options';
import { train, type TrainerOps } from '../../src/train/trainer';
import type { TaskData, TrainableModel } from '../../src/train/types';

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

/**
 * A model with two parameters that touch disjoint terms: `a` only the task loss
 * (sum (a - 1 - 0.1 batch)^2), `b` only the penalty (beta * sum sqrt(|b| + delta), shaped like R_attn). Whatever the
 * penalty does to `b`, the task's parameter `a` should follow the same path when only the task
 * gradient is clipped.
 */
class TwoPartModel implements TrainableModel<number> {
  a = tf.variable(tf.tensor1d([0.5, -2, 3, 0.25]), true, 'a');
  b = tf.variable(tf.tensor1d([0.3, -0.12, 0.05, 0.2, -0.01, 0.6]), true, 'b');
  readonly hiddenSize = 1;
  attentionBlocks() { return []; }
  mlpBlocks() { return []; }
  namedVariables() { return new Map([['a', this.a], ['b', this.b]]); }
  taskLoss(batch: number): tf.Scalar {
    return tf.tidy(() => tf.sum(tf.square(tf.sub(this.a, 1 + 0.1 * batch))) as tf.Scalar);
  }
  predict(batches: number): Float32Array { return new Float32Array([batches]); }
  dispose() { this.a.dispose(); this.b.dispose(); }
}

const data: TaskData<number> = {
  name: 'two-part',
  trainBatches: () => Array.from({ length: 16 }, (_, i) => i % 4),
  devBatches: () => [0],
  devLabels: () => new Float32Array([0]),
  metrics: () => ({ zero: 0 }),
  batchSize: () => 1,
  batchTokens: () => 1,
};

function ops(): TrainerOps<TwoPartModel> {
  return {
    // Shaped like R_attn: sqrt(|b| + delta), whose slope grows as b dies.
    regularizer: (m, o) => ({ attention: null, mlp: o.beta > 0 ? tf.tidy(() => tf.mul(tf.sum(tf.sqrt(tf.add(tf.abs(m.b), 1e-8))), o.beta)) as tf.Scalar : null }),
    regularizerValues: () => ({}),
    pruneAfterEpoch: () => ({ record: {}, remap: new Map() }),
    projectToSparsity: () => undefined,
    sparsity: () => ({}),
    saveModel: async () => undefined,
    loadModel: async () => { throw new Error('not used'); },
    saveTensors: () => undefined,
    loadTensors: () => new Map(),
  };
}

const options = (o: Partial<TrainOptions>): TrainOptions => ({
  ...DEFAULT_TRAIN_OPTIONS, mode: 'l1', epochs: 1, warmupRatio: 0, learningRate: 0.05, weightDecay: 0,
  maxGradNorm: 0.5, progress: false, alpha: 0, ...o,
});

async function trainedA(o: Partial<TrainOptions>): Promise<number[]> {
  const result = await train({ model: new TwoPartModel(), data, ops: ops(), options: options(o) });
  const a = Array.from(result.model.a.dataSync());
  result.model.dispose();
  return a;
}

describe('gradient clipping and the penalties', () => {
  it("clips only the task gradient by default: the task's parameters follow the same path whatever the penalty", async () => {
    // beta = 1e-6: a penalty too small to matter; beta = 1: a penalty whose gradient grows past the clip as b dies.
    const small = await trainedA({ beta: 1e-6 });
    const large = await trainedA({ beta: 1 });
    expect(large).toEqual(small);
  });

  it("with --clip-scope total the penalty's gradient shrinks the task's steps (the old behaviour, kept for comparison)", async () => {
    const small = await trainedA({ beta: 1e-6, clipScope: 'total' });
    const large = await trainedA({ beta: 1, clipScope: 'total' });
    const moved = (a: number[]) => a.reduce((s, x, i) => s + Math.abs(x - [0.5, -2, 3, 0.25][i]), 0);
    // Adam's first step is scale-free, the later ones are not: a varying clip factor changes the path.
    expect(Math.max(...large.map((x, i) => Math.abs(x - small[i])))).toBeGreaterThan(1e-3);
    expect(moved(large)).toBeLessThan(moved(small));
  });

  it('combineGradients: task clipped then penalty added, or the sum clipped; the norms reported before clipping', () => {
    const mk = () => ({
      task: new Map<string, tf.Tensor>([['x', tf.tensor1d([3, 4])], ['y', tf.tensor1d([0])]]),
      penalty: new Map<string, tf.Tensor>([['x', tf.tensor1d([0, 12])], ['z', tf.tensor1d([5])]]),
    });
    let { task, penalty } = mk();
    const t = combineGradients(task, penalty, 1, 'task');
    expect(t.taskNorm).toBeCloseTo(5, 6);
    expect(t.clippedNorm).toBeCloseTo(5, 6);
    const f = 1 / (5 + 1e-6);
    expect(Array.from(t.grads.get('x')!.dataSync())).toEqual([Math.fround(3 * f), Math.fround(Math.fround(4 * f) + 12)]);
    expect(Array.from(t.grads.get('z')!.dataSync())).toEqual([5]);
    tf.dispose([...t.grads.values()]);

    ({ task, penalty } = mk());
    const s = combineGradients(task, penalty, 1, 'total');
    const sum = Math.hypot(3, 16, 5);
    expect(s.clippedNorm).toBeCloseTo(sum, 5);
    const g = 1 / (sum + 1e-6);
    const x = Array.from(s.grads.get('x')!.dataSync());
    expect(x[0]).toBeCloseTo(3 * g, 6);
    expect(x[1]).toBeCloseTo(16 * g, 6);
    expect(s.grads.get('z')!.dataSync()[0]).toBeCloseTo(5 * g, 6);
    tf.dispose([...s.grads.values()]);
  });

  it('stops on a non-finite gradient norm with a finite loss, applying nothing', async () => {
    const model = new TwoPartModel();
    let calls = 0;
    // At the 3rd step the loss gains 0 * sqrt(|0 * a|): value 0, gradient NaN (0 * infinity).
    const original = model.taskLoss.bind(model);
    let before: number[] = [];
    model.taskLoss = (batch) => {
      if (++calls !== 3) return original(batch);
      before = Array.from(model.a.dataSync());
      return tf.tidy(() => tf.add(original(batch), tf.mul(tf.sum(tf.sqrt(tf.abs(tf.mul(model.a, 0)))), 0)) as tf.Scalar);
    };
    await expect(train({ model, data, ops: ops(), options: options({ beta: 1 }) }))
      .rejects.toThrow(/gradient norm is not finite \(task NaN, clipped NaN\) at epoch 1, step 3; nothing was applied/);
    expect(Array.from(model.a.dataSync())).toEqual(before);
    expect(Array.from(model.a.dataSync()).every(Number.isFinite)).toBe(true);
    model.dispose();
  });
});
