import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  builtinSeq2seqTask, BUILTIN_SEQ2SEQ_PREFIX, LABEL_PAD_ID, loadSeq2seqTokenizer, loadTokenizer, makeSeq2seqBatches, padSeq2seqBatch, readSeq2seqFile,
  seq2seqFileTask, seq2seqMetrics, SEQ2SEQ_TASK_DIR, shiftRight, UnigramTokenizer, type Seq2seqFileTaskOptions, type Seq2seqFiles,
} from '../../src/data';

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const DIR = path.join(FIXTURES, 'seq2seq');

interface Case {
  name: string;
  options: Omit<Seq2seqFileTaskOptions, 'dev'> & { train: Seq2seqFiles };
  rows: { source: string; target: string }[];
  encoded: { input_ids: number[]; labels: number[] }[];
  batches: { indices: number[]; pad_to_multiple_of: number | null; input_ids: number[][]; attention_mask: number[][]; labels: number[][]; decoder_input_ids: number[][] }[];
}
// Made by scripts/make_seq2seq_fixtures.py: rows read by Python's csv/json, examples encoded as
// run_summarization.py does, batches from transformers' DataCollatorForSeq2Seq with a T5 model.
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as {
  cases: Case[];
  metrics: { predictions: string[]; references: string[]; summarization: Record<string, number>; translation: Record<string, number> };
};
const tokenizer = loadTokenizer(path.join(FIXTURES, 'tokenizer-unigram-t5')) as UnigramTokenizer;

function inFixtures(files: Seq2seqFiles): Seq2seqFiles {
  return typeof files === 'string' ? path.join(DIR, files) : { source: path.join(DIR, files.source), target: path.join(DIR, files.target) };
}

for (const c of expected.cases) {
  describe(`${c.name}: as transformers' run_summarization.py + DataCollatorForSeq2Seq`, () => {
    const files = inFixtures(c.options.train);
    const task = seq2seqFileTask({ ...c.options, train: files, dev: files }, tokenizer);
    it('reads the rows as Python reads them', () => {
      expect(readSeq2seqFile(files, c.options).map((r) => ({ source: r.source, target: r.target }))).toEqual(c.rows);
      expect(task.devSources).toEqual(c.rows.map((r) => r.source));
      expect(task.devTargets).toEqual(c.rows.map((r) => r.target));
    });
    it('encodes prefix + source and target with </s>, each truncated to its length', () => {
      expect(task.train.map((e) => ({ input_ids: e.inputIds, labels: e.labels }))).toEqual(c.encoded);
    });
    it('pads batches: pad id and mask 0 in sources, -100 in labels, decoder inputs shifted right behind the pad id', () => {
      for (const b of c.batches) {
        const got = padSeq2seqBatch(task.train, b.indices, { padId: tokenizer.special.pad, padToMultipleOf: b.pad_to_multiple_of ?? undefined });
        expect(got.size).toBe(b.indices.length);
        expect([got.sourceLen, got.targetLen]).toEqual([b.input_ids[0]?.length, b.labels[0]?.length]);
        expect(Array.from(got.inputIds)).toEqual(b.input_ids.flat());
        expect(Array.from(got.attentionMask)).toEqual(b.attention_mask.flat());
        expect(Array.from(got.labels)).toEqual(b.labels.flat());
        expect(Array.from(got.decoderInputIds)).toEqual(b.decoder_input_ids.flat());
      }
    });
  });
}

describe('files are read in pieces of whole records', () => {
  // Pieces of a few bytes cut inside quoted fields with line breaks, doubled quotes and UTF-8
  // characters: the rows must not change.
  for (const c of expected.cases) {
    it(c.name, () => {
      const files = inFixtures(c.options.train);
      const whole = readSeq2seqFile(files, c.options);
      for (const bytes of [1, 7, 64]) expect(readSeq2seqFile(files, c.options, bytes), `${bytes} bytes`).toEqual(whole);
    });
  }
  it('errors still name the line of the whole file', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-seq2seq-'));
    const csv = path.join(tmp, 'big.csv');
    fs.writeFileSync(csv, 'article,highlights\n' + '"a, ""b""\nc",d\n'.repeat(20) + 'x,y,z\n');
    expect(() => readSeq2seqFile(csv, {}, 16)).toThrow(`${csv}:42:5: expected 2 fields (as the header), found 3`);
    fs.writeFileSync(csv, 'article,highlights\n' + 'a,b\n'.repeat(30) + '"a"b,c\n');
    expect(() => readSeq2seqFile(csv, {}, 16)).toThrow(`${csv}:32:4: unexpected "b" after the closing quote`);
    const jsonl = path.join(tmp, 'big.jsonl');
    fs.writeFileSync(jsonl, '{"article": "ä", "highlights": "b"}\n'.repeat(25) + '{"article": 1, "highlights": "b"}\n');
    expect(() => readSeq2seqFile(jsonl, {}, 16)).toThrow(`${jsonl}:26:"article": expected a string, found 1`);
  });
});

describe('task defaults', () => {
  it('CNN/DailyMail columns and summarization metrics for a CSV, translation for parallel files', () => {
    const csv = seq2seqFileTask({ dev: path.join(DIR, 'news.csv') }, tokenizer);
    expect(csv.kind).toBe('summarization');
    expect(csv.devSources[0]).toMatch(/^The city council/);
    expect(csv.maxSourceLength).toBe(512);
    expect(csv.maxTargetLength).toBe(128);
    expect(csv.train).toEqual([]);
    const par = seq2seqFileTask({ dev: { source: path.join(DIR, 'train.de'), target: path.join(DIR, 'train.en') } }, tokenizer);
    expect(par.kind).toBe('translation');
    expect(par.name).toBe('seq2seq'); // train.de: named after its folder
  });
  it('a parallel stem takes the two columns as the files\' extensions', () => {
    const rows = readSeq2seqFile(path.join(DIR, 'train'), { format: 'parallel', sourceColumn: 'de', targetColumn: 'en' });
    expect(rows[1]).toEqual({ source: 'Der Hund läuft über die Straße.', target: 'The dog runs across the street.', line: 2, where: `${path.join(DIR, 'train.de')}:2:1` });
  });
});

describe('metrics equal rouge_score (stemmer) and sacrebleu, x100, on trimmed texts', () => {
  const m = expected.metrics;
  for (const kind of ['summarization', 'translation'] as const) {
    it(kind, () => {
      const got = seq2seqMetrics(kind, m.predictions, m.references);
      expect(Object.keys(got).sort()).toEqual(Object.keys(m[kind]).sort());
      for (const [k, v] of Object.entries(m[kind])) expect(got[k], k).toBeCloseTo(v, 9);
    });
  }
});

describe('loadSeq2seqTokenizer', () => {
  it("loads T5's tokenizer and refuses one that cannot decode, naming the directory", () => {
    expect(loadSeq2seqTokenizer(SEQ2SEQ_TASK_DIR).decode([23, 1])).toBe('four');
    const bert = path.join(FIXTURES, 'tokenizer');
    expect(() => loadSeq2seqTokenizer(bert)).toThrow(`${bert}: its tokenizer (HfTokenizer) cannot turn ids back into text`);
  });
});

describe('shiftRight', () => {
  it("is T5's _shift_right: start id first, -100 read as pad", () => {
    const labels = Int32Array.from([5, 6, 1, LABEL_PAD_ID, 7, 1, LABEL_PAD_ID, LABEL_PAD_ID]);
    expect(Array.from(shiftRight(labels, 2, 4, 9, 0))).toEqual([9, 5, 6, 1, 9, 7, 1, 0]);
  });
});

describe('batches of an epoch', () => {
  const task = builtinSeq2seqTask();
  it('hold every example once, labels -100 exactly where a target has ended', () => {
    const batches = makeSeq2seqBatches(task.train, { batchSize: 64, padId: 0, seed: 3, epoch: 1 });
    const seen = batches.flatMap((b) => Array.from(b.indices)).sort((a, b) => a - b);
    expect(seen).toEqual(task.train.map((_, i) => i));
    for (const b of batches.slice(0, 5)) {
      b.indices.forEach((ex, row) => {
        const labels = Array.from(b.labels.subarray(row * b.targetLen, (row + 1) * b.targetLen));
        const n = task.train[ex]?.labels.length as number;
        expect(labels.slice(0, n)).toEqual(task.train[ex]?.labels);
        expect(labels.slice(n).every((v) => v === LABEL_PAD_ID)).toBe(true);
      });
    }
  });
});

describe('the built-in seq2seq task', () => {
  const task = builtinSeq2seqTask();
  const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
  const spell = (digits: string) => digits.split(' ').map((d) => words[Number(d)]).join(' ');
  it('spells every source digit by digit, and no dev source is a training source', () => {
    expect(task.train.length).toBe(2000);
    expect(task.dev.length).toBe(200);
    const trainRows = readSeq2seqFile(path.join(SEQ2SEQ_TASK_DIR, 'train.tsv'), { sourceColumn: 'source', targetColumn: 'target' });
    for (const r of trainRows) expect(r.target).toBe(spell(r.source));
    task.devSources.forEach((s, i) => expect(task.devTargets[i]).toBe(spell(s)));
    const train = new Set(trainRows.map((r) => r.source));
    expect(task.devSources.filter((s) => train.has(s))).toEqual([]);
  });
  it('its tokenizer knows every word (no <unk>), nothing is truncated, and decoding gives the texts back', () => {
    const unk = task.tokenizer.special.unk;
    for (const e of [...task.train, ...task.dev]) {
      expect(e.inputIds.includes(unk) || e.labels.includes(unk)).toBe(false);
      expect(e.inputIds.length).toBeLessThan(task.maxSourceLength);
      expect(e.labels.length).toBeLessThan(task.maxTargetLength);
    }
    task.dev.forEach((e, i) => {
      expect(task.tokenizer.decode(e.labels)).toBe(task.devTargets[i]);
      expect(task.tokenizer.decode(e.inputIds)).toBe(BUILTIN_SEQ2SEQ_PREFIX + task.devSources[i]);
    });
  });
});

describe('errors name the file, the line and the column', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-seq2seq-'));
  const write = (name: string, text: string) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    return f;
  };
  it('a missing column', () => {
    const f = write('a.csv', 'article,summary\nx,y\n');
    expect(() => readSeq2seqFile(f)).toThrow(`${f}:1: the header has no column "highlights" (columns: article, summary); name the column with --target-column`);
  });
  it('a row with too many fields', () => {
    const f = write('b.csv', 'article,highlights\nx,y\nan article, with a comma,z\n');
    expect(() => readSeq2seqFile(f)).toThrow(`${f}:3:26: expected 2 fields (as the header), found 3`);
  });
  it('broken quoting', () => {
    const f = write('c.csv', 'article,highlights\n"x"y,z\n');
    expect(() => readSeq2seqFile(f)).toThrow(`${f}:2:4: unexpected "y" after the closing quote`);
  });
  it('invalid JSON, a missing key, a value that is not a string', () => {
    const f = write('d.jsonl', '{"article": "a", "highlights": "b"}\n{"article": "a" "highlights": "b"}\n');
    expect(() => readSeq2seqFile(f)).toThrow(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:17: not valid JSON`));
    const g = write('e.jsonl', '{"article": "a", "summary": "b"}\n');
    expect(() => readSeq2seqFile(g)).toThrow(`${g}:1: no key "highlights" (keys: article, summary); name it with --target-column`);
    const h = write('f.jsonl', '{"article": "a", "highlights": 3}\n');
    expect(() => readSeq2seqFile(h)).toThrow(`${h}:1:"highlights": expected a string, found 3`);
  });
  it('parallel files of different lengths, a stem without languages, an unknown extension', () => {
    const de = write('p.de', 'a\nb\n');
    const en = write('p.en', 'a\n');
    expect(() => readSeq2seqFile({ source: de, target: en })).toThrow(`${de} has 2 lines but ${en} has 1`);
    expect(() => readSeq2seqFile(path.join(tmp, 'p'), { format: 'parallel' })).toThrow(/a parallel stem needs the two languages as sourceColumn and targetColumn/);
    expect(() => readSeq2seqFile(write('q.txt', 'x'))).toThrow(/cannot tell the format from the extension '.txt'/);
  });
});
