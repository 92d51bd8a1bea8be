import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/data';
import { UnigramModel, UnigramTokenizer } from '../../src/data/unigram';
import { makeNormalizer, PrecompiledCharsmap } from '../../src/data/unigramNormalize';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

interface Expected {
  vocab_size: number;
  single: { text: string; normalized: string; ids: number[]; tokens: string[]; decoded: string; decoded_special: string; decoded_clean?: string }[];
  pair: { a: string; b: string; ids: number[] }[];
  truncated: { a: string; b: string | null; max_length: number; ids: number[] }[];
}

// Made by scripts/make_unigram_tokenizer_fixtures.py: the references are transformers'
// T5TokenizerFast (the first three) and the `tokenizers` package's Tokenizer (the byte-fallback one).
const FIXTURE_NAMES = ['tokenizer-unigram', 'tokenizer-unigram-t5', 'tokenizer-unigram-t5-first', 'tokenizer-unigram-bytes'];

for (const fixture of FIXTURE_NAMES) {
  const dir = path.join(FIXTURES, fixture);
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
  describe(`${fixture}: ids equal the reference tokenizer's`, () => {
    const tok = loadTokenizer(dir) as UnigramTokenizer;
    it('loads as the Unigram tokenizer with T5 special tokens', () => {
      expect(tok).toBeInstanceOf(UnigramTokenizer);
      expect(tok.vocabSize).toBe(expected.vocab_size);
      expect(tok.special.pad).toBe(0);
      expect(tok.eosId).toBe(1);
      expect(tok.special.unk).toBe(2);
      expect(tok.modelMaxLength).toBe(64);
    });
    it('single texts (English, German, numbers, punctuation, unicode, empty, repeated spaces, literal special tokens)', () => {
      for (const e of expected.single) {
        const got = tok.encode(e.text, { maxLength: 10_000 }).inputIds;
        expect(got, JSON.stringify(e.text)).toEqual(e.ids);
        // The pieces of ids (unknown runs read back as <unk>, as convert_ids_to_tokens does).
        expect(got.map((i) => tok.idToToken(i))).toEqual(e.tokens);
      }
    });
    it("normalizes as the file's normalizer does (NFKC or T5's Precompiled map, grapheme clusters, spaces)", () => {
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
      const normalize = makeNormalizer(json.normalizer, fixture);
      for (const e of expected.single) expect(normalize(e.text), JSON.stringify(e.text)).toBe(e.normalized);
    });
    it('pairs', () => {
      for (const e of expected.pair) expect(tok.encodePair(e.a, e.b, { maxLength: 10_000 }).inputIds).toEqual(e.ids);
    });
    it('truncation keeps </s> (longest first for pairs)', () => {
      for (const e of expected.truncated) {
        const got = e.b === null ? tok.encode(e.a, { maxLength: e.max_length }) : tok.encodePair(e.a, e.b, { maxLength: e.max_length });
        expect(got.inputIds, `${e.a} | ${e.b} @ ${e.max_length}`).toEqual(e.ids);
      }
    });
    it('decode undoes Metaspace, with and without special tokens', () => {
      for (const e of expected.single) {
        expect(tok.decode(e.ids), JSON.stringify(e.text)).toBe(e.decoded);
        expect(tok.decode(e.ids, { skipSpecialTokens: false }), JSON.stringify(e.text)).toBe(e.decoded_special);
        if (e.decoded_clean !== undefined) expect(tok.decode(e.ids, { cleanUpTokenizationSpaces: true }), JSON.stringify(e.text)).toBe(e.decoded_clean);
      }
    });
  });
}

describe("older T5 files' layout (Precompiled alone, WhitespaceSplit + Metaspace with add_prefix_space)", () => {
  const dir = path.join(FIXTURES, 'tokenizer-unigram-t5');
  const legacy = (JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as {
    legacy_layout: { pre_tokenizer: unknown; decoder: unknown; single: { text: string; normalized: string; ids: number[]; decoded: string }[] };
  }).legacy_layout;
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const tok = new UnigramTokenizer({ ...json, normalizer: json.normalizer.normalizers[0], pre_tokenizer: legacy.pre_tokenizer, decoder: legacy.decoder }, config);
  it('ids and decoded texts equal the tokenizers package', () => {
    for (const e of legacy.single) {
      expect(tok.encode(e.text, { maxLength: 10_000 }).inputIds, JSON.stringify(e.text)).toEqual(e.ids);
      expect(tok.decode(e.ids), JSON.stringify(e.text)).toBe(e.decoded);
    }
  });
});

describe('Unigram model', () => {
  // The example of the `tokenizers` crate's documentation of Unigram::encode.
  const model = new UnigramModel([['<unk>', 0], ['a', 0], ['b', 0], ['c', 0], ['d', 0], ['cd', 1], ['ab', 2], ['abc', 5], ['abcd', 10]], 0, false);
  it('finds the highest-scoring segmentation and fuses unknown characters', () => {
    expect(model.segment('abcdacdxx')).toEqual(['abcd', 'a', 'cd', 'xx']);
  });
  it('keeps the first of equally scored paths found (earlier starts first), as the crate does', () => {
    const tie = new UnigramModel([['<unk>', 0], ['a', -1], ['b', -1], ['ab', -2], ['c', -1], ['bc', -2]], 0, false);
    expect(tie.segment('ab')).toEqual(['ab']);
    // Both a|bc and ab|c score -3; a|bc reaches the end first (from start 1), ab|c later ties.
    expect(tie.segment('abc')).toEqual(['a', 'bc']);
  });
  it('scores an unknown character 10 below the lowest piece (outputs of the tokenizers package)', () => {
    // x|yz needs one unknown: -12 - 10 - 1 = -23 loses to xy|z = -20 (without the penalty, -13 would win).
    expect(new UnigramModel([['<unk>', 0], ['xy', -10], ['z', -10], ['yz', -1], ['q', -12]], 0, false).segment('xyz')).toEqual(['xy', 'z']);
  });
  it('spells unknown text as byte pieces with byte fallback, else as unk', () => {
    const vocab: [string, number][] = [['<unk>', 0], ['a', -1]];
    for (let b = 0; b < 256; b++) vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, -5]);
    const ids: number[] = [];
    new UnigramModel(vocab, 0, true).encodeWord('aé', ids, []);
    expect(ids).toEqual([1, 2 + 0xc3, 2 + 0xa9]);
    const unk: number[] = [];
    new UnigramModel(vocab.slice(0, 2), 0, true).encodeWord('aé', unk, []);
    expect(unk).toEqual([1, 0]);
  });
});

describe('Precompiled character map', () => {
  const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tokenizer-unigram-t5', 'tokenizer.json'), 'utf8'));
  const map = PrecompiledCharsmap.fromBase64(json.normalizer.normalizers[0].precompiled_charsmap);
  it("applies SentencePiece's nmt_nfkc rules (full width, ligatures, circled digits, odd spaces)", () => {
    expect(map.normalize('ｆｕｌｌ ﬁ ① a\u00a0b')).toBe('full fi 1 a b');
    expect(map.normalize('plain ascii')).toBe('plain ascii');
  });
});

describe('errors', () => {
  it('names the file and the unsupported part', () => {
    const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tokenizer-unigram', 'tokenizer.json'), 'utf8'));
    json.normalizer = { type: 'BertNormalizer' };
    expect(() => new UnigramTokenizer(json, {}, { source: 'x/tokenizer.json' })).toThrow(/x\/tokenizer\.json: normalizer "BertNormalizer" is not supported/);
  });
  it('a tokenizer.json with another model is not read as Unigram', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-unigram-'));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'WordPiece' } }));
    expect(() => UnigramTokenizer.fromDirectory(dir)).toThrow(/model type "WordPiece" is not Unigram/);
  });
});
