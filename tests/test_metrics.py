"""Metrics against values worked out by hand (and scikit-learn's definitions)."""
from __future__ import annotations

import numpy as np
import pytest

from nntrain.nn.metrics import ConfusionMatrix, build_metric


def score(spec, pred, target, split=None):
    m = build_metric(spec)
    m.reset()
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target)
    parts = [slice(None)] if split is None else [slice(0, split), slice(split, None)]
    for s in parts:  # streaming over batches gives the same as one batch
        m.update(pred[s], target[s])
    return m.result()


# true labels 0 0 1 1 2 ; predicted 0 1 1 1 0
PRED = np.eye(3)[[0, 1, 1, 1, 0]] * 0.8 + 0.1
TRUE = np.array([0, 0, 1, 1, 2])


@pytest.mark.parametrize("split", [None, 2])
def test_precision_recall_f1_macro_by_hand(split):
    # class 0: tp 1, predicted 2, actual 2 -> P 1/2, R 1/2 ; class 1: tp 2, predicted 3, actual 2 -> P 2/3, R 1
    # class 2: tp 0, predicted 0, actual 1 -> P 0, R 0
    assert score("precision", PRED, TRUE, split) == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert score("recall", PRED, TRUE, split) == pytest.approx((0.5 + 1 + 0) / 3)
    f1_1 = 2 * (2 / 3) / (2 / 3 + 1)
    assert score("f1", PRED, TRUE, split) == pytest.approx((0.5 + f1_1 + 0) / 3)


def test_confusion_matrix_by_hand_and_binary_outputs():
    cm = ConfusionMatrix()
    cm.update(PRED, TRUE)
    assert cm.result() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    cm = ConfusionMatrix()
    cm.update(np.array([[0.9], [0.2], [0.7]]), np.array([[1.0], [1.0], [0.0]]))
    assert cm.result() == [[0, 1], [1, 1]]
    # one-hot targets work the same as labels
    assert score("recall", PRED, np.eye(3)[TRUE]) == pytest.approx(0.5)


def test_top_k_accuracy_by_hand():
    pred = [[0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]
    true = [2, 0, 2]  # ranks of the true class: 2, 2, 1
    assert score({"type": "top_k_accuracy", "k": 1}, pred, true) == pytest.approx(0.0)
    assert score({"type": "top_k_accuracy", "k": 2}, pred, true) == pytest.approx(1 / 3)
    assert score({"type": "top_k_accuracy", "k": 3}, pred, true, split=1) == pytest.approx(1.0)


def test_r2_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.5, 4.0])
    # SS_res = 0.25 + 0 + 0.25 + 0 = 0.5 ; SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5
    assert score("r2", p[:, None], y[:, None]) == pytest.approx(0.9)
    assert score("r2", p[:, None], y[:, None], split=3) == pytest.approx(0.9)
    # two outputs: the mean of each output's R^2 ; predicting the mean gives 0
    both = np.stack([p, np.full(4, 2.5)], axis=1)
    assert score("r2", both, np.stack([y, y], axis=1)) == pytest.approx((0.9 + 0.0) / 2)


def test_bad_k():
    from nntrain.errors import ConfigError

    with pytest.raises(ConfigError, match="k must be an integer >= 1"):
        build_metric({"type": "top_k_accuracy", "k": 0})
