#!/usr/bin/env python3
"""The built-in seq2seq task (data/seq2seq/): spell a number's digits as words.

  source: 4 0 7 1          target: four zero seven one

Sources are 2 to 8 digits separated by spaces, drawn from a seeded generator; the target names
each digit in order. The mapping is deterministic and token by token, so a tiny T5 learns it in
seconds, and exact match, BLEU and ROUGE all reach 100 when it has. No dev source occurs in train.

Also writes the task's tokenizer beside it: a SentencePiece Unigram model trained on the task's
texts with `sentencepiece` (T5's ids pad 0, eos 1, unk 2) and converted by transformers' T5
converter, so that it has T5's tokenizer.json layout (Strip, Replace, Metaspace, `A </s>`). Its
texts are ASCII, so the identity normalization rule serves and keeps the file small (T5's
nmt_nfkc character map alone is 300 kB; the tokenizer tests cover it). src/data/seq2seq.ts's builtinSeq2seqTask reads it with the prefix "spell: ".

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_seq2seq_task.py
"""
import io
import json
import os
import random
import sys
import tempfile

import sentencepiece as spm
from transformers import T5TokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "data", "seq2seq")
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PREFIX = "spell: "
SEED = 13
N_TRAIN = 2000
N_DEV = 200


def example(rng: random.Random) -> tuple:
    digits = [rng.randrange(10) for _ in range(rng.randint(2, 8))]
    return " ".join(str(d) for d in digits), " ".join(WORDS[d] for d in digits)


def main() -> None:
    rng = random.Random(SEED)
    seen = set()
    pairs = []
    while len(pairs) < N_TRAIN + N_DEV:
        src, tgt = example(rng)
        if src in seen:
            continue
        seen.add(src)
        pairs.append((src, tgt))
    train, dev = pairs[:N_TRAIN], pairs[N_TRAIN:]
    os.makedirs(OUT, exist_ok=True)
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        with open(os.path.join(OUT, name), "w") as f:
            f.write("source\ttarget\n")
            for src, tgt in rows:
                f.write(f"{src}\t{tgt}\n")

    texts = [PREFIX + s for s, _ in train] + [t for _, t in train]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, model_type="unigram", vocab_size=64,
        normalization_rule_name="identity", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False,
        character_coverage=1.0, minloglevel=2,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spiece.model")
        with open(path, "wb") as f:
            f.write(model.getvalue())
        tok = T5TokenizerFast(vocab_file=path, extra_ids=0, model_max_length=64, add_prefix_space=True, legacy=True)
        tok.save_pretrained(OUT)
    # The library reads tokenizer.json; the binary model is not needed, and the config must not
    # ask for a reconversion from it.
    for extra in ("spiece.model",):
        if os.path.exists(os.path.join(OUT, extra)):
            os.remove(os.path.join(OUT, extra))
    config_path = os.path.join(OUT, "tokenizer_config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["add_prefix_space"] = None
    with open(config_path, "w") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
    # Every word of the task must be a known piece sequence: no <unk> in any source or target.
    check = T5TokenizerFast.from_pretrained(OUT)
    for src, tgt in pairs:
        for text in (PREFIX + src, tgt):
            if check.unk_token_id in check(text)["input_ids"]:
                sys.exit(f"{text!r} has an unknown piece")
    print(f"wrote {OUT}: {len(train)} train, {len(dev)} dev, vocabulary {len(check)}", file=sys.stderr)


if __name__ == "__main__":
    main()
