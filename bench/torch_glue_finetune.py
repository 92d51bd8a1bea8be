"""PyTorch + transformers fine-tuning of a BERT checkpoint on a GLUE task: the reference row of the
GLUE experiment (scripts/reproduce_glue.ts). Same data subset (the first --limit-train training
examples, the whole dev set), the same maximum length, batch size, epochs, peak learning rate,
linear warm-up and decay, AdamW with weight decay off for biases and LayerNorm, and gradient
clipping as `neuroprune train --mode finetune`; the data order and the classifier's initial draw
are PyTorch's own. Prints one JSON line per epoch: the dev metric, train and eval seconds.

  python3 bench/torch_glue_finetune.py --model models/all-MiniLM-L6-v2 --task sst2 \
      --glue-dir ../shared/data/glue --limit-train 1500 --epochs 3 --lr 1e-4 --seed 1
"""
import argparse, csv, json, math, os, time

import torch
from sklearn.metrics import accuracy_score, matthews_corrcoef
from transformers import AutoTokenizer, BertForSequenceClassification

from torch_peer import adamw

TASKS = {
    # folder, has header, text columns, label column, label map, metric
    'sst2': ('SST-2', True, ('sentence',), 'label', {'0': 0, '1': 1}, 'accuracy'),
    'cola': ('CoLA', False, (3,), 1, {'0': 0, '1': 1}, 'mcc'),
    'rte': ('RTE', True, ('sentence1', 'sentence2'), 'label', {'entailment': 0, 'not_entailment': 1}, 'accuracy'),
}


def read(glue_dir, task, split):
    folder, header, texts, label, labels, _ = TASKS[task]
    path = os.path.join(glue_dir, folder, f'{split}.tsv')
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.reader(f, delimiter='\t', quoting=csv.QUOTE_NONE))
    if header:
        names = rows[0]
        rows = [dict(zip(names, r)) for r in rows[1:]]
    return [(tuple(r[t] for t in texts), labels[r[label]]) for r in rows]


def batches(tok, examples, size, max_length):
    for i in range(0, len(examples), size):
        chunk = examples[i:i + size]
        texts = list(zip(*[e[0] for e in chunk]))
        enc = tok(*texts, truncation=True, max_length=max_length, padding=True, return_tensors='pt')
        yield enc, torch.tensor([e[1] for e in chunk])


def evaluate(model, tok, dev, args, metric):
    model.eval()
    preds = []
    t0 = time.perf_counter()
    # Sorted by length as `neuroprune eval` batches it, so both pay for about the same padding.
    order = sorted(range(len(dev)), key=lambda i: len(tok(*dev[i][0])['input_ids']))
    with torch.no_grad():
        for enc, _ in batches(tok, [dev[i] for i in order], 64, args.max_length):
            preds.extend(model(**enc).logits.argmax(-1).tolist())
    seconds = time.perf_counter() - t0
    by_index = [0] * len(dev)
    for p, i in zip(preds, order):
        by_index[i] = p
    gold = [e[1] for e in dev]
    value = accuracy_score(gold, by_index) if metric == 'accuracy' else matthews_corrcoef(gold, by_index)
    model.train()
    return float(value), seconds


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--model', required=True)
    p.add_argument('--task', required=True, choices=sorted(TASKS))
    p.add_argument('--glue-dir', required=True)
    p.add_argument('--limit-train', type=int, default=0)
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--lr', type=float, default=1e-4)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--max-length', type=int, default=128)
    p.add_argument('--warmup', type=float, default=0.1)
    p.add_argument('--weight-decay', type=float, default=0.01)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    metric = TASKS[args.task][5]
    train = read(args.glue_dir, args.task, 'train')
    if args.limit_train:
        train = train[:args.limit_train]
    dev = read(args.glue_dir, args.task, 'dev')
    tok = AutoTokenizer.from_pretrained(args.model)
    model = BertForSequenceClassification.from_pretrained(args.model, num_labels=2)
    opt = adamw(model, lambda n: n.endswith('bias') or 'LayerNorm' in n, lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warm = int(args.warmup * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    gen = torch.Generator().manual_seed(args.seed)
    model.train()
    for epoch in range(args.epochs):
        order = torch.randperm(len(train), generator=gen).tolist()
        t0 = time.perf_counter()
        losses = []
        for enc, labels in batches(tok, [train[i] for i in order], args.batch_size, args.max_length):
            out = model(**enc, labels=labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(out.loss.item())
        train_seconds = time.perf_counter() - t0
        value, eval_seconds = evaluate(model, tok, dev, args, metric)
        print(json.dumps({'epoch': epoch + 1, 'metricName': metric, 'metric': value, 'taskLoss': sum(losses) / len(losses),
                          'trainSeconds': train_seconds, 'evalSeconds': eval_seconds}), flush=True)


if __name__ == '__main__':
    main()
