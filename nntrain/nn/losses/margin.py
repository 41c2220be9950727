"""Margin losses for -1/+1 targets and raw scores: hinge and squared hinge."""
from __future__ import annotations

import numpy as np

from ...errors import DataError
from ..registry import LOSSES
from .base import _Elementwise


class _Margin(_Elementwise):
    """Targets -1/+1 (0/1 labels are mapped to -1/+1, as Keras does); the margin is m = y pred."""

    def __init__(self):
        super().__init__()
        # the outputs are raw scores whose decision threshold is 0, as logits are: so accuracy,
        # the confusion matrix and predict read them (a score > 0 is class 1, not one > 0.5)
        self.from_logits = True

    def prepare_target(self, y, output_shape, dtype="float32"):
        y = super().prepare_target(y, output_shape, dtype)
        values = np.unique(y)
        name = self.registry_name
        if not (np.isin(values, (-1.0, 1.0)).all() or np.isin(values, (0.0, 1.0)).all()):
            raise DataError(f"{name} wants targets -1/1 or 0/1, got values from {y.min():g} to {y.max():g}")
        if np.isin(values, (0.0, 1.0)).all():
            y = 2.0 * y - 1.0
        return y.astype(dtype, copy=False)


@LOSSES.register("hinge")
class Hinge(_Margin):
    """mean(max(0, 1 - y pred)) for targets y in -1/+1 (or 0/1) and raw scores pred (no sigmoid).

    de/dpred = -y where the margin y pred < 1, else 0 (the subgradient 0 at the kink)."""

    def _each(self, pred, target):
        return np.maximum(1.0 - target * pred, 0.0)

    def _deach(self, pred, target):
        return np.where(target * pred < 1.0, -target, 0.0)


@LOSSES.register("squared_hinge")
class SquaredHinge(_Margin):
    """mean(max(0, 1 - y pred)^2) for targets y in -1/+1 (or 0/1) and raw scores pred.

    de/dpred = -2 y max(0, 1 - y pred): smooth, unlike hinge."""

    def _each(self, pred, target):
        h = np.maximum(1.0 - target * pred, 0.0)
        return h * h

    def _deach(self, pred, target):
        return -2.0 * target * np.maximum(1.0 - target * pred, 0.0)
