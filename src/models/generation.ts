/**
 * Text generation for encoder-decoder models: greedy search and beam search as transformers 4.57's
 * `generate` runs them (`GenerationMixin._sample` without sampling, and the vectorised
 * `_beam_search`), with a key/value cache.
 *
 * The search knows no architecture. A model takes part by implementing `EncoderDecoderModel`:
 * `encode` runs the encoder once and returns the decoder's state (for a transformer: the
 * cross-attention keys/values of each example and the encoder mask, plus an empty self-attention
 * cache), `decodeStep` feeds one token per row and returns the next-token logits while the state
 * grows by one position, and `DecoderState.select` reorders, repeats or drops rows (beams that
 * survive a step, the expansion of each example into its beams, finished rows leaving greedy search).
 *
 * The decoder starts from `decoderStartTokenId` (T5: the pad id). `maxLength` counts that start
 * token, as transformers does; `maxNewTokens` (which wins) does not. A row stops at `eosTokenId`.
 * Rows are returned without the start token and cut after their EOS: transformers pads the rows
 * that finished early to the longest (greedy with the pad id, beam search with the fill value its
 * `output_fill_value` picks); here each row has its own length instead, the tokens being the same.
 *
 * Beam search follows `_beam_search` step by step: the top `2 * numBeams` continuations of each
 * example over all its beams (accumulated log-probabilities, float32), EOS candidates among the top
 * `numBeams` enter the finished hypotheses with score `sum logp / generatedLength ** lengthPenalty`,
 * the best non-EOS ones keep running; `earlyStopping` true stops an example once `numBeams`
 * hypotheses are finished, false stops it when the best running beam, scored at the current
 * length, cannot beat the worst finished one, `'never'` when it cannot at `maxLength` (for a
 * positive length penalty). The best finished hypothesis is returned, with its score.
 */
import * as tf from '@tensorflow/tfjs';

/** The decoder's state between steps: owned tensors, one row per sequence being decoded. */
export interface DecoderState {
  /** Rows (sequences) the state holds now. */
  readonly rows: number;
  /** Keeps, in this order, the rows `rows` (indices may repeat); frees what is no longer needed. */
  select(rows: readonly number[]): void;
  dispose(): void;
}

/** What generation needs from an encoder-decoder model. */
export interface EncoderDecoderModel {
  /** The model's own special tokens (its config), used where the options leave them out. */
  generationDefaults(): { decoderStartTokenId: number; padTokenId: number; eosTokenId: number | null; vocabSize: number };
  /** Runs the encoder over `[B, Ts]` ids (mask: 1 = token, 0 = padding) and returns the decoder state for B rows. */
  encode(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D): DecoderState;
  /** Feeds one token per row (`[rows]`, int32); returns `[rows, vocab]` logits of the next token. The state grows by one position. */
  decodeStep(tokens: tf.Tensor1D, state: DecoderState): tf.Tensor2D;
}

export interface GenerateOptions {
  /** New tokens at most (the start token not counted). Wins over `maxLength`. */
  maxNewTokens?: number;
  /** Decoder length at most, counting the start token (transformers' `max_length`); default 20, as transformers. */
  maxLength?: number;
  /** 1 (default) is greedy search. */
  numBeams?: number;
  /** Exponent of the generated length that divides a finished hypothesis's log-probability; default 1. */
  lengthPenalty?: number;
  /** Beam search's stopping rule (see the module comment); default false, as transformers. */
  earlyStopping?: boolean | 'never';
  /** Default: the model's. null: no EOS (every row runs to the maximum length). */
  eosTokenId?: number | null;
  /** Pads the encoder batch; default the model's. */
  padTokenId?: number;
  /** Default the model's. */
  decoderStartTokenId?: number;
  /** Examples encoded and decoded together (each with its beams); default 32. Results do not depend on it. */
  batchSize?: number;
}

export interface GenerateResult {
  /** Generated ids per input row, without the start token, up to and including EOS. */
  sequences: number[][];
  /** Beam search: the returned hypothesis's score (`sum logp / length ** lengthPenalty`); greedy: null. */
  scores: number[] | null;
}

interface Settings {
  maxLength: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  eos: number | null;
  pad: number;
  start: number;
  vocabSize: number;
}

function settings(model: EncoderDecoderModel, options: GenerateOptions): Settings {
  const d = model.generationDefaults();
  const intAtLeast = (name: keyof GenerateOptions, value: unknown, min: number): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new Error(`generate: option '${name}' is ${String(value)}; it must be an integer >= ${min}`);
    return value;
  };
  const maxLength = options.maxNewTokens !== undefined ? 1 + intAtLeast('maxNewTokens', options.maxNewTokens, 1) : intAtLeast('maxLength', options.maxLength ?? 20, 2);
  const numBeams = intAtLeast('numBeams', options.numBeams ?? 1, 1);
  const lengthPenalty = options.lengthPenalty ?? 1;
  if (!Number.isFinite(lengthPenalty)) throw new Error(`generate: option 'lengthPenalty' is ${lengthPenalty}; it must be a finite number`);
  const earlyStopping = options.earlyStopping ?? false;
  if (earlyStopping !== true && earlyStopping !== false && earlyStopping !== 'never') throw new Error(`generate: option 'earlyStopping' is ${String(earlyStopping)}; use true, false or 'never'`);
  if (numBeams > d.vocabSize) throw new Error(`generate: numBeams ${numBeams} exceeds the vocabulary (${d.vocabSize} tokens)`);
  const eos = options.eosTokenId === undefined ? d.eosTokenId : options.eosTokenId;
  if (eos !== null) intAtLeast('eosTokenId', eos, 0);
  return {
    maxLength, numBeams, lengthPenalty, earlyStopping, eos,
    pad: intAtLeast('padTokenId', options.padTokenId ?? d.padTokenId, 0),
    start: intAtLeast('decoderStartTokenId', options.decoderStartTokenId ?? d.decoderStartTokenId, 0),
    vocabSize: d.vocabSize,
  };
}

/** Right-pads ragged rows with `pad`: `[B, T]` ids and the 1/0 mask of the real tokens. */
function padBatch(rows: readonly (readonly number[])[], pad: number): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  const t = Math.max(1, ...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * t).fill(pad);
  const mask = new Int32Array(rows.length * t);
  rows.forEach((r, i) => {
    r.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0) throw new Error(`generate: input row ${i} position ${j} is ${id}, not a token id`);
      ids[i * t + j] = id;
      mask[i * t + j] = 1;
    });
  });
  return { ids: tf.tensor2d(ids, [rows.length, t], 'int32'), mask: tf.tensor2d(mask, [rows.length, t], 'int32') };
}

/** One decoder step: the logits of the next token as `[rows * vocab]` floats (log-probabilities when `logSoftmax`). */
function step(model: EncoderDecoderModel, state: DecoderState, tokens: readonly number[], logSoftmax: boolean): Float32Array {
  const out = tf.tidy(() => {
    const logits = model.decodeStep(tf.tensor1d(Int32Array.from(tokens), 'int32'), state);
    return logSoftmax ? tf.logSoftmax(logits) : logits;
  });
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

function argmaxRow(values: Float32Array, row: number, vocab: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let v = 0; v < vocab; v++) {
    const x = values[row * vocab + v];
    if (x > bestValue) { bestValue = x; best = v; }
  }
  return best;
}

/**
 * Greedy search over one chunk (transformers' `_sample` with `do_sample=False`): the argmax of
 * each step's logits; a row that emitted EOS is finished (transformers pads it from then on). The
 * finished rows leave the decoder state, so the step costs what the open rows cost.
 */
function greedy(model: EncoderDecoderModel, state: DecoderState, rows: number, s: Settings): number[][] {
  const out: number[][] = Array.from({ length: rows }, () => []);
  let open = Array.from({ length: rows }, (_, i) => i);
  let last = open.map(() => s.start);
  for (let len = 1; len < s.maxLength && open.length > 0; len++) {
    const logits = step(model, state, last, false);
    const next = open.map((_, r) => argmaxRow(logits, r, s.vocabSize));
    const keep: number[] = [];
    open.forEach((row, r) => {
      out[row].push(next[r]);
      if (next[r] !== s.eos) keep.push(r);
    });
    if (keep.length < open.length && keep.length > 0 && len + 1 < s.maxLength) state.select(keep);
    open = keep.map((r) => open[r]);
    last = keep.map((r) => next[r]);
  }
  return out;
}

/** Indices of the `k` largest values, largest first; among equal values the lower index first. */
function topK(values: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (best.length === k && !(x > values[best[k - 1]])) continue;
    let j = best.length === k ? k - 1 : best.length;
    if (best.length < k) best.push(i);
    while (j > 0 && x > values[best[j - 1]]) { best[j] = best[j - 1]; j--; }
    best[j] = i;
  }
  return best;
}

const f32 = Math.fround;
const NEG = -1e9;

/**
 * Beam search over one chunk of `b` examples (transformers' `_beam_search`, same arrays per
 * example: running beams, finished hypotheses, the early-stop flag), scores in float32 as PyTorch
 * keeps them.
 */
function beamSearch(model: EncoderDecoderModel, state: DecoderState, b: number, s: Settings): { sequences: number[][]; scores: number[] } {
  const nb = s.numBeams;
  const keepK = 2 * nb; // max(2, 1 + number of EOS ids) * numBeams, with at most one EOS id
  const vocab = s.vocabSize;
  state.select(Array.from({ length: b * nb }, (_, i) => Math.floor(i / nb)));
  // Sequences hold the generated tokens only (the start token is implicit).
  let running: number[][][] = Array.from({ length: b }, () => Array.from({ length: nb }, () => []));
  let runningScores: number[][] = Array.from({ length: b }, () => Array.from({ length: nb }, (_, k) => (k === 0 ? 0 : NEG)));
  let finished: number[][][] = Array.from({ length: b }, () => Array.from({ length: nb }, () => []));
  let finishedScores: number[][] = Array.from({ length: b }, () => Array(nb).fill(NEG));
  let isFinished: boolean[][] = Array.from({ length: b }, () => Array(nb).fill(false));
  const unsatisfied: boolean[] = Array(b).fill(true);
  const penalty = (len: number) => f32(len ** s.lengthPenalty);
  for (let curLen = 1; ; ) {
    const last = running.flatMap((beams) => beams.map((seq) => (seq.length ? seq[seq.length - 1] : s.start)));
    const logp = step(model, state, last, true);
    const reorder: number[] = [];
    let allHit = true;
    const nextRunning: number[][][] = [];
    const nextRunningScores: number[][] = [];
    for (let e = 0; e < b; e++) {
      // c. the top 2*nb continuations over all beams of the example.
      const acc = new Float32Array(nb * vocab);
      for (let k = 0; k < nb; k++) {
        const base = (e * nb + k) * vocab;
        const rs = runningScores[e][k];
        for (let v = 0; v < vocab; v++) acc[k * vocab + v] = logp[base + v] + rs;
      }
      const top = topK(acc, keepK);
      const topScores = top.map((i) => acc[i]);
      const topBeam = top.map((i) => Math.floor(i / vocab));
      const topSeqs = top.map((i, j) => [...running[e][topBeam[j]], i % vocab]);
      // d. which continuations end here: EOS, or the maximum length reached.
      const hits = top.map((i) => (s.eos !== null && i % vocab === s.eos) || curLen + 1 >= s.maxLength);
      if (!hits.every(Boolean)) allHit = false;
      // e. the best nb that go on.
      const goOn = topK(topScores.map((x, j) => (hits[j] ? f32(x + NEG) : x)), nb);
      nextRunning.push(goOn.map((j) => topSeqs[j]));
      nextRunningScores.push(goOn.map((j) => (hits[j] ? f32(topScores[j] + NEG) : topScores[j])));
      for (const j of goOn) reorder.push(e * nb + topBeam[j]);
      // f. finished hypotheses: EOS among the top nb, scored with the length penalty, merged with the earlier ones.
      const full = s.earlyStopping === true && isFinished[e].every(Boolean);
      const candidate = topScores.map((x, j) => {
        let y = f32(x / penalty(curLen));
        if (full) y = f32(y + NEG);
        if (!unsatisfied[e]) y = f32(y + NEG);
        if (!(hits[j] && j < nb)) y = f32(y + NEG);
        return y;
      });
      const mergedScores = [...finishedScores[e], ...candidate];
      const mergedSeqs = [...finished[e], ...topSeqs];
      const mergedFinished = [...isFinished[e], ...hits.map((h, j) => h && j < nb)];
      const pick = topK(mergedScores, nb);
      finished[e] = pick.map((i) => mergedSeqs[i]);
      finishedScores[e] = pick.map((i) => mergedScores[i]);
      isFinished[e] = pick.map((i) => mergedFinished[i]);
    }
    running = nextRunning;
    runningScores = nextRunningScores;
    curLen++;
    // g. can an example still improve? (transformers' _check_early_stop_heuristic)
    for (let e = 0; e < b; e++) {
      const hypothetical = s.earlyStopping === 'never' && s.lengthPenalty > 0 ? s.maxLength - 1 : curLen - 1;
      const bestPossible = f32(runningScores[e][0] / penalty(hypothetical));
      const worst = Math.min(...finishedScores[e]);
      unsatisfied[e] = unsatisfied[e] && isFinished[e].some((done) => bestPossible > (done ? worst : NEG));
    }
    const allFull = s.earlyStopping === true && isFinished.every((row) => row.every(Boolean));
    if (!unsatisfied.some(Boolean) || allFull || allHit) break;
    state.select(reorder);
  }
  return { sequences: finished.map((hyps) => hyps[0]), scores: finishedScores.map((sc) => sc[0]) };
}

/** Generation with the per-row scores of beam search (see the module comment). */
export function generateWithScores(model: EncoderDecoderModel, inputIds: readonly (readonly number[])[], options: GenerateOptions = {}): GenerateResult {
  const s = settings(model, options);
  const chunk = options.batchSize ?? 32;
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`generate: option 'batchSize' is ${chunk}; it must be an integer >= 1`);
  const sequences: number[][] = [];
  const scores: number[] = [];
  for (let start = 0; start < inputIds.length; start += chunk) {
    const rows = inputIds.slice(start, start + chunk);
    const { ids, mask } = padBatch(rows, s.pad);
    let state: DecoderState | null = null;
    try {
      state = model.encode(ids, mask);
      if (s.numBeams === 1) {
        sequences.push(...greedy(model, state, rows.length, s));
      } else {
        const r = beamSearch(model, state, rows.length, s);
        sequences.push(...r.sequences);
        scores.push(...r.scores);
      }
    } finally {
      state?.dispose();
      tf.dispose([ids, mask]);
    }
  }
  return { sequences, scores: s.numBeams === 1 ? null : scores };
}

/**
 * Generated token ids for each row of `inputIds` (ragged rows are right-padded and masked): greedy
 * search, or beam search with `numBeams > 1`. Each row is returned without the decoder start token
 * and ends at its EOS (included) or at the maximum length.
 */
export function generate(model: EncoderDecoderModel, inputIds: readonly (readonly number[])[], options: GenerateOptions = {}): number[][] {
  return generateWithScores(model, inputIds, options).sequences;
}
