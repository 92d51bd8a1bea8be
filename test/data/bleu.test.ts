import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { corpusBleu, sentenceBleu, tokenize13a } from '../../src/data';
import type { BleuOptions, BleuResult } from '../../src/data';

interface Fixture {
  sentences: {
    hypothesis: string;
    references: string[];
    tokenized: string;
    score: number;
    counts: number[];
    totals: number[];
  }[];
  corpora: {
    name: string;
    hypotheses: string[];
    references: (string | null)[][];
    options: { lowercase?: boolean; effective_order?: boolean; smooth_method?: BleuOptions['smoothMethod'] };
    score: number;
    counts: number[];
    totals: number[];
    precisions: number[];
    bp: number;
    sys_len: number;
    ref_len: number;
    signature: string;
  }[];
}
const fx = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'text-metrics', 'bleu.json'), 'utf8')) as Fixture;

// Scores are 0-100 from the same float operations as sacrebleu; Math.exp/log may differ from
// libm in the last bit, so 1e-9 (far below the 1e-6 the field's two-decimal reports need).
const TOL = 1e-9;
let maxDiff = 0;
function close(got: number, want: number, what: string): void {
  maxDiff = Math.max(maxDiff, Math.abs(got - want));
  expect(Math.abs(got - want), what).toBeLessThanOrEqual(TOL);
}

describe('BLEU against sacrebleu 2.6.0', () => {
  it('fixture covers the cases the issue names', () => {
    expect(fx.sentences.length).toBeGreaterThanOrEqual(50);
    expect(fx.sentences.some((s) => s.hypothesis === '')).toBe(true);
    expect(fx.sentences.some((s) => /[^\x00-\x7f]/.test(s.references[0] as string))).toBe(true);
    expect(fx.sentences.some((s) => s.references.length > 2)).toBe(true);
  });

  it.each(fx.sentences.map((s, i) => [i, s] as const))('sentence %i: 13a tokens and sentence BLEU', (_, s) => {
    expect(tokenize13a(s.references[0] as string)).toBe(s.tokenized);
    const got = sentenceBleu(s.hypothesis, s.references);
    expect(got.counts).toEqual(s.counts);
    expect(got.totals).toEqual(s.totals);
    close(got.score, s.score, 'score');
  });

  it.each(fx.corpora.map((c) => [c.name, c] as const))('corpus: %s', (_, c) => {
    const got: BleuResult = corpusBleu(c.hypotheses, c.references, {
      lowercase: c.options.lowercase,
      effectiveOrder: c.options.effective_order,
      smoothMethod: c.options.smooth_method,
    });
    expect(got.counts).toEqual(c.counts);
    expect(got.totals).toEqual(c.totals);
    expect(got.sysLen).toBe(c.sys_len);
    expect(got.refLen).toBe(c.ref_len);
    expect(got.signature).toBe(c.signature);
    close(got.bp, c.bp, 'bp');
    got.precisions.forEach((p, n) => close(p, c.precisions[n] as number, `precision ${n + 1}`));
    close(got.score, c.score, 'score');
  });

  it('reports the largest difference', () => {
    expect(maxDiff).toBeLessThanOrEqual(TOL);
    console.log(`BLEU max |difference| to sacrebleu (0-100 scale): ${maxDiff.toExponential(2)}`);
  });
});

describe('BLEU by hand', () => {
  it('13a splits punctuation but keeps decimals and thousands together', () => {
    expect(tokenize13a('It costs $3.50, or 1,000 (approx.)!')).toBe('It costs $ 3.50 , or 1,000 ( approx . ) !');
  });

  it('a perfect match scores 100 and a shorter one pays the brevity penalty', () => {
    expect(corpusBleu(['a b c d e'], [['a b c d e']]).score).toBeCloseTo(100, 12);
    const short = corpusBleu(['a b c d'], [['a b c d e']]);
    expect(short.bp).toBeCloseTo(Math.exp(1 - 5 / 4), 15);
  });

  it('names mismatched streams', () => {
    expect(() => corpusBleu(['a', 'b'], [['a']])).toThrow(/reference stream 0 has 1 segments but there are 2 hypotheses/);
  });
});
