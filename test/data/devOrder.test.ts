import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { loadBertCheckpoint } from '../../src/checkpoint';
import { DEFAULT_MODEL_DIR } from '../../src/cli/setup';
import { makeBatches } from '../../src/data';
import { BertTaskModel } from '../../src/train/bertTask';
import { builtinTask, predictInOrder, taskData } from '../../src/train/taskData';
import { evaluate } from '../../src/train/trainer';

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

describe('length-sorted dev batches', () => {
  it('give the same predictions, in the original order, and the same metrics as unsorted batches, with less padding', () => {
    const task = builtinTask();
    const model = new BertTaskModel(loadBertCheckpoint(DEFAULT_MODEL_DIR).model);
    const data = taskData(task, { batchSize: 16, seed: 0, padId: task.tokenizer.special.pad, limitDev: 96 });
    const sorted = data.devBatches();
    const lengths = sorted.map((b) => b.seqLen);
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b));

    // The reference: the dev examples in file order, batched as they come (no sorting).
    const dev = task.dev.slice(0, 96);
    const plain = makeBatches(dev, { batchSize: 16, shuffle: false, sortByLength: false, padId: task.tokenizer.special.pad });
    const reference = Float32Array.from(plain.flatMap((b) => Array.from(model.predict(b))));
    expect(predictInOrder(model, sorted)).toEqual(reference);
    expect(new Set(reference).size).toBe(2);
    expect(evaluate(model, data)).toEqual(task.metrics(reference, Float32Array.from(dev.map((e) => e.label))));

    const padded = (bs: typeof plain) => bs.reduce((n, b) => n + b.size * b.seqLen, 0);
    expect(padded(sorted)).toBeLessThan(padded(plain));
    model.dispose();
  });
});
