"""Optuna sweeps on the spirals task (issue 18): TPE against random search, pruning against none,
and what a trial costs beyond its training (process start, imports, the study's storage).

    python benchmarks/sweep_search.py [--trials 30] [--seeds 5] [--epochs 20] [--workers 1]
                                      [--prune median percentile asha ...] [--json]

1. TPE and random search, the same budget of --trials trials, over --seeds sweep seeds: the best
   validation loss of each sweep, and the median over the seeds of each search.
2. Each --prune setting against random search unpruned, on each of the same sweep seeds (the
   same seed proposes the same trials, so the unpruned sweep is part 1's random one): the epochs
   trained in all, the cut, each sweep's best val.loss and their relative difference, per seed
   and the median over the seeds, and how many seeds meet issue 18's target (at least 40% fewer
   epochs, best val.loss within 1%). A setting is a pruner's name or a YAML mapping of Optuna's
   options, e.g. '{type: median, n_warmup_steps: 1}'.
3. Per-trial overhead: a trial's wall time (process start to record) minus its training time.

With one worker (the default) every number but the overhead repeats exactly: with more, which
trials have finished when a trial reports decides TPE's proposals and the pruners' verdicts.
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

import yaml

REPO = Path(__file__).resolve().parent.parent
SPACE = ["--space", "optimizer.lr=loguniform(1e-4,3e-1)", "--space", "model.layers.0.units=int(8,128)",
         "--space", "model.layers.1.units=int(8,128)", "--space", "train.batch_size=choice(16,32,64,128)"]
CUT, WITHIN = 0.40, 0.01  # issue 18: at least 40% fewer epochs, the best val.loss within 1%


def sweep(config: Path, out: Path, search: str, trials: int, seed: int, epochs: int, workers: int,
          prune=None) -> dict:
    args = [sys.executable, "-m", "nntrain", "sweep", str(config), "--search", search, "--trials", str(trials),
            "--seed", str(seed), *SPACE, "--set", f"train.epochs={epochs}", "--metric", "val.loss",
            "--out", str(out), "--workers", str(workers), "-q", "--json"]
    if isinstance(prune, dict):  # a pruner's options go through a sweep file
        (out.parent / f"{out.name}.yaml").write_text(yaml.safe_dump({"prune": prune}))
        args += ["--spec", str(out.parent / f"{out.name}.yaml")]
    elif prune:
        args += ["--prune", prune]
    run = subprocess.run(args, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"sweep failed ({run.returncode}): {run.stderr.strip()}")
    board = json.loads(run.stdout)
    rows = board["trials"]
    ranked = [r for r in rows if r.get("rank")]
    return {"best_val_loss": ranked[0]["metric"] if ranked else None,
            "epochs": sum(r.get("epochs") or 0 for r in rows), "pruned": board.get("pruned", 0),
            "overhead": [r["wall"] - (r.get("seconds") or 0.0) for r in rows if r.get("wall") is not None]}


def setting(text: str):
    """`median`, or a YAML mapping such as '{type: median, n_warmup_steps: 1}'."""
    value = yaml.safe_load(text)
    return value if isinstance(value, dict) else str(value)


def label(prune) -> str:
    if isinstance(prune, dict):
        rest = ", ".join(f"{k} {v}" for k, v in prune.items() if k != "type")
        return f"{prune['type']} ({rest})" if rest else prune["type"]
    return prune


def compare(base: list[dict], pruned: list[dict]) -> dict:
    """Per seed and median over the seeds: epochs cut, each best val.loss, their relative difference."""
    seeds = []
    for b, p in zip(base, pruned):
        best = p["best_val_loss"]
        diff = best / b["best_val_loss"] - 1 if best is not None else None
        cut = 1 - p["epochs"] / b["epochs"]
        seeds.append({"epochs": p["epochs"], "unpruned_epochs": b["epochs"], "pruned": p["pruned"], "epochs_cut": cut,
                      "best_val_loss": best, "unpruned_best_val_loss": b["best_val_loss"], "best_vs_unpruned": diff,
                      "meets_target": diff is not None and cut >= CUT and diff <= WITHIN})
    diffs = [s["best_vs_unpruned"] if s["best_vs_unpruned"] is not None else float("inf") for s in seeds]
    return {"seeds": seeds, "median_epochs_cut": statistics.median(s["epochs_cut"] for s in seeds),
            "median_best_vs_unpruned": statistics.median(diffs), "worst_best_vs_unpruned": max(diffs),
            "seeds_meeting_target": sum(s["meets_target"] for s in seeds)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--prune", nargs="+", type=setting, default=["median", "percentile", "asha", "hyperband"],
                   metavar="SETTING", help="pruner names or YAML mappings of their options")
    p.add_argument("--no-tpe", action="store_true", help="skip TPE (part 1's random sweeps still run: they are the unpruned ones)")
    p.add_argument("--config", type=Path, default=REPO / "configs" / "spirals.yaml")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    out: dict = {"trials": a.trials, "seeds": a.seeds, "epochs": a.epochs, "workers": a.workers}
    overhead: list[float] = []
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for search in ("random",) if a.no_tpe else ("tpe", "random"):
            runs[search] = [sweep(a.config, tmp / f"{search}-{seed}", search, a.trials, seed, a.epochs, a.workers)
                            for seed in range(a.seeds)]
            overhead += [o for r in runs[search] for o in r["overhead"]]
            best = [r["best_val_loss"] for r in runs[search]]
            out[search] = {"best_val_loss": best, "median": statistics.median(best)}
        out["pruning"] = {}
        for i, prune in enumerate(a.prune):
            pruned = [sweep(a.config, tmp / f"prune{i}-{seed}", "random", a.trials, seed, a.epochs, a.workers, prune)
                      for seed in range(a.seeds)]
            out["pruning"][label(prune)] = {"setting": prune, **compare(runs["random"], pruned)}
        out["overhead_seconds_median"] = statistics.median(overhead) if overhead else None
    if a.json:
        print(json.dumps(out))
        return
    print(f"spirals, {a.trials} trials x {a.seeds} seeds, {a.epochs} epochs, {a.workers} workers")
    for search in ("tpe", "random"):
        if search in out:
            print(f"{search:7s} median best val.loss {out[search]['median']:.4f}   per seed: "
                  + " ".join(f"{v:.4f}" for v in out[search]["best_val_loss"]))
    print(f"pruning, against random search unpruned ({a.trials * a.epochs} epochs a sweep); "
          f"target: >= {CUT:.0%} fewer epochs and best within {WITHIN:.0%}")
    for name, r in out["pruning"].items():
        cuts = " ".join(f"{s['epochs_cut']:4.0%}" for s in r["seeds"])
        diffs = " ".join(f"{s['best_vs_unpruned']:+6.1%}" if s["best_vs_unpruned"] is not None else "  none"
                         for s in r["seeds"])
        print(f"  {name}\n    epochs cut {cuts}  median {r['median_epochs_cut']:4.0%}\n"
              f"    best vs unpruned {diffs}  median {r['median_best_vs_unpruned']:+.1%}"
              f"  worst {r['worst_best_vs_unpruned']:+.1%}\n"
              f"    seeds meeting the target: {r['seeds_meeting_target']} of {len(r['seeds'])}")
    print(f"per-trial overhead (wall - training), median: {out['overhead_seconds_median']:.2f}s")


if __name__ == "__main__":
    main()
