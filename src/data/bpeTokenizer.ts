/**
 * Byte-level BPE, the tokenizer of OPT and GPT-2, agreeing with `transformers`'
 * `GPT2TokenizerFast` (what `AutoTokenizer` returns for both).
 *
 * The word pieces come from `@huggingface/tokenizers` (a JS port of the Rust pipeline) reading a
 * `tokenizer.json`; a directory with only `vocab.json` and `merges.txt` gets the `tokenizer.json`
 * that `transformers` would build from them (byte-level pre-tokenizer, BPE, and OPT's `</s>`
 * prefix when `tokenizer_config.json` says `add_bos_token`). Special tokens and truncation are
 * laid out here from the file's post-processor: a `TemplateProcessing` (OPT: `</s> A`, pairs
 * `</s> A B`) or none / `ByteLevel` (GPT-2: the sequences as they are, pairs concatenated).
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { configMaxLength } from './hfTokenizer';
import { applyTemplate, templateProcessing, type Compat, type TemplatePiece, type Encoding, type EncodeOptions, type SpecialTokenIds, type Tokenizer } from './tokenizer';

type Json = Record<string, unknown>;

/** The part of `@huggingface/tokenizers`' `Tokenizer` used here (see hfTokenizer.ts on loading it). */
interface JsTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}
const JsTokenizerClass = (
  createRequire(__filename)('@huggingface/tokenizers') as { Tokenizer: new (tokenizer: object, config: object) => JsTokenizer }
).Tokenizer;

type Piece = TemplatePiece;

function tokenName(config: Json, key: string): string | undefined {
  const v = config[key];
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
  return undefined;
}

/** The single and pair templates of a post-processor; no special tokens when there is none. */
function templates(post: unknown, source: string): { single: Piece[]; pair: Piece[] } {
  const plain = { single: [{ sequence: 'A', typeId: 0 }], pair: [{ sequence: 'A', typeId: 0 }, { sequence: 'B', typeId: 1 }] } as { single: Piece[]; pair: Piece[] };
  if (post === null || post === undefined) return plain;
  const p = post as Json;
  if (p['type'] === 'ByteLevel') return plain; // offsets only
  if (p['type'] === 'TemplateProcessing') {
    return templateProcessing(p);
  }
  throw new Error(`${source}: post_processor ${JSON.stringify(p['type'])} is not supported for byte-level BPE (TemplateProcessing or ByteLevel)`);
}

/** The `tokenizer.json` that `transformers` builds from `vocab.json` + `merges.txt` (GPT2TokenizerFast). */
export function tokenizerJsonFromFiles(vocab: Json, mergesText: string, config: Json): Json {
  const merges = mergesText.split('\n').filter((l) => l.length > 0 && !l.startsWith('#version'));
  const specials = ['bos_token', 'eos_token', 'unk_token', 'pad_token'].map((k) => tokenName(config, k)).filter((t): t is string => t !== undefined);
  const addedTokens = [...new Set(specials)].filter((t) => vocab[t] !== undefined).map((t) => ({
    id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
  }));
  const bos = tokenName(config, 'bos_token');
  const post = config['add_bos_token'] === true && bos !== undefined
    ? {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [vocab[bos]], tokens: [bos] } },
    }
    : { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: config['add_prefix_space'] === true, trim_offsets: true, use_regex: true },
    post_processor: post,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
}

export interface BpeTokenizerOptions {
  /** Default: `model_max_length` of the config when sensible, else 1024. */
  modelMaxLength?: number;
  /** Names the tokenizer in errors. */
  source?: string;
}

export class ByteLevelBpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
  readonly modelMaxLength: number;
  /** Pairs are truncated as the Rust tokenizer does. */
  readonly compat: Compat = 'fast';
  private readonly tok: JsTokenizer;
  private readonly single: Piece[];
  private readonly pair: Piece[];
  private readonly source: string;

  /** From a parsed `tokenizer.json` and `tokenizer_config.json` (`{}` when absent). */
  constructor(tokenizerJson: Json, config: Json = {}, options: BpeTokenizerOptions = {}) {
    this.source = options.source ?? 'tokenizer.json';
    const model = tokenizerJson['model'] as Json | undefined;
    if (model?.['type'] !== 'BPE') throw new Error(`${this.source}: model type ${JSON.stringify(model?.['type'])} is not BPE`);
    try {
      this.tok = new JsTokenizerClass(tokenizerJson, config);
    } catch (e) {
      throw new Error(`${this.source}: @huggingface/tokenizers cannot load it (${(e as Error).message})`);
    }
    ({ single: this.single, pair: this.pair } = templates(tokenizerJson['post_processor'], this.source));
    this.modelMaxLength = options.modelMaxLength ?? configMaxLength(config) ?? 1024;
    const id = (name: string | undefined): number | undefined => (name === undefined ? undefined : this.tok.token_to_id(name));
    const eos = id(tokenName(config, 'eos_token'));
    const bos = id(tokenName(config, 'bos_token')) ?? eos;
    // GPT-2 has no padding token; the convention (and what the CLI sets in the model's config) is eos.
    const pad = id(tokenName(config, 'pad_token')) ?? eos;
    if (pad === undefined) throw new Error(`${this.source}: no pad_token nor eos_token in tokenizer_config.json: batches cannot be padded`);
    this.special = { cls: bos ?? pad, sep: eos ?? pad, pad, unk: id(tokenName(config, 'unk_token')) ?? pad };
    this.vocabSize = this.tok.get_vocab(true).size;
  }

  /** From a directory: `tokenizer.json`, else `vocab.json` + `merges.txt`; `tokenizer_config.json` when present. */
  static fromDirectory(dir: string, options: BpeTokenizerOptions = {}): ByteLevelBpeTokenizer {
    const read = (f: string): Json => {
      try {
        return JSON.parse(readFileSync(f, 'utf8')) as Json;
      } catch (e) {
        throw new Error(`${f}: cannot read JSON (${(e as Error).message})`);
      }
    };
    const configPath = join(dir, 'tokenizer_config.json');
    const config = existsSync(configPath) ? read(configPath) : {};
    const jsonPath = join(dir, 'tokenizer.json');
    if (existsSync(jsonPath)) return new ByteLevelBpeTokenizer(read(jsonPath), config, { source: jsonPath, ...options });
    const vocabPath = join(dir, 'vocab.json');
    const mergesPath = join(dir, 'merges.txt');
    if (!existsSync(vocabPath) || !existsSync(mergesPath)) throw new Error(`${dir}: no tokenizer.json, nor vocab.json with merges.txt`);
    const json = tokenizerJsonFromFiles(read(vocabPath), readFileSync(mergesPath, 'utf8'), config);
    return new ByteLevelBpeTokenizer(json, config, { source: vocabPath, ...options });
  }

  tokenize(text: string): string[] {
    return this.tok.encode(text, { add_special_tokens: false }).tokens;
  }

  encodeText(text: string): number[] {
    // The JS port returns no ids for an empty text, as the Rust tokenizer does.
    return text.length === 0 ? [] : this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    return this.layout(this.single, this.encodeText(text), undefined, options);
  }

  encodePair(a: string, b: string, options: EncodeOptions = {}): Encoding {
    return this.layout(this.pair, this.encodeText(a), this.encodeText(b), options);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** The template's pieces around the (truncated) sequences. */
  private layout(template: Piece[], idsA: number[], idsB: number[] | undefined, options: EncodeOptions): Encoding {
    return applyTemplate(template, idsA, idsB, options, { source: this.source, modelMaxLength: this.modelMaxLength, specialId: (t) => this.specialId(t) });
  }

  private specialId(token: string): number {
    const id = this.tok.token_to_id(token);
    if (id === undefined) throw new Error(`${this.source}: the post-processor's special token ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  }
}

/** True when a directory holds a byte-level BPE tokenizer (a BPE `tokenizer.json`, or `vocab.json` + `merges.txt`). */
export function isBpeTokenizerDir(dir: string): boolean {
  const jsonPath = join(dir, 'tokenizer.json');
  if (existsSync(jsonPath)) {
    try {
      return ((JSON.parse(readFileSync(jsonPath, 'utf8')) as Json)['model'] as Json | undefined)?.['type'] === 'BPE';
    } catch {
      return false; // loadTokenizer reports the broken file
    }
  }
  return existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'));
}
