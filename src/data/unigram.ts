/**
 * SentencePiece's Unigram model read from a Hugging Face `tokenizer.json` (`model.type:
 * "Unigram"`), the tokenizer of T5, mT5, ALBERT, XLNet and Marian, agreeing with the Rust
 * `tokenizers` crate (what `T5TokenizerFast` runs).
 *
 * The pipeline is the crate's: added tokens (`</s>`, `<extra_id_0>`, ...) are cut out of the raw
 * text first; each remaining piece is normalized (src/data/unigramNormalize.ts: T5's Precompiled
 * character map, NFKC, ...), cut again at added tokens written in normalized form, split into
 * words by the pre-tokenizer (Metaspace: spaces become `▁`, a `▁` is prepended as
 * `prepend_scheme` says), and each word is segmented by Viterbi: the split into vocabulary pieces
 * with the highest sum of log-probabilities; a character no piece covers is `<unk>` with the
 * lowest score minus 10, consecutive unknowns fused into one, or spelled as `<0xXX>` byte pieces
 * when the file sets `byte_fallback`. The post-processor's template then adds the special tokens
 * (T5: `A </s>`, pairs `A </s> B </s>`) after truncation; `decode` undoes Metaspace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { configMaxLength } from './hfTokenizer';
import { applyTemplate, splitOnSpecialTokens, templateProcessing, type Compat, type TemplatePiece, type Encoding, type EncodeOptions, type SpecialTokenIds, type Tokenizer } from './tokenizer';
import { makeDecoder, makeNormalizer, makePreTokenizer, type PreToken } from './unigramNormalize';

type Json = Record<string, unknown>;

/** `tokenizers`' penalty of an unknown character below the lowest piece score. */
const UNK_PENALTY = 10;

interface TrieNode {
  next: Map<number, TrieNode>;
  /** Vocabulary id of the piece ending here (the last one of duplicate pieces, as the crate's map keeps). */
  id: number;
}

/** The Unigram model alone: pieces with scores, Viterbi segmentation of one word. */
export class UnigramModel {
  readonly pieces: readonly string[];
  readonly scores: Float64Array;
  readonly unkId: number | undefined;
  readonly byteFallback: boolean;
  private readonly ids = new Map<string, number>();
  private readonly root: TrieNode = { next: new Map(), id: -1 };
  private readonly unkScore: number;

  constructor(vocab: readonly (readonly [string, number])[], unkId: number | undefined, byteFallback: boolean, source = 'tokenizer.json') {
    if (vocab.length === 0) throw new Error(`${source}: the Unigram vocabulary is empty`);
    if (unkId !== undefined && (unkId < 0 || unkId >= vocab.length)) throw new Error(`${source}: unk_id ${unkId} is outside the vocabulary (${vocab.length} pieces)`);
    this.pieces = vocab.map((v) => v[0]);
    this.scores = Float64Array.from(vocab.map((v) => v[1]));
    this.unkId = unkId;
    this.byteFallback = byteFallback;
    let min = Infinity;
    vocab.forEach(([piece, score], id) => {
      this.ids.set(piece, id);
      let node = this.root;
      for (const ch of piece) {
        const c = ch.codePointAt(0) as number;
        let child = node.next.get(c);
        if (!child) node.next.set(c, (child = { next: new Map(), id: -1 }));
        node = child;
      }
      node.id = id;
      if (score < min) min = score;
    });
    // The trie answers by the crate's map, where a duplicate piece keeps its last id.
    const fix = (node: TrieNode, prefix: string) => {
      if (node.id >= 0) node.id = this.ids.get(prefix) as number;
      for (const [c, child] of node.next) fix(child, prefix + String.fromCodePoint(c));
    };
    fix(this.root, '');
    this.unkScore = min - UNK_PENALTY;
  }

  tokenToId(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  /**
   * The best segmentation of `word` as strings (unknown runs fused), as `Unigram::encode_optimized`:
   * for equal scores the first candidate found (shorter pieces first, earlier starts first) stays.
   */
  segment(word: string): string[] {
    const chars = Array.from(word);
    const n = chars.length;
    if (n === 0) return [];
    const score = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const id = new Int32Array(n + 1);
    for (let s = 0; s < n; s++) {
      const base = score[s] as number;
      let single = false;
      let node: TrieNode | undefined = this.root;
      for (let e = s; e < n && node; e++) {
        node = node.next.get(chars[e]?.codePointAt(0) as number);
        if (!node || node.id < 0) continue;
        const cand = (this.scores[node.id] as number) + base;
        if (from[e + 1] === -1 || cand > (score[e + 1] as number)) {
          score[e + 1] = cand;
          from[e + 1] = s;
          id[e + 1] = node.id;
        }
        if (e === s) single = true;
      }
      if (!single) {
        const cand = this.unkScore + base;
        if (from[s + 1] === -1 || cand > (score[s + 1] as number)) {
          if (this.unkId === undefined) throw new Error(`the character ${JSON.stringify(chars[s])} is in no piece and the Unigram model has no unk_id`);
          score[s + 1] = cand;
          from[s + 1] = s;
          id[s + 1] = this.unkId;
        }
      }
    }
    const out: string[] = [];
    let unk: string[] = [];
    for (let e = n; e > 0;) {
      const s = from[e] as number;
      const text = chars.slice(s, e).join('');
      if (this.unkId !== undefined && id[e] === this.unkId) unk.push(text);
      else {
        if (unk.length > 0) out.push(unk.reverse().join(''));
        unk = [];
        out.push(text);
      }
      e = s;
    }
    if (unk.length > 0) out.push(unk.reverse().join(''));
    return out.reverse();
  }

  /** Words seen before (natural text repeats its words; the crate keeps such a cache too). */
  private readonly cache = new Map<string, { ids: number[]; tokens: string[] }>();

  /** Ids and pieces of a word: segments found in the vocabulary, else byte pieces (with `byte_fallback`), else unk. */
  encodeWord(word: string, ids: number[], tokens: string[]): void {
    let hit = this.cache.get(word);
    if (hit === undefined) {
      hit = { ids: [], tokens: [] };
      this.encodeUncached(word, hit.ids, hit.tokens);
      if (this.cache.size >= 100_000) this.cache.clear();
      this.cache.set(word, hit);
    }
    ids.push(...hit.ids);
    tokens.push(...hit.tokens);
  }

  private encodeUncached(word: string, ids: number[], tokens: string[]): void {
    for (const seg of this.segment(word)) {
      const known = this.ids.get(seg);
      if (known !== undefined) {
        ids.push(known);
        tokens.push(seg);
        continue;
      }
      if (this.byteFallback) {
        const bytes = [...Buffer.from(seg, 'utf8')].map((b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
        const byteIds = bytes.map((b) => this.ids.get(b));
        if (byteIds.every((x) => x !== undefined)) {
          ids.push(...(byteIds as number[]));
          tokens.push(...bytes);
          continue;
        }
      }
      if (this.unkId === undefined) throw new Error(`${JSON.stringify(seg)} is in no piece and the Unigram model has no unk_id`);
      ids.push(this.unkId);
      tokens.push(seg);
    }
  }
}

/** An added token of `tokenizer.json` (`added_tokens`). */
interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

type Piece = TemplatePiece;

function templates(post: unknown, source: string): { single: Piece[]; pair: Piece[] } {
  const plain: { single: Piece[]; pair: Piece[] } = { single: [{ sequence: 'A', typeId: 0 }], pair: [{ sequence: 'A', typeId: 0 }, { sequence: 'B', typeId: 1 }] };
  if (post === null || post === undefined) return plain;
  const p = post as Json;
  if (p['type'] !== 'TemplateProcessing') throw new Error(`${source}: post_processor ${JSON.stringify(p['type'])} is not supported for a Unigram tokenizer (TemplateProcessing or none)`);
  return templateProcessing(p);
}

function tokenName(config: Json, key: string): string | undefined {
  const v = config[key];
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
  return undefined;
}

export interface UnigramTokenizerOptions {
  /** Default: `model_max_length` of the config when sensible, else 512 (T5's). */
  modelMaxLength?: number;
  /** Names the tokenizer in errors. */
  source?: string;
}

export interface UnigramDecodeOptions {
  /** Drop special added tokens (`<pad>`, `</s>`, ...). Default true. */
  skipSpecialTokens?: boolean;
  /**
   * `transformers`' clean-up of English tokenization spaces (` .` -> `.`, ` n't` -> `n't`, ...).
   * Default: `clean_up_tokenization_spaces` of `tokenizer_config.json`, else false (4.57's default).
   */
  cleanUpTokenizationSpaces?: boolean;
}

/** `PreTrainedTokenizerBase.clean_up_tokenization`. */
export function cleanUpTokenization(text: string): string {
  const rules: [string, string][] = [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"], [" 'm", "'m"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]];
  return rules.reduce((t, [from, to]) => t.split(from).join(to), text);
}

export class UnigramTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
  readonly modelMaxLength: number;
  /** Pairs are truncated as the Rust tokenizer does. */
  readonly compat: Compat = 'fast';
  /** The end-of-sequence id (`</s>`), which generation stops at. */
  readonly eosId: number;
  readonly model: UnigramModel;
  private readonly added: AddedToken[];
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly normalize: (t: string) => string;
  private readonly preTokenize: (p: PreToken) => PreToken[];
  private readonly decodeTokens: (tokens: string[]) => string;
  private readonly single: Piece[];
  private readonly pair: Piece[];
  private readonly source: string;
  private readonly cleanUp: boolean;

  /** From a parsed `tokenizer.json` and `tokenizer_config.json` (`{}` when absent). */
  constructor(tokenizerJson: Json, config: Json = {}, options: UnigramTokenizerOptions = {}) {
    const source = options.source ?? 'tokenizer.json';
    this.source = source;
    const m = tokenizerJson['model'] as Json | undefined;
    if (m?.['type'] !== 'Unigram') throw new Error(`${source}: model type ${JSON.stringify(m?.['type'])} is not Unigram`);
    const vocab = m['vocab'];
    if (!Array.isArray(vocab) || !vocab.every((v) => Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'number')) {
      throw new Error(`${source}: model.vocab must be a list of [piece, score] pairs`);
    }
    const unk = m['unk_id'];
    this.model = new UnigramModel(vocab as [string, number][], typeof unk === 'number' ? unk : undefined, m['byte_fallback'] === true, source);
    this.normalize = makeNormalizer(tokenizerJson['normalizer'], source);
    this.preTokenize = makePreTokenizer(tokenizerJson['pre_tokenizer'], source);
    this.decodeTokens = makeDecoder(tokenizerJson['decoder'], source);
    ({ single: this.single, pair: this.pair } = templates(tokenizerJson['post_processor'], source));
    this.added = ((tokenizerJson['added_tokens'] as Json[] | undefined) ?? []).map((t) => ({
      id: Number(t['id']), content: String(t['content']), special: t['special'] === true,
      normalized: t['normalized'] === true, lstrip: t['lstrip'] === true, rstrip: t['rstrip'] === true,
    }));
    for (const t of this.added) {
      this.addedById.set(t.id, t);
      this.addedByContent.set(t.content, t);
    }
    this.modelMaxLength = options.modelMaxLength ?? configMaxLength(config) ?? 512;
    this.cleanUp = config['clean_up_tokenization_spaces'] === true;
    const id = (name: string | undefined): number | undefined => (name === undefined ? undefined : this.tokenToId(name));
    const eos = id(tokenName(config, 'eos_token') ?? '</s>') ?? this.lastTemplateSpecial();
    if (eos === undefined) throw new Error(`${source}: no end-of-sequence token (eos_token of tokenizer_config.json, or </s>) in the vocabulary`);
    const pad = id(tokenName(config, 'pad_token') ?? '<pad>');
    if (pad === undefined) throw new Error(`${source}: no padding token (pad_token of tokenizer_config.json, or <pad>) in the vocabulary: batches cannot be padded`);
    const first = this.single[0];
    this.eosId = eos;
    this.special = {
      // T5 has no [CLS]: the template's leading special token if any, else </s>.
      cls: first && 'special' in first ? this.specialId(first.special) : eos,
      sep: eos,
      pad,
      unk: this.model.unkId ?? id(tokenName(config, 'unk_token') ?? '<unk>') ?? pad,
    };
    const ids = new Set<number>(this.model.pieces.map((_, i) => i));
    for (const t of this.added) ids.add(t.id);
    this.vocabSize = ids.size;
  }

  /** From a directory with `tokenizer.json` (and `tokenizer_config.json` when present). */
  static fromDirectory(dir: string, options: UnigramTokenizerOptions = {}): UnigramTokenizer {
    const read = (f: string): Json => {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (e) {
        throw new Error(`${f}: cannot read (${(e as Error).message})`);
      }
      try {
        return JSON.parse(text) as Json;
      } catch (e) {
        throw new Error(`${f}: invalid JSON (${(e as Error).message})`);
      }
    };
    const configPath = join(dir, 'tokenizer_config.json');
    const jsonPath = join(dir, 'tokenizer.json');
    return new UnigramTokenizer(read(jsonPath), existsSync(configPath) ? read(configPath) : {}, { source: jsonPath, ...options });
  }

  private lastTemplateSpecial(): number | undefined {
    const last = [...this.single].reverse().find((p) => 'special' in p);
    return last && 'special' in last ? this.tokenToId(last.special) : undefined;
  }

  /** The added tokens matched in raw text and in normalized text, by the form they are matched in. */
  private addedForms?: [Map<string, AddedToken>, Map<string, AddedToken>];

  /** Cut `text` at added tokens of one kind (raw or normalized form), honouring lstrip/rstrip. */
  private cutAdded(text: string, normalized: boolean): { text: string; token?: AddedToken }[] {
    this.addedForms ??= [false, true].map((norm) => new Map(this.added
      .filter((t) => t.normalized === norm)
      .map((t) => [norm ? this.normalize(t.content) : t.content, t] as const)
      .filter(([c]) => c.length > 0))) as [Map<string, AddedToken>, Map<string, AddedToken>];
    const byContent = this.addedForms[normalized ? 1 : 0];
    if (byContent.size === 0 || text.length === 0) return [{ text }];
    const parts = splitOnSpecialTokens(text, [...byContent.keys()]);
    const out: { text: string; token?: AddedToken }[] = [];
    parts.forEach((p, i) => {
      if (!p.special) {
        let s = p.text;
        // lstrip/rstrip: the token swallows the whitespace on that side of it.
        const next = parts[i + 1];
        const prev = parts[i - 1];
        if (next?.special && byContent.get(next.text)?.lstrip) s = s.replace(/\s+$/u, '');
        if (prev?.special && byContent.get(prev.text)?.rstrip) s = s.replace(/^\s+/u, '');
        out.push({ text: s });
      } else out.push({ text: p.text, token: byContent.get(p.text) });
    });
    return out;
  }

  /** Ids and pieces of a text, no special tokens added by the template. */
  private run(text: string): { ids: number[]; tokens: string[] } {
    const ids: number[] = [];
    const tokens: string[] = [];
    let first = true;
    for (const raw of this.cutAdded(text, false)) {
      if (raw.token) {
        ids.push(raw.token.id);
        tokens.push(raw.token.content);
        first = false;
        continue;
      }
      for (const part of this.cutAdded(this.normalize(raw.text), true)) {
        if (part.token) {
          ids.push(part.token.id);
          tokens.push(part.token.content);
        } else {
          for (const w of this.preTokenize({ text: part.text, atStart: first })) this.model.encodeWord(w.text, ids, tokens);
        }
        first = false;
      }
    }
    return { ids, tokens };
  }

  tokenize(text: string): string[] {
    return this.run(text).tokens;
  }

  encodeText(text: string): number[] {
    return this.run(text).ids;
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    return this.layout(this.single, this.encodeText(text), undefined, options);
  }

  encodePair(a: string, b: string, options: EncodeOptions = {}): Encoding {
    return this.layout(this.pair, this.encodeText(a), this.encodeText(b), options);
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.pieces[id];
  }

  /**
   * Text of ids, as `transformers`' `decode`: the Rust `Tokenizer.decode` (special added tokens
   * dropped by default, then the decoder), then the optional clean-up of spaces.
   */
  decode(ids: readonly number[], options: UnigramDecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const tokens: string[] = [];
    for (const id of ids) {
      const added = this.addedById.get(id);
      if (added?.special && skip) continue;
      const tok = this.idToToken(id);
      if (tok !== undefined) tokens.push(tok);
    }
    const text = this.decodeTokens(tokens);
    return (options.cleanUpTokenizationSpaces ?? this.cleanUp) ? cleanUpTokenization(text) : text;
  }

  /** The template's pieces around the (truncated) sequences. */
  private layout(template: Piece[], idsA: number[], idsB: number[] | undefined, options: EncodeOptions): Encoding {
    return applyTemplate(template, idsA, idsB, options, { source: this.source, modelMaxLength: this.modelMaxLength, specialId: (t) => this.specialId(t) });
  }

  private specialId(token: string): number {
    const id = this.tokenToId(token);
    if (id === undefined) throw new Error(`${this.source}: the post-processor's special token ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  }
}

/** True when a directory's `tokenizer.json` holds a Unigram model. */
export function isUnigramTokenizerDir(dir: string): boolean {
  const jsonPath = join(dir, 'tokenizer.json');
  if (!existsSync(jsonPath)) return false;
  try {
    return ((JSON.parse(readFileSync(jsonPath, 'utf8')) as Json)['model'] as Json | undefined)?.['type'] === 'Unigram';
  } catch {
    return false; // loadTokenizer reports the broken file
  }
}
