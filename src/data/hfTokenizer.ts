/**
 * A Hugging Face `tokenizer.json` through `@huggingface/tokenizers` (a pure-JS port of the
 * Rust `tokenizers` pipeline: normalizer, pre-tokenizer, model). That library has no
 * truncation, so it only produces the word-piece ids of each text; special tokens and
 * truncation are laid out by `assembleEncoding`, the same code the WordPiece tokenizer uses.
 *
 * Only BERT-style layouts (`[CLS] A [SEP] (B [SEP])`) are supported: the post-processor must
 * be `BertProcessing` or a `TemplateProcessing` of that shape; anything else is an error
 * rather than a silent mis-encoding.
 */
import { createRequire } from 'node:module';

import {
  BertLayoutTokenizer,
  type Compat,
  DEFAULT_MODEL_MAX_LENGTH,
  type SpecialTokenIds,
} from './tokenizer';

export interface HfTokenizerOptions {
  /**
   * Default `'fast'`: this is the Rust tokenizer's pipeline, so agree with it on truncation.
   * `'slow'` changes only how an odd leftover is split in pair truncation; the Python
   * tokenizer's NFC step is not applied here (use the vocab.txt tokenizer for that).
   */
  compat?: Compat;
  /** Default: `model_max_length` of the config when sensible, else 512. */
  modelMaxLength?: number;
  /** Names the tokenizer in errors. Default 'tokenizer.json'. */
  source?: string;
}

type Json = Record<string, unknown>;

/**
 * The part of `@huggingface/tokenizers`' `Tokenizer` used here. The package is an ES module
 * with a CommonJS build (`exports.node.require`); this project compiles to CommonJS, where
 * TypeScript refuses a static import of an ES module (and typing it through a
 * `resolution-mode` import needs a newer TypeScript than tslab's 5.0), so the CommonJS build
 * is loaded explicitly and described by this interface (checked against its 0.2.0 types).
 */
interface HfJsTokenizerType {
  encode(text: string, options?: { text_pair?: string | null; add_special_tokens?: boolean }): { ids: number[] };
  tokenize(text: string, options?: { text_pair?: string | null; add_special_tokens?: boolean }): string[];
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}
type HfJsModule = { Tokenizer: new (tokenizer: object, config: object) => HfJsTokenizerType };
const HfJsTokenizer = (
  createRequire(__filename)('@huggingface/tokenizers') as HfJsModule
).Tokenizer;

/** `transformers` writes 1e30 for "no limit"; treat anything that large as absent. */
export function configMaxLength(config: Json): number | undefined {
  const m = config['model_max_length'];
  return typeof m === 'number' && Number.isFinite(m) && m > 0 && m <= 1_000_000 ? m : undefined;
}

/** The `[CLS]`-like and `[SEP]`-like token strings of a post-processor, or an error. */
function bertLayout(post: unknown, source: string): { cls: string; sep: string } | undefined {
  if (post === null || post === undefined) return undefined;
  const p = post as Json;
  if (p['type'] === 'BertProcessing') {
    const cls = p['cls'] as [string, number];
    const sep = p['sep'] as [string, number];
    return { cls: cls[0], sep: sep[0] };
  }
  if (p['type'] === 'TemplateProcessing') {
    const single = p['single'] as Json[];
    const pair = p['pair'] as Json[];
    const sp = (x: Json | undefined): string | undefined => (x?.['SpecialToken'] as Json | undefined)?.['id'] as string | undefined;
    const isSeq = (x: Json | undefined, id: string): boolean => (x?.['Sequence'] as Json | undefined)?.['id'] === id;
    const cls = sp(single?.[0]);
    const sep = sp(single?.[2]);
    const ok =
      single?.length === 3 && cls !== undefined && isSeq(single[1], 'A') && sep !== undefined &&
      pair?.length === 5 && sp(pair[0]) === cls && isSeq(pair[1], 'A') && sp(pair[2]) === sep &&
      isSeq(pair[3], 'B') && sp(pair[4]) === sep;
    if (ok) return { cls, sep };
  }
  throw new Error(`${source}: post_processor ${JSON.stringify(p['type'])} is not a BERT layout ([CLS] A [SEP] B [SEP])`);
}

export class HfTokenizer extends BertLayoutTokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
  readonly modelMaxLength: number;
  readonly compat: Compat;
  private readonly tok: HfJsTokenizerType;
  protected readonly source: string;

  /**
   * @param tokenizerJson the parsed `tokenizer.json`
   * @param config the parsed `tokenizer_config.json` (`{}` when absent)
   */
  constructor(tokenizerJson: Json, config: Json = {}, options: HfTokenizerOptions = {}) {
    super();
    this.source = options.source ?? 'tokenizer.json';
    this.compat = options.compat ?? 'fast';
    this.modelMaxLength = options.modelMaxLength ?? configMaxLength(config) ?? DEFAULT_MODEL_MAX_LENGTH;
    try {
      this.tok = new HfJsTokenizer(tokenizerJson, config);
    } catch (e) {
      throw new Error(`${this.source}: @huggingface/tokenizers cannot load it (${(e as Error).message})`);
    }
    const layout = bertLayout(tokenizerJson['post_processor'], this.source);
    const name = (key: string, dflt: string): string => {
      const v = config[key];
      // tokenizer_config.json stores special tokens either as strings or as AddedToken objects.
      if (typeof v === 'string') return v;
      if (v !== null && typeof v === 'object' && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
      return dflt;
    };
    const need = (tok: string, what: string): number => {
      const id = this.tok.token_to_id(tok);
      if (id === undefined) throw new Error(`${this.source}: the ${what} token ${JSON.stringify(tok)} is not in the vocabulary`);
      return id;
    };
    this.special = {
      cls: need(layout?.cls ?? name('cls_token', '[CLS]'), 'cls'),
      sep: need(layout?.sep ?? name('sep_token', '[SEP]'), 'sep'),
      pad: need(name('pad_token', '[PAD]'), 'pad'),
      unk: need(name('unk_token', '[UNK]'), 'unk'),
      mask: this.tok.token_to_id(name('mask_token', '[MASK]')),
    };
    this.vocabSize = this.tok.get_vocab(true).size;
  }

  tokenize(text: string): string[] {
    return this.tok.tokenize(text, { add_special_tokens: false });
  }

  encodeText(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }


  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }
}
