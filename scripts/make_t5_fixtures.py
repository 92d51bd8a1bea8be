#!/usr/bin/env python3
"""Reference fixtures for the T5 parity tests (test/models/t5.parity.test.ts).

Makes tiny random `T5ForConditionalGeneration` models with `transformers`, saves them in Hugging
Face layout, and writes for one fixed batch (eval mode, so no dropout; right padding in both the
encoder and the decoder batch) the encoder and decoder hidden states, the logits, the loss of the
labels and the gradient of that loss with respect to every parameter:

  test/fixtures/tiny-t5/      T5 v1.0 layout: ReLU MLP (`DenseReluDense.wi`/`wo`), output
                              embedding tied to `shared` (logits rescaled by d_model**-0.5)
  test/fixtures/tiny-t5-v11/  T5 v1.1 layout: gated-GELU MLP (`wi_0`/`wi_1`, gelu_new), untied
                              `lm_head`

Both have d_kv * num_heads != d_model, more decoder than encoder layers, and few relative-position
buckets with a short max_distance so that the short fixture sequences reach the logarithmic buckets
and the last bucket in both directions.

tiny-t5's reference.json also holds two pruned references on the same batch:
  pruned_logits   after transformers' own `T5Attention.prune_heads` on the encoder self-attention
                  (`T5Model.prune_heads` does that; T5 prunes nothing else; each layer then reads its surviving heads' columns of the
                  shared position bias)
  masked_logits   with the decoder heads MASKED_DECODER_HEADS switched off (their value rows zeroed)
                  in decoder self-attention ("self") and cross-attention ("cross"), which
                  transformers cannot prune

tiny-t5-v11's reference.json also holds `dead_logits`: the logits with the weights DEAD zeroed
(gate rows `wi_0`, input rows `wi_1` and output columns `wo` of MLP neurons, and input columns of
cross-attentions: of Q, K and V together, of Q alone (decoder dimensions) and of K and V alone
(encoder dimensions)), so that compaction can be checked against transformers.

Usage: pip install -r scripts/requirements.txt && python3 scripts/make_t5_fixtures.py
"""
import json
import os
import sys

import torch
import transformers
from transformers import T5Config, T5ForConditionalGeneration

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
PAD = 0
EOS = 1

# Encoder batch: lengths 9, 6 and 3; labels: lengths 7, 4 and 2 (right-padded).
INPUT_IDS = [
    [17, 33, 45, 8, 51, 12, 9, 23, EOS],
    [40, 7, 31, 5, 44, EOS, PAD, PAD, PAD],
    [55, 3, EOS, PAD, PAD, PAD, PAD, PAD, PAD],
]
LABELS = [
    [21, 4, 38, 16, 27, 50, EOS],
    [11, 36, 2, EOS, PAD, PAD, PAD],
    [29, EOS, PAD, PAD, PAD, PAD, PAD],
]
ATTENTION_MASK = [[1 if t != PAD else 0 for t in row] for row in INPUT_IDS]
DECODER_ATTENTION_MASK = [[1 if t != PAD else 0 for t in row] for row in LABELS]
# Teacher forcing: the labels shifted right behind the decoder start token (T5's is the pad id).
DECODER_INPUT_IDS = [[PAD] + row[:-1] for row in LABELS]
PRUNED_HEADS = {0: [0, 2], 1: [1]}
# (stack, layer, sublayer index in block.layer, what): neurons or input dimensions zeroed.
DEAD = [
    ("encoder", 0, 1, "wi_0", [0, 5, 6, 31]),
    ("encoder", 1, 1, "wi_1", [2, 3, 17]),
    ("decoder", 0, 2, "wo", [1, 4, 30]),
    ("decoder", 2, 2, "wi_0", [7]),
    ("decoder", 2, 2, "wi_1", [8, 9]),
    ("decoder", 2, 2, "wo", [10]),
    ("decoder", 1, 1, "qkv", [3, 7, 15]),
    ("decoder", 0, 1, "q", [0, 9]),
    ("decoder", 2, 1, "kv", [4, 5, 12]),
]
MASKED_DECODER_HEADS = {"self": {0: [3], 2: [0, 1]}, "cross": {1: [2], 2: [1, 3]}}


def t5_config(**kw) -> T5Config:
    base = dict(
        vocab_size=60, d_model=16, d_kv=6, d_ff=32, num_layers=2, num_decoder_layers=3, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=12, dropout_rate=0.0,
        layer_norm_epsilon=1e-6, pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=PAD,
        attn_implementation="eager",
    )
    base.update(kw)
    return T5Config(**base)


def randomise(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "layer_norm" in name:
                p.copy_(1.0 + 0.1 * noise)
            elif "relative_attention_bias" in name:
                p.copy_(noise)
            else:
                p.copy_(0.3 * noise)


def run(model: T5ForConditionalGeneration) -> dict:
    model.eval()
    model.zero_grad()
    labels = torch.tensor(LABELS).masked_fill(torch.tensor(DECODER_ATTENTION_MASK) == 0, -100)
    out = model(
        input_ids=torch.tensor(INPUT_IDS), attention_mask=torch.tensor(ATTENTION_MASK),
        decoder_input_ids=torch.tensor(DECODER_INPUT_IDS), decoder_attention_mask=torch.tensor(DECODER_ATTENTION_MASK),
        labels=labels, output_hidden_states=True,
    )
    out.loss.backward()
    # Tied parameters appear once (named_parameters removes duplicates): `shared.weight`.
    grads = {n: p.grad.flatten().tolist() for n, p in model.named_parameters() if p.grad is not None}
    return {
        "encoder_hidden_states": [h.detach().tolist() for h in out.encoder_hidden_states],
        "decoder_hidden_states": [h.detach().tolist() for h in out.decoder_hidden_states],
        "logits": out.logits.detach().tolist(),
        "loss": out.loss.item(),
        "grads": grads,
    }


def save(model: T5ForConditionalGeneration, name: str, extra: dict | None = None) -> None:
    out_dir = os.path.join(ROOT, name)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    ref = {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "input_ids": INPUT_IDS,
        "attention_mask": ATTENTION_MASK,
        "decoder_input_ids": DECODER_INPUT_IDS,
        "decoder_attention_mask": DECODER_ATTENTION_MASK,
        "labels": LABELS,
        **run(model),
        **(extra or {}),
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"wrote {out_dir}", file=sys.stderr)


def logits_of(model: T5ForConditionalGeneration) -> list:
    with torch.no_grad():
        return model(
            input_ids=torch.tensor(INPUT_IDS), attention_mask=torch.tensor(ATTENTION_MASK),
            decoder_input_ids=torch.tensor(DECODER_INPUT_IDS), decoder_attention_mask=torch.tensor(DECODER_ATTENTION_MASK),
        ).logits.tolist()


def masked_decoder_logits(model: T5ForConditionalGeneration) -> list:
    """Logits with MASKED_DECODER_HEADS switched off: their value rows zeroed (the model is restored after)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    dh = model.config.d_kv
    with torch.no_grad():
        for kind, layers in MASKED_DECODER_HEADS.items():
            for layer, heads in layers.items():
                block = model.decoder.block[layer].layer[0 if kind == "self" else 1]
                v = (block.SelfAttention if kind == "self" else block.EncDecAttention).v
                for h in heads:
                    v.weight[h * dh:(h + 1) * dh] = 0
    out = logits_of(model)
    model.load_state_dict(state)
    return out


def dead_logits(model: T5ForConditionalGeneration) -> list:
    """Logits with the DEAD weights zeroed (the model is restored after)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for stack, layer, sub, what, idx in DEAD:
            mod = getattr(model, stack).block[layer].layer[sub]
            if what in ("qkv", "q", "kv"):
                att = mod.EncDecAttention
                for lin in {"qkv": (att.q, att.k, att.v), "q": (att.q,), "kv": (att.k, att.v)}[what]:
                    lin.weight[:, idx] = 0
            elif what == "wo":
                mod.DenseReluDense.wo.weight[:, idx] = 0
            else:
                getattr(mod.DenseReluDense, what).weight[idx, :] = 0
    out = logits_of(model)
    model.load_state_dict(state)
    return out


def main() -> None:
    torch.manual_seed(0)
    v10 = T5ForConditionalGeneration(t5_config(feed_forward_proj="relu", tie_word_embeddings=True))
    randomise(v10, seed=1234)
    masked = masked_decoder_logits(v10)
    pruned = T5ForConditionalGeneration(v10.config)
    pruned.load_state_dict(v10.state_dict())
    pruned.eval()
    # T5Model._prune_heads, which T5ForConditionalGeneration lacks in transformers 4.57.
    for layer, heads in PRUNED_HEADS.items():
        pruned.encoder.block[layer].layer[0].SelfAttention.prune_heads(heads)
    save(v10, "tiny-t5", {
        "pruned_heads": {str(k): v for k, v in PRUNED_HEADS.items()},
        "pruned_logits": logits_of(pruned),
        "masked_decoder_heads": {kind: {str(k): v for k, v in layers.items()} for kind, layers in MASKED_DECODER_HEADS.items()},
        "masked_logits": masked,
    })

    v11 = T5ForConditionalGeneration(t5_config(feed_forward_proj="gated-gelu", tie_word_embeddings=False))
    randomise(v11, seed=4321)
    save(v11, "tiny-t5-v11", {
        "dead": [{"stack": s, "layer": l, "what": w, "index": i} for s, l, _, w, i in DEAD],
        "dead_logits": dead_logits(v11),
    })


if __name__ == "__main__":
    main()
