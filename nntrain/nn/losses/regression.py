"""Regression losses: squared and absolute error, Huber, Poisson."""
from __future__ import annotations

import numpy as np

from ...errors import DataError
from ..registry import LOSSES
from .base import EPS, Loss, _Elementwise


@LOSSES.register("mse")
class MeanSquaredError(Loss):
    """mean((pred - y)^2) over every output; dL/dpred = 2 (pred - y) / size."""

    def __init__(self):
        super().__init__(from_logits=False)

    def get_config(self):
        return {}

    def value(self, pred, target, w=None):
        d = self._out("d", pred)
        np.subtract(pred, target, out=d)
        if w is None:
            return float(np.vdot(d, d) / d.size)
        np.multiply(d, d, out=d)  # l_i = mean_k d_ik^2; L = sum_i (w_i / sum w) l_i
        return float(np.dot(self._share(w, pred), self._row_sums(d))) * len(d) / d.size

    def grad(self, pred, target, w=None):
        g = self._out("g", pred)
        np.subtract(pred, target, out=g)
        if w is None:
            g *= 2.0 / pred.size
        else:  # 2 (pred - y) (w_i / sum w) / k
            g *= self._column(self._share(w, pred), g)
            g *= 2.0 * len(pred) / pred.size
        return g


@LOSSES.register("mae")
class MeanAbsoluteError(Loss):
    """mean(|pred - y|) over every output; dL/dpred = sign(pred - y) / size."""

    def __init__(self):
        super().__init__(from_logits=False)

    def get_config(self):
        return {}

    def value(self, pred, target, w=None):
        if w is None:
            return float(np.mean(np.abs(pred - target)))
        d = self._out("d", pred)
        np.subtract(pred, target, out=d)
        np.abs(d, out=d)  # l_i = mean_k |d_ik|; L = sum_i (w_i / sum w) l_i
        return float(np.dot(self._share(w, pred), self._row_sums(d))) * len(d) / d.size

    def grad(self, pred, target, w=None):
        g = self._out("g", pred)
        np.subtract(pred, target, out=g)
        np.sign(g, out=g)
        if w is None:
            g *= 1.0 / pred.size
        else:  # sign(pred - y) (w_i / sum w) / k
            g *= self._column(self._share(w, pred), g)
            g *= len(pred) / pred.size
        return g


@LOSSES.register("huber")
class Huber(_Elementwise):
    """mean of 0.5 d^2 where |d| <= delta, delta (|d| - 0.5 delta) beyond, d = pred - y.

    Quadratic near the target, linear (as mae, so outliers pull with a bounded force) beyond
    delta; de/dpred = clip(d, -delta, delta). Keras' Huber and PyTorch's HuberLoss.

    Args:
        delta: where the loss turns from quadratic to linear (> 0).
    """

    def __init__(self, delta: float = 1.0):
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ValueError(f"delta must be a number > 0, got {delta!r}")
        super().__init__()
        self.delta = float(delta)

    def get_config(self):
        return {"delta": self.delta}

    def _each(self, pred, target):
        a = np.abs(pred - target)
        q = np.minimum(a, self.delta)  # 0.5 q^2 + delta (a - q) is both branches at once
        return 0.5 * q * q + self.delta * (a - q)

    def _deach(self, pred, target):
        return np.clip(pred - target, -self.delta, self.delta)


@LOSSES.register("poisson")
class Poisson(_Elementwise):
    """mean(pred - y log(pred + 1e-7)) for counts y >= 0 and a positive predicted rate.

    End the model with softplus (or another positive output). It is the Poisson negative
    log-likelihood without its log(y!) constant, as Keras' poisson; de/dpred = 1 - y / (pred + 1e-7)."""

    def prepare_target(self, y, output_shape, dtype="float32"):
        y = super().prepare_target(y, output_shape, dtype)
        if y.size and y.min() < 0:
            raise DataError(f"poisson wants counts >= 0 as targets, got a minimum of {y.min():g}")
        return y

    def _each(self, pred, target):
        return pred - target * np.log(pred + EPS)

    def _deach(self, pred, target):
        return 1.0 - target / (pred + EPS)
