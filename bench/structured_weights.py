"""Where a BERT checkpoint's MLP and Q/K/V weights sit relative to eps: the numbers behind
README's "Structured sparsity on a pretrained model".

    python3 bench/structured_weights.py [--eps 1e-4] [--start models/all-MiniLM-L6-v2] RUN_OR_MODEL_DIR...

Per layer: the MLP's |w| quantiles and fraction below eps, Eq. 1's preferential weight c_i (the
fraction of a row of the input map below eps: mean and max), the smallest row maximum of the
input map (what must travel to zero for a neuron to die), dead neurons (input row or output
column all zero) and dead attention input dimensions (Q/K/V column all zero). With --start, for
the weights with |w| < 1e-3 at the start: the fraction whose sign flipped and their median |w| at
the end. A run directory is read at its last checkpoint. Needs numpy and safetensors.
"""
import argparse, glob, json, os
import numpy as np
from safetensors.numpy import load_file


def checkpoint(path):
    if os.path.isfile(path):
        return path
    if os.path.isfile(os.path.join(path, 'model.safetensors')):
        return os.path.join(path, 'model.safetensors')
    cks = sorted(glob.glob(os.path.join(path, 'checkpoint-*')), key=lambda p: int(p.rsplit('-', 1)[1]))
    if not cks:
        raise SystemExit(f'{path}: no model.safetensors and no checkpoint-N folder')
    return os.path.join(cks[-1], 'model.safetensors')


def layers(t):
    pre = 'bert.' if any(k.startswith('bert.') for k in t) else ''
    names = {'q': 'attention.self.query.weight', 'k': 'attention.self.key.weight', 'v': 'attention.self.value.weight',
             'win': 'intermediate.dense.weight', 'wout': 'output.dense.weight'}
    l = 0
    while f'{pre}encoder.layer.{l}.intermediate.dense.weight' in t:
        yield l, {k: t[f'{pre}encoder.layer.{l}.{n}'] for k, n in names.items()}
        l += 1


def stats(t, eps):
    for l, w in layers(t):
        win, wout = np.abs(w['win']), np.abs(w['wout'])
        mlp = np.concatenate([win.ravel(), wout.ravel()])
        qkv = np.abs(np.concatenate([w['q'], w['k'], w['v']], 0))
        c = (win < np.float32(eps)).mean(1)
        yield dict(layer=l, neurons=win.shape[0], inputs=win.shape[1],
                   mlp_abs_q01_q10_q50=[float(np.quantile(mlp, q)) for q in (0.01, 0.1, 0.5)],
                   mlp_below_eps=float((mlp < eps).mean()), c_mean=float(c.mean()), c_max=float(c.max()),
                   win_row_max_min=float(win.max(1).min()),
                   dead_neurons=int(((win.max(1) == 0) | (wout.max(0) == 0)).sum()),
                   dead_inputs=int((qkv.max(0) == 0).sum()))


def moved(t0, t1):
    a, b = dict(layers(t0)), dict(layers(t1))
    for l in a:
        w0, w1 = a[l]['win'], b[l]['win']
        if w0.shape != w1.shape:
            yield dict(layer=l, shape_changed=True)
            continue
        small = np.abs(w0) < 1e-3
        yield dict(layer=l, small=int(small.sum()), flipped=float((np.sign(w0[small]) != np.sign(w1[small])).mean()),
                   end_median=float(np.median(np.abs(w1[small]))))


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--eps', type=float, default=1e-4)
    ap.add_argument('--start')
    ap.add_argument('dirs', nargs='+')
    args = ap.parse_args()
    start = load_file(checkpoint(args.start)) if args.start else None
    for d in args.dirs:
        t = load_file(checkpoint(d))
        print(f'== {d}')
        for r in stats(t, args.eps):
            print(json.dumps(r))
        if start is not None:
            for r in moved(start, t):
                print(json.dumps(r))
