#!/usr/bin/env python3
"""Reference fixtures for the BERT parity tests (test/models/bert.parity.test.ts).

Makes a random tiny BERT with `transformers`, saves it in Hugging Face layout, and writes the
reference hidden states and logits (eval mode, so no dropout) for one fixed padded batch:

  test/fixtures/tiny-bert/          config.json, model.safetensors, reference.json
  test/fixtures/tiny-bert-pruned/   the same model after prune_heads(PRUNED_HEADS)

Weights are drawn with a larger spread than BERT's initializer_range (0.02), and the LayerNorm
gains and biases are randomised too, so that every parameter visibly moves the outputs and a
wrong transpose or a missing bias cannot hide under the LayerNorms.

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_bert_fixtures.py
"""
import json
import os
import sys

import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
PRUNED_HEADS = {0: [1, 2], 1: [0]}

# One fixed padded batch: three sequences of lengths 8, 5 and 3 (0 = [PAD]).
INPUT_IDS = [
    [2, 17, 33, 45, 8, 61, 12, 3],
    [2, 90, 7, 71, 3, 0, 0, 0],
    [2, 55, 3, 0, 0, 0, 0, 0],
]
ATTENTION_MASK = [[1 if t != 0 else 0 for t in row] for row in INPUT_IDS]
TOKEN_TYPE_IDS = [
    [0, 0, 0, 0, 1, 1, 1, 1],
    [0, 0, 1, 1, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
]


def tiny_config() -> BertConfig:
    return BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_act="gelu",
        max_position_embeddings=64,
        type_vocab_size=2,
        num_labels=3,
        attn_implementation="eager",
    )


def randomise(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.copy_(0.2 * noise)


def reference(model: BertForSequenceClassification) -> dict:
    model.eval()
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor(INPUT_IDS),
            attention_mask=torch.tensor(ATTENTION_MASK),
            token_type_ids=torch.tensor(TOKEN_TYPE_IDS),
            output_hidden_states=True,
        )
    return {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "input_ids": INPUT_IDS,
        "attention_mask": ATTENTION_MASK,
        "token_type_ids": TOKEN_TYPE_IDS,
        # hidden_states[0] is the embedding output, hidden_states[i] the output of layer i.
        "hidden_states": [h.tolist() for h in out.hidden_states],
        "logits": out.logits.tolist(),
    }


def save(model: BertForSequenceClassification, name: str) -> None:
    out_dir = os.path.join(ROOT, name)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(reference(model), f)
    print(f"wrote {out_dir}", file=sys.stderr)


def main() -> None:
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_config())
    randomise(model, seed=1234)
    save(model, "tiny-bert")
    model.prune_heads(PRUNED_HEADS)
    save(model, "tiny-bert-pruned")


if __name__ == "__main__":
    main()
