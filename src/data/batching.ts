/**
 * Length-bucketed dynamic padding. Examples are shuffled (from a seed), cut into buckets of a
 * few batches, sorted by length inside each bucket and cut into batches, each padded only to
 * its own longest example; the batch order is shuffled again so that lengths do not cycle.
 * Compared with padding everything to `maxLength`, this saves most of the attention and MLP
 * work on padding, while the bucket keeps the batches' composition random.
 *
 * Batches are plain typed arrays with their shape, not tensors: the caller decides when (and
 * on which backend) tensors are made and disposed.
 */
import { deriveSeed, mulberry32, permutation, shuffleInPlace } from '../util/random';
import type { Encoding, Tokenizer } from './tokenizer';

/** One tokenised example with its label (class id, or a score for regression). */
export interface EncodedExample {
  inputIds: readonly number[];
  tokenTypeIds: readonly number[];
  label: number;
}

export interface Batch {
  /** Number of examples (the last batch may be short unless `dropLast`). */
  size: number;
  /** Padded length of this batch. */
  seqLen: number;
  /** `[size, seqLen]`, row-major; padding is `padId`. */
  inputIds: Int32Array;
  /** `[size, seqLen]`; padding is 0. */
  tokenTypeIds: Int32Array;
  /** `[size, seqLen]`; 1 on tokens, 0 on padding. */
  attentionMask: Int32Array;
  /** `[size]`: Int32Array of class ids, or Float32Array of scores (`labelType: 'float'`). */
  labels: Int32Array | Float32Array;
  /** `[size]`: position of each row's example in the input array (to map predictions back). */
  indices: Int32Array;
}

export interface BatchOptions {
  /** Examples per batch. Required. */
  batchSize: number;
  /** Shuffle examples and batches. Default true (training); false keeps input order within sorting. */
  shuffle?: boolean;
  /** Seed of the shuffles. Default 0. */
  seed?: number;
  /** Epoch number, mixed into the seed so each epoch has its own order. Default 0. */
  epoch?: number;
  /**
   * Batches per length bucket. Default 8: enough to group similar lengths, few enough that a
   * batch still mixes examples from across the data set. 1 = no sorting benefit; use
   * `sortByLength: false` to switch sorting off entirely.
   */
  bucketBatches?: number;
  /** Sort by length within buckets. Default true. */
  sortByLength?: boolean;
  /** Drop a last, short batch. Default false. */
  dropLast?: boolean;
  /** Id of the padding token. Default 0 (BERT's [PAD]; pass `tokenizer.special.pad`). */
  padId?: number;
  /** Round each batch's length up to a multiple of this. Default 1. */
  padToMultipleOf?: number;
  /** `'int'` (classification, default) or `'float'` (regression, e.g. STS-B). */
  labelType?: 'int' | 'float';
}

/** Assemble one padded batch from the given examples (in that order). Pure. */
export function padBatch(
  examples: readonly EncodedExample[],
  indices: readonly number[],
  options: Pick<BatchOptions, 'padId' | 'padToMultipleOf' | 'labelType'> = {},
): Batch {
  const padId = options.padId ?? 0;
  const multiple = options.padToMultipleOf ?? 1;
  const size = indices.length;
  let seqLen = 0;
  for (const i of indices) seqLen = Math.max(seqLen, (examples[i] as EncodedExample).inputIds.length);
  seqLen = Math.ceil(seqLen / multiple) * multiple;
  const inputIds = new Int32Array(size * seqLen).fill(padId);
  const tokenTypeIds = new Int32Array(size * seqLen);
  const attentionMask = new Int32Array(size * seqLen);
  const labels = options.labelType === 'float' ? new Float32Array(size) : new Int32Array(size);
  indices.forEach((ei, row) => {
    const ex = examples[ei] as EncodedExample;
    if (ex.tokenTypeIds.length !== ex.inputIds.length) {
      throw new Error(`padBatch: example ${ei} has ${ex.inputIds.length} ids but ${ex.tokenTypeIds.length} token type ids`);
    }
    const off = row * seqLen;
    inputIds.set(ex.inputIds, off);
    tokenTypeIds.set(ex.tokenTypeIds, off);
    attentionMask.fill(1, off, off + ex.inputIds.length);
    labels[row] = ex.label;
  });
  return { size, seqLen, inputIds, tokenTypeIds, attentionMask, labels, indices: Int32Array.from(indices) };
}

/**
 * The batch plan of one epoch: which example indices go in which batch, in order. Pure and
 * deterministic in (lengths, options).
 */
export function planBatches(lengths: readonly number[], options: BatchOptions): number[][] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`planBatches: batchSize must be a positive integer, got ${batchSize}`);
  const shuffle = options.shuffle ?? true;
  const bucket = batchSize * Math.max(1, options.bucketBatches ?? 8);
  const rng = mulberry32(deriveSeed(options.seed ?? 0, options.epoch ?? 0));
  const order = shuffle ? permutation(lengths.length, rng) : lengths.map((_, i) => i);
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += bucket) {
    const chunk = order.slice(start, start + bucket);
    // Array.prototype.sort is stable, so equal lengths keep their (shuffled) order.
    if (options.sortByLength ?? true) chunk.sort((a, b) => (lengths[a] as number) - (lengths[b] as number));
    for (let b = 0; b < chunk.length; b += batchSize) batches.push(chunk.slice(b, b + batchSize));
  }
  if ((options.dropLast ?? false) && batches.length > 0 && (batches[batches.length - 1] as number[]).length < batchSize) {
    // The short batch is the last one of the last bucket; drop it before shuffling the order.
    batches.pop();
  }
  if (shuffle) shuffleInPlace(batches, rng);
  return batches;
}

/** All batches of one epoch, padded. */
export function makeBatches(examples: readonly EncodedExample[], options: BatchOptions): Batch[] {
  const plan = planBatches(examples.map((e) => e.inputIds.length), options);
  return plan.map((idx) => padBatch(examples, idx, options));
}

/** Anything with one or two texts and a label, e.g. a `GlueExample` or a synthetic example. */
export interface TextExample {
  textA: string;
  textB?: string;
  label?: number;
}

/** Tokenise examples (pairs when `textB` is present); a missing label becomes -1. */
export function encodeExamples(
  tokenizer: Tokenizer,
  examples: readonly TextExample[],
  maxLength?: number,
): EncodedExample[] {
  return examples.map((ex) => {
    const e: Encoding =
      ex.textB === undefined
        ? tokenizer.encode(ex.textA, { maxLength })
        : tokenizer.encodePair(ex.textA, ex.textB, { maxLength });
    return { inputIds: e.inputIds, tokenTypeIds: e.tokenTypeIds, label: ex.label ?? -1 };
  });
}
