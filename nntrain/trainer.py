"""The fit loop: mini-batches -> forward -> loss -> backward -> optimizer step, per epoch.

The trainer knows nothing of files or displays: it reports to a `Progress` and hands every
finished epoch to `on_epoch_end` callbacks (the run folder writer is one).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
import numpy as np

from .data import BatchIterator
from .errors import DivergedError
from .losses import Loss
from .metrics import Metric
from .model import Sequential
from .optimizers import Optimizer
from .progress import Progress

PROGRESS_EVERY = 0.1  # seconds between progress-bar updates (each costs ~50 us of Python)


@dataclass
class TrainState:
    """Where training stands; what the callbacks see."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    history: list[dict] = field(default_factory=list)  # one row per completed epoch
    seconds: float = 0.0  # training time so far
    stop: bool = False  # a callback may set it to end training after this epoch


def is_fused(model: Sequential, loss: Loss) -> bool:
    """Whether the loss supplies dL/dlogits for the model's output activation."""
    return (not loss.from_logits and loss.fuses_with is not None and bool(model.layers)
            and model.layers[-1].registry_name == loss.fuses_with)


def evaluate(model: Sequential, loss: Loss, metrics: list[Metric], x: np.ndarray, y: np.ndarray,
             batch_size: int = 1024) -> dict[str, float]:
    """Mean loss and each metric over (x, y), in inference mode."""
    for m in metrics:
        m.reset()
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        pred = model.forward(xb, training=False)
        total += loss.value(pred, yb) * len(xb)
        for m in metrics:
            m.update(pred, yb)
    out = {"loss": total / len(x) + model.penalty() if len(x) else float("nan")}
    out.update({metric_name(m): m.result() for m in metrics})
    return out


def metric_name(m: Metric) -> str:
    return getattr(m, "name", None) or m.registry_name


class Callback:
    """Hooks around the fit loop. Schedules, early stopping, checkpoints and the run-folder
    writer are callbacks; each sees the trainer (model, optimizer, ...) and the TrainState."""

    def on_train_begin(self, trainer: "Trainer", st: TrainState) -> None: ...

    def on_epoch_begin(self, trainer: "Trainer", st: TrainState) -> None: ...

    def on_epoch_end(self, trainer: "Trainer", st: TrainState) -> None:
        """st.history[-1] is the finished epoch's row; set st.stop to end training."""

    def on_train_end(self, trainer: "Trainer", st: TrainState) -> None: ...


class Trainer:
    def __init__(self, model: Sequential, loss: Loss, optimizer: Optimizer, metrics: list[Metric],
                 progress: Progress | None = None, callbacks: list[Callback] | None = None):
        self.model, self.loss, self.optimizer, self.metrics = model, loss, optimizer, metrics
        self.progress = progress or Progress()
        self.callbacks = list(callbacks or [])
        self.fused = is_fused(model, loss)
        self.state = TrainState()
        # shuffling has its own stream, independent of init and dropout draws
        self.shuffle_rng = np.random.default_rng(np.random.SeedSequence(model.seed).spawn(2)[1])

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, np.ndarray]:
        """One optimizer step on a batch; returns (loss before the step, predictions)."""
        pred = self.model.forward(xb, training=True)
        value = self.loss.value(pred, yb) + self.model.penalty()
        grad = self.loss.grad_logits(pred, yb) if self.fused else self.loss.grad(pred, yb)
        self.model.backward(grad, skip_last=self.fused)
        self.optimizer.step(self.model.param_groups())
        return value, pred

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, shuffle: bool = True,
            val: tuple[np.ndarray, np.ndarray] | None = None) -> TrainState:
        batches = BatchIterator(_Set(x, y), batch_size, shuffle=shuffle)
        steps = len(batches)
        st = self.state
        self.progress.begin(epochs, steps, len(x), initial_epoch=st.epoch)
        try:
            self._call("on_train_begin")
            while st.epoch < epochs and not st.stop:
                self._call("on_epoch_begin")
                row = self._epoch(batches, st.epoch + 1, steps, len(x), val)
                st.epoch += 1
                st.history.append(row)
                self._call("on_epoch_end")
            self._call("on_train_end")
        finally:
            self.progress.end()
        return st

    def _call(self, hook: str) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, self.state)

    def _epoch(self, batches: BatchIterator, epoch: int, steps: int, n: int, val) -> dict:
        st = self.state
        self.progress.epoch_begin(epoch)
        for m in self.metrics:
            m.reset()
        total, seen = 0.0, 0
        start = last_shown = time.perf_counter()
        for k, (xb, yb) in enumerate(batches.batches(batches.order(self.shuffle_rng)), 1):
            value, pred = self.train_step(xb, yb)
            if not math.isfinite(value):
                raise DivergedError(
                    f"the loss became {value} at epoch {epoch}, step {k} of {steps}; "
                    f"try a lower learning rate (now optimizer.lr={self.optimizer.lr:g})"
                )
            st.step += 1
            total += value * len(xb)
            seen += len(xb)
            for m in self.metrics:
                m.update(pred, yb)
            now = time.perf_counter()
            if now - last_shown >= PROGRESS_EVERY:
                last_shown = now
                self.progress.step(k, seen, self._logs(total, seen))
        seconds = time.perf_counter() - start
        st.seconds += seconds
        row = {"epoch": epoch, "lr": self.optimizer.lr}
        logs = self._logs(total, seen)
        if val is not None:
            logs.update({f"val_{k}": v for k, v in evaluate(self.model, self.loss, self.metrics, *val).items()})
        row.update(logs)
        row["seconds"] = round(seconds, 4)
        self.progress.epoch_end(epoch, logs, seconds)
        return row

    def _logs(self, total: float, seen: int) -> dict[str, float]:
        logs = {"loss": total / seen}
        logs.update({metric_name(m): m.result() for m in self.metrics})
        return logs


@dataclass
class _Set:
    """The (x, y) pair BatchIterator draws from."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)
