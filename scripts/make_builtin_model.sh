#!/usr/bin/env bash
# Makes data/models/bert-small-negation: the small BERT (data/configs/bert-small-negation.json)
# trained from scratch by plain fine-tuning on the built-in negation task. `neuroprune train`
# with no arguments starts from it, as NeuroPrune starts from a trained model in the paper.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
out=$(mktemp -d)
node dist/cli/main.js train --config data/configs/bert-small-negation.json --mode finetune \
  --epochs 10 --lr 1e-3 --seed 42 --quiet --out "$out/run"
rm -rf data/models/bert-small-negation
mkdir -p data/models
cp -rL "$out/run/checkpoint" data/models/bert-small-negation   # -L: checkpoint is a link to checkpoint-<epoch>
rm -f data/models/bert-small-negation/optimizer.safetensors data/models/bert-small-negation/trainer_state.json
rm -rf "$out"
echo "wrote data/models/bert-small-negation"
