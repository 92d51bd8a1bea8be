/**
 * The normalizers, pre-tokenizers and decoders of a Hugging Face `tokenizer.json` that
 * SentencePiece (Unigram) tokenizers use, as the Rust `tokenizers` crate runs them: T5's
 * `Precompiled` character map (SentencePiece's own normalization rules, compiled into a
 * double-array trie), `Nmt`, the Unicode forms, `Replace`, `Strip`, `Lowercase`, `Prepend`; the
 * `Metaspace` pre-tokenizer (spaces become `▁`, words start at each `▁`) and `WhitespaceSplit`;
 * the `Metaspace`, `ByteFallback`, `Fuse`, `Replace` and `Strip` decoders. Anything else is an
 * error naming the file, rather than a silent mis-encoding.
 */

type Json = Record<string, unknown>;

/** Rust's `char::is_whitespace` (Unicode White_Space), which differs from JS `\s` on U+0085 and U+FEFF. */
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * SentencePiece's `precompiled_charsmap`: a little-endian u32 byte size of the trie, the trie (a
 * Darts-clone double array of u32 units over UTF-8 bytes), then NUL-terminated replacement strings
 * that the trie's values point into. Read as the `spm_precompiled` crate reads it.
 */
export class PrecompiledCharsmap {
  private readonly array: Uint32Array;
  private readonly normalized: Uint8Array;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(bytes: Uint8Array, source = 'precompiled_charsmap') {
    if (bytes.length < 4) throw new Error(`${source}: precompiled_charsmap is ${bytes.length} bytes, too short for its header`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const trieSize = view.getUint32(0, true);
    if (4 + trieSize > bytes.length || trieSize % 4 !== 0) throw new Error(`${source}: precompiled_charsmap's trie size ${trieSize} does not fit its ${bytes.length} bytes`);
    this.array = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.array.length; i++) this.array[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = bytes.subarray(4 + trieSize);
  }

  static fromBase64(b64: string, source?: string): PrecompiledCharsmap {
    return new PrecompiledCharsmap(new Uint8Array(Buffer.from(b64, 'base64')), source);
  }

  // Darts-clone unit fields.
  private static offset(u: number): number {
    return (u >>> 10) << ((u & (1 << 9)) >>> 6);
  }

  /** Values of the keys that are prefixes of `key`, shortest first. */
  private commonPrefixSearch(key: Uint8Array): number[] {
    const out: number[] = [];
    let pos = 0;
    let unit = this.array[pos] as number;
    pos ^= PrecompiledCharsmap.offset(unit);
    for (const c of key) {
      if (c === 0) break;
      pos ^= c;
      unit = this.array[pos] ?? 0;
      // label(): the low byte and the top bit; a leaf has the top bit set, so it never equals a byte.
      if ((unit & 0x800000ff) >>> 0 !== c) return out;
      pos ^= PrecompiledCharsmap.offset(unit);
      if ((unit >>> 8) & 1) out.push((this.array[pos] as number) & 0x7fffffff);
    }
    return out;
  }

  /** The replacement of a whole chunk (its shortest matching key, as the crate does), if any. */
  transform(chunk: string): string | undefined {
    const hits = this.commonPrefixSearch(this.encoder.encode(chunk));
    if (hits.length === 0) return undefined;
    const start = hits[0] as number;
    let end = start;
    while (end < this.normalized.length && this.normalized[end] !== 0) end++;
    return this.decoder.decode(this.normalized.subarray(start, end));
  }

  /** Normalized form of one grapheme cluster (see `normalize`), cached: text repeats its characters. */
  private cluster(segment: string): string {
    const hit = this.cache.get(segment);
    if (hit !== undefined) return hit;
    let out: string | undefined;
    if (Buffer.byteLength(segment, 'utf8') < 6) out = this.transform(segment);
    if (out === undefined) {
      out = '';
      for (const ch of segment) out += this.transform(ch) ?? ch;
    }
    if (this.cache.size >= 100_000) this.cache.clear();
    this.cache.set(segment, out);
    return out;
  }

  private readonly cache = new Map<string, string>();
  private readonly runs = new Map<string, string>();
  private asciiSame?: boolean[];

  /**
   * `tokenizers`' Precompiled normalizer: per extended grapheme cluster shorter than 6 UTF-8
   * bytes, its replacement if the whole cluster has one; else per character.
   *
   * Cutting text into clusters with `Intl.Segmenter` is slow (~0.1 M characters/s), so only the
   * stretches with non-ASCII characters go through it: between two ASCII characters there is
   * always a cluster boundary (Unicode's rules join only CR LF among them, and an ASCII character
   * to a preceding non-ASCII Prepend or a following combining mark, both inside such stretches).
   */
  normalize(text: string): string {
    let out = '';
    const n = text.length;
    const ascii = (k: number) => k < n && text.charCodeAt(k) < 0x80;
    const crlf = (k: number) => text.charCodeAt(k) === 13 && text.charCodeAt(k + 1) === 10;
    this.asciiSame ??= Array.from({ length: 128 }, (_, c) => this.cluster(String.fromCharCode(c)) === String.fromCharCode(c));
    let i = 0;
    // Start of a stretch of ASCII characters that normalize to themselves, copied in one go.
    let same = 0;
    while (i < n) {
      if (ascii(i) && (i + 1 === n || ascii(i + 1)) && !crlf(i)) {
        if (!this.asciiSame[text.charCodeAt(i)]) {
          out += text.slice(same, i) + this.cluster(text[i] as string);
          same = i + 1;
        }
        i++;
        continue;
      }
      out += text.slice(same, i);
      let j = i + 1;
      while (j < n && !(ascii(j - 1) && ascii(j) && !crlf(j - 1))) j++;
      const run = text.slice(i, j);
      let norm = this.runs.get(run);
      if (norm === undefined) {
        norm = '';
        for (const { segment } of graphemes(run)) norm += this.cluster(segment);
        if (this.runs.size >= 100_000) this.runs.clear();
        this.runs.set(run, norm);
      }
      out += norm;
      i = j;
      same = j;
    }
    return out + text.slice(same, n);
  }
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
function graphemes(text: string): Iterable<{ segment: string }> {
  return segmenter.segment(text);
}

/** `tokenizers`' Nmt normalizer: drop control characters, read other spaces as a space. */
function nmt(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    if ((c >= 0x1 && c <= 0x8) || c === 0xb || (c >= 0xe && c <= 0x1f) || c === 0x7f || c === 0x8f || c === 0x9f) continue;
    if (c === 0x9 || c === 0xa || c === 0xc || c === 0xd || c === 0x1680 || (c >= 0x200b && c <= 0x200f) ||
      c === 0x2028 || c === 0x2029 || c === 0x2581 || c === 0xfeff || c === 0xfffd) out += ' ';
    else out += ch;
  }
  return out;
}

/** A `Replace` pattern (normalizer or decoder): `{String: s}` or `{Regex: r}`. */
function replacer(node: Json, source: string): (s: string) => string {
  const pattern = node['pattern'] as Json | undefined;
  const content = String(node['content'] ?? '');
  if (typeof pattern?.['String'] === 'string') {
    const s = pattern['String'] as string;
    return (t) => t.split(s).join(content);
  }
  if (typeof pattern?.['Regex'] === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(pattern['Regex'] as string, 'gu');
    } catch (e) {
      throw new Error(`${source}: Replace pattern ${JSON.stringify(pattern['Regex'])} is not a regular expression JavaScript reads (${(e as Error).message})`);
    }
    return (t) => t.replace(re, () => content);
  }
  throw new Error(`${source}: Replace needs a pattern {String} or {Regex}, got ${JSON.stringify(pattern)}`);
}

/** The normalizer of a `tokenizer.json` (null: none) as a function. */
export function makeNormalizer(node: unknown, source: string): (text: string) => string {
  if (node === null || node === undefined) return (t) => t;
  const n = node as Json;
  switch (n['type']) {
    case 'Sequence': {
      const parts = ((n['normalizers'] as unknown[]) ?? []).map((x) => makeNormalizer(x, source));
      return (t) => parts.reduce((s, f) => f(s), t);
    }
    case 'Precompiled': {
      const b64 = n['precompiled_charsmap'];
      // An empty charsmap (a model trained with the identity rule) normalizes nothing.
      if (b64 === null || b64 === undefined || b64 === '') return (t) => t;
      if (typeof b64 !== 'string') throw new Error(`${source}: Precompiled's precompiled_charsmap must be a base64 string`);
      const map = PrecompiledCharsmap.fromBase64(b64, source);
      return (t) => map.normalize(t);
    }
    case 'Nmt': return nmt;
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': {
      const form = n['type'] as string;
      return (t) => t.normalize(form);
    }
    case 'Lowercase': return (t) => t.toLowerCase();
    case 'Strip': {
      const left = n['strip_left'] !== false;
      const right = n['strip_right'] !== false;
      const l = new RegExp(`^[${WS}]+`, 'u');
      const r = new RegExp(`[${WS}]+$`, 'u');
      return (t) => {
        let s = t;
        if (left) s = s.replace(l, '');
        if (right) s = s.replace(r, '');
        return s;
      };
    }
    case 'Replace': return replacer(n, source);
    case 'Prepend': {
      const p = String(n['prepend'] ?? '');
      return (t) => (t.length === 0 ? t : p + t);
    }
    default:
      throw new Error(`${source}: normalizer ${JSON.stringify(n['type'])} is not supported for a Unigram tokenizer (Sequence, Precompiled, Nmt, NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend)`);
  }
}

/** A piece of normalized text and whether it starts the original text (Metaspace's `first` scheme). */
export interface PreToken {
  text: string;
  atStart: boolean;
}

export type PrependScheme = 'always' | 'first' | 'never';

/** `prepend_scheme`, or the older `add_prefix_space` (true: always). */
export function prependScheme(n: Json, source: string): PrependScheme {
  const p = n['prepend_scheme'];
  if (p === undefined || p === null) return n['add_prefix_space'] === false ? 'never' : 'always';
  if (p !== 'always' && p !== 'first' && p !== 'never') throw new Error(`${source}: Metaspace prepend_scheme ${JSON.stringify(p)} is not always, first or never`);
  return p;
}

/** The pre-tokenizer of a `tokenizer.json` as a function from one normalized piece to words. */
export function makePreTokenizer(node: unknown, source: string): (piece: PreToken) => PreToken[] {
  if (node === null || node === undefined) return (p) => (p.text.length === 0 ? [] : [p]);
  const n = node as Json;
  switch (n['type']) {
    case 'Sequence': {
      const parts = ((n['pretokenizers'] as unknown[]) ?? []).map((x) => makePreTokenizer(x, source));
      return (p) => parts.reduce<PreToken[]>((pieces, f) => pieces.flatMap(f), [p]);
    }
    case 'WhitespaceSplit':
      return (p) => {
        const out: PreToken[] = [];
        const re = new RegExp(`[^${WS}]+`, 'gu');
        for (const m of p.text.matchAll(re)) out.push({ text: m[0], atStart: p.atStart && m.index === 0 });
        return out;
      };
    case 'Metaspace': {
      const rep = String(n['replacement'] ?? '▁');
      const scheme = prependScheme(n, source);
      const split = n['split'] !== false;
      return (p) => {
        if (p.text.length === 0) return [];
        let s = p.text.split(' ').join(rep);
        if (!s.startsWith(rep) && (scheme === 'always' || (scheme === 'first' && p.atStart))) s = rep + s;
        if (!split) return [{ text: s, atStart: p.atStart }];
        // Split before every replacement character (the delimiter merges with what follows it).
        const parts = s.split(rep);
        const out: PreToken[] = [];
        parts.forEach((part, k) => {
          const text = k === 0 ? part : rep + part;
          if (text.length > 0) out.push({ text, atStart: p.atStart && out.length === 0 });
        });
        return out;
      };
    }
    default:
      throw new Error(`${source}: pre_tokenizer ${JSON.stringify(n['type'])} is not supported for a Unigram tokenizer (Metaspace, WhitespaceSplit, Sequence)`);
  }
}

/** The decoder of a `tokenizer.json` as a function from tokens to text (`tokenizers`' `decode_chain`, then joined). */
export function makeDecoder(node: unknown, source: string): (tokens: string[]) => string {
  const chain = decoderChain(node, source);
  return (tokens) => chain(tokens).join('');
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

function decoderChain(node: unknown, source: string): (tokens: string[]) => string[] {
  if (node === null || node === undefined) return (t) => t;
  const n = node as Json;
  switch (n['type']) {
    case 'Sequence': {
      const parts = ((n['decoders'] as unknown[]) ?? []).map((x) => decoderChain(x, source));
      return (t) => parts.reduce((s, f) => f(s), t);
    }
    case 'Metaspace': {
      const rep = String(n['replacement'] ?? '▁');
      const scheme = prependScheme(n, source);
      // The first token loses its replacement characters (the prepended space) unless nothing was prepended.
      return (tokens) => tokens.map((tok, i) => tok.split(rep).join(i === 0 && scheme !== 'never' ? '' : ' '));
    }
    case 'ByteFallback':
      return (tokens) => {
        const out: string[] = [];
        let bytes: number[] = [];
        const flush = () => {
          if (bytes.length === 0) return;
          try {
            out.push(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes)));
          } catch {
            // Invalid UTF-8: one replacement character per byte, as the Rust decoder writes.
            for (let i = 0; i < bytes.length; i++) out.push('\ufffd');
          }
          bytes = [];
        };
        for (const t of tokens) {
          const m = BYTE_TOKEN.exec(t);
          if (m) bytes.push(parseInt(m[1] as string, 16));
          else {
            flush();
            out.push(t);
          }
        }
        flush();
        return out;
      };
    case 'Fuse': return (tokens) => [tokens.join('')];
    case 'Replace': {
      const f = replacer(n, source);
      return (tokens) => tokens.map(f);
    }
    case 'Strip': {
      const content = String(n['content'] ?? ' ');
      const start = Number(n['start'] ?? 0);
      const stop = Number(n['stop'] ?? 0);
      return (tokens) => tokens.map((tok) => {
        const chars = [...tok];
        let a = 0;
        while (a < start && chars[a] === content) a++;
        let b = chars.length;
        while (chars.length - b < stop && b > a && chars[b - 1] === content) b--;
        return chars.slice(a, b).join('');
      });
    }
    default:
      throw new Error(`${source}: decoder ${JSON.stringify(n['type'])} is not supported for a Unigram tokenizer (Metaspace, ByteFallback, Fuse, Replace, Strip, Sequence)`);
  }
}
