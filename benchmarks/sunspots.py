"""The sunspot forecaster (configs/sunspots_conv1d.yaml) against the naive forecast (issue 16).

    python benchmarks/sunspots.py                  # seeds 0, 1, 2
    python benchmarks/sunspots.py --seeds 0 --epochs 5 --json out.json

The naive forecast says next month is this month: for each test window, the window's last value.
Both are scored on the same test windows (the last fifth by time) as mean absolute error in
sunspots; the model's is its test `mae` (data.scale_target: in the original units).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import nntrain  # noqa: E402

CONFIG = REPO / "configs" / "sunspots_conv1d.yaml"


def naive_mae(cfg) -> float:
    """MAE of "the last value of the window" on the config's test windows, in raw units."""
    cfg.data.standardize = False
    test = nntrain.data.load_splits(cfg.data, seed=cfg.seed).test
    return float(np.abs(test.y.astype(np.float64) - test.x[:, -1, 0]).mean())


def run(seeds, epochs: int | None = None) -> dict:
    out = {"naive_mae": naive_mae(nntrain.load_config(CONFIG)), "model_mae": {}}
    for seed in seeds:
        sets = [f"seed={seed}"] + ([f"train.epochs={epochs}"] if epochs else [])
        with tempfile.TemporaryDirectory() as tmp:
            summary = nntrain.fit(nntrain.load_config(CONFIG, sets), run_dir=Path(tmp) / "run")
        out["model_mae"][seed] = summary["test"]["mae"]
    out["model_mean_mae"] = float(np.mean(list(out["model_mae"].values())))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs (quick runs)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args()
    result = run(args.seeds, args.epochs)
    for seed, mae in result["model_mae"].items():
        print(f"seed {seed}: model test MAE {mae:.2f}")
    print(f"model mean {result['model_mean_mae']:.2f}   naive (last value) {result['naive_mae']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
