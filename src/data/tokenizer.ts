/**
 * The tokenizer contract shared by every implementation, and the parts that do not depend on
 * how text becomes word pieces: special tokens, truncation and token type ids.
 *
 * An implementation only has to turn one piece of text into ids (`encodeText`, no special
 * tokens); `assembleEncoding` then lays out `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]` after
 * truncating, so both implementations truncate exactly alike.
 */

/** One encoded example, before padding. All three arrays have the same length. */
export interface Encoding {
  inputIds: number[];
  /** 0 for `[CLS] A [SEP]`, 1 for `B [SEP]` of a pair. */
  tokenTypeIds: number[];
  /** All ones before padding; batching adds the zeros. */
  attentionMask: number[];
}

/**
 * Which `transformers` tokenizer to agree with where the two disagree (checked on 4.57.1):
 *
 * - `'fast'` (`BertTokenizerFast`, the Rust `tokenizers` crate; what `AutoTokenizer` returns):
 *   longest-first truncation of a pair whose first sentence is not the longer one gives the
 *   odd leftover token to the second sentence; no Unicode NFC step.
 * - `'slow'` (`BertTokenizer`, Python): the odd leftover token goes to the first sentence;
 *   `BasicTokenizer` applies NFC before splitting, so `e` + U+0301 reads as `é`.
 *
 * Both give an empty second sentence its own `[SEP]`; `BertTokenizerFast.__call__` drops an
 * empty `text_pair` (a quirk of its Python wrapper), we do not follow it.
 */
export type Compat = 'fast' | 'slow';

/** Options of `encode` / `encodePair`. */
export interface EncodeOptions {
  /**
   * Maximum length in tokens, special tokens included. Default: the tokenizer's
   * `modelMaxLength` (from `tokenizer_config.json`'s `model_max_length`, else 512).
   */
  maxLength?: number;
  /** Truncate to `maxLength` (longest-first for pairs). Default true; false throws when too long. */
  truncation?: boolean;
}

export interface SpecialTokenIds {
  cls: number;
  sep: number;
  pad: number;
  unk: number;
  /** Absent when the vocabulary has no `[MASK]`. */
  mask?: number;
}

export interface Tokenizer {
  /** Number of ids (vocabulary plus added tokens). */
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
  /** Default `maxLength` of `encode` / `encodePair`. */
  readonly modelMaxLength: number;
  readonly compat: Compat;
  /** Word pieces of a text, no special tokens added. */
  tokenize(text: string): string[];
  /** Ids of a text, no special tokens added. */
  encodeText(text: string): number[];
  /** `[CLS] text [SEP]`, truncated to `maxLength`. */
  encode(text: string, options?: EncodeOptions): Encoding;
  /** `[CLS] a [SEP] b [SEP]`, truncated longest-first to `maxLength`. */
  encodePair(a: string, b: string, options?: EncodeOptions): Encoding;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

/** Default maximum length when a checkpoint says nothing (BERT's position table). */
export const DEFAULT_MODEL_MAX_LENGTH = 512;

/**
 * Longest-first truncation of a pair to `budget` tokens (special tokens already subtracted):
 * the lengths the two sequences keep. Tokens are removed from the longer sequence until both
 * are equal, then from both alternately; `compat` decides which one keeps the odd token
 * (see `Compat`). Reproduces `tokenizers/src/utils/truncation.rs` (fast) and
 * `PreTrainedTokenizerBase.truncate_sequences` (slow).
 */
export function truncateLongestFirst(
  lenA: number,
  lenB: number,
  budget: number,
  compat: Compat = 'fast',
): [number, number] {
  if (budget < 0) throw new Error(`truncateLongestFirst: budget ${budget} < 0`);
  if (lenA + lenB <= budget) return [lenA, lenB];
  if (compat === 'fast') {
    // Rust: with n1 the shorter, n2 = max(n1, budget - n1); if both do not fit, split budget
    // in halves with the extra token going to the longer one (the second on ties).
    let n1 = lenA;
    let n2 = lenB;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
    if (n1 + n2 > budget) {
      n1 = Math.floor(budget / 2);
      n2 = n1 + (budget % 2);
    }
    return swap ? [n2, n1] : [n1, n2];
  }
  // Python: remove the length difference from the longer one, then split the rest; the
  // second sequence loses the odd token.
  const remove = lenA + lenB - budget;
  const firstRemove = Math.min(Math.abs(lenB - lenA), remove);
  const secondRemove = remove - firstRemove;
  let fromA: number;
  let fromB: number;
  if (lenA > lenB) {
    fromA = firstRemove + Math.floor(secondRemove / 2);
    fromB = secondRemove - Math.floor(secondRemove / 2);
  } else {
    fromA = Math.floor(secondRemove / 2);
    fromB = firstRemove + secondRemove - Math.floor(secondRemove / 2);
  }
  return [Math.max(0, lenA - fromA), Math.max(0, lenB - fromB)];
}

/**
 * Lay out special tokens around already-encoded ids, truncating first. Pure.
 * @param source names the tokenizer in errors (e.g. its directory).
 */
export function assembleEncoding(
  idsA: readonly number[],
  idsB: readonly number[] | undefined,
  special: SpecialTokenIds,
  maxLength: number,
  truncation: boolean,
  compat: Compat,
  source = 'tokenizer',
): Encoding {
  const nSpecial = idsB === undefined ? 2 : 3;
  const total = idsA.length + (idsB?.length ?? 0) + nSpecial;
  let a = idsA;
  let b = idsB;
  if (total > maxLength) {
    if (!truncation) {
      throw new Error(`${source}: ${total} tokens exceed maxLength ${maxLength} and truncation is off`);
    }
    if (maxLength < nSpecial) {
      throw new Error(`${source}: maxLength ${maxLength} leaves no room for ${nSpecial} special tokens`);
    }
    const budget = maxLength - nSpecial;
    if (b === undefined) {
      a = a.slice(0, budget);
    } else {
      const [na, nb] = truncateLongestFirst(a.length, b.length, budget, compat);
      a = a.slice(0, na);
      b = b.slice(0, nb);
    }
  }
  const inputIds = [special.cls, ...a, special.sep];
  const tokenTypeIds = new Array<number>(inputIds.length).fill(0);
  if (b !== undefined) {
    inputIds.push(...b, special.sep);
    for (let i = 0; i < b.length + 1; i++) tokenTypeIds.push(1);
  }
  return { inputIds, tokenTypeIds, attentionMask: new Array<number>(inputIds.length).fill(1) };
}

/**
 * Split text around literal special tokens (`[CLS]`, `[SEP]`, ...), as both `transformers`
 * tokenizers do before normalising: a `[SEP]` written in the text becomes the `[SEP]` id.
 * Returns alternating plain chunks and special tokens, the latter flagged.
 */
export function splitOnSpecialTokens(
  text: string,
  specials: readonly string[],
): { text: string; special: boolean }[] {
  if (specials.length === 0 || text.length === 0) return [{ text, special: false }];
  // Longest first, so that a special token that is a prefix of another does not win.
  const sorted = [...specials].sort((x, y) => y.length - x.length);
  const re = new RegExp(sorted.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  const out: { text: string; special: boolean }[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    const at = m.index ?? 0;
    if (at > last) out.push({ text: text.slice(last, at), special: false });
    out.push({ text: m[0], special: true });
    last = at + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last), special: false });
  return out;
}

/**
 * `encode` and `encodePair` for every tokenizer with BERT's layout (`[CLS] a [SEP] b [SEP]`),
 * on top of the subclass's `encodeText`: truncation and special tokens are the same whatever
 * produced the word pieces.
 */
export abstract class BertLayoutTokenizer implements Tokenizer {
  abstract readonly vocabSize: number;
  abstract readonly special: SpecialTokenIds;
  abstract readonly modelMaxLength: number;
  abstract readonly compat: Compat;
  /** Names the tokenizer in errors (its file). */
  protected abstract readonly source: string;
  abstract tokenize(text: string): string[];
  abstract encodeText(text: string): number[];
  abstract tokenToId(token: string): number | undefined;
  abstract idToToken(id: number): string | undefined;

  encode(text: string, options: EncodeOptions = {}): Encoding {
    return this.assemble(this.encodeText(text), undefined, options);
  }

  encodePair(a: string, b: string, options: EncodeOptions = {}): Encoding {
    return this.assemble(this.encodeText(a), this.encodeText(b), options);
  }

  private assemble(a: number[], b: number[] | undefined, options: EncodeOptions): Encoding {
    return assembleEncoding(a, b, this.special, options.maxLength ?? this.modelMaxLength, options.truncation ?? true, this.compat, this.source);
  }
}

/** One piece of a post-processor template (`TemplateProcessing`): a special token, or sequence A or B. */
export type TemplatePiece = { special: string; typeId: number } | { sequence: 'A' | 'B'; typeId: number };

/** The single and pair templates of a `TemplateProcessing` post-processor of a tokenizer.json. */
export function templateProcessing(post: Record<string, unknown>): { single: TemplatePiece[]; pair: TemplatePiece[] } {
  type Json = Record<string, unknown>;
  const read = (list: unknown): TemplatePiece[] => (list as Json[]).map((x) => {
    const sp = x['SpecialToken'] as Json | undefined;
    if (sp) return { special: sp['id'] as string, typeId: Number(sp['type_id'] ?? 0) };
    const seq = x['Sequence'] as Json;
    return { sequence: seq['id'] as 'A' | 'B', typeId: Number(seq['type_id'] ?? 0) };
  });
  return { single: read(post['single']), pair: read(post['pair']) };
}

/**
 * A post-processor template applied to encoded sequences, as `tokenizers` does: the pair is
 * truncated longest-first to leave room for the template's special tokens, then laid out with
 * each piece's token type id. `source` names the tokenizer file in errors.
 */
export function applyTemplate(
  template: TemplatePiece[], idsA: number[], idsB: number[] | undefined, options: EncodeOptions,
  tokenizer: { source: string; modelMaxLength: number; specialId: (token: string) => number },
): Encoding {
  const maxLength = options.maxLength ?? tokenizer.modelMaxLength;
  const nSpecial = template.filter((p) => 'special' in p).length;
  let a = idsA;
  let b = idsB ?? [];
  const total = a.length + b.length + nSpecial;
  if (total > maxLength) {
    if (options.truncation === false) throw new Error(`${tokenizer.source}: ${total} tokens exceed maxLength ${maxLength} and truncation is off`);
    if (maxLength < nSpecial) throw new Error(`${tokenizer.source}: maxLength ${maxLength} leaves no room for ${nSpecial} special tokens`);
    const budget = maxLength - nSpecial;
    if (idsB === undefined) a = a.slice(0, budget);
    else {
      const [na, nb] = truncateLongestFirst(a.length, b.length, budget, 'fast');
      a = a.slice(0, na);
      b = b.slice(0, nb);
    }
  }
  const inputIds: number[] = [];
  const tokenTypeIds: number[] = [];
  for (const p of template) {
    const ids = 'special' in p ? [tokenizer.specialId(p.special)] : p.sequence === 'A' ? a : b;
    inputIds.push(...ids);
    for (let i = 0; i < ids.length; i++) tokenTypeIds.push(p.typeId);
  }
  return { inputIds, tokenTypeIds, attentionMask: new Array<number>(inputIds.length).fill(1) };
}
