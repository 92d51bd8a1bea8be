/**
 * CoFI's Lagrangian on a real (short) run of the built-in task: the learned multipliers drive the
 * expected sparsity of the gates to the target, and the removed model ends near it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import type { BaselineGateRecord } from '../../src/baselines/train';
import { trainBaseline } from '../../src/baselines/train';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/train/options';
import { builtinTask, taskData } from '../../src/train/taskData';
import { tinyBertTaskModel } from '../train/tinyBert';

// The fastest backend that loads (native where built): this run has 320 steps.
beforeAll(async () => { await initBackend(); });

describe('CoFI Lagrangian', () => {
  it('drives the expected sparsity to within 2 points of the target on the built-in task', async () => {
    const task = builtinTask();
    const data = taskData(task, { batchSize: 8, seed: 7, padId: task.tokenizer.special.pad, limitTrain: 256, limitDev: 64 });
    const model = tinyBertTaskModel(task.tokenizer.vocabSize, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32 });
    const target = 0.6;
    const r = await trainBaseline({
      model, data, ops: neuropruneOps(),
      options: { ...DEFAULT_TRAIN_OPTIONS, mode: 'cofi', batchSize: 8, progress: false },
      method: { kind: 'cofi', targetSparsity: target, finetuneEpochs: 0, pruneEpochs: 10, lagrangianWarmupEpochs: 2, regLearningRate: 0.1 },
    });
    const gates = r.epochs.map((e) => e.pruning as unknown as BaselineGateRecord);
    // The warm-up (64 steps): the first epoch's last step (its 31st after the start) aims at 31/64 of the target.
    expect(gates[0].target).toBeCloseTo((target * 31) / 64, 6);
    const last = gates[gates.length - 1];
    expect(last.target).toBe(target);
    expect(Math.abs(last.expectedSparsity! - target)).toBeLessThan(0.02);
    // Without the multipliers' push nothing would close: the run starts near 12% (the neurons' initial droprate).
    expect(gates[0].expectedSparsity!).toBeLessThan(0.4);
    // The removed model is what the deterministic gates keep: the toolkit's count of its zero
    // prunable weights against the count of the closed structures (per hidden dimension left: 4 dh
    // per open head, 2 per open neuron). On a model this small one hidden dimension is 1/16 of the weights,
    // so the rounding of the deterministic gates moves the result by several points from the
    // expected sparsity; on BERT-base one dimension is 1/768.
    const final = gates[gates.length - 1];
    const s = r.epochs[r.epochs.length - 1].sparsity as { unstructured: number; parametersDense: number };
    const hidden = final.hiddenOpen!;
    const remaining = hidden * (final.headsOpen!.reduce((a, h) => a + h * 4 * 4, 0) + final.neuronsOpen!.reduce((a, n) => a + 2 * n, 0));
    const dense = 2 * (4 * 16 * 16 + 2 * 16 * 32);
    // At least the closed structures are zero; open gates with a low location keep a soft value
    // (sigmoid(logAlpha / T * 0.8), 0.004 at the clamp) that takes some weights below eps too.
    expect(s.unstructured).toBeGreaterThan(1 - remaining / dense - 0.005);
    expect(s.unstructured - (1 - remaining / dense)).toBeLessThan(0.05);
    expect(Math.abs(s.unstructured - target)).toBeLessThan(0.1);
    r.model.dispose();
  });
});
