"""What the PyTorch peers of the benchmarks share (bench/train_step.py, decoder_step.py, t5_step.py,
torch_glue_finetune.py): the paper's penalties written as src/neuroprune/regularizers.ts computes
them, AdamW with weight decay off for biases and norms, the step timer and the peak memory."""
import resource
import time

import torch


def attention_penalty(*weights, delta=1e-8):
    """Eq. 2 for one group of maps read by the same input: sum over input columns of
    sqrt(sum of |w| over the column in every map given) (Q, K and V of a self-attention)."""
    col = sum(w.abs().sum(0) for w in weights)
    return torch.sqrt(col + delta).sum()


def mlp_penalty(*weights, eps=1e-4):
    """Eq. 1 on each map: every row's l1 norm weighted by its fraction of entries below eps, that
    fraction held constant (no gradient through the count)."""
    total = 0.0
    for w in weights:
        with torch.no_grad():
            frac = (w.abs() < eps).float().mean(1)
        total = total + (frac * w.abs().sum(1)).sum()
    return total


def adamw(model, no_decay, lr=2e-5, weight_decay=0.01):
    """AdamW with decoupled weight decay on every parameter except those `no_decay(name)` names."""
    params = list(model.named_parameters())
    return torch.optim.AdamW([
        {"params": [p for n, p in params if not no_decay(n)], "weight_decay": weight_decay},
        {"params": [p for n, p in params if no_decay(n)], "weight_decay": 0.0},
    ], lr=lr)


def seconds_per_step(step, warmup, steps):
    """Runs `warmup` untimed steps, then the mean wall time of `steps` more."""
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def peak_rss_mib():
    """Peak resident set of this process (Linux reports KiB), as the TypeScript side reports its own."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
