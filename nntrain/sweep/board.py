"""Trial records and the leaderboard.

`trials.jsonl` in the sweep folder has one JSON line per finished trial, appended (and synced to
disk) as each trial ends, by the local sweep and by `--trial K` jobs alike. Run folders that a
plain `nntrain fit` wrote (the --print-commands route) count too: their summary.json says how
they ended, and sweep.json says which trial they are.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..errors import NntrainError
from .plan import SPLITS, SWEEP_FILE, TRIAL_FIELDS, TRIALS_FILE, entry_problem, read_sweep_file, sweep_trials

FINAL = ("done", "pruned", "diverged", "failed", "crashed")  # a rerun does not repeat these
CORRUPT = "corrupt"  # a damaged trial or record: listed with the reason, and run again by a rerun
# what readers rely on in a trials.jsonl record, with the types each may have
RECORD_FIELDS = {**TRIAL_FIELDS, "status": (str,), "exit_code": (int, type(None)), "error": (str, type(None)),
                 "epochs": (int, type(None)), "seconds": (int, float, type(None)), "wall": (int, float, type(None)),
                 **{split: (dict, type(None)) for split in SPLITS}}
RECORD_NEEDS = ("trial", "id", "status")
SMALLER_IS_BETTER = ("loss", "mse", "mae", "rmse", "error", "mean_squared_error", "mean_absolute_error")


def append_record(out: Path, record: dict) -> None:
    """One line, written whole (one write under a lock), flushed and fsync'ed. A line torn by an
    earlier failed write (a full disk) is ended first, so that it spoils no record but itself."""
    from ..runs.folder import finite_json, write_error  # numpy: not at import (benchmarks set threads first)

    path = out / TRIALS_FILE
    line = (json.dumps(finite_json(record), allow_nan=False) + "\n").encode("utf-8")
    try:
        with open(path, "a+b") as f:
            try:
                import fcntl

                fcntl.lockf(f, fcntl.LOCK_EX)  # several `--trial K` jobs may append at once
            except (ImportError, OSError):
                pass
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = b"\n" + line
            f.write(line)  # "a" mode: at the end, wherever the read left the position
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise write_error(path, exc) from None


def read_records(out: Path) -> dict[str, dict]:
    """The latest record of each trial id in trials.jsonl. A line cut short (a crash, a full disk)
    is skipped; valid JSON of the wrong shape is a `corrupt` record naming the line and the fault
    (keyed by its id, or by '#LINE' without one)."""
    path = out / TRIALS_FILE
    records: dict[str, dict] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return records
    except UnicodeDecodeError:
        raise NntrainError(f"{path} is damaged: it is not UTF-8 text") from None
    except OSError as exc:
        raise NntrainError(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        problem = entry_problem(rec, RECORD_FIELDS, RECORD_NEEDS)
        if problem:
            rec = corrupt_record(rec, f"{path} line {number} {problem}")
        records[rec["id"] if rec["id"] is not None else f"#{number}"] = rec
    return records


def corrupt_record(entry, error: str) -> dict:
    """A damaged trial (sweep.json) or record (trials.jsonl) as a leaderboard row of its own."""
    entry = entry if isinstance(entry, dict) else {}
    trial, id_ = entry.get("trial"), entry.get("id")
    return {"trial": trial if isinstance(trial, int) and not isinstance(trial, bool) else None,
            "id": id_ if isinstance(id_, str) else None, "name": None, "params": {}, "status": CORRUPT,
            "error": error}


def record_from_summary(trial: dict, summary: dict, **more) -> dict:
    """A trial record from a run's summary.json (`fit --json` prints the same object)."""
    return {
        "trial": trial["trial"], "id": trial["id"], "name": trial["name"], "params": trial["params"],
        "status": summary.get("status", "unknown"), "exit_code": None, "error": summary.get("error"),
        "epochs": summary.get("epochs"), "seconds": summary.get("seconds"),
        **{split: summary.get(split) for split in SPLITS}, **more,
    }


def folder_record(out: Path, trial: dict) -> dict | None:
    """The record of a trial that a plain `nntrain fit` (from --print-commands) ran to an end."""
    from ..runs.folder import read_summary

    try:
        summary = read_summary(out / trial["name"])
    except NntrainError:
        return None
    if summary.get("status") not in FINAL:
        return None
    return record_from_summary(trial, summary)


def collect(out: Path, trials: list[dict] | None = None) -> tuple[list[dict], list[dict]]:
    """(finished records, unfinished trials) of the given trials, or of everything in the folder.
    Damaged trials and records are among the finished ones as `corrupt` rows with the reason
    (not FINAL: a rerun runs them again)."""
    records = read_records(out)
    everything = trials is None
    finished, pending, seen = [], [], set()
    if everything:
        trials, damaged = sweep_trials(read_sweep_file(out))
        # listed as corrupt; the trial's trials.jsonl record, if any, is listed too (below)
        finished += [corrupt_record(entry, f"{out / SWEEP_FILE}: {where} {problem}")
                     for where, entry, problem in damaged]
    for t in trials:
        seen.add(t["id"])
        rec = records.get(t["id"])
        if rec is None or rec.get("status") not in FINAL:
            rec = folder_record(out, t) or rec
        if rec is not None and rec.get("status") in (*FINAL, CORRUPT):
            finished.append(rec)
        else:
            pending.append(t)
    if everything:  # trials.jsonl lines of trials that no sweep.json lists
        finished += [r for i, r in records.items() if i not in seen and r.get("status") in (*FINAL, CORRUPT)]
    return finished, pending


# -- ranking --------------------------------------------------------------------------------
def metric_value(record: dict, metric: str) -> float | None:
    split, _, name = metric.partition(".")
    value = (record.get(split) or {}).get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def default_metric(records: list[dict]) -> str:
    """val.loss when there is a validation split; else test.accuracy, test.loss, train.loss."""
    for metric in ("val.loss", "test.accuracy", "test.loss", "train.accuracy", "train.loss"):
        if any(metric_value(r, metric) is not None for r in records):
            return metric
    return "train.loss"


def direction(metric: str, mode: str = "auto") -> str:
    if mode in ("min", "max"):
        return mode
    name = metric.partition(".")[2]
    return "min" if any(name == s or name.endswith("_" + s) for s in SMALLER_IS_BETTER) else "max"


def available_metrics(records: list[dict]) -> list[str]:
    keys = {f"{s}.{k}" for r in records for s in SPLITS for k in (r.get(s) or {})}
    return sorted(keys)


def leaderboard(out: Path, finished: list[dict], pending: list[dict], metric: str | None = None,
                mode: str = "auto") -> dict:
    """Finished trials ranked by `metric` (best first); those without it (diverged, failed) and
    pruned ones (stopped early: their last value is no final score) last, and counted."""
    metric = metric or default_metric(finished)
    order = direction(metric, mode)
    ranked = lambda r: r.get("status") != "pruned" and metric_value(r, metric) is not None  # noqa: E731
    scored = [r for r in finished if ranked(r)]
    if finished and not scored and any(r.get("status") == "done" for r in finished):
        raise NntrainError(f"--metric {metric}: no trial reports it; available: "
                           f"{', '.join(available_metrics(finished)) or 'none'}")
    sign = 1.0 if order == "min" else -1.0
    tie = metric.partition(".")[0] + ".loss"  # equal accuracies: the lower loss first

    def rank_key(r):
        loss = metric_value(r, tie)
        return sign * metric_value(r, metric), math.inf if loss is None else loss, r.get("trial", 0)

    scored.sort(key=rank_key)
    rest = sorted((r for r in finished if not ranked(r)),
                  key=lambda r: (r.get("trial") is None, r.get("trial") or 0))  # a corrupt row may have none
    rows = []
    for rank, rec in enumerate(scored + rest, 1):
        value = metric_value(rec, metric)
        run_dir = rec.get("run_dir") or (str(out / rec["name"]) if rec.get("name") else None)
        rows.append({"rank": rank if ranked(rec) else None, **rec, "metric": value, "run_dir": run_dir})
    return {"sweep_dir": str(out), "metric": metric, "mode": order, "trials": rows,
            "pending": [t["trial"] for t in pending],
            "pruned": sum(r.get("status") == "pruned" for r in finished)}
