"""Classification metrics: accuracy, top-k accuracy, macro precision / recall / F1, and the
confusion matrix that `nntrain eval` prints for classifiers.

Class metrics count a confusion matrix M[true, predicted] over the epoch (argmax of the class
scores, or p > 0.5 for one sigmoid output, i.e. classes 0 and 1), then average per class:

    precision_c = M[c, c] / sum_t M[t, c]      recall_c = M[c, c] / sum_p M[c, p]
    f1_c = 2 precision_c recall_c / (precision_c + recall_c)

macro = the plain mean over the classes that occur in the targets or the predictions (as
scikit-learn's average="macro"); 0/0 counts as 0.
"""
from __future__ import annotations

import numpy as np

from ..registry import METRICS
from .base import Metric, predicted_labels, true_labels


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


class ConfusionMatrix:
    """M[t, p] = number of samples of true class t predicted as p (not a per-epoch metric)."""

    name = "confusion_matrix"
    from_logits = False

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.matrix = np.zeros((0, 0), dtype=np.int64)

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        p = predicted_labels(pred, self.from_logits)
        t = true_labels(target).astype(np.int64)
        n = max(pred.shape[-1] if pred.ndim >= 2 and pred.shape[-1] > 1 else 2, int(t.max(initial=0)) + 1,
                len(self.matrix))
        if n > len(self.matrix):
            grown = np.zeros((n, n), dtype=np.int64)
            grown[:len(self.matrix), :len(self.matrix)] = self.matrix
            self.matrix = grown
        self.matrix += np.bincount(t * n + p, minlength=n * n).reshape(n, n)

    def result(self) -> list[list[int]]:
        return self.matrix.tolist()


class _ClassMetric(Metric):
    """Per-class precision and recall from the epoch's confusion matrix."""

    def reset(self):
        self.cm = ConfusionMatrix()

    def update(self, pred, target):
        self.cm.from_logits = self.from_logits
        self.cm.update(pred, target)

    def _per_class(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.cm.matrix.astype(np.float64)
        tp = np.diag(m)
        predicted, actual = m.sum(axis=0), m.sum(axis=1)
        present = (predicted + actual) > 0
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
        return precision[present], recall[present], present

    def result(self) -> float:
        if not self.cm.matrix.size:
            return float("nan")
        return float(np.mean(self._score(*self._per_class()[:2])))


@METRICS.register("precision")
class Precision(_ClassMetric):
    """Macro-averaged precision: mean over classes of TP / (TP + FP)."""

    def _score(self, precision, recall):
        return precision


@METRICS.register("recall")
class Recall(_ClassMetric):
    """Macro-averaged recall: mean over classes of TP / (TP + FN)."""

    def _score(self, precision, recall):
        return recall


@METRICS.register("f1")
class F1(_ClassMetric):
    """Macro-averaged F1: mean over classes of 2 P R / (P + R)."""

    def _score(self, precision, recall):
        total = precision + recall
        return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)


@METRICS.register("top_k_accuracy")
class TopKAccuracy(Metric):
    """Fraction of samples whose true class is among the k highest scores.

    Args:
        k: how many of the top classes count as right.
    """

    def __init__(self, k: int = 5):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        self.k = k
        super().__init__()

    def check_outputs(self, shape: tuple[int, ...]) -> None:
        if shape and shape[-1] >= 2 and self.k >= shape[-1]:
            raise ValueError(f"top_k_accuracy with k={self.k} counts every sample right: the model has only "
                             f"{shape[-1]} classes; k must be less than {shape[-1]}")

    def update(self, pred, target):
        if pred.ndim < 2 or pred.shape[-1] < 2:
            raise ValueError("top_k_accuracy needs one score per class (the model outputs one value)")
        labels = true_labels(target)
        score = pred[np.arange(len(pred)), labels][:, None]
        # rank of the true class = how many classes score strictly higher (ties favour the truth, as Keras' in_top_k)
        rank = np.count_nonzero(pred > score, axis=-1)
        self.total += int(np.count_nonzero(rank < self.k))
        self.count += len(pred)
