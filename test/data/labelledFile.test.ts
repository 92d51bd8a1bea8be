import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  classExamples, discoverLabels, jsonErrorColumn, labelledFileFormat, parseDelimited, parseLabelledDelimited, parseLabelledJsonl, readLabelledFile,
  regressionExamples, type LabelledRow,
} from '../../src/data';

const DIR = join(__dirname, '..', 'fixtures', 'own-data');
// What Python's csv.DictReader and json.loads read from the same files (scripts/make_own_data_fixtures.py).
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8'));

describe('CSV and TSV records, against Python\'s csv module', () => {
  for (const format of ['csv', 'tsv'] as const) {
    for (const split of ['train', 'dev'] as const) {
      it(`reads ${split}.${format} as csv.DictReader does (quotes, commas, tabs, line breaks, non-ASCII)`, () => {
        const file = join(DIR, `${split}.${format}`);
        const rows = readLabelledFile(file, { text: 'title', textPair: 'description' });
        const ref = expected[split][format] as { label: string; title: string; description: string }[];
        expect(rows.map((r) => ({ label: r.label, title: r.textA, description: r.textB }))).toEqual(ref);
      });
    }
  }

  it('reads JSON Lines as json.loads does, with any key names', () => {
    const rows = readLabelledFile(join(DIR, 'train.jsonl'), { text: 'title', textPair: 'description', label: 'topic' });
    const ref = expected.train.jsonl as { topic: string; title: string; description: string }[];
    expect(rows.map((r) => ({ topic: r.label, title: r.textA, description: r.textB }))).toEqual(ref.map(({ topic, title, description }) => ({ topic, title, description })));
  });

  it('finds the column of a JSON syntax error in the line, whatever V8 says about it', () => {
    // The column of the offending character, found by hand.
    const cases: [string, number][] = [
      ['{"text": "b", "label": }', 24],
      ['{"text": "b", "label": }, "more": 1234567890}', 24],
      ['{"a": tru}', 10],
      ['{"a" 1}', 6],
      ['{"a": 1', 8],
      ['{a: 1}', 2],
    ];
    for (const [line, column] of cases) {
      let message = '';
      try { JSON.parse(line); } catch (e) { message = (e as Error).message; }
      expect(jsonErrorColumn(line, message)).toBe(column);
    }
    expect(jsonErrorColumn('x', 'some other engine')).toBeUndefined();
  });

  it('gives each record the line it starts on and each field its line and column', () => {
    const recs = parseDelimited('\ufeffa,b\r\n"x\ny",2\n\nlast,"q"', ',', 'f.csv');
    expect(recs.map((r) => r.line)).toEqual([1, 2, 5]);
    expect(recs[1].fields.map((f) => [f.value, f.line, f.column])).toEqual([['x\ny', 2, 1], ['2', 3, 4]]);
    expect(recs[2].fields.map((f) => f.value)).toEqual(['last', 'q']);
    // A quote inside an unquoted field is a character, as Python reads it.
    expect(parseDelimited('5" screen,1', ',', 'f.csv')[0].fields.map((f) => f.value)).toEqual(['5" screen', '1']);
  });

  it('names the file, line and column of malformed quoting and of rows of the wrong width', () => {
    expect(() => parseDelimited('text,label\n"open,1\n', ',', 'bad.csv')).toThrow('bad.csv:2:1: quoted field is not closed');
    expect(() => parseDelimited('text,label\n"a"b,1\n', ',', 'bad.csv')).toThrow('bad.csv:2:4: unexpected "b" after the closing quote');
    expect(() => parseLabelledDelimited('text,label\nok,1\na, b,1\n', ',', 'bad.csv')).toThrow('bad.csv:3:6: expected 2 fields (as the header), found 3 (a field holding a comma must be quoted)');
    expect(() => parseLabelledDelimited('text,label\nok,\n', ',', 'bad.csv')).toThrow('bad.csv:2:4: the label (column "label") is empty');
    expect(() => parseLabelledDelimited('sentence,label\nok,1\n', ',', 'bad.csv')).toThrow('bad.csv:1: the header has no column "text" (columns: sentence, label); name the column with --text-column');
    expect(() => parseLabelledJsonl('{"text": "a", "label": 1}\n{"text": "b", "label": }\n', 'bad.jsonl')).toThrow(/^bad\.jsonl:2:24: not valid JSON .*: each line must be one JSON object$/);
    expect(() => parseLabelledJsonl('{"text": "a"}\n', 'bad.jsonl')).toThrow('bad.jsonl:1: no key "label" (keys: text); name it with --label-column');
    expect(() => parseLabelledJsonl('{"text": 3, "label": 1}\n', 'bad.jsonl')).toThrow('bad.jsonl:1: key "text": expected a string, found 3');
    expect(() => labelledFileFormat('data.xlsx')).toThrow("data.xlsx: cannot tell the format from the extension '.xlsx': name the file .csv, .tsv or .jsonl");
  });
});

describe('labels', () => {
  const row = (label: string, line = 1): LabelledRow => ({ line, textA: 't', label, where: `f.csv:${line}:3` });

  it('are ordered as Hugging Face\'s run_glue orders them: sorted strings, or numbers by value', () => {
    const csvRows = readLabelledFile(join(DIR, 'train.csv'), { text: 'title' });
    expect(discoverLabels(csvRows)).toEqual(expected.labels.csv);
    expect(discoverLabels(csvRows)).toHaveLength(4);
    const tsvRows = readLabelledFile(join(DIR, 'train.tsv'), { text: 'title' });
    expect(discoverLabels(tsvRows)).toEqual(expected.labels.tsv);
    // 10 after 9 (numeric), and the order does not depend on the order of the rows.
    expect(discoverLabels(['10', '9', '-1', '2'].map((l) => row(l)))).toEqual(['-1', '2', '9', '10']);
    expect(discoverLabels(['b', 'B', 'a'].map((l) => row(l)))).toEqual(['B', 'a', 'b']);
  });

  it('become class ids; a label the training file lacks is an error at its spot', () => {
    expect(classExamples([row('b'), row('a')], ['a', 'b'], 'train.csv').map((e) => e.label)).toEqual([1, 0]);
    expect(() => classExamples([row('a'), row('c', 7)], ['a', 'b'], 'the training file train.csv'))
      .toThrow('f.csv:7:3: label "c" does not occur in the training file train.csv (labels: a, b)');
  });

  it('are numbers for regression, and a label that is not one is an error at its spot', () => {
    const rows = readLabelledFile(join(DIR, 'train.jsonl'), { text: 'title', label: 'score' });
    expect(regressionExamples(rows).map((e) => e.label)).toEqual((expected.train.jsonl as { score: number }[]).map((r) => r.score));
    expect(() => regressionExamples([row('1.5'), row('high', 4)])).toThrow('f.csv:4:3: label "high" is not a number (a regression target must be one)');
  });
});
