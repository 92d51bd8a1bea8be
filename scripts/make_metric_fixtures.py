#!/usr/bin/env python3
"""Reference values of the GLUE metrics from scikit-learn and scipy, for test/data/metrics.test.ts.

    python3 scripts/make_metric_fixtures.py   # writes test/fixtures/metrics/expected.json
"""
import json
import os
import warnings

import numpy as np
import scipy
import sklearn
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

warnings.simplefilter("ignore")  # constant inputs warn; the values are what we check
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def num(v: float):
    v = float(v)
    return None if np.isnan(v) else v  # JSON has no NaN: null stands for it


def main() -> None:
    rng = np.random.default_rng(3)
    cls = []
    for n, k, noise in [(10, 2, 0.3), (57, 2, 0.5), (200, 2, 0.1), (101, 3, 0.4), (64, 5, 0.6), (1000, 2, 0.25)]:
        t = rng.integers(0, k, n)
        p = np.where(rng.random(n) < noise, rng.integers(0, k, n), t)
        cls.append((t, p))
    # Degenerate: constant predictions, constant truth, all wrong, all right, no positives.
    cls.append((np.array([0, 1, 1, 0, 1]), np.array([1, 1, 1, 1, 1])))
    cls.append((np.array([1, 1, 1, 1]), np.array([0, 1, 0, 1])))
    cls.append((np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0])))
    cls.append((np.array([0, 1, 2, 1]), np.array([0, 1, 2, 1])))
    cls.append((np.array([0, 0, 0]), np.array([0, 0, 0])))
    classification = []
    for t, p in cls:
        binary = set(t.tolist()) | set(p.tolist()) <= {0, 1}
        classification.append({
            "y_true": t.tolist(), "y_pred": p.tolist(),
            "accuracy": num(accuracy_score(t, p)),
            "f1": num(f1_score(t, p, pos_label=1, average="binary", zero_division=0)) if binary else None,
            "mcc": num(matthews_corrcoef(t, p)),
        })
    reg = []
    for n, ties in [(10, False), (50, True), (300, False), (300, True), (7, True)]:
        x = rng.integers(0, 6, n).astype(float) if ties else rng.normal(size=n)
        y = x + rng.normal(scale=1.0, size=n)
        if ties:
            y = np.round(y)
        reg.append((x, y))
    reg.append((np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0, 8.0])))
    reg.append((np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 3.0, 3.0, 1.0])))
    reg.append((np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0])))
    regression = [{"x": x.tolist(), "y": y.tolist(), "pearson": num(pearsonr(x, y)[0]),
                   "spearman": num(spearmanr(x, y)[0])} for x, y in reg]
    out_dir = os.path.join(ROOT, "test", "fixtures", "metrics")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "expected.json"), "w") as fh:
        json.dump({"sklearn": sklearn.__version__, "scipy": scipy.__version__,
                   "classification": classification, "regression": regression}, fh)
        fh.write("\n")


if __name__ == "__main__":
    main()
