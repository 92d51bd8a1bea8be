#!/usr/bin/env python3
"""A tiny bare `BertModel` checkpoint (no classifier: encoder and pooler only, tensors named without
the `bert.` prefix), for test/cli/analyze.test.ts: `neuroprune analyze` needs no classifier.
Beside it, expected_degrees.json: the hidden neurons' degrees per layer (weights with |w| >= 1e-4,
compared in float32 as the library does) and NumPy's statistics of the total degree.

    python3 scripts/make_bare_bert_fixture.py   # writes test/fixtures/tiny-bert-bare/

The MLP input weights of layer 0 get a heavy-tailed row pattern (row i keeps about a fraction
(i + 1)^-1 of its weights, the rest exactly zero), so the degree statistics have something to see.
"""
import json
import os

import numpy as np

import torch
from transformers import BertConfig, BertModel

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "tiny-bert-bare")


def main() -> None:
    torch.manual_seed(14)
    config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=64, type_vocab_size=2, attn_implementation="eager")
    model = BertModel(config)
    gen = torch.Generator().manual_seed(14)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" not in name:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
        w = model.encoder.layer[0].intermediate.dense.weight  # [64, 32]
        keep = torch.rand(w.shape, generator=gen) < (1.0 / torch.arange(1, w.shape[0] + 1)).unsqueeze(1) ** 0.5
        w.mul_(keep)
    model.save_pretrained(OUT, safe_serialization=True)
    eps = np.float32(1e-4)
    layers = []
    for layer in model.encoder.layer:
        win = np.abs(layer.intermediate.dense.weight.detach().numpy()) >= eps  # [de, d]
        wout = np.abs(layer.output.dense.weight.detach().numpy()) >= eps  # [d, de]
        d = win.shape[1]
        total = (win.sum(1) + wout.sum(0)).astype(float)
        k = int(np.ceil(0.1 * len(total)))
        layers.append({
            "hiddenIn": win.sum(1).tolist(), "hiddenOut": wout.sum(0).tolist(),
            "std": float(np.std(total)),
            "gini": float(np.abs(total[:, None] - total[None, :]).sum() / (2 * len(total) ** 2 * total.mean())),
            "topShare": float(np.sort(total)[::-1][:k].sum() / total.sum()),
            "fullFraction": float(np.mean(total == 2 * d)), "emptyFraction": float(np.mean(total == 0)),
        })
    with open(os.path.join(OUT, "expected_degrees.json"), "w") as f:
        json.dump({"eps": 1e-4, "layers": layers}, f)
        f.write("\n")
    print("wrote", OUT, sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
