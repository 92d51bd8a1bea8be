#!/usr/bin/env python3
"""PyTorch peer of bench/t5_step.ts: one NeuroPrune training step of a T5-base-shaped
`T5ForConditionalGeneration` with random weights (forward with dropout, label cross-entropy +
alpha * R_attn + beta * R_mlp, backward, AdamW) and greedy generation latency, on the CPU.

A compacted model is run as a dense one with its shape: `--heads` heads per attention and an MLP of
`--ff` neurons.

  python3 bench/t5_step.py --threads 1 --batch 8 --src 128 --tgt 32 --gen-batch 8 --new-tokens 32 [--heads 12 --ff 3072]

Prints one JSON line: {"seconds_per_step", "tokens_per_second", "max_rss_mib", "generation_seconds_per_example", "torch", ...}.
"""
import argparse
import json
import time

import torch
from transformers import DynamicCache, EncoderDecoderCache, T5Config, T5ForConditionalGeneration

from torch_peer import adamw, attention_penalty, mlp_penalty, peak_rss_mib, seconds_per_step


def regularizers(model, eps=1e-4, delta=1e-8):
    """The terms of src/neuroprune/regularizers.ts on T5's blocks: Eq. 2 groups per input column of
    Q, K and V (in a cross-attention Q's columns and K/V's columns separately), Eq. 1 on every MLP map."""
    r_attn = 0.0
    r_mlp = 0.0
    for stack in (model.encoder, model.decoder):
        for block in stack.block:
            for layer in block.layer:
                a = getattr(layer, "SelfAttention", None) or getattr(layer, "EncDecAttention", None)
                if a is not None:
                    if a.is_decoder and hasattr(layer, "EncDecAttention"):
                        r_attn = r_attn + attention_penalty(a.q.weight, delta=delta) + attention_penalty(a.k.weight, a.v.weight, delta=delta)
                    else:
                        r_attn = r_attn + attention_penalty(a.q.weight, a.k.weight, a.v.weight, delta=delta)
                ff = getattr(layer, "DenseReluDense", None)
                if ff is not None:
                    r_mlp = r_mlp + mlp_penalty(ff.wi.weight, ff.wo.weight, eps=eps)
    return r_attn, r_mlp


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--src", type=int, default=128)
    p.add_argument("--tgt", type=int, default=32)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--gen-batch", type=int, default=8)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--ff", type=int, default=3072)
    p.add_argument("--alpha", type=float, default=1e-6)
    p.add_argument("--beta", type=float, default=1e-6)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=a.ff, num_layers=12, num_decoder_layers=12, num_heads=a.heads,
                   relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.1,
                   feed_forward_proj="relu", tie_word_embeddings=True, pad_token_id=0, eos_token_id=1,
                   decoder_start_token_id=0, attn_implementation="eager")
    model = T5ForConditionalGeneration(cfg)
    model.train()
    opt = adamw(model, lambda n: "layer_norm" in n)
    ids = torch.randint(3, cfg.vocab_size, (a.batch, a.src))
    labels = torch.randint(3, cfg.vocab_size, (a.batch, a.tgt))

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(input_ids=ids, labels=labels)
        r_attn, r_mlp = regularizers(model)
        loss = out.loss + a.alpha * r_attn + a.beta * r_mlp
        loss.backward()
        opt.step()

    dt = seconds_per_step(step, a.warmup, a.steps)
    train_rss = peak_rss_mib()

    model.eval()
    inputs = torch.randint(3, cfg.vocab_size, (a.gen_batch, a.src))

    def gen(x, n):
        # min_new_tokens = max_new_tokens: no row stops at EOS, as ours runs with no EOS.
        with torch.no_grad():
            return model.generate(input_ids=x, max_new_tokens=n, min_new_tokens=n, num_beams=1, do_sample=False,
                                  past_key_values=EncoderDecoderCache(DynamicCache(), DynamicCache()))

    gen(inputs[:2], 2)
    g0 = time.perf_counter()
    out = gen(inputs, a.new_tokens)
    g = time.perf_counter() - g0
    assert out.shape[1] == a.new_tokens + 1
    print(json.dumps({
        "threads": a.threads, "batch": a.batch, "src": a.src, "tgt": a.tgt, "heads": a.heads, "ff": a.ff, "steps": a.steps,
        "seconds_per_step": dt, "tokens_per_second": a.batch * (a.src + a.tgt) / dt, "torch": torch.__version__,
        "max_rss_mib": train_rss, "generation_seconds_per_example": g / a.gen_batch,
    }))


if __name__ == "__main__":
    main()
