/**
 * ROUGE-N, ROUGE-L and ROUGE-Lsum as Google's `rouge_score` package (0.1.2) computes them, the
 * implementation summarization papers report (and Hugging Face `evaluate` wraps). Checked against
 * that package on fixture texts (test/fixtures/text-metrics, scripts/make_text_metric_fixtures.py).
 *
 * - Tokens: the text lowercased, every run of characters outside [a-z0-9] a separator (so
 *   accented letters, CJK and punctuation separate words and vanish); with `useStemmer`, tokens
 *   longer than 3 characters go through NLTK's Porter stemmer.
 * - ROUGE-N: clipped n-gram overlap over the hypothesis n-grams (precision) and the reference
 *   n-grams (recall); F = 2PR/(P+R), 0 when P+R = 0.
 * - ROUGE-L: longest common subsequence of the whole token sequences.
 * - ROUGE-Lsum: summary-level LCS (Lin 2004, section 3.2): the text split at newlines (empty lines
 *   dropped), for each reference sentence the union of its LCS with every hypothesis sentence,
 *   hits counted once per token occurrence. Sentences must therefore be on separate lines.
 */
import { porterStem } from './porterStemmer';

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** `rouge1`, `rouge2`, ... (any n >= 1), `rougeL`, `rougeLsum`. */
export type RougeType = string;

export interface RougeOptions {
  /** Rouge types to compute; default `['rouge1', 'rouge2', 'rougeL', 'rougeLsum']`. */
  types?: RougeType[];
  /** Porter-stem tokens longer than 3 characters (rouge_score's `use_stemmer`); default false. */
  useStemmer?: boolean;
}

export const DEFAULT_ROUGE_TYPES: readonly RougeType[] = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'];

/** rouge_score's default tokenizer. */
export function rougeTokenize(text: string, useStemmer = false): string[] {
  const words = text.toLowerCase().replace(/[^a-z0-9]+/g, ' ').split(' ');
  const out: string[] = [];
  for (const w of words) {
    if (w.length === 0) continue;
    out.push(useStemmer && w.length > 3 ? porterStem(w) : w);
  }
  return out;
}

function fmeasure(p: number, r: number): number {
  return p + r > 0 ? (2 * p * r) / (p + r) : 0;
}

const ZERO: RougeScore = { precision: 0, recall: 0, fmeasure: 0 };

function ngramCounts(tokens: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  // \u0001 cannot occur in a token (tokens are [a-z0-9]+), so joined keys are unambiguous.
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0001');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function scoreNgrams(target: string[], prediction: string[], n: number): RougeScore {
  const t = ngramCounts(target, n);
  const p = ngramCounts(prediction, n);
  let overlap = 0;
  for (const [g, c] of t) overlap += Math.min(c, p.get(g) ?? 0);
  const tTotal = Math.max(0, target.length - n + 1);
  const pTotal = Math.max(0, prediction.length - n + 1);
  const precision = overlap / Math.max(pTotal, 1);
  const recall = overlap / Math.max(tTotal, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** (rows+1) x (cols+1) LCS length table, row-major. */
function lcsTable(ref: string[], can: string[]): Int32Array {
  const cols = can.length + 1;
  const t = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      t[i * cols + j] =
        ref[i - 1] === can[j - 1]
          ? (t[(i - 1) * cols + j - 1] as number) + 1
          : Math.max(t[(i - 1) * cols + j] as number, t[i * cols + j - 1] as number);
    }
  }
  return t;
}

function scoreLcs(target: string[], prediction: string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return { ...ZERO };
  const lcs = lcsTable(target, prediction)[target.length * (prediction.length + 1) + prediction.length] as number;
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/**
 * Indices into `ref` of one LCS with `can`, read back as rouge_score does (the tie rule decides
 * which LCS, and with it the union in ROUGE-Lsum).
 */
function lcsIndices(ref: string[], can: string[]): number[] {
  const t = lcsTable(ref, can);
  const cols = can.length + 1;
  let i = ref.length;
  let j = can.length;
  const out: number[] = [];
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if ((t[i * cols + j - 1] as number) > (t[(i - 1) * cols + j] as number)) j--;
    else i--;
  }
  return out.reverse();
}

function summaryLevelLcs(refSents: string[][], canSents: string[][]): RougeScore {
  if (refSents.length === 0 || canSents.length === 0) return { ...ZERO };
  const m = refSents.reduce((a, s) => a + s.length, 0);
  const n = canSents.reduce((a, s) => a + s.length, 0);
  if (m === 0 || n === 0) return { ...ZERO };
  const countR = new Map<string, number>();
  const countC = new Map<string, number>();
  for (const s of refSents) for (const tok of s) countR.set(tok, (countR.get(tok) ?? 0) + 1);
  for (const s of canSents) for (const tok of s) countC.set(tok, (countC.get(tok) ?? 0) + 1);
  let hits = 0;
  for (const r of refSents) {
    const union = new Set<number>();
    for (const c of canSents) for (const idx of lcsIndices(r, c)) union.add(idx);
    for (const idx of [...union].sort((a, b) => a - b)) {
      const tok = r[idx] as string;
      const cc = countC.get(tok) ?? 0;
      const cr = countR.get(tok) ?? 0;
      // Each occurrence counts once across the whole summary.
      if (cc > 0 && cr > 0) {
        hits++;
        countC.set(tok, cc - 1);
        countR.set(tok, cr - 1);
      }
    }
  }
  const recall = hits / m;
  const precision = hits / n;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

function checkType(type: RougeType): number | 'L' | 'Lsum' {
  if (type === 'rougeL') return 'L';
  if (type === 'rougeLsum') return 'Lsum';
  const m = /^rouge([0-9])$/.exec(type);
  if (m === null || Number(m[1]) === 0) {
    throw new Error(`ROUGE: unknown type '${type}'; use rouge1 ... rouge9, rougeL or rougeLsum`);
  }
  return Number(m[1]);
}

/** rouge_score's `RougeScorer(types, use_stemmer).score(target, prediction)`. */
export function rougeScore(target: string, prediction: string, opts: RougeOptions = {}): Record<RougeType, RougeScore> {
  const types = opts.types ?? DEFAULT_ROUGE_TYPES;
  const stem = opts.useStemmer ?? false;
  const kinds = types.map(checkType);
  const needTokens = kinds.some((k) => k !== 'Lsum');
  const tTok = needTokens ? rougeTokenize(target, stem) : [];
  const pTok = needTokens ? rougeTokenize(prediction, stem) : [];
  const sentences = (text: string): string[][] =>
    text
      .split('\n')
      .filter((s) => s.length > 0)
      .map((s) => rougeTokenize(s, stem));
  const out: Record<RougeType, RougeScore> = {};
  types.forEach((type, i) => {
    const k = kinds[i] as number | 'L' | 'Lsum';
    if (k === 'L') out[type] = scoreLcs(tTok, pTok);
    else if (k === 'Lsum') out[type] = summaryLevelLcs(sentences(target), sentences(prediction));
    else out[type] = scoreNgrams(tTok, pTok, k);
  });
  return out;
}

/**
 * rouge_score's `score_multi(targets, prediction)`: per type, the score against the reference
 * with the highest F (the first of equal ones).
 */
export function rougeScoreMulti(
  targets: string[],
  prediction: string,
  opts: RougeOptions = {},
): Record<RougeType, RougeScore> {
  if (targets.length === 0) throw new Error('ROUGE: an example has no reference; give at least one');
  const all = targets.map((t) => rougeScore(t, prediction, opts));
  const out: Record<RougeType, RougeScore> = {};
  for (const type of opts.types ?? DEFAULT_ROUGE_TYPES) {
    let best = all[0] as Record<RougeType, RougeScore>;
    for (const s of all) if ((s[type] as RougeScore).fmeasure > (best[type] as RougeScore).fmeasure) best = s;
    out[type] = best[type] as RougeScore;
  }
  return out;
}

/**
 * Corpus ROUGE: the mean over examples of each per-example precision, recall and F (F is what
 * papers report). This is the exact value that `evaluate`'s rouge estimates with its default
 * `use_aggregator=True` (rouge_score's BootstrapAggregator: the median of 1000 bootstrap means,
 * random in the last digits) and equals the mean of its `use_aggregator=False` lists.
 * `references[i]` is one string or several (scored as `rougeScoreMulti`).
 */
export function corpusRouge(
  predictions: string[],
  references: (string | string[])[],
  opts: RougeOptions = {},
): Record<RougeType, RougeScore> {
  if (predictions.length !== references.length) {
    throw new Error(
      `ROUGE: ${predictions.length} predictions but ${references.length} references; give one reference (or list) per prediction`,
    );
  }
  if (predictions.length === 0) throw new Error('ROUGE: no predictions to score');
  const types = opts.types ?? DEFAULT_ROUGE_TYPES;
  const sum: Record<RougeType, RougeScore> = {};
  for (const t of types) sum[t] = { ...ZERO };
  predictions.forEach((pred, i) => {
    const ref = references[i] as string | string[];
    const s = typeof ref === 'string' ? rougeScore(ref, pred, opts) : rougeScoreMulti(ref, pred, opts);
    for (const t of types) {
      const acc = sum[t] as RougeScore;
      const v = s[t] as RougeScore;
      acc.precision += v.precision;
      acc.recall += v.recall;
      acc.fmeasure += v.fmeasure;
    }
  });
  const n = predictions.length;
  for (const t of types) {
    const acc = sum[t] as RougeScore;
    sum[t] = { precision: acc.precision / n, recall: acc.recall / n, fmeasure: acc.fmeasure / n };
  }
  return sum;
}
