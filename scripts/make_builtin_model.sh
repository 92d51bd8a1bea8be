#!/usr/bin/env bash
# Makes the trained starting points of the default runs, as NeuroPrune starts from a trained
# model in the paper:
#   data/models/bert-small-negation  the small BERT (data/configs/bert-small-negation.json)
#                                    trained from scratch by plain fine-tuning on the negation task;
#                                    `neuroprune train` with no arguments starts from it
#   data/models/opt-small-text       the small OPT (data/configs/opt-small-text.json) trained
#   data/models/gpt2-small-text      and the small GPT-2 likewise, as language models on the
#                                    built-in text corpus (data/text); `neuroprune train
#                                    --model-type opt` (or gpt2) starts from them
#   data/models/t5-small-spell       the small T5 (data/configs/t5-small-spell.json) trained on
#                                    the built-in seq2seq task (data/seq2seq, spell-digits);
#                                    `neuroprune train --model-type t5` starts from it
# Usage: scripts/make_builtin_model.sh [bert|opt|gpt2|t5 ...] (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent

make() { # name, then the train arguments
  local name=$1; shift
  local out
  out=$(mktemp -d)
  node dist/cli/main.js train "$@" --mode finetune --seed 42 --quiet --out "$out/run"
  rm -rf "data/models/$name"
  mkdir -p data/models
  cp -rL "$out/run/checkpoint" "data/models/$name"   # -L: checkpoint is a link to checkpoint-<epoch>
  rm -f "data/models/$name/optimizer.safetensors" "data/models/$name/trainer_state.json"
  rm -rf "$out"
  echo "wrote data/models/$name"
}

for which in "${@:-bert opt gpt2 t5}"; do
  for w in $which; do
    case $w in
      bert) make bert-small-negation --config data/configs/bert-small-negation.json --epochs 10 --lr 1e-3 ;;
      opt) make opt-small-text --config data/configs/opt-small-text.json --task text --epochs 6 --lr 2e-3 ;;
      gpt2) make gpt2-small-text --config data/configs/gpt2-small-text.json --task text --epochs 6 --lr 2e-3 ;;
      t5) make t5-small-spell --config data/configs/t5-small-spell.json --task spell-digits --epochs 12 --lr 3e-3 ;;
      *) echo "unknown model $w (bert, opt, gpt2, t5)" >&2; exit 2 ;;
    esac
  done
done
