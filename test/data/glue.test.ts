import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { GLUE_TASK_NAMES, GLUE_TASKS, glueMetrics, loadGlue, parseGlueTsv } from '../../src/data';

const ROOT = join(__dirname, '..', 'fixtures', 'glue');

describe('GLUE readers on the miniature fixtures', () => {
  it.each(GLUE_TASK_NAMES)('%s: train and dev read, labels in range', (name) => {
    const spec = GLUE_TASKS[name];
    for (const split of ['train', 'dev'] as const) {
      const ds = loadGlue(ROOT, name, split);
      expect(ds.examples.length).toBeGreaterThan(0);
      for (const ex of ds.examples) {
        expect(ex.textA.length).toBeGreaterThan(0);
        expect(ex.textB !== undefined).toBe(spec.textB !== undefined);
        if (spec.labels === null) expect(ex.label).toBeGreaterThanOrEqual(0);
        else expect(spec.labels[ex.label as number]).toBeDefined();
      }
    }
  });

  it('CoLA: header-less, sentence in column 4, quotes kept, no trailing newline', () => {
    const dev = loadGlue(ROOT, 'cola', 'dev');
    expect(dev.examples.map((e) => [e.line, e.label])).toEqual([[1, 1], [2, 0], [3, 1]]);
    expect(dev.examples[0]?.textA).toBe('The dog barked at "nothing".');
    expect(dev.examples[2]?.textA).toBe('We saw him leave.');
    const test = loadGlue(ROOT, 'cola', 'test');
    expect(test.examples.map((e) => e.label)).toEqual([undefined, undefined]);
    expect(test.examples[0]?.textA).toBe('Who left the door open?');
  });

  it('SST-2: blank last line ignored, trailing space kept', () => {
    const train = loadGlue(ROOT, 'sst2', 'train');
    expect(train.examples).toHaveLength(3);
    expect(train.examples[0]).toEqual({ line: 2, textA: 'a wonderfully "odd" little film ', label: 1 });
  });

  it('MRPC: BOM and CRLF tolerated; label is Quality', () => {
    expect(loadGlue(ROOT, 'mrpc', 'train').examples[0]).toMatchObject({
      textA: 'The company said profits rose 5%.', textB: 'Profits rose 5%, the company said.', label: 1,
    });
    expect(loadGlue(ROOT, 'mrpc', 'dev').examples[1]).toMatchObject({ textB: 'It was sunny.', label: 0 });
  });

  it('MNLI: 12-column train and 16-column dev, gold_label, matched and mismatched files', () => {
    expect(loadGlue(ROOT, 'mnli', 'train').examples.map((e) => e.label)).toEqual([0, 1, 2]);
    const m = loadGlue(ROOT, 'mnli', 'dev');
    const mm = loadGlue(ROOT, 'mnli-mm', 'dev');
    expect(m.file.endsWith('dev_matched.tsv')).toBe(true);
    expect(mm.file.endsWith('dev_mismatched.tsv')).toBe(true);
    expect(m.examples[0]).toMatchObject({ textA: 'The shop opens at nine.', label: 1 });
  });

  it('STS-B: float scores; RTE: rows out of index order kept in file order', () => {
    expect(loadGlue(ROOT, 'stsb', 'dev').examples.map((e) => e.label)).toEqual([4.75, 2.5]);
    expect(loadGlue(ROOT, 'rte', 'train').examples.map((e) => e.label)).toEqual([0, 1]);
  });

  it('errors name the file and the line', () => {
    const rte = GLUE_TASKS.rte;
    const head = 'index\tsentence1\tsentence2\tlabel\n';
    expect(() => parseGlueTsv(`${head}0\ta\tb\tentailment\n1\ta\tb\n`, rte, 'train', 'RTE/train.tsv')).toThrow(
      'RTE/train.tsv:3: expected 4 tab-separated columns, found 3',
    );
    expect(() => parseGlueTsv(`${head}0\ta\tb\tmaybe\n`, rte, 'train', 'RTE/train.tsv')).toThrow(
      'RTE/train.tsv:2: unknown label "maybe" (expected one of entailment, not_entailment)',
    );
    expect(() => parseGlueTsv(`${head}0\ta\tb\tentailment\n\n1\ta\tb\tentailment\n`, rte, 'dev', 'x.tsv')).toThrow(
      'x.tsv:3: expected 4 tab-separated columns, found 1',
    );
    expect(() => parseGlueTsv('s\tl\n', GLUE_TASKS.sst2, 'train', 'y.tsv')).toThrow(
      'y.tsv:1: header has no column "sentence"',
    );
    expect(() => parseGlueTsv('c\t1\t\t"a"\tb\n', GLUE_TASKS.cola, 'train', 'c.tsv')).toThrow('c.tsv:1: expected 4');
    expect(() => loadGlue(join(ROOT, 'nowhere'), 'qqp', 'dev')).toThrow(/nowhere\/QQP\/dev\.tsv: cannot read/);
    expect(() =>
      parseGlueTsv(
        'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\ta\tb\thigh\n',
        GLUE_TASKS.stsb, 'train', 's.tsv',
      ),
    ).toThrow('s.tsv:2: score "high" is not a number');
  });

  it('STS-B: a score outside 0-5 is refused with the file and the line; the bounds themselves are read', () => {
    const head = 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n';
    const row = (i: number, score: string) => `${i}\tg\tf\ty\to\ts\ts\ta\tb\t${score}\n`;
    expect(parseGlueTsv(head + row(0, '0') + row(1, '5.000'), GLUE_TASKS.stsb, 'train', 's.tsv').examples.map((e) => e.label)).toEqual([0, 5]);
    expect(() => parseGlueTsv(head + row(0, '4.5') + row(1, '5.5'), GLUE_TASKS.stsb, 'train', 'STS-B/train.tsv')).toThrow(
      'STS-B/train.tsv:3: score 5.5 is outside the STS-B range 0-5',
    );
    expect(() => parseGlueTsv(head + row(0, '-0.2'), GLUE_TASKS.stsb, 'dev', 'STS-B/dev.tsv')).toThrow(
      'STS-B/dev.tsv:2: score -0.2 is outside the STS-B range 0-5',
    );
  });

  it('glueMetrics reports each task\'s metrics, main score first', () => {
    expect(Object.keys(glueMetrics('mrpc', [1, 0, 1], [1, 1, 1]))).toEqual(['f1', 'accuracy']);
    expect(glueMetrics('cola', [1, 0, 1], [1, 1, 1])).toEqual({ mcc: 0 });
    expect(glueMetrics('stsb', [1, 2, 3], [2, 4, 7]).spearman).toBeCloseTo(1, 12);
  });
});
