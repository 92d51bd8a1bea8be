#!/usr/bin/env bash
# Executes the tslab notebooks end to end; fails on any cell error.
#
#   scripts/run_notebooks.sh                      # every notebooks/*.ipynb
#   scripts/run_notebooks.sh notebooks/x.ipynb    # some of them
#   KEEP_DIR=out scripts/run_notebooks.sh         # keep the executed copies in out/
#
# Needs Jupyter (jupyter-nbconvert, jupyter-client, an ipykernel) and the tslab kernel spec
# (`npx tslab install --python=/usr/bin/python3`). The notebooks import the built library from
# ../dist, so the library is built first when dist is missing or older than src. The committed
# notebooks must have their outputs cleared; that is checked too. NEUROPRUNE_BACKEND is passed on
# (e.g. NEUROPRUNE_BACKEND=cpu). NOTEBOOK_TIMEOUT bounds each cell in seconds (default 600).
set -euo pipefail

cd "$(dirname "$0")/.."
root="$PWD"

if [ "$#" -gt 0 ]; then
  notebooks=("$@")
else
  notebooks=(notebooks/*.ipynb)
fi

# 1. Outputs cleared in the committed files (execution leaves its results elsewhere).
python3 - "${notebooks[@]}" <<'PY'
import json, sys
bad = []
for path in sys.argv[1:]:
    nb = json.load(open(path))
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "tslab":
        bad.append(f"{path}: kernelspec is not tslab")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            bad.append(f"{path}: cell {i} has outputs; clear them before committing")
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
jupyter kernelspec list 2>/dev/null | grep -q '^ *tslab ' || { echo "run_notebooks: no tslab kernel spec (npx tslab install --python=/usr/bin/python3)" >&2; exit 1; }

outdir="${KEEP_DIR:-$(mktemp -d)}"
mkdir -p "$outdir"
[ -n "${KEEP_DIR:-}" ] || trap 'rm -rf "$outdir"' EXIT

failed=0
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb")"
  start=$(date +%s)
  if jupyter nbconvert --to notebook --execute "$nb" \
       --ExecutePreprocessor.timeout="${NOTEBOOK_TIMEOUT:-600}" \
       --ExecutePreprocessor.kernel_name=tslab \
       --output-dir "$outdir" --output "$name" 2> "$outdir/$name.log"; then
    echo "ok   $nb ($(( $(date +%s) - start )) s)"
  else
    echo "FAIL $nb ($(( $(date +%s) - start )) s)" >&2
    # The failing cell and its error, else the end of the log (e.g. a kernel that did not start).
    if grep -q 'CellExecutionError: ' "$outdir/$name.log"; then
      sed -n '/CellExecutionError: /,$p' "$outdir/$name.log" | head -60 >&2
    else
      grep -v -e 'Debugger warning' -e 'frozen modules' -e 'PYDEVD' -e 'Debugging will proceed' -e '^0.00s' "$outdir/$name.log" | tail -40 >&2
    fi
    failed=1
  fi
done
exit "$failed"
