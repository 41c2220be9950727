"""Many pruner settings in seconds (issue 18): replay the learning curves of unpruned sweeps
through each setting, instead of running a pruned sweep per setting and seed.

    python benchmarks/prune_replay.py SWEEP_DIR... [--prune SETTING...] [--best-so-far] [--json]

Each SWEEP_DIR is an unpruned `nntrain sweep --search random --workers 1` folder, e.g. one of
sweep_search.py's random sweeps (the same flags and --seed, with --out). With one worker the
replay is exact: the random sampler proposes the same trials whatever the pruner decides, and a
trial trains the same way, so a pruned sweep trains a prefix of each unpruned curve. Replaying
the curves (metrics.csv's monitored column) in trial order through the pruner gives the pruned
sweep's epochs and its best trial, as the real sweep would (`--prune asha` on spirals, seed 0:
156 epochs, both ways). A SETTING is a pruner name or a YAML mapping of Optuna's options, or
`patient:N` around median (Optuna's PatientPruner); without --prune, a grid of settings runs.
--best-so-far reports each epoch's best value so far instead of the epoch's value.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import statistics
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nntrain.sweep.board import metric_value  # noqa: E402
from nntrain.sweep.search import make_pruner  # noqa: E402
from nntrain.sweep.storage import need_optuna  # noqa: E402

CUT, WITHIN = 0.40, 0.01  # issue 18: at least 40% fewer epochs, the best within 1%


def curves(folder: Path) -> tuple[str, list[tuple[list[float], float | None]]]:
    """(study name, [(the monitored value after each epoch, the final metric)] in trial order)."""
    sweep = json.loads((folder / "sweep.json").read_text())
    metric = sweep["metric"]
    split, _, name = metric.partition(".")
    column = f"val_{name}" if split == "val" else name
    records = sorted((json.loads(line) for line in (folder / "trials.jsonl").read_text().splitlines()),
                     key=lambda r: r["trial"])
    out = []
    for r in records:
        with open(Path(r["run_dir"]) / "metrics.csv") as f:
            out.append(([float(row[column]) for row in csv.DictReader(f)], metric_value(r, metric)))
    return Path(sweep["config"]).stem, out


def pruner(setting, epochs: int):
    optuna = need_optuna()
    if isinstance(setting, str) and setting.startswith("patient:"):
        return optuna.pruners.PatientPruner(make_pruner("median", epochs), patience=int(setting[8:]))
    return make_pruner(setting, epochs)


def replay(study_name: str, trials, setting, best_so_far: bool) -> tuple[int, float | None]:
    """(epochs trained, best final metric of the completed trials), minimizing."""
    optuna = need_optuna()
    study = optuna.create_study(study_name=study_name, pruner=pruner(setting, max(len(c) for c, _ in trials)))
    epochs, best = 0, None
    for curve, final in trials:
        trial, low = study.ask(), float("inf")
        for step, value in enumerate(curve, 1):
            low = min(low, value)
            trial.report(low if best_so_far else value, step)
            epochs += 1
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, final)
            best = final if best is None else min(best, final)
    return epochs, best


def grid() -> list:
    """Optuna's pruners around their defaults and nntrain's."""
    out: list = ["median", "percentile", "asha", "hyperband"]
    out += [{"type": "median", "n_warmup_steps": w, "interval_steps": i} for w, i in itertools.product((0, 3, 6, 10), (1, 2))]
    out += [{"type": "percentile", "percentile": p, "n_startup_trials": s, "n_warmup_steps": w}
            for p, s, w in itertools.product((67, 75, 80, 85), (2, 3, 5), (1, 2, 4))]
    out += [f"patient:{n}" for n in (1, 2, 3)]
    out += [{"type": "asha", "min_resource": m, "reduction_factor": r} for m, r in itertools.product((1, 2, 4, 6), (2, 3, 4))]
    out += [{"type": "hyperband", "min_resource": m, "reduction_factor": r} for m, r in itertools.product((1, 2, 3), (2, 3, 4))]
    return out


def label(setting) -> str:
    if isinstance(setting, dict):
        return " ".join([setting["type"]] + [f"{k}={v}" for k, v in setting.items() if k != "type"])
    return setting


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", type=Path, metavar="SWEEP_DIR")
    p.add_argument("--prune", nargs="+", type=yaml.safe_load, metavar="SETTING")
    p.add_argument("--best-so-far", action="store_true")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    sweeps = [curves(f) for f in a.folders]
    rows = []
    for setting in a.prune or grid():
        cuts, diffs = [], []
        for name, trials in sweeps:
            epochs, best = replay(name, trials, setting, a.best_so_far)
            cuts.append(1 - epochs / sum(len(c) for c, _ in trials))
            base = min(f for _, f in trials if f is not None)
            diffs.append(best / base - 1 if best is not None else float("inf"))
        rows.append({"setting": label(setting), "epochs_cut": cuts, "best_vs_unpruned": diffs,
                     "median_epochs_cut": statistics.median(cuts), "median_best_vs_unpruned": statistics.median(diffs),
                     "seeds_meeting_target": sum(c >= CUT and d <= WITHIN for c, d in zip(cuts, diffs))})
    if a.json:
        print(json.dumps(rows))
        return
    for r in rows:
        print(f"{r['setting']:62s} cut " + " ".join(f"{c:4.0%}" for c in r["epochs_cut"])
              + f" (median {r['median_epochs_cut']:4.0%})  best " + " ".join(f"{d:+6.1%}" for d in r["best_vs_unpruned"])
              + f" (median {r['median_best_vs_unpruned']:+5.1%})  {r['seeds_meeting_target']}/{len(sweeps)}")


if __name__ == "__main__":
    main()
