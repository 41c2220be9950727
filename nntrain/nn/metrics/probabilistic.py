"""Metrics of the predicted scores rather than the predicted class: ROC AUC, PR AUC (average
precision) and log loss, each equal to scikit-learn's on the same data.

How the outputs are read (as `predicted_labels` reads them): one output is a binary classifier
(p of class 1, sigmoid); several are class scores (softmax). A model that outputs logits has
them turned into probabilities first: AUC only ranks, but softmax changes how samples rank
within a class column. A softmax over 2 classes is binary (the scores of class 1), as
scikit-learn's binary metrics read it.

Streaming: log loss is a running sum. The AUCs cannot be: they rank every score of the epoch
against every other, so they keep the scores and labels of the epoch (n x C float64, 4.8 MB for
the 60,000 MNIST samples) and rank once in `result`. A fixed-bin histogram would stream in
constant memory, but its AUC is off by up to the mass of the tied bins, and a model with most
scores near 0 or 1 (any well-trained one) puts most samples in two bins: the exact value is
what a user compares with scikit-learn, and memory per epoch is what an array of the
predictions costs anyway.
"""
from __future__ import annotations

import numpy as np

from ..registry import METRICS
from .base import Metric, true_labels


def probabilities(pred: np.ndarray, from_logits: bool) -> np.ndarray:
    """(n, C) class probabilities (float64) of class scores, or (n, 1) p of one sigmoid output."""
    p = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    if not from_logits:
        return p
    if p.shape[1] == 1:
        return 0.5 * (1.0 + np.tanh(0.5 * p))  # sigmoid, without overflow
    e = np.exp(p - p.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def binary_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC of 0/1 labels y by scores s: the probability that a random positive scores
    above a random negative, ties counting 1/2 (Mann-Whitney U / (n_pos n_neg)), from the
    average ranks of the scores. NaN without both classes."""
    pos = int(np.count_nonzero(y))
    neg = len(y) - pos
    if not pos or not neg:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    # average rank (1-based) of each run of equal scores
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0
    ranks = np.empty(len(s))
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[y.astype(bool)].sum() - pos * (pos + 1) / 2.0
    return float(u / (pos * neg))


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the precision-recall curve as scikit-learn's average_precision_score: sum over
    the distinct thresholds, highest first, of (R_k - R_{k-1}) P_k (steps, no interpolation).
    NaN without positives."""
    pos = int(np.count_nonzero(y))
    if not pos:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order].astype(np.float64), s[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]  # the last index of each distinct score
    tp = np.cumsum(ys)[last]
    precision = tp / (last + 1)
    recall = tp / pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


class _Ranked(Metric):
    """Keeps the epoch's probabilities and labels; scores each class against the rest."""

    def reset(self):
        self.scores: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []

    def update(self, pred, target):
        self.scores.append(probabilities(pred, self.from_logits))
        self.labels.append(np.asarray(true_labels(target), dtype=np.int64))

    def result(self) -> float:
        if not self.scores:
            return float("nan")
        p, y = np.concatenate(self.scores), np.concatenate(self.labels)
        if p.shape[1] <= 2:  # binary: the score of class 1
            return self._score((y == 1).astype(np.int64), p[:, -1])
        # one-vs-rest macro: the mean over the classes that are neither absent nor everything
        per_class = [self._score((y == c).astype(np.int64), p[:, c]) for c in range(p.shape[1])]
        defined = [v for v in per_class if v == v]
        return float(np.mean(defined)) if defined else float("nan")


@METRICS.register("roc_auc")
class ROCAUC(_Ranked):
    """Area under the ROC curve: binary, or the one-vs-rest macro mean over classes.

    Exact (the epoch's scores are kept and ranked), equal to scikit-learn's roc_auc_score
    (multi_class="ovr", average="macro"); a class absent from the targets is left out of the mean."""

    _score = staticmethod(binary_auc)


@METRICS.register("pr_auc")
class PRAUC(_Ranked):
    """Area under the precision-recall curve (average precision): binary, or one-vs-rest macro.

    Equal to scikit-learn's average_precision_score (average="macro" over the binarized classes);
    a class absent from the targets is left out of the mean."""

    _score = staticmethod(average_precision)


@METRICS.register("log_loss")
class LogLoss(Metric):
    """Mean negative log-likelihood of the true class, -mean log p[i, y_i] (binary: of y_i).

    Probabilities are clipped to [1e-15, 1 - 1e-15]; equal to scikit-learn's log_loss. Unlike
    the loss column it has no sample weights, class weights or regularization, so it compares
    across runs trained differently."""

    higher_is_better = False

    def update(self, pred, target):
        p = np.clip(probabilities(pred, self.from_logits), 1e-15, 1.0 - 1e-15)
        y = np.asarray(true_labels(target), dtype=np.int64)
        if p.shape[1] == 1:
            picked = np.where(y == 1, p[:, 0], 1.0 - p[:, 0])
        else:
            picked = p[np.arange(len(p)), y]
        self.total += float(-np.log(picked).sum())
        self.count += len(p)
