#!/usr/bin/env python3
"""Reference generations for the generation tests (test/models/generation.test.ts).

Loads the tiny random T5 fixtures that scripts/make_t5_fixtures.py made (test/fixtures/tiny-t5,
v1.0 layout, and tiny-t5-v11, v1.1 layout) and records what transformers' `generate` returns on a
right-padded batch (eval mode): greedy search, and beam search with several beam counts, length
penalties and each `early_stopping` setting, with the beams' `sequences_scores`.

Random tiny models rarely emit their EOS (id 1), so most cases set `eos_token_id` to a token the
model does emit: the token whose first occurrence, in the greedy outputs without an EOS, falls
early in the most rows while missing from at least one row. That makes rows finish at different
steps (and rows that never finish), which is what the stopping rules act on.

Two structurally changed models are decoded too:
  pruned (tiny-t5)     encoder heads removed with transformers' `prune_heads` and decoder self- and
                       cross-attention heads switched off (value rows zeroed), the same heads as
                       reference.json's pruned_heads / masked_decoder_heads
  dead (tiny-t5-v11)   the MLP neurons and cross-attention input columns of reference.json's `dead`
                       zeroed (the test removes them physically by compaction)

Each call gets a fresh cache made without the config: transformers 4.57 sizes a config-made cache by
`num_layers` (the encoder's depth), which fails when the decoder is deeper (these fixtures have 2
encoder and 3 decoder layers).

Writes test/fixtures/t5-generation.json.
Usage: python3 scripts/make_t5_generation_fixtures.py (after scripts/make_t5_fixtures.py)
"""
import json
import os
import sys

import torch
import transformers
from transformers import DynamicCache, EncoderDecoderCache, T5ForConditionalGeneration

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
PAD = 0
MAX_NEW = 12

# Five inputs of lengths 9, 4, 7, 2 and 6, right-padded (as T5's tokenizer pads).
INPUTS = [
    [17, 33, 45, 8, 51, 12, 9, 23, 1],
    [40, 7, 31, 1],
    [55, 3, 14, 26, 38, 49, 1],
    [21, 1],
    [5, 44, 10, 36, 29, 1],
]
# (name, generate kwargs). "EOS" is replaced by the token picked per model.
CASES = [
    ("greedy, config eos", dict(num_beams=1, max_new_tokens=MAX_NEW)),
    ("greedy, picked eos", dict(num_beams=1, max_new_tokens=MAX_NEW, eos_token_id="EOS")),
    ("greedy, max_length 7", dict(num_beams=1, max_length=7, eos_token_id="EOS")),
    ("beam 3, lp 0.6, early_stopping true", dict(num_beams=3, length_penalty=0.6, early_stopping=True, max_new_tokens=MAX_NEW, eos_token_id="EOS")),
    ("beam 3, lp 0.6, early_stopping false", dict(num_beams=3, length_penalty=0.6, early_stopping=False, max_new_tokens=MAX_NEW, eos_token_id="EOS")),
    ("beam 4, lp 1.8, early_stopping false", dict(num_beams=4, length_penalty=1.8, early_stopping=False, max_new_tokens=MAX_NEW, eos_token_id="EOS")),
    ("beam 4, lp 1.8, early_stopping never", dict(num_beams=4, length_penalty=1.8, early_stopping="never", max_new_tokens=MAX_NEW, eos_token_id="EOS")),
    ("beam 4, lp -0.5, early_stopping true", dict(num_beams=4, length_penalty=-0.5, early_stopping=True, max_new_tokens=MAX_NEW, eos_token_id="EOS")),
    ("beam 3, lp 1.0, config eos", dict(num_beams=3, max_new_tokens=MAX_NEW)),
    # With 10 new tokens the three stopping rules give different rows on the dense fixtures.
    ("beam 3, lp 2.0, early_stopping true, 10 new", dict(num_beams=3, length_penalty=2.0, early_stopping=True, max_new_tokens=10, eos_token_id="EOS")),
    ("beam 3, lp 2.0, early_stopping false, 10 new", dict(num_beams=3, length_penalty=2.0, early_stopping=False, max_new_tokens=10, eos_token_id="EOS")),
    ("beam 3, lp 2.0, early_stopping never, 10 new", dict(num_beams=3, length_penalty=2.0, early_stopping="never", max_new_tokens=10, eos_token_id="EOS")),
    ("beam 2, lp 1.0, early_stopping true, 10 new", dict(num_beams=2, length_penalty=1.0, early_stopping=True, max_new_tokens=10, eos_token_id="EOS")),
    ("beam 2, lp 1.0, early_stopping false, 10 new", dict(num_beams=2, length_penalty=1.0, early_stopping=False, max_new_tokens=10, eos_token_id="EOS")),
    ("beam 2, lp 1.0, early_stopping never, 10 new", dict(num_beams=2, length_penalty=1.0, early_stopping="never", max_new_tokens=10, eos_token_id="EOS")),
]


def cache() -> EncoderDecoderCache:
    return EncoderDecoderCache(DynamicCache(), DynamicCache())


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    t = max(len(r) for r in INPUTS)
    ids = torch.tensor([r + [PAD] * (t - len(r)) for r in INPUTS])
    mask = torch.tensor([[1] * len(r) + [0] * (t - len(r)) for r in INPUTS])
    return ids, mask


def pick_eos(model: T5ForConditionalGeneration) -> int:
    """A token the model emits early in most rows but not in all (see the module docstring)."""
    ids, mask = batch()
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=MAX_NEW, eos_token_id=model.config.vocab_size + 7, pad_token_id=PAD, past_key_values=cache())
    rows = [r[1:].tolist() for r in out]
    best, best_key = None, None
    for tok in sorted({t for r in rows for t in r} - {PAD, 1}):
        firsts = [r.index(tok) for r in rows if tok in r[:9]]
        if not 0 < len(firsts) < len(rows):
            continue
        key = (len(firsts), -sum(firsts), -tok)
        if best_key is None or key > best_key:
            best, best_key = tok, key
    if best is None:
        sys.exit("no token to use as EOS")
    return best


def run_cases(model: T5ForConditionalGeneration, eos: int) -> list:
    ids, mask = batch()
    results = []
    for name, kwargs in CASES:
        kw = {k: (eos if v == "EOS" else v) for k, v in kwargs.items()}
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, pad_token_id=PAD, return_dict_in_generate=True, output_scores=True, past_key_values=cache(), **kw)
        scores = out.sequences_scores.tolist() if kw["num_beams"] > 1 else None
        results.append({
            "name": name,
            "options": {k: v for k, v in kw.items()},
            "sequences": out.sequences.tolist(),
            "scores": scores,
        })
    return results


def load(name: str) -> tuple[T5ForConditionalGeneration, dict]:
    d = os.path.join(FIXTURES, name)
    model = T5ForConditionalGeneration.from_pretrained(d, attn_implementation="eager")
    model.eval()
    with open(os.path.join(d, "reference.json")) as f:
        return model, json.load(f)


def pruned(model: T5ForConditionalGeneration, ref: dict) -> T5ForConditionalGeneration:
    dh = model.config.d_kv
    with torch.no_grad():
        for kind, layers in ref["masked_decoder_heads"].items():
            for layer, heads in layers.items():
                block = model.decoder.block[int(layer)].layer[0 if kind == "self" else 1]
                v = (block.SelfAttention if kind == "self" else block.EncDecAttention).v
                for h in heads:
                    v.weight[h * dh:(h + 1) * dh] = 0
    for layer, heads in ref["pruned_heads"].items():
        model.encoder.block[int(layer)].layer[0].SelfAttention.prune_heads(heads)
    return model


def dead(model: T5ForConditionalGeneration, ref: dict) -> T5ForConditionalGeneration:
    sub = {"encoder": 1, "decoder": 2}
    with torch.no_grad():
        for d in ref["dead"]:
            stack, layer, what, idx = d["stack"], d["layer"], d["what"], d["index"]
            if what in ("qkv", "q", "kv"):
                att = getattr(model, stack).block[layer].layer[1].EncDecAttention
                for lin in {"qkv": (att.q, att.k, att.v), "q": (att.q,), "kv": (att.k, att.v)}[what]:
                    lin.weight[:, idx] = 0
            else:
                ff = getattr(model, stack).block[layer].layer[sub[stack]].DenseReluDense
                if what == "wo":
                    ff.wo.weight[:, idx] = 0
                else:
                    getattr(ff, what).weight[idx, :] = 0
    return model


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    ids, mask = batch()
    out = {"transformers_version": transformers.__version__, "torch_version": torch.__version__, "pad_token_id": PAD,
           "input_ids": ids.tolist(), "attention_mask": mask.tolist(), "models": []}
    for fixture, change in (("tiny-t5", None), ("tiny-t5-v11", None), ("tiny-t5", "pruned"), ("tiny-t5-v11", "dead")):
        model, ref = load(fixture)
        if change == "pruned":
            model = pruned(model, ref)
        elif change == "dead":
            model = dead(model, ref)
        eos = pick_eos(model)
        cases = run_cases(model, eos)
        out["models"].append({"fixture": fixture, "change": change, "eos_token_id": eos, "cases": cases})
        for c in cases:
            print(f"{fixture} {change or 'dense'} eos {eos} {c['name']}: {c['sequences']} {c['scores']}", file=sys.stderr)
    path = os.path.join(FIXTURES, "t5-generation.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
