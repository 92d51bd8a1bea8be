/**
 * The seq2seq task model and data (src/train/seq2seqTask.ts): the loss as transformers computes
 * it on the tiny-t5 fixture (scripts/make_t5_fixtures.py), from DataCollatorForSeq2Seq-style
 * batches; the dev loss as the token-weighted mean of that loss; the dev evaluation's wiring of
 * generation, decoding and references (a model that generates the references scores BLEU 100).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { loadCheckpoint } from '../../src/checkpoint';
import { builtinSeq2seqTask, padSeq2seqBatch, type Seq2seqBatch } from '../../src/data';
import type { T5Model } from '../../src/models/t5';
import { Seq2seqTaskModel, seq2seqTaskData } from '../../src/train/seq2seqTask';
import type { TrainableModel } from '../../src/train/types';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'tiny-t5');
interface Reference { input_ids: number[][]; labels: number[][]; decoder_input_ids: number[][]; decoder_attention_mask: number[][]; loss: number }

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

/** The fixture batch as the collator makes it from unpadded examples. */
function fixtureBatch(ref: Reference): Seq2seqBatch {
  const examples = ref.input_ids.map((ids, i) => ({
    inputIds: ids.filter((_, t) => t === 0 || ids[t] !== 0),
    labels: ref.labels[i].filter((_, t) => ref.decoder_attention_mask[i][t] === 1),
  }));
  return padSeq2seqBatch(examples, examples.map((_, i) => i), { padId: 0 });
}

describe('Seq2seqTaskModel', () => {
  it("computes transformers' loss (labels -100 on padding) from collator batches, and predict sums it per example", () => {
    const ref = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8')) as Reference;
    const batch = fixtureBatch(ref);
    expect(Array.from(batch.decoderInputIds)).toEqual(ref.decoder_input_ids.flat());
    const model = new Seq2seqTaskModel(loadCheckpoint(FIXTURE).model as unknown as T5Model);
    const before = tf.memory().numTensors;
    const loss = model.taskLoss(batch, { training: false, seed: 0 });
    const value = loss.dataSync()[0];
    loss.dispose();
    expect(Math.abs(value - ref.loss)).toBeLessThanOrEqual(1e-5);
    // Summed per example, divided by the label tokens (7 + 4 + 2): the same mean.
    const sums = model.predict(batch);
    expect(sums).toHaveLength(3);
    expect(Math.abs(sums.reduce((a, b) => a + b, 0) / 13 - ref.loss)).toBeLessThanOrEqual(1e-5);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('seq2seqTaskData', () => {
  const task = builtinSeq2seqTask();

  it('scores the generated text against the dev references in dev order, and reports the token-weighted dev loss', () => {
    const data = seq2seqTaskData(task, { batchSize: 8, seed: 1, limitDev: 20 });
    const targets = task.dev.slice(0, 20).map((e) => e.labels);
    // A model that generates each source's reference (the encoded target) and a fixed loss of 2
    // per label token; then one that answers the first reference to every source.
    const fake = (answer: (i: number) => readonly number[]): TrainableModel<Seq2seqBatch> & { generate(s: readonly (readonly number[])[]): number[][] } => ({
      hiddenSize: 1, attentionBlocks: () => [], mlpBlocks: () => [], namedVariables: () => new Map(), dispose() {},
      taskLoss: () => tf.scalar(0),
      predict: (b) => Float32Array.from(Array.from(b.indices, (i) => 2 * targets[i].length)),
      generate: (sources) => sources.map((s) => {
        const i = task.dev.findIndex((e) => e.inputIds === s);
        return [...answer(i)];
      }),
    });
    const perfect = data.evaluate!(fake((i) => targets[i]));
    expect(Object.keys(perfect)[0]).toBe('bleu');
    expect(perfect.bleu).toBeCloseTo(100, 6);
    expect(perfect.exactMatch).toBe(100);
    expect(perfect.loss).toBeCloseTo(2, 6);
    const same = data.evaluate!(fake(() => targets[0]));
    const firstMatches = task.devTargets.slice(0, 20).filter((t) => t === task.devTargets[0]).length;
    expect(same.exactMatch).toBeCloseTo((100 * firstMatches) / 20, 6);
    expect(same.bleu).toBeLessThan(50);
  });

  it('trains on collator batches whose tokens count sources and labels', () => {
    const data = seq2seqTaskData(task, { batchSize: 16, seed: 3, limitTrain: 40 });
    const batches = data.trainBatches(0);
    expect(batches.reduce((n, b) => n + b.size, 0)).toBe(40);
    const expected = batches.reduce((n, b) => n + b.indices.reduce((m, i) => m + task.train[i].inputIds.length + task.train[i].labels.length, 0), 0);
    expect(batches.reduce((n, b) => n + data.batchTokens(b), 0)).toBe(expected);
    // The order depends on (seed, epoch) only.
    expect(seq2seqTaskData(task, { batchSize: 16, seed: 3, limitTrain: 40 }).trainBatches(0).map((b) => Array.from(b.indices))).toEqual(batches.map((b) => Array.from(b.indices)));
  });
});
