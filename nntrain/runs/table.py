"""The runs under a folder, with their status and final metrics (`nntrain runs`).

A run folder is one holding summary.json (written after every epoch) or config.yaml (written
before the first epoch). Its status comes from summary.json: done, pruned (stopped early by a
sweep's pruner, see sweep/pruning.py), interrupted (Ctrl-C),
diverged (non-finite loss), failed (another error) or running. A process killed outright
(kill -9, out of memory, power loss) never records its end, so its summary still says
"running"; such a run is reported as `stale` when

- the summary names the writing process (pid, host) on this machine and that process is gone, or
- (another machine, or an old summary without a pid) the summary has not been rewritten for
  longer than max(10 minutes, 5 mean epochs), although a live run rewrites it every epoch.

A stale run's last completed epoch is on disk, like an interrupted one's. (Should the OS reuse a
dead run's pid for another process, the run would show as running until that process ends.)
A run whose summary.json cannot be read as one is `corrupt`, with the reason, and the others
list as usual.
"""
from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path

from .. import runs
from ..errors import NntrainError, RunError

STATUSES = ("done", "pruned", "running", "interrupted", "stale", "diverged", "failed", "incomplete", "corrupt")
SPLITS = ("train", "val", "test")
FIELDS = ("name", "config", "date", "epochs", "status", "seconds")
STALE_AFTER = 600.0  # seconds without a summary rewrite before a pid-less "running" run is stale
STALE_EPOCHS = 5.0  # ... or this many mean epochs, whichever is longer
# metrics where lower is better; every other metric sorts highest first
LOWER_IS_BETTER = ("loss", "mse", "mae", "rmse", "error")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OSError, OverflowError):
        return False
    return True


def run_status(summary: dict, summary_path: Path, now: float | None = None) -> str:
    """The status of a run from its summary (see the module doc for `stale`)."""
    status = summary.get("status")
    if status != "running":
        return status if status in STATUSES else "unknown"
    pid, host = summary.get("pid"), summary.get("host")
    if isinstance(pid, int) and host == platform.node():
        return "running" if _alive(pid) else "stale"
    now = time.time() if now is None else now
    epochs, seconds = summary.get("epochs") or 0, summary.get("seconds") or 0.0
    limit = max(STALE_AFTER, STALE_EPOCHS * seconds / epochs if epochs else 0.0)
    age = now - summary_path.stat().st_mtime
    return "stale" if age > limit else "running"


def _run_dirs(root: Path) -> list[Path]:
    found = {p.parent for p in root.rglob(runs.SUMMARY)}
    for cfg in root.rglob(runs.CONFIG):
        # a config.yaml alone marks a run that has not finished its first epoch, unless the
        # folder is a parent of runs (a sweep keeping its base config, say)
        if cfg.parent not in found and not any(p != cfg.parent and cfg.parent in p.parents for p in found):
            found.add(cfg.parent)
    return sorted(found)


def _final(rec: dict) -> tuple[str | None, dict]:
    for split in ("test", "val", "train"):
        if rec.get(split):
            return split, rec[split]
    return None, {}


def describe(run_dir: Path, root: Path, now: float | None = None) -> dict:
    """One row of `nntrain runs --json`."""
    summary_path = run_dir / runs.SUMMARY
    try:
        summary = runs.read_summary(run_dir)
    except RunError as exc:  # listed with the reason; the other runs still list, sort and plot
        summary = {"status": "corrupt", "error": str(exc)}
    if summary.get("status") == "corrupt":
        status = "corrupt"
    elif summary:
        status = run_status(summary, summary_path, now)
    else:
        status = "incomplete"  # config.yaml only: no epoch finished, nothing to resume or evaluate
    name = run_dir.relative_to(root).as_posix() if run_dir != root else run_dir.name
    config = summary.get("config")
    rec = {
        "name": name,
        "path": str(run_dir),
        "config": Path(config).stem if config else (run_dir.parent.name if run_dir != root else None),
        "date": (summary.get("started") or "").replace("T", " ") or None,
        "epochs": summary.get("epochs", 0),
        "status": status,
        "seconds": summary.get("seconds"),
        **{split: summary.get(split) or None for split in SPLITS},
    }
    if status != summary.get("status") and summary.get("status"):
        rec["recorded_status"] = summary["status"]
    if summary.get("error"):
        rec["error"] = summary["error"]
    rec["final"] = _final(rec)[0]
    return rec


def list_runs(root: str | Path = "runs", now: float | None = None) -> list[dict]:
    """Every run under root (root itself may be a run folder), sorted by start date."""
    root = Path(root)
    if not root.is_dir():
        raise RunError(f"no runs folder {root} (train with `nntrain fit CONFIG`, or pass the folder: nntrain runs DIR)")
    return sort_runs([describe(d, root, now) for d in _run_dirs(root)], "date")


def _lookup(rec: dict, key: str):
    if "." in key:
        split, metric = key.split(".", 1)
        return (rec.get(split) or {}).get(metric)
    return rec.get(key)


def check_sort_key(records: list[dict], key: str) -> None:
    """A valid --sort key: a field, or split.metric present in at least one run."""
    metric_keys = sorted({f"{s}.{m}" for r in records for s in SPLITS for m in (r.get(s) or {})})
    if key in FIELDS or key in metric_keys:
        return
    split = key.split(".", 1)[0]
    if records and split in SPLITS and "." in key:
        raise NntrainError(f"--sort {key}: no run has that metric; metrics present: {', '.join(metric_keys)}")
    if split in SPLITS and "." in key:
        return  # no runs at all: nothing to sort
    from ..errors import did_you_mean

    valid = list(FIELDS) + metric_keys
    raise NntrainError(f"--sort {key!r} is not a run field or SPLIT.METRIC{did_you_mean(key, valid)}; "
                       f"valid: {', '.join(valid)}")


def sort_runs(records: list[dict], key: str = "date", reverse: bool = False) -> list[dict]:
    """Sorted by key; metrics best first (lowest loss/mse/mae, highest anything else), fields
    ascending; `reverse` flips; runs without the key go last either way."""
    check_sort_key(records, key)
    metric = key.rsplit(".", 1)[-1] if "." in key else None
    descending = metric is not None and not any(metric.endswith(m) for m in LOWER_IS_BETTER)
    descending ^= reverse

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    present = [r for r in records if _lookup(r, key) is not None and (metric is None or number(_lookup(r, key)))]
    missing = [r for r in records if r not in present]
    present.sort(key=lambda r: (_lookup(r, key), r["name"]), reverse=descending)
    return present + missing


def final_metrics_text(rec: dict) -> str:
    if rec["status"] == "corrupt":
        return rec.get("error") or "-"
    split, values = _final(rec)
    if split is None:
        return "-"
    return f"{split} " + "  ".join(f"{k} {v:.4g}" if isinstance(v, (int, float)) else f"{k} {'-' if v is None else v}"
                                   for k, v in values.items())
