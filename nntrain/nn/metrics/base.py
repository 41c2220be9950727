"""Streaming metrics: `reset()`, `update(pred, target)` per batch, `result()` for the epoch.

Targets arrive as the loss prepared them: int labels (n,), one-hot rows (n, C), or values.
"""
from __future__ import annotations

import numpy as np

from ..registry import METRICS


class Metric:
    higher_is_better = True
    # set by the model builder when the network outputs logits (no final softmax/sigmoid)
    from_logits = False

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        raise NotImplementedError

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")


def predicted_labels(pred: np.ndarray, from_logits: bool = False) -> np.ndarray:
    """Class indices from class scores (n, C), or 0/1 from one sigmoid output (n, 1)."""
    if pred.ndim >= 2 and pred.shape[-1] > 1:
        return np.argmax(pred, axis=-1)
    flat = pred.reshape(len(pred))
    return (flat > (0.0 if from_logits else 0.5)).astype(np.int64)


def true_labels(target: np.ndarray) -> np.ndarray:
    """Class indices from int labels (n,), one-hot rows (n, C) or 0/1 targets (n, 1)."""
    if target.ndim >= 2 and target.shape[-1] > 1:
        return np.argmax(target, axis=-1)
    flat = target.reshape(len(target))
    return flat if flat.dtype.kind in "iu" else (flat > 0.5).astype(np.int64)


@METRICS.register("accuracy")
class Accuracy(Metric):
    """Fraction of samples whose predicted class (argmax, or p > 0.5 for one output) is right."""

    def update(self, pred, target):
        if pred.ndim == 2 and pred.shape[1] > 1 and target.ndim == 1 and target.dtype.kind in "iu":  # int labels
            hits = np.count_nonzero(pred.argmax(axis=1) == target)  # the method: np.argmax adds ~2 us
        else:
            hits = np.count_nonzero(predicted_labels(pred, self.from_logits) == true_labels(target))
        self.total += int(hits)
        self.count += len(target)


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


def build_metric(spec) -> Metric:
    return METRICS.build(spec)


from . import classification as metrics_more  # noqa: E402,F401  (registers precision, recall, f1, top_k_accuracy, r2)
