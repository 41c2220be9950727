"""Regression metrics: mean squared and absolute error, and R² (scikit-learn's r2_score)."""
from __future__ import annotations

import numpy as np

from ..registry import METRICS
from .base import Metric


@METRICS.register("mse")
class MeanSquaredError(Metric):
    """Mean of (pred - y)^2 over every output."""

    higher_is_better = False

    def update(self, pred, target):
        d = pred - target.reshape(pred.shape)
        self.total += float(np.vdot(d, d))
        self.count += d.size


@METRICS.register("mae")
class MeanAbsoluteError(Metric):
    """Mean of |pred - y| over every output."""

    higher_is_better = False

    def update(self, pred, target):
        self.total += float(np.abs(pred - target.reshape(pred.shape)).sum())
        self.count += pred.size


@METRICS.register("r2")
class R2(Metric):
    """Coefficient of determination 1 - SS_res / SS_tot per output, averaged over outputs (scikit-learn's r2_score)."""

    def reset(self):
        self.n = 0
        self.sums = None  # (sum y, sum y^2, sum (y - pred)^2) per output, float64

    def update(self, pred, target):
        p = pred.reshape(len(pred), -1).astype(np.float64)
        y = target.reshape(p.shape).astype(np.float64)
        part = np.stack([y.sum(axis=0), (y * y).sum(axis=0), ((y - p) ** 2).sum(axis=0)])
        self.sums = part if self.sums is None else self.sums + part
        self.n += len(p)

    def result(self):
        if not self.n:
            return float("nan")
        sy, syy, ss_res = self.sums
        ss_tot = syy - sy * sy / self.n
        # a constant target: 1 if predicted exactly, else 0 (scikit-learn's force_finite)
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(r2))
