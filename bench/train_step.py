#!/usr/bin/env python3
"""PyTorch peer of bench/train_step.ts: one NeuroPrune training step of `BertForSequenceClassification`
(forward with dropout, cross-entropy + alpha * R_attn + beta * R_mlp, backward, AdamW) on the CPU.

  python3 bench/train_step.py --threads 1 --layers 6 --hidden 384 --heads 12 --intermediate 1536 --batch 16 --seq 128

With --eval: evaluation instead (model.eval(), torch.no_grad(), the forward pass and its logits).

Prints one JSON line: {"threads", "batch", "seq", "steps", "seconds_per_step", "tokens_per_second", "torch", "max_rss_mib"}.
"""
import argparse
import json

import torch
from transformers import BertConfig, BertForSequenceClassification

from torch_peer import adamw, attention_penalty, mlp_penalty, peak_rss_mib, seconds_per_step


def regularizers(model, eps=1e-4, delta=1e-8):
    """The same terms as src/neuroprune/regularizers.ts (Eq. 1 and Eq. 2 of the paper)."""
    r_attn = 0.0
    r_mlp = 0.0
    for layer in model.bert.encoder.layer:
        s = layer.attention.self
        r_attn = r_attn + attention_penalty(s.query.weight, s.key.weight, s.value.weight, delta=delta)
        r_mlp = r_mlp + mlp_penalty(layer.intermediate.dense.weight, layer.output.dense.weight, eps=eps)
    return r_attn, r_mlp


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--intermediate", type=int, default=1536)
    p.add_argument("--alpha", type=float, default=1e-6)
    p.add_argument("--beta", type=float, default=1e-6)
    p.add_argument("--eval", action="store_true", help="time an evaluation forward pass instead of a training step")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                     intermediate_size=a.intermediate, hidden_act="gelu", max_position_embeddings=512, num_labels=2,
                     attn_implementation="eager")
    model = BertForSequenceClassification(cfg)
    model.train()
    opt = adamw(model, lambda n: n.endswith(".bias") or "LayerNorm" in n)
    ids = torch.randint(1, cfg.vocab_size, (a.batch, a.seq))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    labels = torch.randint(0, 2, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        r_attn, r_mlp = regularizers(model)
        loss = out.loss + a.alpha * r_attn + a.beta * r_mlp
        loss.backward()
        opt.step()

    if a.eval:
        model.eval()

        def step():  # noqa: F811 (the evaluation step replaces the training step)
            with torch.no_grad():
                model(input_ids=ids, attention_mask=mask).logits.sum().item()

    sec = seconds_per_step(step, a.warmup, a.steps)
    print(json.dumps({"threads": a.threads, "batch": a.batch, "seq": a.seq, "steps": a.steps, "seconds_per_step": sec,
                      "tokens_per_second": a.batch * a.seq / sec, "torch": torch.__version__.split("+")[0],
                      "max_rss_mib": peak_rss_mib()}))


if __name__ == "__main__":
    main()
