import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { removeHeads } from '../../src/neuroprune';
import {
  availableMemory, checkTrainingMemory, EMBEDDING_FLOATS_PER_PARAMETER, estimateTrainingMemory, MemoryError, parseByteSize, STEP_FLOATS_PER_PARAMETER, WASM_HEAP_LIMIT,
} from '../../src/train/memory';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/train/options';
import { builtinTask, taskData } from '../../src/train/taskData';
import { train } from '../../src/train/trainer';
import { tinyBertTaskModel } from './tinyBert';

const GiB = 2 ** 30;
beforeAll(async () => { await initBackend({ force: 'cpu' }); });
afterEach(() => { delete process.env.NEUROPRUNE_MEMORY_LIMIT; });

describe('step memory estimate', () => {
  it('parses sizes and names what it cannot read', () => {
    expect(parseByteSize('12G')).toBe(12 * GiB);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * GiB);
    expect(parseByteSize('800m')).toBe(800 * 2 ** 20);
    expect(parseByteSize('4096')).toBe(4096);
    expect(() => parseByteSize('lots')).toThrow(/'lots' is not a size/);
    expect(() => availableMemory('cpu', { NEUROPRUNE_MEMORY_LIMIT: '12 apples' }, 0)).toThrow(/NEUROPRUNE_MEMORY_LIMIT: '12 apples'/);
  });

  it('counts what is available: the override, else the least of the system, the cgroup and the wasm heap', () => {
    expect(availableMemory('cpu', { NEUROPRUNE_MEMORY_LIMIT: '2G' }, 0.5 * GiB)).toEqual({ bytes: 1.5 * GiB, source: 'NEUROPRUNE_MEMORY_LIMIT=2G' });
    const wasm = availableMemory('wasm', {}, 1 * GiB);
    expect(wasm.bytes).toBeLessThanOrEqual(WASM_HEAP_LIMIT - GiB);
    const native = availableMemory('native', {}, 1 * GiB);
    expect(native.source).not.toMatch(/wasm/);
    expect(native.bytes).toBeGreaterThan(0);
  });

  it('refuses a step that does not fit, naming the largest batch that does, and that batch fits', () => {
    const parameters = 100e6;
    const perExample = 0.25 * GiB;
    const available = { bytes: 6 * GiB, source: 'test' };
    const embeddingParameters = 20e6;
    const estimate = (b: number) => estimateTrainingMemory({ parameters, embeddingParameters, activationBytes: b * perExample });
    expect(estimate(32).parameterState).toBeCloseTo(4 * (STEP_FLOATS_PER_PARAMETER * 80e6 + EMBEDDING_FLOATS_PER_PARAMETER * 20e6), 0);
    let message = '';
    try { checkTrainingMemory({ estimate: estimate(32), available, batchSize: 32, seqLen: 128 }); } catch (err) {
      expect(err).toBeInstanceOf(MemoryError);
      message = (err as Error).message;
    }
    const fits = Number(/batch size (\d+) fits/.exec(message)?.[1]);
    expect(message).toMatch(/^a training step at batch 32 x 128 tokens needs about 9\.9 GiB \(weights 0\.4 GiB, gradients and AdamW state 1\.6 GiB, activations 8\.0 GiB\), but 6\.0 GiB more are available \(test\)/);
    expect(() => checkTrainingMemory({ estimate: estimate(fits), available, batchSize: fits, seqLen: 128 })).not.toThrow();
    expect(() => checkTrainingMemory({ estimate: estimate(fits + 1), available, batchSize: fits + 1, seqLen: 128 })).toThrow(MemoryError);
    expect(() => checkTrainingMemory({ estimate: estimate(1), available: { bytes: GiB, source: 'test' }, batchSize: 1, seqLen: 128 }))
      .toThrow(/even batch size 1 does not fit: the weights' gradients and optimizer state alone need 1\.6 GiB/);
  });

  it("BERT's activation estimate grows in proportion to the batch and shrinks with the heads pruned away", () => {
    const model = tinyBertTaskModel(1000, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32 });
    const batch = (size: number, seqLen: number) => ({ size, seqLen } as Parameters<typeof model.stepMemory>[0]);
    const one = model.stepMemory(batch(1, 24)).activationBytes;
    expect(model.stepMemory(batch(8, 24)).activationBytes).toBe(8 * one);
    // Doubling the length more than doubles it: the attention scores grow with its square.
    expect(model.stepMemory(batch(1, 48)).activationBytes).toBeGreaterThan(2 * one);
    removeHeads(model.attentionBlocks()[0], [1, 1, 2, 3]); // head 0 merged into head 1
    expect(model.stepMemory(batch(1, 24)).activationBytes).toBeLessThan(one);
    model.dispose();
  });

  it('train() refuses a batch that does not fit before it writes anything, and trains when the check is off', async () => {
    const task = builtinTask();
    const data = taskData(task, { batchSize: 16, seed: 7, padId: task.tokenizer.special.pad, limitTrain: 32, limitDev: 16 });
    const options = { ...DEFAULT_TRAIN_OPTIONS, mode: 'finetune' as const, epochs: 1, batchSize: 16, progress: false };
    const root = mkdtempSync(join(tmpdir(), 'np-memory-'));
    try {
      process.env.NEUROPRUNE_MEMORY_LIMIT = String(process.memoryUsage().rss + 1024);
      const model = tinyBertTaskModel(task.tokenizer.vocabSize);
      await expect(train({ model, data, ops: neuropruneOps(), options, runDir: join(root, 'run') }))
        .rejects.toThrow(/a training step at batch 16 x \d+ tokens needs about .* more are available \(NEUROPRUNE_MEMORY_LIMIT=\d+\)/);
      expect(existsSync(join(root, 'run'))).toBe(false);
      const r = await train({ model, data, ops: neuropruneOps(), options, memoryCheck: false });
      expect(r.epochs).toHaveLength(1);
      r.model.dispose();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
