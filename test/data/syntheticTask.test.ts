import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  accuracy,
  generateNegationTask,
  loadNegationTask,
  loadTokenizer,
  NEGATION_MAX_LENGTH,
  NEGATION_TASK_DIR,
  negationTaskFiles,
  predictBagOfWords,
  trainBagOfWords,
} from '../../src/data';

describe('built-in negation-scope task', () => {
  it('committed files in data/negation are exactly what the generator writes', () => {
    for (const [name, text] of Object.entries(negationTaskFiles())) {
      expect(readFileSync(join(NEGATION_TASK_DIR, name), 'utf8'), `data/negation/${name}: rerun scripts/make_negation_task.ts`).toBe(text);
    }
  });

  it('is deterministic from its seed; dev never repeats a train sentence; labels balanced', () => {
    const a = generateNegationTask({ train: 200, dev: 50, seed: 9 });
    expect(generateNegationTask({ train: 200, dev: 50, seed: 9 })).toEqual(a);
    expect(generateNegationTask({ train: 200, dev: 50, seed: 10 })).not.toEqual(a);
    const train = loadNegationTask('train');
    const dev = loadNegationTask('dev');
    expect([train.length, dev.length]).toEqual([4000, 500]);
    const seen = new Set(train.map((e) => e.textA));
    expect(dev.some((e) => seen.has(e.textA))).toBe(false);
    const pos = train.filter((e) => e.label === 1).length / train.length;
    expect(Math.abs(pos - 0.5)).toBeLessThan(0.03);
  });

  it('its tokenizer covers every word, no [UNK], at most NEGATION_MAX_LENGTH tokens', () => {
    const tok = loadTokenizer(NEGATION_TASK_DIR);
    expect(tok.modelMaxLength).toBe(NEGATION_MAX_LENGTH);
    let longest = 0;
    for (const e of loadNegationTask('train')) {
      const enc = tok.encode(e.textA);
      expect(enc.inputIds).not.toContain(tok.special.unk);
      expect(enc.inputIds.length - 2).toBe(e.textA.split(' ').length); // one piece per word
      longest = Math.max(longest, enc.inputIds.length);
    }
    expect(longest).toBeLessThanOrEqual(16);
  });

  it('no single word predicts the label: every word\'s positive rate is near 1/2', () => {
    const train = loadNegationTask('train');
    const counts = new Map<string, [number, number]>();
    for (const e of train) {
      for (const w of new Set(e.textA.split(' '))) {
        const c = counts.get(w) ?? [0, 0];
        c[e.label] = (c[e.label] as number) + 1;
        counts.set(w, c);
      }
    }
    for (const [w, [neg, pos]] of counts) {
      const n = neg + pos;
      // 4 standard errors of a fair coin: a real correlation would stand far outside.
      expect(Math.abs(pos / n - 0.5), `word "${w}" (${pos}/${n} positive)`).toBeLessThan(4 * Math.sqrt(0.25 / n));
    }
  });

  it('a bag-of-words logistic regression stays at chance on dev', () => {
    const train = loadNegationTask('train');
    const dev = loadNegationTask('dev');
    const model = trainBagOfWords(train.map((e) => e.textA), train.map((e) => e.label), { steps: 200 });
    const pred = Array.from(predictBagOfWords(model, dev.map((e) => e.textA)), (p) => (p >= 0.5 ? 1 : 0));
    expect(accuracy(dev.map((e) => e.label), pred)).toBeLessThan(0.56);
  });
});

describe('bag-of-words model', () => {
  it('learns a task that words alone decide', () => {
    const texts = ['good fine', 'bad awful', 'fine', 'awful', 'good', 'bad'];
    const labels = [1, 0, 1, 0, 1, 0];
    const model = trainBagOfWords(texts, labels, { steps: 300 });
    expect(Array.from(predictBagOfWords(model, ['good', 'awful bad', 'unseen']), (p) => Math.round(p * 2) / 2)).toEqual([1, 0, 0.5]);
  });
});
