/**
 * A resume continues the same run or refuses, saying why: other options, other data, another
 * setup (task, data subset, maximum length, tokenizer, model), or a damaged trainer_state.json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { tinyBertTaskModel } from './tinyBert';
import type { BertTaskModel } from '../../src/train/bertTask';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/train/options';
import { builtinTask, taskData } from '../../src/train/taskData';
import { train } from '../../src/train/trainer';
import { latestCheckpoint } from '../../src/train/runDir';

const task = builtinTask();
const dataOf = (limitTrain: number, limitDev = 16) => taskData(task, { batchSize: 16, seed: 7, padId: task.tokenizer.special.pad, limitTrain, limitDev });
const data = dataOf(32);

const newModel = () => tinyBertTaskModel(task.tokenizer.vocabSize);
const options: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, mode: 'finetune', epochs: 2, batchSize: 16, progress: false };

let root: string;
let n = 0;
beforeAll(async () => { await initBackend({ force: 'cpu' }); root = mkdtempSync(join(tmpdir(), 'np-resume-checks-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A run folder stopped after its first epoch (2 steps per epoch). */
async function stoppedRun(setup: Record<string, string | number | boolean | null>): Promise<string> {
  const runDir = join(root, `r${n++}`);
  const r = await train({ model: newModel(), data, ops: neuropruneOps(), options, runDir, setup, shouldStop: (step) => step === 2 });
  r.model.dispose();
  expect(latestCheckpoint(runDir)).toBeDefined();
  return runDir;
}

const resume = (runDir: string, o: Partial<{ setup: Record<string, string | number | boolean | null>; data: ReturnType<typeof dataOf>; options: TrainOptions }> = {}) =>
  train({ model: newModel(), data: o.data ?? data, ops: neuropruneOps(), options: o.options ?? options, runDir, resume: true, setup: o.setup });

describe('resume checks', () => {
  it('refuses another setup, naming every entry that differs', async () => {
    const setup = { '--max-length': 32, '--model': '/models/a', tokenizer: 'abc123' };
    const runDir = await stoppedRun(setup);
    await expect(resume(runDir, { setup: { ...setup, '--max-length': 16, '--model': '/models/b' } }))
      .rejects.toThrow(/options\.json: the run was started with other options: --max-length is 16 here but 32 in the run; --model is "\/models\/b" here but "\/models\/a" in the run/);
    await expect(resume(runDir, { setup, options: { ...options, learningRate: 1e-3 } }))
      .rejects.toThrow(/learningRate is 0\.001 here but 0\.0003 in the run/);
    // The same setup continues.
    const r = await resume(runDir, { setup });
    expect(r.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    r.model.dispose();
  });

  it('refuses other data even when the caller gives no setup: task, subset', async () => {
    const runDir = await stoppedRun({});
    await expect(resume(runDir, { data: dataOf(64) })).rejects.toThrow(/stepsPerEpoch is 4 here but 2 in the run/);
    await expect(resume(runDir, { data: dataOf(32, 8) })).rejects.toThrow(/devExamples is 8 here but 16 in the run/);
    await expect(resume(runDir, { data: { ...data, name: 'rte' } })).rejects.toThrow(/task is "rte" here but "negation" in the run/);
  });

  it('checks trainer_state.json field by field, naming the file and the field', async () => {
    const runDir = await stoppedRun({});
    const file = join(latestCheckpoint(runDir)!, 'trainer_state.json');
    const good = JSON.parse(readFileSync(file, 'utf8'));
    const cases: [unknown, RegExp][] = [
      [{ ...good, step: '2' }, /trainer_state\.json: field 'step' must be an integer >= 0 \(got "2"\)/],
      [{ ...good, epoch: 0 }, /trainer_state\.json: field 'epoch' must be an integer >= 1 \(got 0\)/],
      [{ ...good, history: [] }, /trainer_state\.json: field 'history' must be a list of 1 epoch records \(got "0 records"\)/],
      [{ ...good, optimizerStep: -1 }, /field 'optimizerStep' must be an integer >= 0/],
      [{ ...good, step: 3 }, /field 'step' must be 1 epochs x 2 steps per epoch = 2 for this data \(got 3\)/],
      [[1, 2], /field '\(top level\)' must be an object/],
    ];
    for (const [content, message] of cases) {
      writeFileSync(file, JSON.stringify(content));
      await expect(resume(runDir)).rejects.toThrow(message);
    }
    writeFileSync(file, '{"epoch": 1,');
    await expect(resume(runDir)).rejects.toThrow(/trainer_state\.json: not JSON/);
  });
});
