#!/usr/bin/env python3
"""Reference ids for the byte-level BPE tokenizer tests (test/data/bpeTokenizer.test.ts).

Takes the byte-level BPE vocabulary of the built-in text corpus (data/text/vocab.json and
merges.txt, made by scripts/make_text_corpus.py) and builds `transformers`' GPT2TokenizerFast
from it in the two conventions of the decoders:

  test/fixtures/tokenizer-bpe-opt/    OPT's: `</s>` prepended to every input, `<pad>` padding
  test/fixtures/tokenizer-bpe-gpt2/   GPT-2's: no special tokens added, pairs concatenated

Each folder holds what save_pretrained writes (tokenizer.json, vocab.json, merges.txt, ...) and
expected.json: the ids transformers gives for the fixture sentences, alone, in pairs and
truncated longest-first to a few lengths.

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_bpe_tokenizer_fixtures.py
"""
import json
import os
import sys

import transformers
from transformers import GPT2TokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TEXT = os.path.join(ROOT, "data", "text")
FIXTURES = os.path.join(ROOT, "test", "fixtures")

SENTENCES = [
    "The cat does not carry an apple on sunday.",
    "the baker who is hungry finds the bread",
    "  Leading spaces,\ttabs and\nnew lines  ",
    "Numbers 12345 and 3.14, punctuation!? (yes) [no] {maybe}",
    "Unicode: héllo wörld, naïve café, Ελληνικά, 日本語, emoji 😀👍",
    "A literal </s> inside the text, and <pad> too.",
    "under_scores, hyphen-ated, CamelCase and ALLCAPS words",
    "",
    "x",
]
PAIRS = [(SENTENCES[0], SENTENCES[1]), (SENTENCES[3], SENTENCES[4]), (SENTENCES[1], "")]
MAX_LENGTHS = [5, 8, 13]


def expected(tok: GPT2TokenizerFast) -> dict:
    return {
        "transformers_version": transformers.__version__,
        "single": [{"text": s, "ids": tok(s)["input_ids"]} for s in SENTENCES],
        "pair": [{"a": a, "b": b, "ids": tok(a, b)["input_ids"]} for a, b in PAIRS],
        "truncated": [
            {"a": a, "b": b, "max_length": n, "ids": tok(a, b, truncation="longest_first", max_length=n)["input_ids"]}
            for a, b in PAIRS[:2] for n in MAX_LENGTHS
        ] + [
            {"a": s, "b": None, "max_length": n, "ids": tok(s, truncation=True, max_length=n)["input_ids"]}
            for s in SENTENCES[:4] for n in MAX_LENGTHS
        ],
    }


def write(tok: GPT2TokenizerFast, name: str) -> None:
    out = os.path.join(FIXTURES, name)
    os.makedirs(out, exist_ok=True)
    tok.save_pretrained(out)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected(tok), f, ensure_ascii=False, indent=1)
    print(f"wrote {out}", file=sys.stderr)


def main() -> None:
    files = dict(vocab_file=os.path.join(TEXT, "vocab.json"), merges_file=os.path.join(TEXT, "merges.txt"))
    write(GPT2TokenizerFast(**files, bos_token="</s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", add_bos_token=True), "tokenizer-bpe-opt")
    write(GPT2TokenizerFast(**files, bos_token="</s>", eos_token="</s>", unk_token="<unk>"), "tokenizer-bpe-gpt2")


if __name__ == "__main__":
    main()
