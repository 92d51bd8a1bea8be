#!/usr/bin/env python3
"""Build the tokenizer parity fixtures under test/fixtures/tokenizer*/.

Trains two small WordPiece vocabularies (uncased and cased) on text written in this file,
saves each as a Hugging Face tokenizer directory (vocab.txt, tokenizer.json,
tokenizer_config.json, special_tokens_map.json) through `BertTokenizerFast.save_pretrained`,
then encodes a few hundred sentences and sentence pairs with both `BertTokenizerFast` (Rust)
and `BertTokenizer` (Python) and stores the expected ids in `expected.json`.

Nothing is downloaded. Usage (from the repository root):

    python3 scripts/make_tokenizer_fixtures.py

Needs transformers 4.57.1 and tokenizers (scripts/requirements.txt).
"""
from __future__ import annotations

import itertools
import json
import os
import random
import sys
import tempfile

import transformers
from tokenizers.implementations import BertWordPieceTokenizer
from transformers import BertTokenizer, BertTokenizerFast

transformers.logging.set_verbosity_error()  # the slow tokenizer warns on every truncated pair

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# ---------------------------------------------------------------------------------------------
# Hand-written sentences. They cover punctuation, contractions, accents, mixed case, numbers,
# symbols, CJK, emoji, control and zero-width characters, very long words and long sentences.
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world!",
    "It's a charming and often affecting journey.",
    "I don't think they'll come; we're late, aren't we?",
    "She said: \"Leave it alone.\" Then she left.",
    "\"Unescaped quotes\" are common in GLUE's TSV files.",
    "The café on the Champs-Élysées serves crème brûlée.",
    "Naïve coöperation with the façade of the résumé.",
    "ZÜRICH, GENÈVE and São Paulo are cities; so is Kraków.",
    "Ångström units measure 10^-10 metres.",
    "Mr. O'Neil paid $5.99 for 3 apples (about 1.99 each).",
    "The score was 3-2 after 90 minutes, i.e. a narrow win.",
    "Call +1 (555) 123-4567 or e-mail info@example.com before 5pm.",
    "On 2019-10-05 at 14:30, 50% of the 1,000,000 votes were counted.",
    "π is roughly 3.14159, and e is about 2.71828.",
    "Wait... what?! No way!!!",
    "Use #hashtags, @mentions & ~tildes~ sparingly *please*.",
    "Brackets: (round), [square], {curly} and <angle>.",
    "Dashes – en – and — em — differ from hyphens-like-these.",
    "Slashes / and \\ backslashes | pipes are punctuation too.",
    "Tabs\tand\nnewlines\r\nare whitespace.",
    "Zero\u200bwidth space and soft\u00adhyphen are format characters.",
    "A control char \u0007 and a NUL \u0000 vanish.",
    "北京 is the capital of China; 東京 is in Japan.",
    "한국어 and 日本語の文 mix scripts.",
    "Emoji 😀 and symbols ★ ☃ ♥ are unknown here.",
    "Greek: αβγ δέλτα; Cyrillic: Москва; Arabic: سلام.",
    "Supercalifragilisticexpialidocious is a long word.",
    "Pneumonoultramicroscopicsilicovolcanoconiosis.",
    "a" * 101 + " is longer than one hundred characters.",
    "b" * 100 + " is exactly one hundred characters.",
    "UPPERCASE lowercase MiXeD CaSe camelCase snake_case kebab-case.",
    "The U.S.A. and the U.K. signed the treaty in 1945.",
    "Dr. Smith's patients' records weren't lost.",
    "   Leading and trailing spaces   ",
    "",
    "...",
    "?",
    "unflinchingly bleak and desperate",
    "the movie was not good but the acting was great",
    "the film is never boring , though it is rarely funny .",
    "a gorgeously strange movie , heavy on atmosphere but light on story .",
    "The sailors rode the breeze clear of the rocks.",
    "The weights made the rope stretch over the pulley.",
    "Bacteria is winning the war against antibiotics.",
    "Christopher Reeve had an accident.",
    "Yet, we now are discovering that antibiotics are losing their effectiveness.",
    "The committee's decision—announced Tuesday—surprised everyone.",
    "Is it 'single quoted' or `back quoted'?",
    "Numbers like 007, 0.5, .5, 5., 1e-3 and 10² look odd.",
    "Ordinal 1st, 2nd, 3rd and 4th; fractions ½ and ¾.",
    "Currency: €100, £50, ¥1000 and ₹20.",
    "Temperatures fell to −5 °C overnight.",
    "Ligatures ﬁ and ﬂ, full-width ＡＢＣ and ｱｲｳ.",
    "Combining: e\u0301 and a\u0308 versus é and ä.",
    "He re-read the pre-war, well-known, state-of-the-art report.",
    "Who? What? Where? When? Why? How?",
    "I can't believe it's not butter!",
    "They're there, and their dog is over there.",
    "Colour, color; theatre, theater; grey, gray.",
    "In 1492, Columbus sailed the ocean blue.",
    "The year 2000 problem (Y2K) was mostly averted.",
    "A URL: https://example.org/path?query=1&x=y#frag.",
    "File names like report_v2.final.pdf and data-2020.csv.",
    "Emphasis: __bold__ and **strong** and ~~strike~~.",
    "A literal [SEP] token, a [CLS]and a [MASK] inside the text; [unk] is not special.",
    "Line\u2028separator, no-break\u00a0space, ideographic\u3000space, thin\u2009space.",
    "Final sigma: ΟΔΟΣ and ΣΟΦΟΣ; dotted İstanbul; German Straße.",
]

# A generator of more varied sentences: templates x fillers, deterministic.
SUBJECTS = ["the critic", "my neighbour", "The Old Man", "a student", "Their team", "the café owner",
            "Zoë", "the committee", "every child", "NASA", "the 3 engineers", "Dr. García"]
VERBS = ["praised", "didn't like", "wrote about", "ignored", "re-evaluated", "couldn't find",
         "loved", "hated", "described", "photographed"]
OBJECTS = ["the new film", "a well-made documentary", "the 12 songs", "an unusual résumé",
           "\"the plan\"", "the town's museum", "the first chapter (again)", "São Tomé",
           "the 1990s", "a $20 ticket", "an over-long speech", "the naïve proposal"]
ENDINGS = [".", "!", "?", "...", " yesterday.", ", sadly.", " -- or so they say.", "; really."]

# Long sentences exercise truncation of singles and of pairs (longest-first).
LONG = [
    "In the beginning the committee met every Tuesday, but as the project grew and the number of "
    "participants rose from 12 to more than 150, the meetings moved to a larger room, then to an "
    "auditorium, and finally online, where nobody could hear anybody else speak.",
    "Although the film's first act is slow, its second act is quick, funny and surprising; the third "
    "act, however, collapses under the weight of too many characters, too many sub-plots, and a "
    "twist that anyone who has seen more than two thrillers will guess in the first ten minutes.",
    "Researchers at the University of Zürich measured 3,482 samples between 2015 and 2021, finding "
    "that 17.5% of them exceeded the limit, which, they argue, calls for stricter rules, better "
    "monitoring, and more funding for independent laboratories across Europe and beyond.",
    "She walked to the station, bought a ticket, waited for the train, missed it because she was "
    "reading, waited again, boarded the next one, fell asleep, and woke up three stops too late.",
]


def generated_sentences(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}"
        if rng.random() < 0.3:
            s = s[0].upper() + s[1:]
        if rng.random() < 0.1:
            s = s.upper()
        out.append(s)
    return out


def training_corpus() -> list[str]:
    """Text the vocabularies are trained on. Some test words (e.g. the very long ones, CJK,
    emoji) are absent on purpose, so tests see sub-word splits and [UNK]."""
    rng = random.Random(1)
    corpus = list(SENTENCES[:20]) + LONG[:2]
    corpus += generated_sentences(rng, 3000)
    words = sorted({w for s in corpus for w in s.split()})
    for _ in range(3000):
        corpus.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))))
    return corpus


def build_vocab(out_dir: str, lowercase: bool) -> None:
    os.makedirs(out_dir, exist_ok=True)
    trainer_tok = BertWordPieceTokenizer(lowercase=lowercase, strip_accents=None, clean_text=True,
                                         handle_chinese_chars=True)
    trainer_tok.train_from_iterator(training_corpus(), vocab_size=3000, min_frequency=1,
                                    limit_alphabet=200, wordpieces_prefix="##",
                                    special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer_tok.save_model(tmp)
        fast = BertTokenizerFast(vocab_file=os.path.join(tmp, "vocab.txt"), do_lower_case=lowercase,
                                 model_max_length=512)
        fast.save_pretrained(out_dir)
    # save_pretrained writes vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json.


def cases() -> list[dict]:
    rng = random.Random(7)
    singles = SENTENCES + LONG + generated_sentences(rng, 120)
    out: list[dict] = []
    for s in singles:
        out.append({"text": s})
    for s in LONG + SENTENCES[:12]:
        out.append({"text": s, "max_length": 16})
    # Pairs: neighbours, a long one with a short one in both orders, and equal-length ones, at
    # several maximum lengths (odd and even, so the longest-first split is checked both ways).
    pairs = list(zip(singles[0:60], singles[1:61]))
    pairs += [(a, b) for a, b in itertools.product(LONG, SENTENCES[:6])]
    pairs += [(b, a) for a, b in itertools.product(LONG[:2], SENTENCES[6:12])]
    pairs += [(LONG[i], LONG[j]) for i in range(len(LONG)) for j in range(len(LONG)) if i != j]
    for i, (a, b) in enumerate(pairs):
        out.append({"text": a, "pair": b})
        out.append({"text": a, "pair": b, "max_length": [13, 16, 21, 24, 31, 40][i % 6]})
    return out


def encode_all(tok, items: list[dict]) -> list[dict]:
    res = []
    for it in items:
        kw = {"truncation": True, "max_length": it.get("max_length", 512)}
        enc = tok(it["text"], it.get("pair"), **kw) if "pair" in it else tok(it["text"], **kw)
        res.append({"input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"]})
    return res


def main() -> None:
    items = cases()
    for name, lowercase in [("tokenizer", True), ("tokenizer-cased", False)]:
        out_dir = os.path.join(ROOT, "test", "fixtures", name)
        build_vocab(out_dir, lowercase)
        fast = BertTokenizerFast.from_pretrained(out_dir)
        slow = BertTokenizer.from_pretrained(out_dir)
        fast_ids = encode_all(fast, items)
        slow_ids = encode_all(slow, items)
        cases_out = []
        n_diff = 0
        for it, f, s in zip(items, fast_ids, slow_ids):
            c = dict(it)
            c["fast"] = f
            if s != f:
                c["slow"] = s  # only stored where the Python tokenizer disagrees with Rust
                n_diff += 1
            cases_out.append(c)
        with open(os.path.join(out_dir, "expected.json"), "w", encoding="utf-8") as fh:
            json.dump({"transformers": transformers.__version__, "do_lower_case": lowercase,
                       "cases": cases_out}, fh, ensure_ascii=False, indent=0)
            fh.write("\n")
        print(f"{name}: vocab {fast.vocab_size}, {len(items)} cases, slow != fast in {n_diff}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
