"""Learning-rate schedules, chosen by `optimizer.schedule`, applied once per epoch or per step.

    optimizer: {type: adam, lr: 0.001, schedule: {type: cosine, warmup: 1}}
    optimizer: {type: sgd, lr: 0.1, schedule: {type: one_cycle, schedule_unit: step}}

A schedule maps a time t = 0, 1, ... (and the base lr, optimizer.lr) to the lr used at that
time. Its unit is the epoch by default, as PyTorch's epoch-wise schedulers; with `schedule_unit:
step` t counts optimizer steps and the lr changes before every step, and every length of the
schedule (step's step_size, cosine's epochs, exponential's per-epoch gamma) counts steps. The lr
of each epoch's last step is the `lr` column of metrics.csv. reduce_on_plateau also watches a
monitored value at the end of every epoch.

Every schedule also takes `warmup_epochs` / `warmup_steps` (`TIMING_OPTIONS`, kept apart from
the registry arguments as the optimizers' clipnorm is): a linear ramp lr = base (t + 1) / (W + 1)
over the first W units, after which the schedule starts at its own t = 0 and runs over the
units left (see `Timed`).
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


@SCHEDULES.register("one_cycle")
class OneCycle(Schedule):
    """The one-cycle policy (Smith & Topor 2017, https://arxiv.org/abs/1708.07120) as PyTorch's OneCycleLR.

    The base lr is the peak: from base / div_factor it rises over the first pct_start of the
    schedule to base, then falls to base / (div_factor * final_div_factor) at the end, each
    phase a cosine (anneal_strategy "cos"; "linear" for straight lines). With T units, phase 1
    ends at t1 = pct_start T - 1 and phase 2 at T - 1; in a phase from a to b over [t0, t1],
    lr = b + (a - b) (1 + cos(pi (t - t0) / (t1 - t0))) / 2. Usually with schedule_unit: step.

    Args:
        pct_start: fraction of the schedule spent rising, in (0, 1).
        div_factor: the first lr is base / div_factor.
        final_div_factor: the last lr is base / (div_factor * final_div_factor).
        anneal_strategy: cos or linear.
    """

    def __init__(self, pct_start: float = 0.3, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 anneal_strategy: str = "cos"):
        self.pct_start = _num("pct_start", pct_start, low=0, low_open=True, high=1, high_open=True)
        self.div_factor = _num("div_factor", div_factor, low=0, low_open=True)
        self.final_div_factor = _num("final_div_factor", final_div_factor, low=0, low_open=True)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be cos or linear, got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy

    def _anneal(self, a: float, b: float, pct: float) -> float:
        if self.anneal_strategy == "linear":
            return a + (b - a) * pct
        return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * pct))

    def lr(self, epoch):
        first = self.base_lr / self.div_factor
        last = first / self.final_div_factor
        total = self.epochs
        t1, t2 = float(self.pct_start * total) - 1.0, float(total - 1)
        t = min(epoch, total - 1)
        if t <= t1:
            return self._anneal(first, self.base_lr, t / t1 if t1 > 0 else 1.0)
        return self._anneal(self.base_lr, last, (t - t1) / (t2 - t1) if t2 > t1 else 1.0)


UNITS = ("epoch", "step")
TIMING_OPTIONS = ("schedule_unit", "warmup_epochs", "warmup_steps")


class Timed(Schedule):
    """A schedule in steps or epochs after a linear warmup: what `schedule_unit`, `warmup_epochs`
    and `warmup_steps` make of any registered schedule.

    In its unit (the epoch, or the step), with W = the warmup in that unit (warmup_epochs times
    the steps per epoch when the unit is the step) and T the length of training in it:

        t < W:  lr = base (t + 1) / (W + 1)        t >= W:  lr = inner.lr(t - W), inner over T - W

    warmup_steps needs schedule_unit: step (a per-epoch schedule changes the lr only between
    epochs, so it cannot ramp inside one).

    Args:
        schedule_unit: epoch (the lr changes between epochs) or step (after every optimizer step).
        warmup_epochs: epochs of linear warmup to the base lr before the schedule starts.
        warmup_steps: optimizer steps of linear warmup (needs schedule_unit: step).
    """

    def __init__(self, inner: Schedule, schedule_unit: str = "epoch", warmup_epochs: int = 0, warmup_steps: int = 0):
        if schedule_unit not in UNITS:
            raise ValueError(f"schedule_unit must be epoch or step, got {schedule_unit!r}")
        self.inner, self.unit = inner, schedule_unit
        self.warmup_epochs = _int("warmup_epochs", warmup_epochs, 0)
        self.warmup_steps = _int("warmup_steps", warmup_steps, 0)
        if self.warmup_epochs and self.warmup_steps:
            raise ValueError("give warmup_epochs or warmup_steps, not both")
        if self.warmup_steps and schedule_unit != "step":
            raise ValueError("warmup_steps needs schedule_unit: step (a per-epoch schedule cannot ramp inside "
                             "an epoch); use warmup_epochs, or set schedule_unit: step")
        self.monitor = inner.monitor
        self.warmup = 0

    def start(self, base_lr: float, epochs: int, steps_per_epoch: int = 1) -> None:
        """epochs of training with steps_per_epoch steps each (used by the step unit)."""
        per = int(steps_per_epoch) if self.unit == "step" else 1
        super().start(base_lr, int(epochs) * per)
        self.warmup = self.warmup_steps or self.warmup_epochs * per
        self.inner.start(base_lr, max(self.epochs - self.warmup, 1))

    def lr(self, t):
        if t < self.warmup:
            return self.base_lr * (t + 1) / (self.warmup + 1)
        return self.inner.lr(t - self.warmup)

    def observe(self, epoch, row):
        self.inner.observe(epoch, row)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, arrays):
        self.inner.load_state_dict(arrays)

    def get_config(self):
        return {**self.inner.get_config(), "schedule_unit": self.unit, "warmup_epochs": self.warmup_epochs,
                "warmup_steps": self.warmup_steps}


def split_schedule_spec(spec) -> tuple[object, dict]:
    """(registry spec, timing options) of a schedule spec."""
    if not isinstance(spec, dict):
        return spec, {}
    spec = dict(spec)
    return spec, {k: spec.pop(k) for k in TIMING_OPTIONS if k in spec}


def build_schedule(spec) -> Schedule:
    """A schedule from a name ('cosine') or a spec ({'type': 'step', 'step_size': 5}); with
    schedule_unit, warmup_epochs or warmup_steps in the spec, the `Timed` wrapper of it."""
    spec, timing = split_schedule_spec(spec)
    inner = SCHEDULES.build(spec)
    if not timing:
        return inner
    try:
        return Timed(inner, **timing)
    except ValueError as exc:
        from ...errors import ConfigError

        raise ConfigError(f"schedule: {exc}") from None
