#!/usr/bin/env python3
"""Loads a checkpoint that neuroprune wrote into `transformers` and compares logits.

Usage: python3 scripts/check_hf_load.py MODEL_DIR EXPECTED_JSON
EXPECTED_JSON holds input_ids, attention_mask, token_type_ids (BERT only), decoder_input_ids and
decoder_attention_mask (T5 only) and the logits neuroprune computed. The class is the config's
`architectures[0]` (BERT, OPT or GPT-2 heads, T5ForConditionalGeneration). For T5, num_heads lists
the heads that still have a nonzero query row, per attention in neuroprune's block order (encoder
self, then decoder self and cross per layer): the dense export keeps the shapes and zeroes heads. Prints one JSON line {"max_abs_diff", "num_heads", "transformers_version"} and exits
non-zero when transformers refuses the directory or the logits differ by more than 1e-4.
Needs transformers 4.x for `pruned_heads`: 5.x ignores the field (a dense export loads in both).
"""
import json
import sys

import torch
import transformers


def heads_per_layer(model) -> list:
    kind = model.config.model_type
    if kind == "bert":
        return [layer.attention.self.num_attention_heads for layer in model.bert.encoder.layer]
    if kind == "opt":
        # OPTAttention keeps num_heads; its q_proj rows are the heads that remain.
        return [layer.self_attn.q_proj.out_features // layer.self_attn.head_dim for layer in model.model.decoder.layers]
    if kind == "gpt2":
        return [block.attn.num_heads for block in model.transformer.h]
    if kind == "t5":
        def live(att):
            rows = att.q.weight.reshape(att.n_heads, att.key_value_proj_dim, -1)
            return int((rows.abs().amax(dim=(1, 2)) > 0).sum())
        enc = [live(b.layer[0].SelfAttention) for b in model.encoder.block]
        dec = [live(a) for b in model.decoder.block for a in (b.layer[0].SelfAttention, b.layer[1].EncDecAttention)]
        return enc + dec
    raise SystemExit(f"unsupported model_type {kind}")


def main(model_dir: str, expected_file: str) -> int:
    with open(expected_file) as f:
        expected = json.load(f)
    config = transformers.AutoConfig.from_pretrained(model_dir)
    cls = getattr(transformers, config.architectures[0])
    model = cls.from_pretrained(model_dir, attn_implementation="eager")
    model.eval()
    keys = ("input_ids", "attention_mask", "token_type_ids", "decoder_input_ids", "decoder_attention_mask")
    inputs = {k: torch.tensor(expected[k]) for k in keys if k in expected}
    with torch.no_grad():
        logits = model(**inputs).logits
    # Compared flat: the expected logits may come as nested lists or flattened.
    diff = (logits.flatten() - torch.tensor(expected["logits"]).flatten()).abs().max().item()
    heads = heads_per_layer(model)
    print(json.dumps({"max_abs_diff": diff, "num_heads": heads, "transformers_version": transformers.__version__}))
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
