#!/usr/bin/env python3
"""Loads a checkpoint that neuroprune wrote into `transformers` and compares logits.

Usage: python3 scripts/check_hf_load.py MODEL_DIR EXPECTED_JSON
EXPECTED_JSON holds input_ids, attention_mask, token_type_ids and the logits neuroprune
computed. Prints one JSON line {"max_abs_diff", "num_heads", "transformers_version"} and exits
non-zero when transformers refuses the directory or the logits differ by more than 1e-4.
Needs transformers 4.x for `pruned_heads`: 5.x ignores the field (a dense export loads in both).
"""
import json
import sys

import torch
import transformers
from transformers import BertForSequenceClassification


def main(model_dir: str, expected_file: str) -> int:
    with open(expected_file) as f:
        expected = json.load(f)
    model = BertForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(
            input_ids=torch.tensor(expected["input_ids"]),
            attention_mask=torch.tensor(expected["attention_mask"]),
            token_type_ids=torch.tensor(expected["token_type_ids"]),
        ).logits
    diff = (logits - torch.tensor(expected["logits"])).abs().max().item()
    heads = [layer.attention.self.num_attention_heads for layer in model.bert.encoder.layer]
    print(json.dumps({"max_abs_diff": diff, "num_heads": heads, "transformers_version": transformers.__version__}))
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
