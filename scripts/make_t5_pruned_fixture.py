#!/usr/bin/env python3
"""A head-pruned T5 checkpoint as transformers 4.x writes one (test/fixtures/tiny-t5-pruned).

Starts from test/fixtures/tiny-t5 (scripts/make_t5_fixtures.py), removes the encoder
self-attention heads PRUNED_HEADS with transformers' own `T5Attention.prune_heads` and records them
in `config.pruned_heads`, as `PreTrainedModel.prune_heads` does (the encoder's self-attentions are
the only heads T5's `_prune_heads` names). transformers 4.57 itself cannot reload such a directory
(`from_pretrained` fails in `_prune_heads`), so reference.json holds the logits of the pruned model
in memory, on tiny-t5's fixture batch, for test/checkpoint/t5Layout.test.ts.

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_t5_pruned_fixture.py
"""
import json
import os
import sys

import torch
import transformers
from transformers import T5ForConditionalGeneration

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
PRUNED_HEADS = {0: [0, 2], 1: [3]}


def main() -> None:
    src = os.path.join(ROOT, "tiny-t5")
    with open(os.path.join(src, "reference.json")) as f:
        ref = json.load(f)
    model = T5ForConditionalGeneration.from_pretrained(src, attn_implementation="eager")
    model.eval()
    for layer, heads in PRUNED_HEADS.items():
        model.encoder.block[layer].layer[0].SelfAttention.prune_heads(heads)
    model.config.pruned_heads = {layer: list(heads) for layer, heads in PRUNED_HEADS.items()}
    batch = {k: ref[k] for k in ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask")}
    with torch.no_grad():
        logits = model(**{k: torch.tensor(v) for k, v in batch.items()}).logits
    out_dir = os.path.join(ROOT, "tiny-t5-pruned")
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({
            "transformers_version": transformers.__version__,
            "pruned_heads": {str(k): v for k, v in PRUNED_HEADS.items()},
            **batch,
            "logits": logits.tolist(),
        }, f)
    print(f"wrote {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
