#!/usr/bin/env bash
# Executes the tslab notebooks end to end; fails on any cell error and prints that cell's source
# and full error (scripts/execute_notebook.py).
#
#   scripts/run_notebooks.sh                      # every notebooks/*.ipynb, executed copies in a temp dir
#   scripts/run_notebooks.sh notebooks/x.ipynb    # some of them
#   UPDATE=1 scripts/run_notebooks.sh             # write the executed notebooks back (to commit their outputs)
#   KEEP_DIR=out scripts/run_notebooks.sh         # keep the executed copies in out/
#
# Needs Jupyter (jupyter-nbconvert, jupyter-client, an ipykernel), the tslab kernel spec
# (`npx tslab install --python=/usr/bin/python3`) and Chromium for the figures' PNGs. The
# notebooks import the built library from ../dist, so the library is built first when dist is
# missing or older than src. The committed notebooks carry their outputs (figures as PNG with
# plotly JSON, never a script from a CDN); that is checked too. NEUROPRUNE_BACKEND is passed on.
# NOTEBOOK_TIMEOUT bounds each cell in seconds (default 600).
set -euo pipefail

cd "$(dirname "$0")/.."
root="$PWD"

if [ "$#" -gt 0 ]; then
  notebooks=("$@")
else
  notebooks=(notebooks/*.ipynb)
fi

# 1. The committed notebooks: tslab kernel, executed (every code cell run), no remote scripts.
# (Not when updating them: then they are about to be executed and written back.)
[ -n "${UPDATE:-}" ] || python3 - "${notebooks[@]}" <<'PY'
import json, sys
bad = []
for path in sys.argv[1:]:
    nb = json.load(open(path))
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "tslab":
        bad.append(f"{path}: kernelspec is not tslab")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("execution_count") is None:
            bad.append(f"{path}: cell {i} was not executed; commit the notebook with outputs (UPDATE=1 scripts/run_notebooks.sh)")
        if "cdn.plot.ly" in json.dumps(cell.get("outputs", [])):
            bad.append(f"{path}: cell {i} loads plotly from a CDN; show figures with notebook.show")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
PY

# 2. Build when dist is missing or stale (a source file newer than its compiled file).
stale=0
while IFS= read -r -d '' src; do
  rel="${src#src/}"
  out="dist/${rel%.ts}.js"
  if [ ! -f "$out" ] || [ "$src" -nt "$out" ]; then
    stale=1
    break
  fi
done < <(find src -name '*.ts' ! -name '*.d.ts' -print0)
if [ "$stale" = 1 ]; then
  echo "run_notebooks: dist is stale, running npm run build" >&2
  npm run build
fi

# 3. The kernel runs the `tslab` binary from PATH, in the notebook's folder.
export PATH="$root/node_modules/.bin:$PATH"
command -v tslab >/dev/null || { echo "run_notebooks: tslab not found in node_modules/.bin (npm ci)" >&2; exit 1; }
command -v jupyter >/dev/null || { echo "run_notebooks: jupyter not found (apt-get install jupyter-nbconvert jupyter-client python3-ipykernel)" >&2; exit 1; }
# grep reads the whole list (no -q): an early exit would SIGPIPE jupyter and fail the pipeline under pipefail.
jupyter kernelspec list 2>/dev/null | grep '^ *tslab ' >/dev/null || { echo "run_notebooks: no tslab kernel spec (npx tslab install --python=/usr/bin/python3)" >&2; exit 1; }
# Jupyter's Python (Debian's), which has nbclient, whatever python3 is first on PATH.
py=/usr/bin/python3
[ -x "$py" ] && "$py" -c 'import nbclient' 2>/dev/null || py=python3

outdir="${KEEP_DIR:-$(mktemp -d)}"
mkdir -p "$outdir"
[ -n "${KEEP_DIR:-}" ] || trap 'rm -rf "$outdir"' EXIT

failed=0
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb")"
  start=$(date +%s)
  if PYDEVD_DISABLE_FILE_VALIDATION=1 "$py" -Xfrozen_modules=off scripts/execute_notebook.py "$nb" "$outdir/$name" \
       --timeout "${NOTEBOOK_TIMEOUT:-600}" 2> "$outdir/$name.log"; then
    echo "ok   $nb ($(( $(date +%s) - start )) s)"
    [ -z "${UPDATE:-}" ] || cp "$outdir/$name" "$nb"
  else
    echo "FAIL $nb ($(( $(date +%s) - start )) s)" >&2
    cat "$outdir/$name.log" >&2
    failed=1
  fi
done
exit "$failed"
