#!/usr/bin/env python3
"""Reference batches for the seq2seq data tests (test/data/seq2seq.test.ts).

Writes small summarization and translation files in every supported layout to
test/fixtures/seq2seq/ and, for each, what Hugging Face's example scripts make of them with the
T5 tokenizer of test/fixtures/tokenizer-unigram-t5 (made by make_unigram_tokenizer_fixtures.py):

- the rows, read with Python's csv / json modules;
- the encoded examples, as `run_summarization.py`'s preprocess_function does it:
  `tokenizer(prefix + source, max_length=max_source_length, truncation=True)` and
  `tokenizer(text_target=target, max_length=max_target_length, truncation=True)`;
- padded batches of chosen examples from `DataCollatorForSeq2Seq(tokenizer, model=T5,
  label_pad_token_id=-100)` (with and without pad_to_multiple_of), whose decoder_input_ids come
  from T5's own `_shift_right` (model.prepare_decoder_input_ids_from_labels).

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_seq2seq_fixtures.py
"""
import csv
import json
import os
import sys

import torch
import transformers
from transformers import DataCollatorForSeq2Seq, T5Config, T5ForConditionalGeneration, T5TokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "test", "fixtures")
OUT = os.path.join(FIXTURES, "seq2seq")

ARTICLES = [
    ("The city council approved the new park plan on Monday after a long debate, the mayor said.",
     "Council approves park plan.\nMayor welcomes the vote."),
    ("Researchers at the university published a summary of their findings: prices rose by 3.5 percent, "
     "the highest increase in ten years, and \"nobody expected it\".", "Prices rose 3.5 percent."),
    ("Schöne Grüße aus München, wo die Bäckerei um 7 Uhr öffnet.", "Bäckerei öffnet früh."),
    ("Short one.", ""),
    ("A very long article " + "that goes on and on " * 12 + "until it stops.", "It is long, and it stops."),
    ("Numbers like 1, 2, 3, 10, 42 and 2024 appear; so do commas, \"quotes\" and\ttabs.", "Numbers appear."),
]
PARALLEL = [
    ("Das Haus ist wunderbar.", "The house is wonderful."),
    ("Der Hund läuft über die Straße.", "The dog runs across the street."),
    ("Ich möchte ein Glas Wasser, bitte.", "I would like a glass of water, please."),
    ("Er läuft jeden Morgen zehn Kilometer am Fluss entlang.", "He runs ten kilometres along the river every morning."),
    ("Wir müssen über die Zukunft der Städte sprechen.", "We must talk about the future of cities."),
]
BATCHES = [[0, 1, 2], [3, 4], [5, 0, 4, 2]]


def write_files() -> None:
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "news.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "article", "highlights"])
        for i, (a, h) in enumerate(ARTICLES):
            w.writerow([i, a, h])
    with open(os.path.join(OUT, "news.jsonl"), "w") as f:
        for i, (a, h) in enumerate(ARTICLES):
            f.write(json.dumps({"id": i, "article": a, "highlights": h}, ensure_ascii=False) + "\n")
    with open(os.path.join(OUT, "docs.tsv"), "w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["summary", "document"])
        for a, h in ARTICLES:
            w.writerow([h, a])
    with open(os.path.join(OUT, "train.de"), "w") as f:
        f.writelines(de + "\n" for de, _ in PARALLEL)
    with open(os.path.join(OUT, "train.en"), "w") as f:
        f.writelines(en + "\n" for _, en in PARALLEL)
    with open(os.path.join(OUT, "wmt.jsonl"), "w") as f:
        for de, en in PARALLEL:
            f.write(json.dumps({"translation": {"de": de, "en": en}}, ensure_ascii=False) + "\n")


def read_rows(name: str) -> list:
    """(source, target) pairs with Python's own readers, independent of the library's."""
    if name == "news.csv":
        with open(os.path.join(OUT, name), newline="") as f:
            return [(r["article"], r["highlights"]) for r in csv.DictReader(f)]
    if name == "news.jsonl":
        with open(os.path.join(OUT, name)) as f:
            return [(o["article"], o["highlights"]) for o in map(json.loads, f)]
    if name == "docs.tsv":
        with open(os.path.join(OUT, name), newline="") as f:
            return [(r["document"], r["summary"]) for r in csv.DictReader(f, delimiter="\t")]
    if name == "parallel":
        with open(os.path.join(OUT, "train.de")) as f, open(os.path.join(OUT, "train.en")) as g:
            return list(zip(f.read().splitlines(), g.read().splitlines()))
    if name == "wmt.jsonl":
        with open(os.path.join(OUT, name)) as f:
            return [(o["translation"]["de"], o["translation"]["en"]) for o in map(json.loads, f)]
    raise ValueError(name)


# name, the library's options, rows.
CASES = [
    ("news.csv", {"train": "news.csv", "prefix": "summarize: ", "maxSourceLength": 24, "maxTargetLength": 8}),
    ("news.jsonl", {"train": "news.jsonl", "prefix": "summarize: ", "maxSourceLength": 512, "maxTargetLength": 128}),
    ("docs.tsv", {"train": "docs.tsv", "sourceColumn": "document", "targetColumn": "summary", "prefix": "", "maxSourceLength": 16, "maxTargetLength": 6}),
    ("parallel", {"train": {"source": "train.de", "target": "train.en"}, "prefix": "translate German to English: ", "maxSourceLength": 20, "maxTargetLength": 12}),
    ("wmt.jsonl", {"train": "wmt.jsonl", "sourceColumn": "translation.de", "targetColumn": "translation.en", "prefix": "translate German to English: ", "maxSourceLength": 64, "maxTargetLength": 64}),
]


PREDICTIONS = [
    ("Council approves the park plan.\nThe mayor welcomes it.", ARTICLES[0][1]),
    ("Prices rose by 3.5 percent.", ARTICLES[1][1]),
    ("", ARTICLES[2][1]),
    ("  It is long and it stops.  ", ARTICLES[4][1]),
    ("Numbers appear.", ARTICLES[5][1]),
    ("running runners ran", "the runner runs"),
]


def metrics() -> dict:
    """What run_summarization.py and run_translation.py report: rouge_score F-measures with the
    stemmer, averaged over examples, and sacrebleu's corpus BLEU; texts trimmed; x100."""
    from rouge_score import rouge_scorer
    import sacrebleu

    preds = [p.strip() for p, _ in PREDICTIONS]
    refs = [r.strip() for _, r in PREDICTIONS]
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(types, use_stemmer=True)
    scores = [scorer.score(r, p) for p, r in zip(preds, refs)]
    rouge = {t: 100 * sum(s[t].fmeasure for s in scores) / len(scores) for t in types}
    exact = 100 * sum(p == r for p, r in zip(preds, refs)) / len(preds)
    return {
        "predictions": [p for p, _ in PREDICTIONS], "references": [r for _, r in PREDICTIONS],
        "summarization": {**rouge, "exactMatch": exact},
        "translation": {"bleu": sacrebleu.corpus_bleu(preds, [refs]).score, "exactMatch": exact},
    }


def main() -> None:
    write_files()
    tok = T5TokenizerFast.from_pretrained(os.path.join(FIXTURES, "tokenizer-unigram-t5"))
    config = T5Config(vocab_size=len(tok), d_model=8, d_kv=4, d_ff=8, num_layers=1, num_heads=2, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config)
    cases = []
    for name, options in CASES:
        rows = read_rows(name)
        prefix = options["prefix"]
        inputs = tok([prefix + s for s, _ in rows], max_length=options["maxSourceLength"], truncation=True)
        labels = tok(text_target=[t for _, t in rows], max_length=options["maxTargetLength"], truncation=True)
        features = [{"input_ids": i, "attention_mask": m, "labels": l} for i, m, l in zip(inputs["input_ids"], inputs["attention_mask"], labels["input_ids"])]
        batches = []
        for multiple in (None, 8):
            collator = DataCollatorForSeq2Seq(tok, model=model, label_pad_token_id=-100, pad_to_multiple_of=multiple)
            for idx in BATCHES:
                idx = [i % len(rows) for i in idx]
                b = collator([dict(features[i]) for i in idx])
                batches.append({"indices": idx, "pad_to_multiple_of": multiple, **{k: b[k].tolist() for k in ("input_ids", "attention_mask", "labels", "decoder_input_ids")}})
        cases.append({
            "name": name, "options": options,
            "rows": [{"source": s, "target": t} for s, t in rows],
            "encoded": [{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features],
            "batches": batches,
        })
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"transformers_version": transformers.__version__, "tokenizer": "tokenizer-unigram-t5", "cases": cases, "metrics": metrics()}, f, ensure_ascii=False)
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
