"""Learning-rate schedules, chosen by `optimizer.schedule` and applied once per epoch.

    optimizer: {type: adam, lr: 0.001, schedule: {type: cosine, warmup: 1}}

A schedule maps the epoch index e = 0, 1, ... (and the base lr, optimizer.lr) to the lr used
for that epoch, like PyTorch's epoch-wise schedulers; the lr of each epoch is the `lr` column
of metrics.csv. reduce_on_plateau also watches a monitored value at the end of every epoch.
"""
from __future__ import annotations

import math

import numpy as np

from ..checks import integer as _int
from ..checks import number as _num
from ..metrics.monitor import Monitor
from ..registry import SCHEDULES


class Schedule:
    """lr(epoch) for epoch = 0, 1, ...; `start` tells the base lr and the number of epochs."""

    base_lr = 0.0
    epochs = 1
    # the monitored value a schedule reacts to (reduce_on_plateau), else None
    monitor: str | None = None

    def start(self, base_lr: float, epochs: int) -> None:
        self.base_lr, self.epochs = float(base_lr), int(epochs)

    def lr(self, epoch: int) -> float:
        return self.base_lr

    def observe(self, epoch: int, row: dict) -> None:
        """Called with each finished epoch's metrics row."""

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        pass

    def get_config(self) -> dict:
        import inspect

        return {k: getattr(self, k) for k in inspect.signature(type(self).__init__).parameters
                if k != "self" and hasattr(self, k)}


@SCHEDULES.register("constant")
class Constant(Schedule):
    """The base lr every epoch (what no schedule means)."""

    def __init__(self):
        pass


@SCHEDULES.register("step")
class Step(Schedule):
    """lr = base * gamma ^ floor(epoch / step_size) (PyTorch's StepLR).

    Args:
        step_size: epochs between two drops.
        gamma: factor of each drop.
    """

    def __init__(self, step_size: int = 10, gamma: float = 0.1):
        self.step_size = _int("step_size", step_size, 1)
        self.gamma = _num("gamma", gamma, low=0, low_open=True)

    def lr(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


@SCHEDULES.register("exponential")
class Exponential(Schedule):
    """lr = base * gamma ^ epoch (PyTorch's ExponentialLR).

    Args:
        gamma: factor per epoch.
    """

    def __init__(self, gamma: float = 0.9):
        self.gamma = _num("gamma", gamma, low=0, low_open=True)

    def lr(self, epoch):
        return self.base_lr * self.gamma ** epoch


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    """Cosine decay from the base lr to min_lr over the epochs, after an optional linear warmup.

    warmup epochs e < w: lr = base * (e + 1) / (w + 1); then with T = total - w epochs left,
    lr = min_lr + (base - min_lr) * (1 + cos(pi * (e - w) / T)) / 2 (SGDR without restarts).

    Args:
        warmup: epochs of linear warmup before the decay.
        min_lr: the lr the decay ends at.
        epochs: length of the schedule in epochs (default: train.epochs).
    """

    def __init__(self, warmup: int = 0, min_lr: float = 0.0, epochs: int | None = None):
        self.warmup = _int("warmup", warmup, 0)
        self.min_lr = _num("min_lr", min_lr, low=0)
        self.total = None if epochs is None else _int("epochs", epochs, 1)

    def get_config(self):
        return {"warmup": self.warmup, "min_lr": self.min_lr, "epochs": self.total}

    def lr(self, epoch):
        w = self.warmup
        if epoch < w:
            return self.base_lr * (epoch + 1) / (w + 1)
        left = max((self.total or self.epochs) - w, 1)
        t = min(epoch - w, left) / left
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


@SCHEDULES.register("reduce_on_plateau")
class ReduceOnPlateau(Schedule):
    """Multiply the lr by factor when the monitored value has not improved for patience epochs (Keras' ReduceLROnPlateau).

    Args:
        monitor: the metrics.csv column to watch, e.g. val_loss or val_accuracy.
        factor: multiplier of the lr at each reduction, in (0, 1).
        patience: epochs without improvement before a reduction.
        min_delta: smallest change that counts as an improvement.
        mode: min, max, or auto (max for accuracy-like metrics, min for losses and errors).
        cooldown: epochs to wait after a reduction before watching again.
        min_lr: the lr never goes below this.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, min_delta: float = 0.0001,
                 mode: str = "auto", cooldown: int = 0, min_lr: float = 0.0):
        self.monitor = monitor
        self.watch = Monitor(monitor, mode, min_delta)
        self.factor = _num("factor", factor, low=0, low_open=True, high=1, high_open=True)
        self.patience = _int("patience", patience, 0)
        self.min_delta = self.watch.min_delta
        self.mode = mode
        self.cooldown = _int("cooldown", cooldown, 0)
        self.min_lr = _num("min_lr", min_lr, low=0)
        self.current: float | None = None
        self.wait = 0
        self.cooling = 0

    def lr(self, epoch):
        if self.current is None:
            self.current = self.base_lr
        return self.current

    def observe(self, epoch, row):
        # Keras' ReduceLROnPlateau.on_epoch_end, step by step
        value = self.watch.value(row)
        if self.cooling > 0:
            self.cooling -= 1
            self.wait = 0
        if self.watch.improved(value):
            self.wait = 0
        elif self.cooling == 0:
            self.wait += 1
            if self.wait >= self.patience and self.lr(epoch) > self.min_lr:
                self.current = max(self.lr(epoch) * self.factor, self.min_lr)
                self.cooling = self.cooldown
                self.wait = 0

    def state_dict(self):
        return {"current": np.array(np.nan if self.current is None else self.current), "wait": np.array(self.wait),
                "cooling": np.array(self.cooling), "best": np.array(self.watch.best)}

    def load_state_dict(self, arrays):
        cur = float(arrays["current"])
        self.current = None if math.isnan(cur) else cur
        self.wait, self.cooling = int(arrays["wait"]), int(arrays["cooling"])
        self.watch.best = float(arrays["best"])


def build_schedule(spec) -> Schedule:
    """A schedule from a name ('cosine') or a spec ({'type': 'step', 'step_size': 5})."""
    return SCHEDULES.build(spec)
