"""Watching one metrics column (val_loss, val_accuracy, ...) for improvement: what early
stopping, the best checkpoint and reduce_on_plateau share. Whether larger is better comes from
the metric itself (`higher_is_better`), so a new metric needs no entry here.
"""
from __future__ import annotations

import math

from ...errors import ConfigError, RunError, did_you_mean
from ..registry import METRICS

MODES = ("auto", "min", "max")


def higher_is_better(name: str) -> bool:
    """Whether a larger value of the metrics column `name` (e.g. val_accuracy) is better."""
    base = name.removeprefix("val_")
    if base == "loss" or base not in METRICS:
        return False
    return bool(getattr(METRICS.get(base), "higher_is_better", False))


class Monitor:
    """Tracks the best value of one metrics column; improvement means by more than min_delta."""

    def __init__(self, name: str, mode: str = "auto", min_delta: float = 0.0):
        if not isinstance(name, str) or not name:
            raise ValueError(f"monitor must be a metrics column name like val_loss, got {name!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}{did_you_mean(str(mode), MODES)}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        self.name, self.min_delta = name, float(min_delta)
        self.maximize = higher_is_better(name) if mode == "auto" else mode == "max"
        self.best = -math.inf if self.maximize else math.inf

    def value(self, row: dict) -> float:
        if self.name not in row:
            raise RunError(f"cannot monitor {self.name!r}: the epoch reported only {', '.join(row)}")
        return float(row[self.name])

    def improved(self, value: float) -> bool:
        """Whether value beats the best so far (then it becomes the best)."""
        better = value > self.best + self.min_delta if self.maximize else value < self.best - self.min_delta
        if better:
            self.best = value
        return better


def check_monitor(name: str, metric_names: list[str], has_val: bool, key: str) -> None:
    """ConfigError unless `name` is a column the run will report."""
    valid = ["loss"] + metric_names
    valid += [f"val_{n}" for n in valid]
    if name not in valid:
        raise ConfigError(f"cannot monitor {name!r}{did_you_mean(name, valid)}; the run reports: {', '.join(valid)}", key)
    if name.startswith("val_") and not has_val:
        raise ConfigError(f"monitors {name!r} but there is no validation set; set data.validation_split "
                          f"(e.g. 0.1) or monitor {name.removeprefix('val_')!r}", key)
