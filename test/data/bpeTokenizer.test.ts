import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/data';
import { ByteLevelBpeTokenizer } from '../../src/data/bpeTokenizer';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

interface Expected {
  single: { text: string; ids: number[] }[];
  pair: { a: string; b: string; ids: number[] }[];
  truncated: { a: string; b: string | null; max_length: number; ids: number[] }[];
}

/** The fixture folder without tokenizer.json: only vocab.json, merges.txt and the config. */
function filesOnly(fixture: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-bpe-'));
  for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json']) fs.copyFileSync(path.join(FIXTURES, fixture, f), path.join(dir, f));
  return dir;
}

for (const fixture of ['tokenizer-bpe-opt', 'tokenizer-bpe-gpt2']) {
  const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, fixture, 'expected.json'), 'utf8')) as Expected;
  for (const [source, dir] of [['tokenizer.json', path.join(FIXTURES, fixture)], ['vocab.json + merges.txt', filesOnly(fixture)]] as const) {
    describe(`${fixture} from ${source}: ids equal transformers' GPT2TokenizerFast`, () => {
      const tok = loadTokenizer(dir);
      it('is the byte-level BPE tokenizer', () => {
        expect(tok).toBeInstanceOf(ByteLevelBpeTokenizer);
        expect(tok.special.pad).toBe(fixture === 'tokenizer-bpe-opt' ? 1 : 2);
      });
      it('single sentences (spaces, newlines, unicode, emoji, a literal special token, empty)', () => {
        for (const e of expected.single) expect(tok.encode(e.text, { maxLength: 10_000 }).inputIds, JSON.stringify(e.text)).toEqual(e.ids);
      });
      it('pairs', () => {
        for (const e of expected.pair) expect(tok.encodePair(e.a, e.b, { maxLength: 10_000 }).inputIds).toEqual(e.ids);
      });
      it('truncation, longest first for pairs', () => {
        for (const e of expected.truncated) {
          const got = e.b === null ? tok.encode(e.a, { maxLength: e.max_length }) : tok.encodePair(e.a, e.b, { maxLength: e.max_length });
          expect(got.inputIds, `${e.a} | ${e.b} @ ${e.max_length}`).toEqual(e.ids);
        }
      });
    });
  }
}

describe('errors', () => {
  it('names the directory when neither tokenizer.json nor vocab.json + merges.txt exists', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-bpe-'));
    fs.writeFileSync(path.join(dir, 'vocab.json'), '{}');
    expect(() => ByteLevelBpeTokenizer.fromDirectory(dir)).toThrow(/no tokenizer\.json, nor vocab\.json with merges\.txt/);
  });
});
