#!/usr/bin/env bash
# Regenerates the README's figures (docs/figures/*.png) and the notebooks' committed outputs in one
# go: executes the notebooks (scripts/run_notebooks.sh with UPDATE=1) with NEUROPRUNE_FIGURES_DIR set,
# so that each `show(fig, { save: 'name' })` also writes docs/figures/name.png.
#
#   scripts/make_figures.sh                          # every notebook
#   scripts/make_figures.sh notebooks/02_*.ipynb     # some of them
#
# Needs what run_notebooks.sh needs (Jupyter, the tslab kernel spec, Chromium). A few minutes of CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/figures
NEUROPRUNE_FIGURES_DIR="$PWD/docs/figures" UPDATE=1 bash scripts/run_notebooks.sh "$@"
ls docs/figures/*.png
