#!/usr/bin/env python3
"""Encode sentences with transformers' BertTokenizerFast and BertTokenizer, for the opt-in
parity check on real GLUE text (test/data/tokenizer.glue.test.ts).

stdin:  {"tokenizer_dir": "...", "items": [{"text": "...", "pair": "..."?, "max_length": n}, ...]}
stdout: {"transformers": "4.57.1", "fast": [[ids...], ...], "slow": [[ids...], ...],
         "fast_types": [[...]], "slow_types": [[...]]}
"""
import json
import sys

import transformers
from transformers import BertTokenizer, BertTokenizerFast

transformers.logging.set_verbosity_error()


def main() -> None:
    req = json.load(sys.stdin)
    out = {"transformers": transformers.__version__}
    for name, cls in [("fast", BertTokenizerFast), ("slow", BertTokenizer)]:
        tok = cls.from_pretrained(req["tokenizer_dir"])
        ids, types = [], []
        for it in req["items"]:
            args = (it["text"], it["pair"]) if "pair" in it else (it["text"],)
            enc = tok(*args, truncation=True, max_length=it["max_length"])
            ids.append(enc["input_ids"])
            types.append(enc["token_type_ids"])
        out[name] = ids
        out[name + "_types"] = types
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
