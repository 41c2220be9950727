"""The run folder's writer: a callback that writes the weights, metrics.csv and summary.json
after every epoch, and the summary that says how the run ended (done, interrupted, failed, ...)."""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

from .. import runs
from .setup import Setup
from .trainer import Callback, Trainer, TrainState


def _versions() -> dict:
    import numpy

    from .. import __version__

    return {"nntrain": __version__, "numpy": numpy.__version__, "python": platform.python_version()}


class RunWriter(Callback):
    """Writes the run folder after every epoch: weights, metrics.csv, summary.json."""

    def __init__(self, run_dir: Path, s: Setup):
        self.run_dir, self.s = run_dir, s
        # a resumed run keeps where it came from: its first start and its config file (not the
        # copy in the run folder that resume reads)
        before = runs.read_summary(run_dir)
        self.started = before.get("started") or time.strftime("%Y-%m-%dT%H:%M:%S")
        self.source = before.get("config") or s.cfg.path
        self.extra = {}
        if s.splits.mean is not None:
            self.extra = {"data.mean": s.splits.mean, "data.std": s.splits.std}
        if s.target_scale is not None:  # target.mean, target.std
            self.extra.update(s.target_scale.arrays())

    def on_epoch_end(self, trainer: Trainer, st: TrainState) -> None:
        runs.write_npz(self.run_dir / runs.WEIGHTS, {**self.s.model.state_dict(), **self.extra})
        runs.append_metrics_row(self.run_dir / runs.METRICS, st.history[-1])
        self.summary(st, "running")

    def summary(self, st: TrainState, status: str, **more) -> dict:
        last = st.history[-1] if st.history else {}
        split = {"train": {}, "val": {}}
        for k, v in last.items():
            if k in ("epoch", "lr", "seconds"):
                continue
            split["val" if k.startswith("val_") else "train"][k.removeprefix("val_")] = v
        out = {
            "status": status,
            "run_dir": str(self.run_dir),
            "config": self.source,
            "epochs": st.epoch,
            "steps": st.step,
            "seconds": round(st.seconds, 3),
            "train": split["train"],
            "val": split["val"] or None,
            "parameters": self.s.model.count_params(),
            "started": self.started,
            "command": " ".join(sys.argv),
            "pid": os.getpid(), "host": platform.node(),  # lets `nntrain runs` tell a dead "running" run
            "versions": _versions(),
            "plugins": list(self.s.cfg.plugins),
            **more,
        }
        runs.write_json(self.run_dir / runs.SUMMARY, out)
        return out
