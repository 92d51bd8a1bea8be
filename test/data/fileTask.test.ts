import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeExamples, loadTokenizer } from '../../src/data';
import { fileTask, fileTaskName, taskData } from '../../src/train/taskData';

const DATA = join(__dirname, '..', 'fixtures', 'own-data');
const expected = JSON.parse(readFileSync(join(DATA, 'expected.json'), 'utf8'));
const tokenizer = loadTokenizer(join(__dirname, '..', 'fixtures', 'minilm-layout'));

describe('fileTask: own data in one call', () => {
  it('tokenises pairs and maps the labels by the discovered order, as Python read the file', () => {
    const task = fileTask({ train: join(DATA, 'train.csv'), dev: join(DATA, 'dev.csv'), text: 'title', textPair: 'description', tokenizer, maxLength: 32 });
    expect(task.name).toBe('own-data');
    expect(task.numLabels).toBe(4);
    expect(task.labelNames).toEqual(expected.labels.csv);
    const ref = (expected.train.csv as { label: string; title: string; description: string }[])
      .map((r) => ({ textA: r.title, textB: r.description, label: expected.labels.csv.indexOf(r.label) }));
    expect(task.train).toEqual(encodeExamples(tokenizer, ref, 32));
    expect(task.dev).toHaveLength(16);
    expect(task.metrics(Float32Array.from([0, 1, 2, 3]), Float32Array.from([0, 1, 2, 2]))).toEqual({ accuracy: 0.75, mcc: expect.closeTo(8 / Math.sqrt(120), 12) });
  });

  it('takes given labels (a checkpoint\'s id2label), and evaluates without a training file', () => {
    const labels = ['world', 'sports', 'business', 'sci/tech'];
    const task = fileTask({ dev: join(DATA, 'dev.jsonl'), text: 'title', label: 'topic', tokenizer, labels });
    const ref = (expected.dev.jsonl as { topic: string }[]).map((r) => labels.indexOf(r.topic));
    expect(task.dev.map((e) => e.label)).toEqual(ref);
    expect(task.train).toEqual([]);
    const data = taskData(task, { batchSize: 4, seed: 0, padId: 0 });
    expect(data.devLabels()).toHaveLength(16);
    expect(() => data.trainBatches(0)).toThrow('task own-data: no training examples');
  });

  it('reads regression targets and names tasks after their files', () => {
    const task = fileTask({ train: join(DATA, 'train.jsonl'), dev: join(DATA, 'dev.jsonl'), text: 'title', label: 'score', regression: true, tokenizer });
    expect(task.numLabels).toBe(1);
    expect(task.labelNames).toBeNull();
    expect(task.train.map((e) => e.label)).toEqual((expected.train.jsonl as { score: number }[]).map((r) => r.score));
    expect(fileTaskName('/x/news.csv')).toBe('news');
    expect(fileTaskName('/x/ag news/train.jsonl')).toBe('ag_news');
  });
});
