"""nntrain on the raw Palmer Penguins file against a scikit-learn pipeline (issue 14, point 9).

    python benchmarks/penguins.py                  # 3 seeds; needs scikit-learn (the `bench` extra)
    python benchmarks/penguins.py --seeds 0 1 2 3 4 --json out.json

nntrain: `configs/penguins.yaml` as it ships (only `target: species`; inferred column kinds,
median / most-frequent fills, one-hot categories, standardized numbers; dense 64 relu + softmax,
Adam lr 1e-3, batch 32, 50 epochs), with `seed` set per run: the seed also draws the test split.

scikit-learn: the same rows for training and test (nntrain's own seeded split of the file),
ColumnTransformer(SimpleImputer(median) + StandardScaler on the numbers, SimpleImputer(
most_frequent) + OneHotEncoder(handle_unknown="ignore") on island and sex) then
MLPClassifier((64,), adam, lr 1e-3, batch 32, the same 50 epochs (no early stop), random_state
= seed). MLPClassifier keeps its default L2 penalty alpha=1e-4; nntrain has none.

Reported: test accuracy per seed and the mean of each; the acceptance is |mean difference| <= 1
point.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import nntrain  # noqa: E402
from nntrain.data.splits import validation_indices  # noqa: E402

CONFIG = REPO / "configs" / "penguins.yaml"
DATA = REPO / "datasets" / "penguins.csv"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
CATEGORICAL = ["island", "sex"]


def nntrain_accuracy(seed: int) -> tuple[float, dict]:
    cfg = nntrain.load_config(CONFIG, overrides=[f"seed={seed}"])
    with tempfile.TemporaryDirectory() as tmp:
        out = nntrain.fit(cfg, run_dir=Path(tmp) / "run")
    return out["test"]["accuracy"], cfg


def sklearn_accuracy(seed: int, cfg) -> float:
    from sklearn.compose import ColumnTransformer
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    with open(DATA, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = set(cfg.data.na_values)
    num = np.array([[np.nan if r[c] in missing else float(r[c]) for c in NUMERIC] for r in rows])
    cat = np.array([[np.nan if r[c] in missing else r[c] for c in CATEGORICAL] for r in rows], dtype=object)
    y = np.array([r["species"] for r in rows])
    train, test = validation_indices(len(rows), cfg.data.test_split, seed, "data.test_split")
    epochs, batch = cfg.train.epochs, cfg.train.batch_size
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(range(len(NUMERIC)))),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         list(range(len(NUMERIC), len(NUMERIC) + len(CATEGORICAL)))),
    ])
    model = make_pipeline(pre, MLPClassifier(hidden_layer_sizes=(64,), solver="adam", learning_rate_init=1e-3,
                                             batch_size=batch, max_iter=epochs, n_iter_no_change=epochs + 1,
                                             tol=0.0, random_state=seed))
    x = np.concatenate([num.astype(object), cat], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x[train], y[train])
    return float((model.predict(x[test]) == y[test]).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        ours, cfg = nntrain_accuracy(seed)
        theirs = sklearn_accuracy(seed, cfg)
        rows.append({"seed": seed, "nntrain": ours, "sklearn": theirs})
        print(f"seed {seed}: nntrain {ours:.4f}  scikit-learn {theirs:.4f}")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("nntrain", "sklearn")}
    diff = 100 * (mean["nntrain"] - mean["sklearn"])
    print(f"mean over {len(rows)} seeds: nntrain {mean['nntrain']:.4f}  scikit-learn {mean['sklearn']:.4f}  "
          f"difference {diff:+.2f} points ({'within' if abs(diff) <= 1 else 'NOT within'} 1 point)")
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "mean": mean, "difference_points": diff}, indent=2) + "\n")


if __name__ == "__main__":
    main()
