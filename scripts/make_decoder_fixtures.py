#!/usr/bin/env python3
"""Reference fixtures for the OPT and GPT-2 parity tests (test/models/decoders.parity.test.ts).

Makes tiny random decoders with `transformers`, saves them in Hugging Face layout, and writes for
one fixed right-padded batch (eval mode, so no dropout) the hidden states, the logits, the task
loss and the gradient of that loss with respect to every parameter:

  test/fixtures/tiny-opt/          OPTForCausalLM (pre-LayerNorm, tied output embedding); its
                                   reference.json also holds the logits of the same model with
                                   heads MASKED_HEADS switched off (their value rows and biases
                                   zeroed): OPT has no prune_heads, so head removal in neuroprune
                                   is checked against this masked reference
  test/fixtures/tiny-opt-proj/     OPTForCausalLM with word_embed_proj_dim < hidden_size
                                   (project_in / project_out) and post-LayerNorm (OPT-350m style)
  test/fixtures/tiny-opt-cls/      OPTForSequenceClassification (3 labels)
  test/fixtures/tiny-gpt2/         GPT2LMHeadModel
  test/fixtures/tiny-gpt2-cls/     GPT2ForSequenceClassification (3 labels)
  test/fixtures/tiny-gpt2-pruned/  tiny-gpt2 after transformers' own prune_heads(PRUNED_HEADS)

Weights are drawn with a larger spread than the models' init_std (0.02), and the LayerNorm gains
and biases are randomised too, so that every parameter visibly moves the outputs.

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_decoder_fixtures.py
"""
import json
import os
import sys

import torch
import transformers
from transformers import (
    GPT2Config,
    GPT2ForSequenceClassification,
    GPT2LMHeadModel,
    OPTConfig,
    OPTForCausalLM,
    OPTForSequenceClassification,
)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
PRUNED_HEADS = {0: [1, 2], 1: [0]}
MASKED_HEADS = {0: [1, 2], 1: [0]}
PAD = 1

# One fixed right-padded batch: lengths 8, 5 and 3 (PAD = 1 for both families here).
INPUT_IDS = [
    [2, 17, 33, 45, 8, 51, 12, 9],
    [2, 40, 7, 31, 5, PAD, PAD, PAD],
    [2, 55, 3, PAD, PAD, PAD, PAD, PAD],
]
ATTENTION_MASK = [[1 if t != PAD else 0 for t in row] for row in INPUT_IDS]
CLASS_LABELS = [2, 0, 1]


def opt_config(**kw) -> OPTConfig:
    base = dict(
        vocab_size=60, hidden_size=16, num_hidden_layers=2, ffn_dim=32, num_attention_heads=4,
        max_position_embeddings=32, word_embed_proj_dim=16, pad_token_id=PAD, bos_token_id=2, eos_token_id=2,
        dropout=0.0, attention_dropout=0.0, num_labels=3, attn_implementation="eager",
    )
    base.update(kw)
    return OPTConfig(**base)


def gpt2_config(**kw) -> GPT2Config:
    base = dict(
        vocab_size=60, n_positions=32, n_embd=16, n_layer=2, n_head=4, pad_token_id=PAD,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, num_labels=3, attn_implementation="eager",
    )
    base.update(kw)
    return GPT2Config(**base)


def randomise(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name.lower() or ".ln_" in name:
                p.copy_((1.0 + 0.1 * noise) if name.endswith("weight") else 0.1 * noise)
            else:
                p.copy_(0.2 * noise)


def run(model: torch.nn.Module, classification: bool) -> dict:
    model.eval()
    model.zero_grad()
    ids = torch.tensor(INPUT_IDS)
    mask = torch.tensor(ATTENTION_MASK)
    if classification:
        labels = torch.tensor(CLASS_LABELS)
    else:
        # Hugging Face's causal-LM labels: the inputs, with padding ignored (-100).
        labels = ids.masked_fill(mask == 0, -100)
    out = model(input_ids=ids, attention_mask=mask, labels=labels, output_hidden_states=True)
    out.loss.backward()
    # Tied parameters appear once (named_parameters removes duplicates).
    grads = {n: p.grad.flatten().tolist() for n, p in model.named_parameters() if p.grad is not None}
    return {
        "hidden_states": [h.detach().tolist() for h in out.hidden_states],
        "logits": out.logits.detach().tolist(),
        "loss": out.loss.item(),
        "grads": grads,
    }


def save(model: torch.nn.Module, name: str, classification: bool, extra: dict | None = None) -> None:
    out_dir = os.path.join(ROOT, name)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    ref = {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "input_ids": INPUT_IDS,
        "attention_mask": ATTENTION_MASK,
        **({"labels": CLASS_LABELS} if classification else {}),
        **run(model, classification),
        **(extra or {}),
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"wrote {out_dir}", file=sys.stderr)


def masked_logits(model: OPTForCausalLM, heads: dict) -> list:
    """Logits with the given heads switched off: their value rows (and biases) zeroed."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    dh = model.config.hidden_size // model.config.num_attention_heads
    with torch.no_grad():
        for layer, hs in heads.items():
            v = model.model.decoder.layers[layer].self_attn.v_proj
            for h in hs:
                v.weight[h * dh:(h + 1) * dh] = 0
                v.bias[h * dh:(h + 1) * dh] = 0
        out = model(input_ids=torch.tensor(INPUT_IDS), attention_mask=torch.tensor(ATTENTION_MASK)).logits.tolist()
    model.load_state_dict(state)
    return out


def main() -> None:
    torch.manual_seed(0)
    opt = OPTForCausalLM(opt_config())
    randomise(opt, seed=1234)
    save(opt, "tiny-opt", False, {"masked_heads": {str(k): v for k, v in MASKED_HEADS.items()}, "masked_logits": masked_logits(opt, MASKED_HEADS)})

    proj = OPTForCausalLM(opt_config(word_embed_proj_dim=8, do_layer_norm_before=False))
    randomise(proj, seed=99)
    save(proj, "tiny-opt-proj", False)

    opt_cls = OPTForSequenceClassification(opt_config())
    randomise(opt_cls, seed=4321)
    save(opt_cls, "tiny-opt-cls", True)

    gpt2 = GPT2LMHeadModel(gpt2_config())
    randomise(gpt2, seed=1234)
    save(gpt2, "tiny-gpt2", False)

    gpt2_cls = GPT2ForSequenceClassification(gpt2_config())
    randomise(gpt2_cls, seed=4321)
    save(gpt2_cls, "tiny-gpt2-cls", True)

    gpt2.prune_heads(PRUNED_HEADS)
    save(gpt2, "tiny-gpt2-pruned", False)


if __name__ == "__main__":
    main()
