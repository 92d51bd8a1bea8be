"""Writes test/fixtures/own-data: a small 4-class data set (AG News' layout: label, title,
description) as CSV, TSV and JSON Lines, written by Python's csv and json modules (the dialects
pandas and most tools write), with fields that hold commas, quotes, tabs, line breaks and
non-ASCII text; plus expected.json, what csv.DictReader / json.loads read back, the reference the
TypeScript reader is checked against. Deterministic: rerun to regenerate.

    python3 scripts/make_own_data_fixtures.py
"""
import csv
import json
import os
import random

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'own-data')
LABELS = ['world', 'sports', 'business', 'sci/tech']
WORDS = {
    'world': 'the story was never awful though the acting seemed fresh',
    'sports': 'the music is hardly boring but the script is quite clumsy',
    'business': 'the movie seemed really charming and the plot was tedious',
    'sci/tech': 'though the acting was never very fresh the music seemed awful',
}
TRICKY = [
    'a title, with a comma',
    'a "quoted" word',
    'two\nlines',
    'a\ttab inside',
    'café — naïve ☕',
    '"starts with a quote',
    '',
]


def rows(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        words = WORDS[label].split()
        rng.shuffle(words)
        title = ' '.join(words[:5])
        desc = ' '.join(words[5:])
        if i < len(TRICKY):
            title = TRICKY[i] + ' ' + title if TRICKY[i] else title
            if TRICKY[i] == '':
                desc = ''
        out.append({'label': label, 'title': title, 'description': desc, 'score': round(i % 5 + rng.random(), 3)})
    return out


def write(split, data):
    fields = ['label', 'title', 'description']
    with open(os.path.join(OUT, f'{split}.csv'), 'w', newline='', encoding='utf-8') as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
        w.writeheader()
        w.writerows(data)
    # TSV: numeric labels 1..4 as AG News ships them (class index + 1).
    with open(os.path.join(OUT, f'{split}.tsv'), 'w', newline='', encoding='utf-8') as f:
        w = csv.DictWriter(f, fieldnames=fields, delimiter='\t', extrasaction='ignore')
        w.writeheader()
        w.writerows([{**r, 'label': LABELS.index(r['label']) + 1} for r in data])
    with open(os.path.join(OUT, f'{split}.jsonl'), 'w', encoding='utf-8') as f:
        for r in data:
            f.write(json.dumps({'topic': r['label'], 'title': r['title'], 'description': r['description'], 'score': r['score']}, ensure_ascii=False) + '\n')


def read_back(split):
    with open(os.path.join(OUT, f'{split}.csv'), newline='', encoding='utf-8') as f:
        csv_rows = [dict(r) for r in csv.DictReader(f)]
    with open(os.path.join(OUT, f'{split}.tsv'), newline='', encoding='utf-8') as f:
        tsv_rows = [dict(r) for r in csv.DictReader(f, delimiter='\t')]
    with open(os.path.join(OUT, f'{split}.jsonl'), encoding='utf-8') as f:
        jsonl_rows = [json.loads(line) for line in f if line.strip()]
    return {'csv': csv_rows, 'tsv': tsv_rows, 'jsonl': jsonl_rows}


def main():
    os.makedirs(OUT, exist_ok=True)
    write('train', rows(48, 1))
    write('dev', rows(16, 2))
    expected = {split: read_back(split) for split in ('train', 'dev')}
    # Label order as Hugging Face's run_glue.py orders a data set's labels: sorted(set(...)).
    expected['labels'] = {'csv': sorted({r['label'] for r in expected['train']['csv']}),
                          'tsv': [str(x) for x in sorted({int(r['label']) for r in expected['train']['tsv']})]}
    with open(os.path.join(OUT, 'expected.json'), 'w', encoding='utf-8') as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)


if __name__ == '__main__':
    main()
