"""Callbacks of the fit loop: lr schedules, early stopping, best checkpoint (and tracking, in tracking.py).

They use the Trainer's hooks (on_train_begin / on_epoch_begin / on_epoch_end / on_train_end)
and read the finished epoch's row of metrics (what metrics.csv holds: loss, accuracy,
val_loss, val_accuracy, ...). `build_callbacks(cfg, ...)` makes the ones a config asks for.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..nn.metrics.monitor import Monitor
from .trainer import Callback, Trainer, TrainState


class LRScheduler(Callback):
    """Sets optimizer.lr from the schedule at the start of every epoch, or before every step
    (schedule_unit: step, from the count of steps taken, which a checkpoint saves: a resume
    mid-epoch continues the same lrs); feeds it each epoch's row."""

    def __init__(self, schedule, base_lr: float, epochs: int):
        self.schedule, self.base_lr, self.epochs = schedule, base_lr, epochs
        schedule.start(base_lr, epochs)
        self.per_step = getattr(schedule, "unit", "epoch") == "step"

    def on_train_begin(self, trainer: Trainer, st: TrainState) -> None:
        if self.per_step:  # the length in steps is known once the batches are
            self.schedule.start(self.base_lr, self.epochs, trainer.steps_per_epoch)

    def on_epoch_begin(self, trainer: Trainer, st: TrainState) -> None:
        trainer.optimizer.lr = float(self.schedule.lr(st.step if self.per_step else st.epoch))

    def on_step_begin(self, trainer: Trainer, st: TrainState) -> None:
        trainer.optimizer.lr = float(self.schedule.lr(st.step))

    def on_epoch_end(self, trainer: Trainer, st: TrainState) -> None:
        self.schedule.observe(st.epoch - 1, st.history[-1])

    # saved in state.npz (as JSON) so that a resumed run schedules exactly as an uninterrupted one
    def state_dict(self) -> dict:
        return {k: float(v) for k, v in self.schedule.state_dict().items()}

    def load_state_dict(self, state: dict) -> None:
        self.schedule.load_state_dict({k: np.array(v) for k, v in state.items()})


def _snapshot(model) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stops training when the monitored value has not improved for `patience` epochs (Keras'
    EarlyStopping); with restore_best the model gets back the weights of its best epoch."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = False):
        self.watch = Monitor(monitor, mode, min_delta)
        self.patience, self.restore_best = patience, restore_best
        self.wait, self.best_epoch, self.stopped_epoch = 0, 0, 0
        self.stopped_value: float | None = None  # the monitored value of the epoch it stopped at
        self.best_weights: dict[str, np.ndarray] | None = None
        self.restored = False

    def on_epoch_end(self, trainer: Trainer, st: TrainState) -> None:
        value = self.watch.value(st.history[-1])
        if self.watch.improved(value):
            self.wait, self.best_epoch = 0, st.epoch
            if self.restore_best:
                self.best_weights = _snapshot(trainer.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            st.stop = True
            self.stopped_epoch, self.stopped_value = st.epoch, value
            trainer.progress.note(
                f"early stop after epoch {st.epoch}: {self.watch.name} {value:.6g} has not improved on "
                f"{self.watch.best:.6g} (epoch {self.best_epoch}) for {self.patience} epochs"
                + ("; restoring the best epoch's weights" if self.restore_best and self.best_weights else ""))

    def state_dict(self) -> dict:
        """The counters (JSON); the best weights travel as arrays (`state_arrays`)."""
        return {"wait": self.wait, "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch,
                "best": self.watch.best, "stopped_value": self.stopped_value}

    def load_state_dict(self, state: dict) -> None:
        self.wait, self.best_epoch = int(state["wait"]), int(state["best_epoch"])
        self.stopped_epoch, self.watch.best = int(state["stopped_epoch"]), float(state["best"])
        stopped = state.get("stopped_value")  # absent in states saved before it was recorded
        self.stopped_value = None if stopped is None else float(stopped)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The best epoch's weights (restore_best), so a resumed run can still go back to them."""
        return dict(self.best_weights) if self.best_weights is not None else {}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.best_weights = {k: np.array(v, copy=True) for k, v in arrays.items()} or None

    def on_train_end(self, trainer: Trainer, st: TrainState) -> None:
        if self.stopped_epoch and self.restore_best and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)
            self.restored = True

    def report(self) -> dict:
        return {"monitor": self.watch.name, "best": self.watch.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch or None, "stopped_value": self.stopped_value,
                "restored_best": self.restored}


class BestCheckpoint(Callback):
    """Writes the weights to `path` (best.npz) whenever the monitored value improves."""

    def __init__(self, path: Path, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0,
                 extra: dict | None = None):
        self.path, self.extra = Path(path), dict(extra or {})
        self.watch = Monitor(monitor, mode, min_delta)
        self.best_epoch = 0

    def on_epoch_end(self, trainer: Trainer, st: TrainState) -> None:
        if self.watch.improved(self.watch.value(st.history[-1])):
            from ..runs.folder import write_npz

            self.best_epoch = st.epoch
            write_npz(self.path, {**trainer.model.state_dict(), **self.extra})

    def report(self) -> dict:
        return {"path": str(self.path), "monitor": self.watch.name, "best": self.watch.best,
                "best_epoch": self.best_epoch}

    def state_dict(self) -> dict:
        return {"best": self.watch.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.watch.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])


def build_callbacks(cfg, run_dir: Path, extra: dict | None = None) -> list[Callback]:
    """The callbacks that cfg.optimizer.schedule, cfg.train.early_stopping and cfg.train.checkpoint ask for."""
    from ..nn.optimizers.schedules import build_schedule

    out: list[Callback] = []
    schedule = cfg.optimizer.get("schedule") if isinstance(cfg.optimizer, dict) else None
    if schedule is not None:
        base_lr = cfg.optimizer.get("lr")
        if base_lr is None:
            from ..nn.optimizers.base import OPTIMIZERS

            base_lr = next(p.default for p in OPTIMIZERS.params(cfg.optimizer["type"]) if p.name == "lr")
        out.append(LRScheduler(build_schedule(schedule), base_lr, cfg.train.epochs))
    es = cfg.train.early_stopping
    if es is not None:
        out.append(EarlyStopping(es.monitor, es.patience, es.min_delta, es.mode, es.restore_best))
    ck = cfg.train.checkpoint
    if ck is not None:
        from ..runs.folder import BEST

        out.append(BestCheckpoint(Path(run_dir) / BEST, ck.monitor, ck.mode, ck.min_delta, extra))
    log = getattr(cfg.train, "log", None)
    if log:  # imported only when asked for: no tracking, no cost
        from .tracking import Tracker

        out.append(Tracker(cfg, Path(run_dir), log, cfg.train.log_every_steps, cfg.train.log_histograms, extra))
    return out
