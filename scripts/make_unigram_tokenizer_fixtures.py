#!/usr/bin/env python3
"""Reference ids for the Unigram (SentencePiece) tokenizer tests (test/data/unigram.test.ts).

Trains three small Unigram tokenizers on the corpus below (no hub download) and writes, for each,
what save_pretrained writes plus expected.json: the ids and pieces that the reference gives for the
fixture texts alone, in pairs and truncated, and the decoded texts.

  test/fixtures/tokenizer-unigram/     trained with the `tokenizers` package: Nmt + NFKC + collapse
                                       of repeated spaces, Metaspace, T5's `A </s>` template, three
                                       <extra_id_N> tokens; reference: T5TokenizerFast
  test/fixtures/tokenizer-unigram-t5/  trained with `sentencepiece` (nmt_nfkc rule, T5's ids
                                       pad 0, eos 1, unk 2) and converted by transformers'
                                       T5Converter, so the file has T5's own layout: the
                                       Precompiled character map, Strip, Replace, Metaspace;
                                       reference: T5TokenizerFast
                                       (expected.json's legacy_layout: the same vocabulary in
                                       the layout of older T5 files, see legacy_layout)
  test/fixtures/tokenizer-unigram-t5-first/  the same with legacy=False: prepend_scheme "first"
  test/fixtures/tokenizer-unigram-bytes/ the first one with 256 <0xXX> pieces and byte_fallback,
                                       a Llama-style normalizer (Prepend, Replace) and decoder
                                       (Replace, ByteFallback, Fuse, Strip), no pre-tokenizer;
                                       reference: tokenizers.Tokenizer

Decoded texts are those of the Rust tokenizer (`backend_tokenizer.decode`), with and without the
special tokens, and transformers' `decode` with its clean-up of spaces before punctuation.

The `tokenizers` trainer sums scores in parallel, so a rerun may change the last digit of some
piece scores (and, rarely, a segmentation); expected.json is rewritten with them, so the files
always agree.

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_unigram_tokenizer_fixtures.py
"""
import io
import json
import os
import shutil
import sys
import tempfile

import sentencepiece as spm
import tokenizers
import transformers
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
from tokenizers.trainers import UnigramTrainer
from transformers import T5TokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "test", "fixtures")

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Studies have shown that owning a dog is good for you.",
    "The cat sat on the mat and looked at the birds outside.",
    "Researchers at the university published a summary of their findings on Monday.",
    "The committee will meet again next week to discuss the budget for 2024.",
    "Prices rose by 3.5 percent in March, the highest increase in ten years.",
    "She said: \"We are very happy with the result!\"",
    "Is this the right way to the station? Yes, turn left at the bank.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Das Haus ist wunderbar, und die Straße ist ruhig.",
    "Schöne Grüße aus München, Köln und Düsseldorf.",
    "Die Bäckerei öffnet um 7 Uhr; die Brötchen sind frisch.",
    "Wir müssen über die Zukunft der Städte sprechen.",
    "Ich möchte ein Glas Wasser, bitte.",
    "Er läuft jeden Morgen zehn Kilometer am Fluss entlang.",
    "Numbers like 1, 2, 3, 10, 42, 100, 2024 and 3.14159 appear in text.",
    "Call 555-0123 before 9:30 or after 17:45.",
    "translate German to English: Das Wetter ist heute schön.",
    "summarize: The city council approved the new park plan after a long debate.",
    "café, naïve, résumé, Zoë, Ελληνικά, français, español, niño",
]
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Der Bär läuft über die Straße und grüßt Müller.",
    "Numbers: 12345, 3.14 and -42; 1,000,000 (approx.)",
    "Punctuation!? «quotes» „German quotes“ — dash… ellipsis",
    "Unicode: café naïve résumé, Ελληνικά, 日本語, 😀👍, ﬁ ligature, ｆｕｌｌ width, ①",
    "Combining e\u0301 and A\u030a versus é and Å",
    "",
    "   ",
    "Repeated    spaces   inside  and  trailing   ",
    "  leading spaces",
    "tabs\tand\nnew lines\r\n here",
    "zero\u200bwidth\u00a0nbsp\u3000ideographic",
    "control\u0001chars\u007f here",
    "A literal </s> inside, <pad> and <extra_id_0> too.",
    "x",
    "Spaces before , and . and ! and ? ; it is n't, I 'm, it 's, we 've, they 're and ' quoted ' .",
    "summarize: studies have shown that owning a dog is good for you",
    "translate German to English: Das Haus ist wunderbar.",
    "UPPER lower MiXeD Qq Zz",
    "€100 £50 ¥30 ½ ¼ ² ³",
    "unknown chars: ☃ ♞ ⚡ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "<extra_id_0>word right after a sentinel<extra_id_1> and </s>end",
    "ZWJ 👩‍👩‍👧 flag 🇩🇪 Hangul 한국어 é̂ नमस्ते ﷺ ㌀ Ⅻ ｶﾞ ▁marker",
]
# No empty second text: T5TokenizerFast.__call__ drops an empty text_pair (a quirk of its Python
# wrapper, see src/data/tokenizer.ts), which the library does not follow.
PAIRS = [(TEXTS[0], TEXTS[1]), (TEXTS[2], TEXTS[14]), (TEXTS[16], TEXTS[17])]
MAX_LENGTHS = [1, 4, 9]


def expected(encode, decode, vocab_size: int, normalize, clean=None) -> dict:
    """encode(a, b=None, max_length=None) -> (ids, tokens); decode(ids, skip) -> str;
    normalize(text) -> the normalizer's output; clean(ids) -> transformers' decode with
    clean_up_tokenization_spaces=True."""
    single = []
    for t in TEXTS:
        ids, tokens = encode(t)
        single.append({"text": t, "normalized": normalize(t), "ids": ids, "tokens": tokens, "decoded": decode(ids, True), "decoded_special": decode(ids, False)})
        if clean is not None:
            single[-1]["decoded_clean"] = clean(ids)
    return {
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "vocab_size": vocab_size,
        "single": single,
        "pair": [{"a": a, "b": b, "ids": encode(a, b)[0]} for a, b in PAIRS],
        "truncated": [{"a": a, "b": b, "max_length": n, "ids": encode(a, b, n)[0]} for a, b in PAIRS[:2] for n in MAX_LENGTHS[1:]]
        + [{"a": t, "b": None, "max_length": n, "ids": encode(t, None, n)[0]} for t in TEXTS[:4] for n in MAX_LENGTHS],
    }


def hf_expected(tok: T5TokenizerFast) -> dict:
    def encode(a, b=None, n=None):
        kw = {} if n is None else {"truncation": True, "max_length": n}
        ids = tok(a, b, **kw)["input_ids"] if b is not None else tok(a, **kw)["input_ids"]
        return ids, tok.convert_ids_to_tokens(ids)

    return expected(encode, lambda ids, skip: tok.backend_tokenizer.decode(ids, skip_special_tokens=skip), len(tok),
                    tok.backend_tokenizer.normalizer.normalize_str, lambda ids: tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True))


def rust_expected(tok: Tokenizer) -> dict:
    def encode(a, b=None, n=None):
        if n is None:
            tok.no_truncation()
        else:
            tok.enable_truncation(n)
        e = tok.encode(a, b) if b is not None else tok.encode(a)
        tok.no_truncation()
        return e.ids, e.tokens

    return expected(encode, lambda ids, skip: tok.decode(ids, skip_special_tokens=skip), tok.get_vocab_size(with_added_tokens=True),
                    tok.normalizer.normalize_str)


def write_expected(out: str, data: dict) -> None:
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
    print(f"wrote {out}", file=sys.stderr)


def legacy_layout(path: str) -> dict:
    """The layout of T5 tokenizer.json files written by older `tokenizers` releases (as on the hub
    for t5-small): the Precompiled map alone, WhitespaceSplit before Metaspace, and Metaspace's
    `add_prefix_space` instead of `prepend_scheme`. Reference: the `tokenizers` package."""
    with open(path) as f:
        spec = json.load(f)
    changes = {
        "normalizer": spec["normalizer"]["normalizers"][0],
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}]},
        "decoder": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True},
    }
    tok = Tokenizer.from_str(json.dumps({**spec, **changes}))
    single = [{"text": t, "ids": tok.encode(t).ids} for t in TEXTS]
    for e in single:
        e["decoded"] = tok.decode(e["ids"], skip_special_tokens=True)
    return {"pre_tokenizer": changes["pre_tokenizer"], "decoder": changes["decoder"], "single": single}


def trained_unigram() -> Tokenizer:
    tok = Tokenizer(Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Nmt(), normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = UnigramTrainer(vocab_size=300, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>", shrinking_factor=0.75)
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    return tok


def main() -> None:
    # 1. Trained with `tokenizers`, wrapped as a T5 tokenizer with three sentinel tokens.
    base = trained_unigram()
    out = os.path.join(FIXTURES, "tokenizer-unigram")
    shutil.rmtree(out, ignore_errors=True)
    T5TokenizerFast(tokenizer_object=base, extra_ids=3, model_max_length=64).save_pretrained(out)
    write_expected(out, hf_expected(T5TokenizerFast.from_pretrained(out)))

    # 2. Trained with `sentencepiece` and converted as transformers converts T5's spiece.model.
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 4), model_writer=model, model_type="unigram", vocab_size=200,
        normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False,
        character_coverage=1.0, minloglevel=2,
    )
    # legacy=True is T5's published tokenizer (prepend_scheme "always"); legacy=False converts
    # with prepend_scheme "first" (a space is prepended at the start of the text only).
    for name, legacy in (("tokenizer-unigram-t5", True), ("tokenizer-unigram-t5-first", False)):
        out = os.path.join(FIXTURES, name)
        shutil.rmtree(out, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "spiece.model")
            with open(path, "wb") as f:
                f.write(model.getvalue())
            T5TokenizerFast(vocab_file=path, extra_ids=5, model_max_length=64, add_prefix_space=True, legacy=legacy).save_pretrained(out)
        # The fast tokenizer's files are what the library reads; the binary model is not needed,
        # and without it `add_prefix_space` in the config would make from_pretrained reconvert
        # from it (tokenizer.json already holds the prepend scheme).
        if os.path.exists(os.path.join(out, "spiece.model")):
            os.remove(os.path.join(out, "spiece.model"))
        config_path = os.path.join(out, "tokenizer_config.json")
        with open(config_path) as f:
            config = json.load(f)
        config["add_prefix_space"] = None
        with open(config_path, "w") as f:
            json.dump(config, f, ensure_ascii=False, indent=2)
        data = hf_expected(T5TokenizerFast.from_pretrained(out))
        if legacy:
            data["legacy_layout"] = legacy_layout(os.path.join(out, "tokenizer.json"))
        write_expected(out, data)

    # 3. Byte fallback: the first vocabulary plus 256 byte pieces, Llama's normalizer and decoder.
    spec = json.loads(base.to_str())
    vocab = spec["model"]["vocab"]
    low = min(score for _, score in vocab)
    vocab += [[f"<0x{b:02X}>", low - 1.0] for b in range(256)]
    spec["model"]["byte_fallback"] = True
    spec["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    spec["pre_tokenizer"] = None
    spec["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    out = os.path.join(FIXTURES, "tokenizer-unigram-bytes")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "model_max_length": 64}, f, indent=1)
    write_expected(out, rust_expected(Tokenizer.from_file(os.path.join(out, "tokenizer.json"))))


if __name__ == "__main__":
    main()
