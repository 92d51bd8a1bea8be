#!/usr/bin/env python3
"""Reference ROUGE (Google's rouge_score) and BLEU (sacrebleu) values on fixture texts, for
test/data/rouge.test.ts and test/data/bleu.test.ts.

    pip install -r scripts/requirements.txt
    python3 scripts/make_text_metric_fixtures.py   # writes test/fixtures/text-metrics/*.json

The texts are made here: hand-written edge cases (punctuation, numbers, casing, unicode, empty
outputs, repeated n-grams, newline-split summaries, several references) and seeded random ones.
The Porter stemmer is checked word by word on the alphabetic words of the committed BERT
vocabulary (test/fixtures/tokenizer/vocab.txt) plus words that reach NLTK's special cases.
"""
import json
import os
import random

import numpy as np
import nltk
import rouge_score
import sacrebleu
from nltk.stem import porter
from rouge_score import rouge_scorer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "text-metrics")
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

# (reference, hypothesis) pairs written to reach the tokenizers' and scorers' corners.
HAND = [
    ("The quick brown fox jumps over the lazy dog.", "The quick brown dog jumps on the log."),
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat sat on the mat", ""),
    ("", "a hypothesis with no reference"),
    ("", ""),
    ("   ", "..."),
    ("It costs $3.50, not 3,50 EUR - or 1-2 dollars.", "it costs 3.50 dollars, not $ 3,50 EUR (1-2)."),
    ("Hello, World! HELLO world?", "hello world hello WORLD"),
    ("Café naïve résumé – Zürich’s “quotes”", "cafe naive resume zurich s quotes"),
    ("東京は日本の首都です。 Tokyo is the capital.", "Tokyo is Japan's capital 東京"),
    ("Straße İstanbul ΣΊΣΥΦΟΣ \u212aelvin", "strasse istanbul kelvin"),
    ("the the the the the", "the the the"),
    ("a b a b a b a b", "a b a b"),
    ("running runs ran runner easily fairly", "run running ran runners easy fair"),
    ("The police were investigating the shootings\nTwo people were killed\nThe suspect fled",
     "Two people killed in shooting\npolice investigating\n\nsuspect has fled the scene"),
    ("first sentence here\nsecond sentence there", "second sentence there\nfirst sentence here"),
    ("one line only", "one\nline\nonly"),
    ("\n\n", "nothing\n"),
    ("x y z\nx y z", "x y z"),
    ("tab\tseparated\ttokens and\u00a0nbsp and\u2003em space", "tab separated tokens and nbsp"),
    ("e-mail me at john.doe@example.com or visit http://x.org/a?b=c&d=e",
     "email john doe example com visit x org"),
    ("&quot;quoted&quot; &amp; &lt;tagged&gt; <skipped> text", "\"quoted\" & <tagged> text"),
    ("hyphen-\nated line break", "hyphenated line break"),
    ("1,000,000 people; 3.14159 pi; 2023-11-29", "1,000,000 people 3.14159 pi 2023 - 11 - 29"),
    ("Mr. Smith's dog didn't bark.", "Mr Smith s dog did n't bark ."),
    ("generalizations relational conditional rational valenci hesitanci digitizer",
     "generalization relate condition ration valence hesitance digitize"),
    ("skies dying lying tying news innings outings cannings howe proceed exceed succeed",
     "sky die lie tie news inning outing canning howe proceeding exceeded succeeding"),
    ("The results are shown in Table 3 (see also Fig. 2).", "Results are in table 3, see fig 2"),
    ("a", "a"),
    ("a", "b"),
    ("trailing spaces   ", "trailing spaces"),
    ("repeat repeat repeat\nrepeat repeat", "repeat\nrepeat repeat repeat repeat"),
    # Python's whitespace is not JavaScript's: \x1c-\x1f and \x85 split there, \ufeff does not.
    ("unit\x1fseparator next\x85line zero\ufeffwidth end\x85", "unit separator next line zero width end"),
]

# Several references per example (rouge_score's score_multi; sacrebleu's reference streams).
MULTI = [
    (["The cat is on the mat.", "There is a cat on the mat."], "the the the the the the the"),
    (["It is a guide to action which ensures that the military always obeys the commands of the party.",
      "It is the guiding principle which guarantees the military forces always being under the command of the Party.",
      "It is the practical guide for the army always to heed the directions of the party."],
     "It is a guide to action that ensures that the military will forever heed Party commands."),
    (["short one", "a much longer reference sentence with many words"], "a longer sentence"),
    (["", "nonempty reference"], "nonempty"),
    (["same length a", "same length b"], "same length c"),
    # Equally close references: the shorter one sets the brevity penalty.
    (["a b c d", "a b"], "a b c"),
]

VOCAB = ("the a of to and in is was for on that with as by at from his her it an be this are were which "
         "not or have has had but they their one all been more new after first also two who will would "
         "can there when time year people state government city said report police killed running "
         "relational generalization happiness national conditional operator nationalism effective "
         "electricity electrical hopefulness goodness formality sensitivity sensibility traditional "
         "analogous probate archaeology president minister election market prices rose fell percent "
         "2019 2020 3.5 1,200 100 U.S. Dr. Mr. e.g. don't it's cannot , . ; : ! ? ( ) \" ' - -- ... "
         "Größe Ünïcödé café 北京 Москва ελληνικά").split(" ")


def rand_text(rng: random.Random, lo: int, hi: int) -> str:
    words = [rng.choice(VOCAB) for _ in range(rng.randint(lo, hi))]
    out = []
    for w in words:
        if rng.random() < 0.15:
            w = w.capitalize()
        elif rng.random() < 0.05:
            w = w.upper()
        out.append(w)
        if rng.random() < 0.08:
            out.append("\n")
    return " ".join(out).replace(" \n ", "\n")


def mutate(rng: random.Random, text: str) -> str:
    """A hypothesis near the reference: dropped, swapped and replaced words."""
    toks = text.split(" ")
    out = []
    for t in toks:
        r = rng.random()
        if r < 0.15:
            continue
        if r < 0.3:
            t = rng.choice(VOCAB)
        out.append(t)
        if rng.random() < 0.05:
            out.append(rng.choice(VOCAB))
    if len(out) > 3 and rng.random() < 0.3:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def scores(d):
    return {k: [v.precision, v.recall, v.fmeasure] for k, v in d.items()}


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(13)
    pairs = list(HAND)
    for _ in range(40):
        ref = rand_text(rng, 3, 60)
        pairs.append((ref, mutate(rng, ref)))

    plain = rouge_scorer.RougeScorer(TYPES, use_stemmer=False)
    stem = rouge_scorer.RougeScorer(TYPES, use_stemmer=True)
    examples = []
    for ref, hyp in pairs:
        examples.append({
            "reference": ref,
            "prediction": hyp,
            "tokens": plain._tokenizer.tokenize(ref),
            "tokens_stemmed": stem._tokenizer.tokenize(ref),
            "scores": scores(plain.score(ref, hyp)),
            "scores_stemmed": scores(stem.score(ref, hyp)),
        })
    multi = [{
        "references": refs,
        "prediction": hyp,
        "scores": scores(plain.score_multi(refs, hyp)),
        "scores_stemmed": scores(stem.score_multi(refs, hyp)),
    } for refs, hyp in MULTI]

    def corpus(scorer):
        # The mean of per-example scores: what evaluate's BootstrapAggregator `mid` estimates.
        per = [scorer.score(r, h) for r, h in pairs]
        return {t: [float(np.mean([getattr(s[t], f) for s in per])) for f in ("precision", "recall", "fmeasure")]
                for t in TYPES}

    stem_words = sorted({w for w in open(os.path.join(ROOT, "test", "fixtures", "tokenizer", "vocab.txt"),
                                         encoding="utf8").read().split("\n") if w.isascii() and w.isalpha()})
    stem_words += ["y", "yy", "yyy", "sky", "skies", "ties", "dies", "pies", "tied", "died", "cried", "agreed",
                   "feed", "hopping", "hoping", "filing", "falling", "fizzed", "conflated", "troubled",
                   "sized", "happy", "sky", "syzygy", "analogously", "archaeologi", "archaeology", "radically",
                   "fully", "hopefully", "formalli", "generalli", "controll", "roll", "cease", "rate"]
    # Roots times the suffixes the rules name, so that every rule fires and fails its condition.
    roots = ["relat", "condit", "hop", "fall", "gener", "nation", "sens", "form", "electr", "happ", "analog",
             "archaeo", "digit", "rat", "controll", "agr", "cr", "pl", "sk", "b", "tr", "oper", "effect",
             "sensitiv", "troubl", "siz", "fil", "feed", "ceas", "probat", "adjust", "depend", "homolog",
             "bow", "box", "tray", "enjoy", "syzyg", "yo", "ay", "aa", "ab"]
    suffixes = ["", "s", "es", "ies", "ied", "sses", "ss", "ed", "ing", "eed", "at", "bl", "iz", "ational",
                "tional", "enci", "anci", "izer", "bli", "abli", "alli", "entli", "eli", "ousli", "ization",
                "ation", "ator", "alism", "iveness", "fulness", "ousness", "aliti", "iviti", "biliti", "fulli",
                "logi", "icate", "ative", "alize", "iciti", "ical", "ful", "ness", "al", "ance", "ence", "er",
                "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "sion", "tion", "ou", "ism", "ate",
                "iti", "ous", "ive", "ize", "e", "ll", "y", "ly", "ingly", "ically", "fully"]
    stem_words += [r + x for r in roots for x in suffixes]
    stem_words += [w.lower() for w in VOCAB if w.isascii() and w.isalpha()]
    porter_ref = porter.PorterStemmer()
    stems = [[w, porter_ref.stem(w)] for w in stem_words]

    with open(os.path.join(OUT, "rouge.json"), "w", encoding="utf8") as f:
        json.dump({
            "versions": {"rouge_score": "0.1.2", "nltk": nltk.__version__},
            "types": TYPES,
            "examples": examples,
            "multi": multi,
            "corpus": corpus(plain),
            "corpus_stemmed": corpus(stem),
            "stems": stems,
        }, f, ensure_ascii=False, indent=0)
        f.write("\n")

    # BLEU: every pair as a sentence, and corpora (single and multiple references).
    sentences = []
    for ref, hyp in pairs:
        s = sacrebleu.sentence_bleu(hyp, [ref])
        sentences.append({"hypothesis": hyp, "references": [ref], "tokenized": sacrebleu.BLEU().tokenizer(ref),
                          "score": s.score, "counts": s.counts, "totals": s.totals})
    for refs, hyp in MULTI:
        s = sacrebleu.sentence_bleu(hyp, refs)
        sentences.append({"hypothesis": hyp, "references": refs, "tokenized": sacrebleu.BLEU().tokenizer(refs[0]),
                          "score": s.score, "counts": s.counts, "totals": s.totals})

    corpora = []

    def add_corpus(name, hyps, streams, **kw):
        bleu = sacrebleu.BLEU(**kw)
        s = bleu.corpus_score(hyps, streams)
        corpora.append({"name": name, "hypotheses": hyps, "references": streams, "options": kw,
                        "score": s.score, "counts": s.counts, "totals": s.totals, "precisions": s.precisions,
                        "bp": s.bp, "sys_len": s.sys_len, "ref_len": s.ref_len,
                        "signature": str(bleu.get_signature())})

    refs1 = [r for r, _ in pairs]
    hyps1 = [h for _, h in pairs]
    add_corpus("all pairs, one reference", hyps1, [refs1])
    add_corpus("all pairs, lowercase", hyps1, [refs1], lowercase=True)
    add_corpus("all pairs, effective order", hyps1, [refs1], effective_order=True)
    add_corpus("all pairs, smooth none", hyps1, [refs1], smooth_method="none")
    add_corpus("all pairs, smooth floor", hyps1, [refs1], smooth_method="floor")
    add_corpus("all pairs, smooth add-k", hyps1, [refs1], smooth_method="add-k")
    add_corpus("hand-written only", hyps1[:len(HAND)], [refs1[:len(HAND)]])
    add_corpus("short hypotheses (brevity penalty)", [" ".join(h.split()[:3]) for h in hyps1[len(HAND):]],
               [refs1[len(HAND):]])
    add_corpus("no match at all", ["zzz yyy", "qqq"], [["a b c d", "e f"]])
    add_corpus("empty hypotheses", ["", ""], [["a b c d", "e f"]])
    three = [m for m in MULTI if len(m[0]) == 3]
    add_corpus("three references", [h for _, h in three], [[refs[k] for refs, _ in three] for k in range(3)])
    two = [m for m in MULTI if len(m[0]) == 2]
    add_corpus("two references", [h for _, h in two], [[refs[k] for refs, _ in two] for k in range(2)])
    add_corpus("a missing reference (nrefs var)", [h for _, h in MULTI[:3]],
               [[refs[0] for refs, _ in MULTI[:3]], [refs[1] for refs, _ in MULTI[:3]],
                [refs[2] if len(refs) > 2 else None for refs, _ in MULTI[:3]]])

    with open(os.path.join(OUT, "bleu.json"), "w", encoding="utf8") as f:
        json.dump({"versions": {"sacrebleu": sacrebleu.__version__}, "sentences": sentences, "corpora": corpora},
                  f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"{len(examples)} ROUGE pairs, {len(multi)} multi-reference, {len(stems)} stemmed words; "
          f"{len(sentences)} BLEU sentences, {len(corpora)} corpora -> {OUT}")


if __name__ == "__main__":
    main()
