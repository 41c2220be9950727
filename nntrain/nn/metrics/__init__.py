"""Streaming metrics (`update` per batch, `result` at the end), each registered in
`nntrain.nn.registry.METRICS`; and the monitor that tells whether a metrics column improved."""
from __future__ import annotations

from .base import Accuracy, MeanAbsoluteError, MeanSquaredError, Metric, build_metric, predicted_labels, true_labels
from .classification import F1, R2, ConfusionMatrix, Precision, Recall, TopKAccuracy

__all__ = ["Accuracy", "ConfusionMatrix", "F1", "MeanAbsoluteError", "MeanSquaredError", "Metric", "Precision",
           "R2", "Recall", "TopKAccuracy", "build_metric", "predicted_labels", "true_labels"]
