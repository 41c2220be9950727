"""Inside a trial's `nntrain fit` process: report the monitored metric to its Optuna trial after
every epoch, and stop cleanly when the study's pruner says the trial is hopeless.

The sweep worker (worker.py) starts the trial with NNTRAIN_OPTUNA_TRIAL set to a JSON object
{storage, study, trial_id, monitor, prune}; the fit process opens the same storage, so the
value reaches the study the moment the epoch ends, and the pruner compares it with the other
trials' values at the same epoch, wherever they ran. A pruned run stops after that epoch, has
its final evaluation like any run, and is recorded `pruned` with the epoch it reached: its run
folder stays valid (eval, predict, resume, `nntrain runs`).
"""
from __future__ import annotations

import json
import math
import os

from ..train.trainer import Callback
from .worker import TRIAL_ENV


class PruneReporter(Callback):
    """trial.report(row[monitor], epoch) after each epoch; st.stop when trial.should_prune()."""

    def __init__(self, trial, monitor: str):
        self.trial, self.monitor = trial, monitor
        self.pruned_at: int | None = None
        self.value: float | None = None

    def on_epoch_end(self, trainer, st) -> None:
        value = st.history[-1].get(self.monitor)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return  # a non-finite loss ends the run as diverged anyway
        self.value = float(value)
        self.trial.report(self.value, st.epoch)
        if self.trial.should_prune():
            self.pruned_at, st.stop = st.epoch, True

    def report(self) -> dict:
        """What summary.json keeps under `pruned`."""
        return {"epoch": self.pruned_at, "monitor": self.monitor, "value": self.value}


def trial_reporter() -> PruneReporter | None:
    """The reporter of this fit process's Optuna trial, or None when it is not a pruned sweep's trial."""
    text = os.environ.get(TRIAL_ENV)
    if not text:
        return None
    import optuna

    from .search import make_pruner
    from .storage import open_storage

    spec = json.loads(text)
    study = optuna.load_study(study_name=spec["study"], storage=open_storage(spec["storage"]),
                              pruner=make_pruner(spec["prune"], spec.get("epochs")))
    return PruneReporter(optuna.trial.Trial(study, spec["trial_id"]), spec["monitor"])
