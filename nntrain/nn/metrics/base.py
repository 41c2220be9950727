"""The metric contract: `reset()`, `update(pred, target)` per batch, `result()` for the epoch;
and the class labels that predictions and targets stand for.

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

    def check_outputs(self, shape: tuple[int, ...]) -> None:
        """ValueError when the metric means nothing for a model with these outputs (per sample)."""

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


def build_metric(spec) -> Metric:
    return METRICS.build(spec)


def metric_name(m: Metric) -> str:
    """The metric's column in metrics.csv and summary.json (its registry name, unless it names itself)."""
    return getattr(m, "name", None) or m.registry_name


class Unscaled(Metric):
    """`inner` on predictions and targets mapped back to original units, v * std + mean (in
    float64), for a model that learns a standardized target (data.scale_target)."""

    def __init__(self, inner: Metric, mean: np.ndarray, std: np.ndarray):
        self.inner, self.mean, self.std = inner, np.asarray(mean, np.float64), np.asarray(std, np.float64)
        self.registry_name, self.name = inner.registry_name, metric_name(inner)
        self.higher_is_better = inner.higher_is_better

    def reset(self) -> None:
        self.inner.reset()

    def check_outputs(self, shape: tuple[int, ...]) -> None:
        self.inner.check_outputs(shape)

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        # pred (n, *output_shape); mean and std (output_shape) broadcast over the samples
        self.inner.update(pred * self.std + self.mean, target.reshape(pred.shape) * self.std + self.mean)

    def result(self) -> float:
        return self.inner.result()
