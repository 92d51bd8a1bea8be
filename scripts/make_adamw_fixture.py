"""Reference values for the AdamW test: torch.optim.AdamW on two small parameters, three steps.

Run: python3 scripts/make_adamw_fixture.py  (writes test/fixtures/adamw.json)
"""
import json
import torch

torch.manual_seed(0)
w = torch.randn(3, 4, requires_grad=True)
b = torch.randn(4, requires_grad=True)
init = {"w": w.detach().tolist(), "b": b.detach().tolist()}
opt = torch.optim.AdamW([
    {"params": [w], "weight_decay": 0.1},
    {"params": [b], "weight_decay": 0.0},
], lr=0.05, betas=(0.9, 0.999), eps=1e-8)
grads, lrs = [], []
for step in range(3):
    lr = [0.05, 0.03, 0.01][step]
    for g in opt.param_groups:
        g["lr"] = lr
    gw, gb = torch.randn(3, 4), torch.randn(4)
    w.grad, b.grad = gw.clone(), gb.clone()
    opt.step()
    grads.append({"w": gw.tolist(), "b": gb.tolist()})
    lrs.append(lr)
json.dump({"init": init, "grads": grads, "lrs": lrs, "weight_decay": 0.1,
           "final": {"w": w.detach().tolist(), "b": b.detach().tolist()}},
          open("test/fixtures/adamw.json", "w"))
