import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  basicTokenize,
  HfTokenizer,
  loadTokenizer,
  type Compat,
  type Tokenizer,
  truncateLongestFirst,
  WordPieceTokenizer,
  wordPiece,
} from '../../src/data';

const FIXTURES = join(__dirname, '..', 'fixtures');

interface Ids {
  input_ids: number[];
  token_type_ids: number[];
}
interface Case {
  text: string;
  pair?: string;
  max_length?: number;
  fast: Ids;
  slow?: Ids;
}

function loadCases(name: string): Case[] {
  return (JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as { cases: Case[] }).cases;
}

/** What `transformers` produced for this case under `compat` (see `Compat`). */
function expected(c: Case, compat: Compat): Ids {
  // BertTokenizerFast drops an empty text_pair; we keep the pair, as BertTokenizer does.
  if (c.pair === '' || compat === 'slow') return c.slow ?? c.fast;
  return c.fast;
}

function encodeCase(tok: Tokenizer, c: Case): Ids {
  const opts = { maxLength: c.max_length ?? 512 };
  const e = c.pair === undefined ? tok.encode(c.text, opts) : tok.encodePair(c.text, c.pair, opts);
  expect(e.attentionMask).toEqual(new Array(e.inputIds.length).fill(1));
  return { input_ids: e.inputIds, token_type_ids: e.tokenTypeIds };
}

function mismatches(tok: Tokenizer, cases: Case[], compat: Compat): string[] {
  const bad: string[] = [];
  for (const c of cases) {
    const got = encodeCase(tok, c);
    const want = expected(c, compat);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      bad.push(`${JSON.stringify(c.text)} / ${JSON.stringify(c.pair)} @${c.max_length}: got ${got.input_ids} want ${want.input_ids}`);
    }
  }
  return bad;
}

describe.each(['tokenizer', 'tokenizer-cased'])('parity with transformers 4.57.1 (%s fixture)', (name) => {
  const cases = loadCases(name);
  const dir = join(FIXTURES, name);

  it('has a few hundred cases, singles and pairs, some truncated', () => {
    expect(cases.length).toBeGreaterThan(300);
    expect(cases.filter((c) => c.pair !== undefined && c.max_length !== undefined).length).toBeGreaterThan(50);
  });

  for (const compat of ['fast', 'slow'] as const) {
    it(`vocab.txt WordPiece equals Bert${compat === 'fast' ? 'TokenizerFast' : 'Tokenizer'}`, () => {
      const tok = loadTokenizer(dir, { prefer: 'vocab.txt', compat });
      expect(tok).toBeInstanceOf(WordPieceTokenizer);
      expect(mismatches(tok, cases, compat)).toEqual([]);
    });
  }

  it('tokenizer.json (@huggingface/tokenizers) equals BertTokenizerFast', () => {
    const tok = loadTokenizer(dir);
    expect(tok).toBeInstanceOf(HfTokenizer);
    // The JS library has no NFC step, so only the truncation flavour differs between compats:
    // check the fast one everywhere.
    expect(mismatches(tok, cases, 'fast')).toEqual([]);
  });

  it('both implementations agree on vocabulary and special ids', () => {
    const a = loadTokenizer(dir);
    const b = loadTokenizer(dir, { prefer: 'vocab.txt' });
    expect(a.vocabSize).toBe(b.vocabSize);
    expect(a.special).toEqual(b.special);
    expect(a.modelMaxLength).toBe(512);
    expect(b.tokenize('Hello, world!')).toEqual(a.tokenize('Hello, world!'));
  });
});

describe('truncateLongestFirst', () => {
  it('keeps short pairs whole and trims only the longer one when that suffices', () => {
    expect(truncateLongestFirst(3, 4, 10)).toEqual([3, 4]);
    expect(truncateLongestFirst(3, 20, 10)).toEqual([3, 7]);
    expect(truncateLongestFirst(20, 3, 10, 'slow')).toEqual([7, 3]);
  });
  it('splits an odd budget as the Rust (fast) and Python (slow) tokenizers do', () => {
    expect(truncateLongestFirst(10, 10, 15, 'fast')).toEqual([7, 8]);
    expect(truncateLongestFirst(10, 10, 15, 'slow')).toEqual([8, 7]);
    expect(truncateLongestFirst(12, 10, 15, 'fast')).toEqual([8, 7]);
    expect(truncateLongestFirst(12, 10, 15, 'slow')).toEqual([8, 7]);
    expect(truncateLongestFirst(10, 12, 15, 'fast')).toEqual([7, 8]);
    expect(truncateLongestFirst(10, 12, 15, 'slow')).toEqual([8, 7]);
    expect(truncateLongestFirst(30, 40, 0)).toEqual([0, 0]);
  });
});

describe('WordPiece pieces', () => {
  const vocab = new Map(['[UNK]', 'un', '##aff', '##able', 'a', '##b'].map((t, i) => [t, i]));
  it('is greedy longest-match with ## continuations', () => {
    expect(wordPiece('unaffable', vocab)).toEqual(['un', '##aff', '##able']);
    expect(wordPiece('ab', vocab)).toEqual(['a', '##b']);
  });
  it('maps a word with an unmatched part, or longer than the limit, to [UNK]', () => {
    expect(wordPiece('unx', vocab)).toEqual(['[UNK]']);
    expect(wordPiece('a' + 'b'.repeat(100), vocab)).toEqual(['[UNK]']);
    expect(wordPiece('a' + 'b'.repeat(99), vocab)).toHaveLength(100);
  });
  it('basic tokenisation cleans, splits CJK and punctuation, lower-cases and strips accents', () => {
    expect(basicTokenize(' Héllo,\tWORLD!\u0000 北京x ')).toEqual(['hello', ',', 'world', '!', '北', '京', 'x']);
    expect(basicTokenize('Héllo', { doLowerCase: false })).toEqual(['Héllo']);
    expect(basicTokenize('Héllo', { doLowerCase: true, stripAccents: false })).toEqual(['héllo']);
  });
});

describe('loadTokenizer', () => {
  it('reads do_lower_case from tokenizer_config.json for vocab.txt checkpoints', () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-tok-'));
    copyFileSync(join(FIXTURES, 'tokenizer-cased', 'vocab.txt'), join(dir, 'vocab.txt'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, model_max_length: 64 }));
    const tok = loadTokenizer(dir);
    expect(tok.tokenize('The')).toEqual(['The']);
    expect(tok.modelMaxLength).toBe(64);
    expect(tok.encode('word '.repeat(100)).inputIds).toHaveLength(64);
    expect(() => tok.encode('word '.repeat(100), { truncation: false })).toThrow(/exceed maxLength 64/);
  });

  it('names the missing or broken file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-tok-'));
    expect(() => loadTokenizer(dir)).toThrow(/no tokenizer found.*tokenizer\.json and vocab\.txt/);
    writeFileSync(join(dir, 'tokenizer_config.json'), '{ not json');
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer_config\.json: invalid JSON/);
    writeFileSync(join(dir, 'tokenizer_config.json'), '{}');
    writeFileSync(join(dir, 'vocab.txt'), 'a\nb\n');
    expect(() => loadTokenizer(dir)).toThrow(/vocab\.txt: the cls token "\[CLS\]" is not in the vocabulary/);
  });
});
