/**
 * BLEU as `sacrebleu` (2.6) computes it, the implementation translation papers report: the 13a
 * tokenizer (mteval-v13a, WMT's), n-gram counts clipped by the maximum count over the references,
 * the closest reference length for the brevity penalty (the shorter one on a tie), corpus totals
 * summed over segments before the geometric mean, and the `exp` smoothing by default. Checked
 * against that package on fixture texts (test/fixtures/text-metrics).
 */

export type BleuSmoothing = 'none' | 'floor' | 'add-k' | 'exp';

export interface BleuOptions {
  /** Lowercase hypotheses and references first (signature `case:lc`); default false. */
  lowercase?: boolean;
  /** Default `exp` (corpus and sentence BLEU alike, as sacrebleu). */
  smoothMethod?: BleuSmoothing;
  /** For `floor` (default 0.1) and `add-k` (default 1). */
  smoothValue?: number;
  /** Highest n-gram order; default 4. */
  maxNgramOrder?: number;
  /** Average only up to the highest order with any n-gram; default false for corpus BLEU. */
  effectiveOrder?: boolean;
}

export interface BleuResult {
  /** 0-100. */
  score: number;
  /** Clipped matches per order (1-grams first). */
  counts: number[];
  /** Hypothesis n-grams per order. */
  totals: number[];
  /** 0-100 per order, after smoothing. */
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  /** sacrebleu's signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`. */
  signature: string;
}

/** The sacrebleu version whose numbers and signature this module reproduces. */
export const SACREBLEU_VERSION = '2.6.0';

const SMOOTH_DEFAULTS: Record<BleuSmoothing, number | null> = { none: null, floor: 0.1, 'add-k': 1, exp: null };

/** Python's str.split()/strip() whitespace (wider than JS \s on \x1c-\x1f and \x85, narrower on \ufeff). */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPLIT = new RegExp(`[${PY_SPACE}]+`);
const PY_RSTRIP = new RegExp(`[${PY_SPACE}]+$`);

function pySplit(s: string): string[] {
  return s.split(PY_SPLIT).filter((w) => w.length > 0);
}

/** sacrebleu's `Tokenizer13a`: mteval-v13a's normalization and punctuation splitting. */
export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) {
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  s = ` ${s} `;
  // Symbols (ASCII punctuation except . , ' and -) always split; . and , split unless between
  // digits; a hyphen splits after a digit.
  s = s.replace(/([{-~[-` -&(-+:-@\/])/g, ' $1 ');
  s = s.replace(/([^0-9])([.,])/g, '$1 $2 ');
  s = s.replace(/([.,])([^0-9])/g, ' $1 $2');
  s = s.replace(/([0-9])(-)/g, '$1 $2 ');
  return pySplit(s).join(' ');
}

function preprocess(sent: string, lowercase: boolean): string {
  return tokenize13a((lowercase ? sent.toLowerCase() : sent).replace(PY_RSTRIP, ''));
}

function ngramCounts(line: string, maxOrder: number): { counts: Map<string, number>; len: number } {
  const toks = pySplit(line);
  const counts = new Map<string, number>();
  // Orders are told apart by the number of separators; ' ' cannot occur inside a token.
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= toks.length; i++) {
      const key = toks.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return { counts, len: toks.length };
}

function closestRefLen(hypLen: number, refLens: number[]): number {
  let bestDiff = -1;
  let best = -1;
  for (const r of refLens) {
    const d = Math.abs(hypLen - r);
    if (bestDiff === -1 || d < bestDiff) {
      bestDiff = d;
      best = r;
    } else if (d === bestDiff && r < best) best = r;
  }
  return best;
}

const myLog = (x: number): number => (x === 0 ? -9999999999 : Math.log(x));

/** sacrebleu's `BLEU.compute_bleu` on summed statistics. */
function computeBleu(
  correct: number[],
  total: number[],
  sysLen: number,
  refLen: number,
  method: BleuSmoothing,
  smoothValue: number | null,
  effectiveOrder: boolean,
  maxOrder: number,
): Omit<BleuResult, 'signature'> {
  const value = smoothValue ?? SMOOTH_DEFAULTS[method] ?? 0;
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(maxOrder).fill(0);
  const base = { counts: correct, totals: total, precisions, bp, sysLen, refLen };
  if (!correct.some((c) => c !== 0)) return { score: 0, ...base };
  let smoothMteval = 1;
  let effOrder = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1] = (correct[n - 1] as number) + value;
      total[n - 1] = (total[n - 1] as number) + value;
    }
    const t = total[n - 1] as number;
    const c = correct[n - 1] as number;
    if (t === 0) break;
    if (effectiveOrder) effOrder = n;
    if (c === 0) {
      if (method === 'exp') {
        // mteval-v13a: halve the (imaginary) count at each further order without a match.
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * t);
      } else if (method === 'floor') precisions[n - 1] = (100 * value) / t;
    } else precisions[n - 1] = (100 * c) / t;
  }
  let logSum = 0;
  for (let n = 0; n < effOrder; n++) logSum += myLog(precisions[n] as number);
  return { score: bp * Math.exp(logSum / effOrder), ...base };
}

function signature(nrefs: number | 'var', o: Required<Omit<BleuOptions, 'smoothValue'>>, smoothValue?: number): string {
  let smooth: string = o.smoothMethod;
  const def = SMOOTH_DEFAULTS[o.smoothMethod];
  if (def !== null) smooth += `[${(smoothValue ?? def).toFixed(2)}]`;
  return [
    `nrefs:${nrefs}`,
    `case:${o.lowercase ? 'lc' : 'mixed'}`,
    `eff:${o.effectiveOrder ? 'yes' : 'no'}`,
    'tok:13a',
    `smooth:${smooth}`,
    `version:${SACREBLEU_VERSION}`,
  ].join('|');
}

/**
 * sacrebleu's `corpus_bleu(hypotheses, references)`. `references` is a list of reference
 * streams, as sacrebleu takes them: `references[k][i]` is the k-th reference of segment i
 * (`null` where segment i has fewer references; the signature then says `nrefs:var`).
 */
export function corpusBleu(hypotheses: string[], references: (string | null)[][], opts: BleuOptions = {}): BleuResult {
  const o = {
    lowercase: opts.lowercase ?? false,
    smoothMethod: opts.smoothMethod ?? 'exp',
    maxNgramOrder: opts.maxNgramOrder ?? 4,
    effectiveOrder: opts.effectiveOrder ?? false,
  };
  if (!(o.smoothMethod in SMOOTH_DEFAULTS)) {
    throw new Error(`BLEU: unknown smoothMethod '${o.smoothMethod}'; use none, floor, add-k or exp`);
  }
  if (hypotheses.length === 0) throw new Error('BLEU: no hypotheses to score');
  if (references.length === 0) throw new Error('BLEU: no reference stream; give references[k][i] per segment i');
  references.forEach((stream, k) => {
    if (stream.length !== hypotheses.length) {
      throw new Error(
        `BLEU: reference stream ${k} has ${stream.length} segments but there are ${hypotheses.length} hypotheses`,
      );
    }
  });
  const maxOrder = o.maxNgramOrder;
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;
  const nrefs = new Set<number>();
  hypotheses.forEach((hyp, i) => {
    const refs = references.map((s) => s[i]).filter((r): r is string => r !== null && r !== undefined);
    nrefs.add(refs.length);
    const refMax = new Map<string, number>();
    const refLens: number[] = [];
    for (const r of refs) {
      const { counts, len } = ngramCounts(preprocess(r, o.lowercase), maxOrder);
      refLens.push(len);
      for (const [g, c] of counts) refMax.set(g, Math.max(refMax.get(g) ?? 0, c));
    }
    const { counts, len } = ngramCounts(preprocess(hyp, o.lowercase), maxOrder);
    sysLen += len;
    refLen += closestRefLen(len, refLens);
    for (const [g, c] of counts) {
      const n = g.split(' ').length - 1;
      total[n] = (total[n] as number) + c;
      const m = refMax.get(g);
      if (m !== undefined) correct[n] = (correct[n] as number) + Math.min(c, m);
    }
  });
  const res = computeBleu(correct, total, sysLen, refLen, o.smoothMethod, opts.smoothValue ?? null, o.effectiveOrder, maxOrder);
  const n = nrefs.size === 1 ? ([...nrefs][0] as number) : 'var';
  return { ...res, signature: signature(n, o, opts.smoothValue) };
}

/**
 * sacrebleu's `sentence_bleu(hypothesis, references)`: one segment, effective order on by
 * default (orders beyond the hypothesis length do not zero the score).
 */
export function sentenceBleu(hypothesis: string, references: string[], opts: BleuOptions = {}): BleuResult {
  if (references.length === 0) throw new Error('BLEU: sentenceBleu needs at least one reference');
  return corpusBleu(
    [hypothesis],
    references.map((r) => [r]),
    { ...opts, effectiveOrder: opts.effectiveOrder ?? true },
  );
}
