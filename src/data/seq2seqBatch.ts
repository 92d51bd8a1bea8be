/**
 * Padded seq2seq batches, exactly as `transformers`' `DataCollatorForSeq2Seq(tokenizer, model=T5)`
 * makes them: sources padded with the pad id (attention mask 0 there), labels padded with -100
 * (ignored by the loss) to the batch's longest target, and the decoder inputs made from the labels
 * by T5's `_shift_right`: `decoder_start_token_id` first, the labels moved one step right, every
 * -100 replaced by the pad id. Batches are plain typed arrays; the caller makes tensors.
 *
 * Which examples go together reuses the classifier batches' plan (src/data/batching.ts): shuffled
 * from (seed, epoch), sorted by source length inside buckets.
 */
import { planBatches, type BatchOptions } from './batching';
import type { EncodedSeq2seqExample } from './seq2seq';

/** The loss's ignore index (PyTorch's `CrossEntropyLoss` default and `label_pad_token_id`). */
export const LABEL_PAD_ID = -100;

export interface Seq2seqBatch {
  size: number;
  /** Padded source length. */
  sourceLen: number;
  /** Padded target length. */
  targetLen: number;
  /** `[size, sourceLen]`, row-major; padding is the pad id. */
  inputIds: Int32Array;
  /** `[size, sourceLen]`; 1 on tokens, 0 on padding. */
  attentionMask: Int32Array;
  /** `[size, targetLen]`; padding is -100. */
  labels: Int32Array;
  /** `[size, targetLen]`: `labels` shifted right behind the decoder start id, -100 read as the pad id. */
  decoderInputIds: Int32Array;
  /** `[size]`: position of each row's example in the input array. */
  indices: Int32Array;
}

export interface Seq2seqBatchOptions extends Pick<BatchOptions, 'batchSize' | 'shuffle' | 'seed' | 'epoch' | 'bucketBatches' | 'sortByLength' | 'dropLast' | 'padToMultipleOf'> {
  /** Id of the padding token (T5: 0, `tokenizer.special.pad`). Required. */
  padId: number;
  /** First decoder input (T5's `decoder_start_token_id`). Default `padId`, as T5 has it. */
  decoderStartId?: number;
}

/**
 * T5's `_shift_right` of a `[rows, len]` label matrix: `start` first, then labels[:, :-1], with
 * -100 read as `padId`. Pure.
 */
export function shiftRight(labels: Int32Array, rows: number, len: number, start: number, padId: number): Int32Array {
  if (labels.length !== rows * len) throw new Error(`shiftRight: ${labels.length} labels do not form [${rows}, ${len}]`);
  const out = new Int32Array(rows * len);
  for (let r = 0; r < rows; r++) {
    const off = r * len;
    if (len > 0) out[off] = start;
    for (let t = 1; t < len; t++) {
      const v = labels[off + t - 1] as number;
      out[off + t] = v === LABEL_PAD_ID ? padId : v;
    }
  }
  return out;
}

/** One padded batch of the given examples, in that order. Pure. */
export function padSeq2seqBatch(
  examples: readonly EncodedSeq2seqExample[],
  indices: readonly number[],
  options: Pick<Seq2seqBatchOptions, 'padId' | 'decoderStartId' | 'padToMultipleOf'>,
): Seq2seqBatch {
  const { padId } = options;
  const multiple = options.padToMultipleOf ?? 1;
  const size = indices.length;
  let sourceLen = 0;
  let targetLen = 0;
  for (const i of indices) {
    const ex = examples[i];
    if (ex === undefined) throw new Error(`padSeq2seqBatch: no example ${i} (${examples.length} examples)`);
    sourceLen = Math.max(sourceLen, ex.inputIds.length);
    targetLen = Math.max(targetLen, ex.labels.length);
  }
  // DataCollatorForSeq2Seq rounds both sides up to pad_to_multiple_of.
  sourceLen = Math.ceil(sourceLen / multiple) * multiple;
  targetLen = Math.ceil(targetLen / multiple) * multiple;
  const inputIds = new Int32Array(size * sourceLen).fill(padId);
  const attentionMask = new Int32Array(size * sourceLen);
  const labels = new Int32Array(size * targetLen).fill(LABEL_PAD_ID);
  indices.forEach((ei, row) => {
    const ex = examples[ei] as EncodedSeq2seqExample;
    inputIds.set(ex.inputIds, row * sourceLen);
    attentionMask.fill(1, row * sourceLen, row * sourceLen + ex.inputIds.length);
    labels.set(ex.labels, row * targetLen);
  });
  const decoderInputIds = shiftRight(labels, size, targetLen, options.decoderStartId ?? padId, padId);
  return { size, sourceLen, targetLen, inputIds, attentionMask, labels, decoderInputIds, indices: Int32Array.from(indices) };
}

/** All batches of one epoch (see the module comment for the order). */
export function makeSeq2seqBatches(examples: readonly EncodedSeq2seqExample[], options: Seq2seqBatchOptions): Seq2seqBatch[] {
  const plan = planBatches(examples.map((e) => e.inputIds.length), options);
  return plan.map((idx) => padSeq2seqBatch(examples, idx, options));
}
