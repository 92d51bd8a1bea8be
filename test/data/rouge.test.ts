import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { corpusRouge, porterStem, rougeScore, rougeScoreMulti, rougeTokenize } from '../../src/data';
import type { RougeScore } from '../../src/data';

/** [precision, recall, fmeasure] per rouge type, from rouge_score 0.1.2. */
type Triples = Record<string, [number, number, number]>;
interface Fixture {
  types: string[];
  examples: {
    reference: string;
    prediction: string;
    tokens: string[];
    tokens_stemmed: string[];
    scores: Triples;
    scores_stemmed: Triples;
  }[];
  multi: { references: string[]; prediction: string; scores: Triples; scores_stemmed: Triples }[];
  corpus: Triples;
  corpus_stemmed: Triples;
  stems: [string, string][];
}
const fx = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'text-metrics', 'rouge.json'), 'utf8'),
) as Fixture;

let maxDiff = 0;
function expectScores(got: Record<string, RougeScore>, want: Triples, tol: number): void {
  for (const t of fx.types) {
    const g = got[t] as RougeScore;
    const [p, r, f] = want[t] as [number, number, number];
    for (const [a, b] of [
      [g.precision, p],
      [g.recall, r],
      [g.fmeasure, f],
    ] as const) {
      maxDiff = Math.max(maxDiff, Math.abs(a - b));
      expect(Math.abs(a - b), `${t}`).toBeLessThanOrEqual(tol);
    }
  }
}

describe('ROUGE against rouge_score 0.1.2', () => {
  it('fixture covers the cases the issue names', () => {
    expect(fx.examples.length).toBeGreaterThanOrEqual(50);
    expect(fx.examples.some((e) => e.prediction === '')).toBe(true);
    expect(fx.examples.some((e) => /[^\x00-\x7f]/.test(e.reference))).toBe(true);
    expect(fx.examples.some((e) => e.prediction.includes('\n'))).toBe(true);
  });

  it('the Porter stemmer agrees with NLTK on every fixture word', () => {
    const wrong = fx.stems.filter(([w, s]) => porterStem(w) !== s).map(([w, s]) => `${w}: ${porterStem(w)} != ${s}`);
    expect(wrong).toEqual([]);
    expect(fx.stems.length).toBeGreaterThan(3000);
  });

  it.each(fx.examples.map((e, i) => [i, e] as const))('pair %i: tokens and scores', (_, e) => {
    expect(rougeTokenize(e.reference)).toEqual(e.tokens);
    expect(rougeTokenize(e.reference, true)).toEqual(e.tokens_stemmed);
    // The same float operations in the same order as rouge_score: equal to the last bit.
    expectScores(rougeScore(e.reference, e.prediction), e.scores, 0);
    expectScores(rougeScore(e.reference, e.prediction, { useStemmer: true }), e.scores_stemmed, 0);
  });

  it.each(fx.multi.map((e, i) => [i, e] as const))('multi-reference %i (score_multi)', (_, e) => {
    expectScores(rougeScoreMulti(e.references, e.prediction), e.scores, 0);
    expectScores(rougeScoreMulti(e.references, e.prediction, { useStemmer: true }), e.scores_stemmed, 0);
  });

  it('corpus score is the mean of per-example scores (numpy mean of rouge_score values)', () => {
    const preds = fx.examples.map((e) => e.prediction);
    const refs = fx.examples.map((e) => e.reference);
    // numpy sums pairwise, this module left to right: equal to rounding.
    expectScores(corpusRouge(preds, refs), fx.corpus, 1e-12);
    expectScores(corpusRouge(preds, refs, { useStemmer: true }), fx.corpus_stemmed, 1e-12);
    console.log(`ROUGE max |difference| to rouge_score: ${maxDiff.toExponential(2)}`);
  });
});

describe('ROUGE by hand', () => {
  it('ROUGE-L against ROUGE-Lsum on reordered sentences', () => {
    // LCS of the whole sequences is 3 of 6 tokens; per sentence, each reference sentence's union
    // LCS covers it fully, so Lsum is 1.
    const ref = 'a b c\nd e f';
    const hyp = 'd e f\na b c';
    expect(rougeScore(ref, hyp).rougeL?.fmeasure).toBeCloseTo(0.5, 15);
    expect(rougeScore(ref, hyp).rougeLsum?.fmeasure).toBe(1);
  });

  it('clips repeated n-grams', () => {
    // 'the' x7 against a reference with 'the' x2: 2 of 7 unigrams match.
    const s = rougeScore('the cat is on the mat', 'the the the the the the the', { types: ['rouge1'] });
    expect(s.rouge1?.precision).toBeCloseTo(2 / 7, 15);
    expect(s.rouge1?.recall).toBeCloseTo(2 / 6, 15);
  });

  it('names the bad type and mismatched lengths', () => {
    expect(() => rougeScore('a', 'a', { types: ['rougeX'] })).toThrow(/rougeX/);
    expect(() => corpusRouge(['a', 'b'], ['a'])).toThrow(/2 predictions but 1 references/);
  });
});
