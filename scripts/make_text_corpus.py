#!/usr/bin/env python3
"""The built-in text corpus for causal language modelling (data/text), and its tokenizer.

Sentences are drawn from a small grammar with a fixed seed (people, animals and objects doing
things in places, with agreement, negation and relative clauses), so that a small decoder can
learn it within minutes and its perplexity visibly falls: a smoke test of the whole LM path, not
a benchmark. The tokenizer is a byte-level BPE (as OPT's and GPT-2's) trained on the training
split with the `tokenizers` library, saved as `transformers`' GPT2TokenizerFast with OPT's
conventions (`<s>` 0, `<pad>` 1, `</s>` 2 prepended to every input, `<unk>` 3):

  data/text/train.txt, dev.txt     one sentence a line
  data/text/vocab.json, merges.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_text_corpus.py
"""
import os
import random
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2TokenizerFast

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "text")
VOCAB_SIZE = 512
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]

PEOPLE = ["the baker", "the farmer", "a child", "the teacher", "my neighbour", "the old sailor", "a painter", "the doctor"]
ANIMALS = ["the cat", "a dog", "the horse", "an owl", "the fox", "a small bird", "the goat"]
THINGS = ["the bread", "a red kite", "the letter", "an apple", "the lantern", "a wooden box", "the map", "a green hat"]
PLACES = ["in the garden", "by the river", "at the market", "on the hill", "near the mill", "under the bridge", "in the kitchen"]
TIMES = ["in the morning", "at noon", "every evening", "after the rain", "before dawn", "on sunday"]
VERBS = [("finds", "find"), ("carries", "carry"), ("paints", "paint"), ("hides", "hide"), ("sells", "sell"), ("drops", "drop")]
ADJ = ["quiet", "happy", "tired", "curious", "careful", "hungry"]


def subject(rng: random.Random) -> str:
    return rng.choice(PEOPLE + ANIMALS)


def sentence(rng: random.Random) -> str:
    s = subject(rng)
    third, base = rng.choice(VERBS)
    kind = rng.random()
    if kind < 0.35:
        text = f"{s} {third} {rng.choice(THINGS)} {rng.choice(PLACES)}"
    elif kind < 0.55:
        text = f"{s} does not {base} {rng.choice(THINGS)} {rng.choice(TIMES)}"
    elif kind < 0.75:
        text = f"{s} who is {rng.choice(ADJ)} {third} {rng.choice(THINGS)}"
    elif kind < 0.9:
        text = f"{rng.choice(TIMES)} {s} is {rng.choice(ADJ)} and {third} {rng.choice(THINGS)}"
    else:
        text = f"{s} and {subject(rng)} {base} {rng.choice(THINGS)} together {rng.choice(PLACES)}"
    return text[0].upper() + text[1:] + "."


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(20251129)
    train = [sentence(rng) for _ in range(3000)]
    dev = [sentence(rng) for _ in range(300)]
    for name, lines in (("train.txt", train), ("dev.txt", dev)):
        with open(os.path.join(OUT, name), "w") as f:
            f.write("\n".join(lines) + "\n")

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train, trainer)
    tok.model.save(OUT)  # vocab.json, merges.txt
    fast = GPT2TokenizerFast(
        vocab_file=os.path.join(OUT, "vocab.json"), merges_file=os.path.join(OUT, "merges.txt"),
        bos_token="</s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", add_bos_token=True, model_max_length=64,
    )
    fast.save_pretrained(OUT)
    print(f"wrote {OUT}: {len(train)} train and {len(dev)} dev sentences, vocabulary {len(fast)}", file=sys.stderr)


if __name__ == "__main__":
    main()
