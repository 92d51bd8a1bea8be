"""PyTorch's side of bench/eval_bucketing.ts: SST-2 dev under inference_mode, in file order and sorted by length.

    python3 bench/eval_bucketing.py MODEL_DIR GLUE_DIR
"""
import time, torch, csv
from transformers import AutoTokenizer, BertForSequenceClassification
import sys
d, glue = sys.argv[1], sys.argv[2]
tok=AutoTokenizer.from_pretrained(d)
m=BertForSequenceClassification.from_pretrained(d, num_labels=2).eval()
rows=list(csv.reader(open(glue + '/SST-2/dev.tsv'), delimiter='\t', quoting=csv.QUOTE_NONE))[1:]
sents=[r[0] for r in rows]
enc=[tok(s, truncation=True, max_length=128)['input_ids'] for s in sents]
tokens=sum(len(e) for e in enc)
def run(order, bs=64):
    t0=time.time()
    with torch.inference_mode():
        for i in range(0, len(order), bs):
            idx=order[i:i+bs]; L=max(len(enc[j]) for j in idx)
            ids=torch.zeros(len(idx), L, dtype=torch.long); mask=torch.zeros_like(ids)
            for r,j in enumerate(idx): ids[r,:len(enc[j])]=torch.tensor(enc[j]); mask[r,:len(enc[j])]=1
            m(input_ids=ids, attention_mask=mask)
    return time.time()-t0
print('threads', torch.get_num_threads())
plain=list(range(len(enc))); srt=sorted(plain, key=lambda j: len(enc[j]))
for rep in range(2):
    for name,o in (('plain',plain),('sorted',srt)):
        s=run(o); print(f'torch {name}: {s:.2f} s, {tokens/s:.0f} tokens/s')
