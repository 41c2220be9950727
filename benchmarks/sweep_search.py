"""Optuna sweeps on the spirals task (issue 18): TPE against random search, pruning against none,
and what a trial costs beyond its training (process start, imports, the study's storage).

    python benchmarks/sweep_search.py [--trials 30] [--seeds 5] [--epochs 20] [--workers 2] [--json]

1. TPE and random search, the same budget of --trials trials, over --seeds sweep seeds: the best
   validation loss of each sweep, and the median over the seeds of each search.
2. Random search with --prune median and with --prune asha against the same search unpruned (the
   same seed, so the same trials are proposed until the pruner changes the history): the epochs
   trained in all, the cut, and each sweep's best val.loss.
3. Per-trial overhead: a trial's wall time (process start to record) minus its training time.

Needs the `tune` extra. Every sweep is a real `nntrain sweep` command in a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPACE = ["--space", "optimizer.lr=loguniform(1e-4,3e-1)", "--space", "model.layers.0.units=int(8,128)",
         "--space", "model.layers.1.units=int(8,128)", "--space", "train.batch_size=choice(16,32,64,128)"]


def sweep(config: Path, out: Path, search: str, trials: int, seed: int, epochs: int, workers: int,
          prune: str | None = None) -> dict:
    args = [sys.executable, "-m", "nntrain", "sweep", str(config), "--search", search, "--trials", str(trials),
            "--seed", str(seed), *SPACE, "--set", f"train.epochs={epochs}", "--metric", "val.loss",
            "--out", str(out), "--workers", str(workers), "-q", "--json"]
    if prune:
        args += ["--prune", prune]
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"sweep failed ({run.returncode}): {run.stderr.strip()}")
    board = json.loads(run.stdout)
    rows = board["trials"]
    ranked = [r for r in rows if r.get("rank")]
    return {"best_val_loss": ranked[0]["metric"] if ranked else None,
            "epochs": sum(r.get("epochs") or 0 for r in rows), "pruned": board.get("pruned", 0),
            "overhead": [r["wall"] - (r.get("seconds") or 0.0) for r in rows if r.get("wall") is not None]}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--config", type=Path, default=REPO / "configs" / "spirals.yaml")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    out: dict = {"trials": a.trials, "seeds": a.seeds, "epochs": a.epochs, "workers": a.workers}
    overhead: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for search in ("tpe", "random"):
            best = []
            for seed in range(a.seeds):
                r = sweep(a.config, tmp / f"{search}-{seed}", search, a.trials, seed, a.epochs, a.workers)
                best.append(r["best_val_loss"])
                overhead += r["overhead"]
            out[search] = {"best_val_loss": best, "median": statistics.median(best)}
        out["pruning"] = {}
        for prune in (None, "median", "asha"):
            r = sweep(a.config, tmp / f"prune-{prune}", "random", a.trials, 0, a.epochs, a.workers, prune)
            out["pruning"][prune or "none"] = {k: r[k] for k in ("best_val_loss", "epochs", "pruned")}
        base = out["pruning"]["none"]
        for prune in ("median", "asha"):
            r = out["pruning"][prune]
            r["epochs_cut"] = 1 - r["epochs"] / base["epochs"]
            r["best_vs_unpruned"] = r["best_val_loss"] / base["best_val_loss"] - 1
        out["overhead_seconds_median"] = statistics.median(overhead) if overhead else None
    if a.json:
        print(json.dumps(out))
        return
    print(f"spirals, {a.trials} trials x {a.seeds} seeds, {a.epochs} epochs, {a.workers} workers")
    for search in ("tpe", "random"):
        print(f"{search:7s} median best val.loss {out[search]['median']:.4f}   per seed: "
              + " ".join(f"{v:.4f}" for v in out[search]["best_val_loss"]))
    for name, r in out["pruning"].items():
        cut = f"  epochs cut {r['epochs_cut']:.0%}, best {r['best_vs_unpruned']:+.2%} vs unpruned" if name != "none" else ""
        print(f"prune {name:7s} epochs {r['epochs']:5d}  pruned {r['pruned']:3d}  best val.loss {r['best_val_loss']:.4f}{cut}")
    print(f"per-trial overhead (wall - training), median: {out['overhead_seconds_median']:.2f}s")


if __name__ == "__main__":
    main()
