#!/usr/bin/env python3
"""PyTorch peer of bench/bert_throughput.ts: one BertForSequenceClassification training step
(forward, backward, Adam step) timed on the CPU, same shape and same step as ours.

Usage: python3 bench/torch_bert_step.py --threads 1 --batch 16 --seq 128 --steps 3
Prints one JSON line: {"threads", "batch", "seq", "steps", "step_seconds", "seconds_per_step" (the
fastest step), "tokens_per_second", "torch"}.
"""
import argparse
import json
import time

import torch
from transformers import BertConfig, BertForSequenceClassification


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
    p.add_argument("--vocab", type=int, default=30522)
    p.add_argument("--labels", type=int, default=2)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
        intermediate_size=a.intermediate, max_position_embeddings=512, num_labels=a.labels,
    )
    model = BertForSequenceClassification(config)  # default attention (sdpa): what users get
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    ids = torch.randint(1, a.vocab, (a.batch, a.seq))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    labels = torch.randint(0, a.labels, (a.batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    # The fastest step: the machine is shared, and other load only ever adds time.
    dt = min(times)
    print(json.dumps({
        "threads": a.threads, "batch": a.batch, "seq": a.seq, "steps": a.steps, "step_seconds": times,
        "seconds_per_step": dt, "tokens_per_second": a.batch * a.seq / dt, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
