"""Streaming metrics (`update` per batch, `result` at the end), each registered in
`nntrain.nn.registry.METRICS`: the contract in `base`, a module per kind (`classification`,
`probabilistic`, `regression`), and the `monitor` that tells whether a metrics column improved.
"""
from __future__ import annotations

from .base import Metric, build_metric, metric_name, predicted_labels, true_labels
from .classification import F1, Accuracy, ConfusionMatrix, Precision, Recall, TopKAccuracy
from .monitor import Monitor, check_monitor, higher_is_better
from .probabilistic import PRAUC, ROCAUC, LogLoss
from .regression import R2, MeanAbsoluteError, MeanSquaredError

__all__ = ["Accuracy", "ConfusionMatrix", "F1", "LogLoss", "MeanAbsoluteError", "MeanSquaredError", "Metric",
           "Monitor", "PRAUC", "Precision", "R2", "ROCAUC", "Recall", "TopKAccuracy", "build_metric", "check_monitor",
           "higher_is_better", "metric_name", "predicted_labels", "true_labels"]
