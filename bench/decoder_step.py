#!/usr/bin/env python3
"""PyTorch peer of bench/decoder_step.ts: one NeuroPrune training step of `OPTForCausalLM` with
random weights (forward with dropout, causal-LM loss + alpha * R_attn + beta * R_mlp, backward,
AdamW) on the CPU.

  python3 bench/decoder_step.py --threads 1 --batch 16 --seq 128 [--layers 12 --hidden 768 --heads 12 --ffn 3072 --vocab 50272]

Prints one JSON line: {"threads", "batch", "seq", "steps", "seconds_per_step", "tokens_per_second", "torch", "max_rss_mib"}.
"""
import argparse
import json

import torch
from transformers import OPTConfig, OPTForCausalLM

from torch_peer import adamw, attention_penalty, mlp_penalty, peak_rss_mib, seconds_per_step


def regularizers(model, eps=1e-4, delta=1e-8):
    """The same terms as src/neuroprune/regularizers.ts (Eq. 1 and Eq. 2 of the paper), on OPT's blocks."""
    r_attn = 0.0
    r_mlp = 0.0
    for layer in model.model.decoder.layers:
        a = layer.self_attn
        r_attn = r_attn + attention_penalty(a.q_proj.weight, a.k_proj.weight, a.v_proj.weight, delta=delta)
        r_mlp = r_mlp + mlp_penalty(layer.fc1.weight, layer.fc2.weight, eps=eps)
    return r_attn, r_mlp


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--ffn", type=int, default=3072)
    p.add_argument("--vocab", type=int, default=50272)
    p.add_argument("--alpha", type=float, default=1e-6)
    p.add_argument("--beta", type=float, default=1e-6)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = OPTConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                    ffn_dim=a.ffn, max_position_embeddings=2048, word_embed_proj_dim=a.hidden, attn_implementation="eager")
    model = OPTForCausalLM(cfg)
    model.train()
    opt = adamw(model, lambda n: n.endswith(".bias") or "layer_norm" in n)
    ids = torch.randint(3, cfg.vocab_size, (a.batch, a.seq))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(input_ids=ids, attention_mask=mask, labels=ids)
        r_attn, r_mlp = regularizers(model)
        loss = out.loss + a.alpha * r_attn + a.beta * r_mlp
        loss.backward()
        opt.step()

    dt = seconds_per_step(step, a.warmup, a.steps)
    print(json.dumps({
        "threads": a.threads, "batch": a.batch, "seq": a.seq, "steps": a.steps, "seconds_per_step": dt,
        "tokens_per_second": a.batch * a.seq / dt, "torch": torch.__version__,
        "max_rss_mib": peak_rss_mib(),
    }))


if __name__ == "__main__":
    main()
