"""Executes one tslab notebook with nbclient; on a failing cell, prints its source and full error.

    python3 scripts/execute_notebook.py notebooks/x.ipynb OUT.ipynb [--timeout 600]

tslab reports a cell's exception as stderr text (its execute reply carries only the error's
name), so nbconvert's message says `<Error>:` and nothing else; here the failing cell's own
outputs are printed: its stdout/stderr streams and any error traceback. The executed notebook is
written to OUT.ipynb (also on failure, for inspection). Exit status 1 on a cell error.
"""
import argparse
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError


def cell_report(index, cell):
    lines = [f"--- cell {index} (source):", cell.source, f"--- cell {index} (outputs):"]
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            lines.append(f"[{out.name}] {out.text.rstrip()}")
        elif out.output_type == "error":
            lines.append(f"[error] {out.ename}: {out.evalue}")
            lines.extend(out.traceback)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook")
    ap.add_argument("out")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    current = {"index": None}

    def on_cell_execute(cell, cell_index):
        current["index"] = cell_index

    client = NotebookClient(nb, timeout=args.timeout, kernel_name="tslab", resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.notebook))}},
                            on_cell_execute=on_cell_execute)
    try:
        client.execute()
    except (CellExecutionError, DeadKernelError) as err:
        nbformat.write(nb, args.out)
        i = current["index"]
        if i is not None:
            print(cell_report(i, nb.cells[i]), file=sys.stderr)
        # nbclient's own message holds only what tslab's reply carries (often just `<Error>:`).
        where = f"cell {i}" if i is not None else "kernel start"
        print(f"--- {args.notebook}: stopped at {where} ({type(err).__name__})", file=sys.stderr)
        return 1
    nbformat.write(nb, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
