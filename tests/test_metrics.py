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


# ---------------------------------------------------------------- roc_auc, pr_auc, log_loss vs scikit-learn
def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _streamed(spec, pred, target, batch=7, from_logits=False):
    m = build_metric(spec)
    m.from_logits = from_logits
    m.reset()
    for i in range(0, len(pred), batch):
        m.update(pred[i:i + batch], target[i:i + batch])
    return m.result()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_pr_auc_log_loss_equal_scikit_learns_on_random_data(seed):
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
    from sklearn.preprocessing import label_binarize

    rng = np.random.default_rng(seed)
    n = 103
    # binary, one sigmoid output; scores rounded to 2 decimals so that ties occur
    y = rng.integers(0, 2, n)
    p = np.round(np.clip(rng.uniform(0, 1, n) * 0.6 + 0.4 * y, 0.01, 0.99), 2)
    assert _streamed("roc_auc", p[:, None], y[:, None].astype(float)) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert _streamed("pr_auc", p[:, None], y[:, None].astype(float)) == pytest.approx(
        average_precision_score(y, p), abs=1e-12)
    assert _streamed("log_loss", p[:, None], y[:, None].astype(float)) == pytest.approx(log_loss(y, p), rel=1e-12)
    # the same from logits: sigmoid is monotonic, so the AUCs are those of the probabilities
    z = np.log(p / (1 - p))
    assert _streamed("roc_auc", z[:, None], y[:, None], from_logits=True) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert _streamed("log_loss", z[:, None], y[:, None], from_logits=True) == pytest.approx(log_loss(y, p), rel=1e-9)
    # a softmax over two classes is binary: the scores of class 1
    p2 = np.stack([1 - p, p], axis=1)
    assert _streamed("pr_auc", p2, y) == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert _streamed("roc_auc", p2, y) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    # four classes: one-vs-rest macro; labels and one-hot targets alike
    k = 4
    y4 = rng.integers(0, k, n)
    z4 = rng.standard_normal((n, k)) + 1.5 * np.eye(k)[y4]
    p4 = _softmax(z4)
    assert _streamed("roc_auc", p4, y4) == pytest.approx(
        roc_auc_score(y4, p4, multi_class="ovr", average="macro"), abs=1e-12)
    assert _streamed("roc_auc", z4, np.eye(k)[y4], from_logits=True) == pytest.approx(
        roc_auc_score(y4, p4, multi_class="ovr", average="macro"), abs=1e-12)
    assert _streamed("pr_auc", p4, y4) == pytest.approx(
        average_precision_score(label_binarize(y4, classes=range(k)), p4, average="macro"), abs=1e-12)
    assert _streamed("log_loss", p4, y4) == pytest.approx(log_loss(y4, p4), rel=1e-12)
    assert _streamed("log_loss", z4, y4, from_logits=True) == pytest.approx(log_loss(y4, p4), rel=1e-9)


def test_auc_by_hand_and_undefined_cases():
    # positives score 0.8, 0.4; negatives 0.4, 0.1: pairs (0.8>0.4, 0.8>0.1, 0.4=0.4 -> 1/2, 0.4>0.1) = 3.5 / 4
    p, y = np.array([[0.8], [0.4], [0.4], [0.1]]), np.array([[1.0], [1.0], [0.0], [0.0]])
    assert score("roc_auc", p, y) == pytest.approx(3.5 / 4)
    # thresholds 0.8: P 1, R 1/2 ; 0.4: P 2/3, R 1 -> AP = 1/2 * 1 + 1/2 * 2/3
    assert score("pr_auc", p, y, split=1) == pytest.approx(0.5 + 1 / 3)
    assert np.isnan(score("roc_auc", p, np.ones((4, 1))))  # one class only: undefined
    assert np.isnan(build_metric("roc_auc").result())  # no batches
    assert not build_metric("log_loss").higher_is_better and build_metric("roc_auc").higher_is_better


def test_new_metrics_train_and_evaluate_from_a_config(cli, write):
    import json

    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 3))
    np.savez(write("d.npz", "").parent / "d.npz", x=x, y=(x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0))
    cfg = write("c.yaml", """
data: {train: d.npz, test_split: 0.3, validation_split: 0.2}
model: {input_shape: [3], layers: [{type: dense, units: 3, activation: softmax}]}
loss: sparse_categorical_crossentropy
metrics: [roc_auc, pr_auc, log_loss]
train: {epochs: 3, batch_size: 8, early_stopping: {monitor: val_roc_auc, patience: 5}}
""")
    r = cli("fit", cfg, "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert 0.5 < out["test"]["roc_auc"] <= 1 and 0 < out["test"]["pr_auc"] <= 1 and out["test"]["log_loss"] > 0
    r = cli("eval", out["run_dir"], "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    ev = json.loads(r.stdout)
    assert ev["roc_auc"] == pytest.approx(out["test"]["roc_auc"]) and "confusion_matrix" in ev
