"""Every loss: finite-difference gradients (float64), the fused paths, and hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nntrain import build_layer, build_loss
from nntrain.errors import DataError
from nntrain.nn.losses import LOSSES  # the module registers every loss
from nntrain.tools.gradcheck import TOLERANCE, check_fused, check_loss

RNG = np.random.default_rng(0)


def probs(n, c):
    z = RNG.standard_normal((n, c))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def labels(n, c):
    return RNG.integers(0, c, size=n)


# (spec, prediction, raw target) per loss; predictions stay away from the clipping bounds
CASES = {
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy", lambda: probs(6, 4), lambda: labels(6, 4)),
    "categorical_crossentropy": ("categorical_crossentropy", lambda: probs(6, 4),
                                 lambda: np.eye(4)[labels(6, 4)]),
    "binary_crossentropy": ("binary_crossentropy", lambda: RNG.uniform(0.05, 0.95, (6, 2)),
                            lambda: RNG.integers(0, 2, (6, 2)).astype(float)),
    "mse": ("mse", lambda: RNG.standard_normal((6, 3)), lambda: RNG.standard_normal((6, 3))),
    "mae": ("mae", lambda: RNG.standard_normal((6, 3)), lambda: RNG.standard_normal((6, 3))),
}


def test_every_loss_has_a_case():
    assert sorted(CASES) == LOSSES.names()


@pytest.mark.parametrize("name", sorted(CASES))
def test_grad_matches_finite_differences(name):
    spec, pred, target = CASES[name]
    loss = build_loss(spec)
    p = pred()
    y = loss.prepare_target(target(), p.shape[1:], "float64")
    assert check_loss(loss, p, y) < TOLERANCE


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "crossentropy" in n])
def test_from_logits_grad_matches_finite_differences(name):
    spec, _, target = CASES[name]
    loss = build_loss({"type": spec, "from_logits": True})
    z = RNG.standard_normal((6, 4 if name != "binary_crossentropy" else 2)) * 3
    y = loss.prepare_target(target(), z.shape[1:], "float64")
    assert check_loss(loss, z, y) < TOLERANCE


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "crossentropy" in n])
def test_fused_gradient_matches_finite_differences_through_the_activation(name):
    spec, _, target = CASES[name]
    loss = build_loss(spec)
    c = 4 if name != "binary_crossentropy" else 2
    act = build_layer(loss.fuses_with, input_shape=(c,), dtype="float64")
    z = RNG.standard_normal((6, c))
    y = loss.prepare_target(target(), (c,), "float64")
    assert check_fused(loss, act, z, y) < TOLERANCE


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "crossentropy" in n])
def test_from_logits_equals_activation_then_loss(name):
    spec, _, target = CASES[name]
    c = 4 if name != "binary_crossentropy" else 2
    z = RNG.standard_normal((6, c))
    plain, logits = build_loss(spec), build_loss({"type": spec, "from_logits": True})
    y = plain.prepare_target(target(), (c,), "float64")
    p = build_layer(plain.fuses_with, input_shape=(c,), dtype="float64").forward(z)
    assert math.isclose(plain.value(p.copy(), y), logits.value(z, y), rel_tol=1e-9)
    assert np.allclose(plain.grad_logits(p, y), logits.grad(z, y), atol=1e-12)


def test_hand_computed_values():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    # -(ln 0.7 + ln 0.8) / 2
    assert math.isclose(build_loss("sparse_categorical_crossentropy").value(p.copy(), np.array([0, 1])),
                        (-math.log(0.7) - math.log(0.8)) / 2, rel_tol=1e-9)
    assert math.isclose(build_loss("categorical_crossentropy").value(p, np.array([[0, 0, 1.0], [0, 1.0, 0]])),
                        (-math.log(0.1) - math.log(0.8)) / 2, rel_tol=1e-9)
    # -(ln 0.9 + ln(1 - 0.2)) / 2
    assert math.isclose(build_loss("binary_crossentropy").value(np.array([[0.9], [0.2]]), np.array([[1.0], [0.0]])),
                        (-math.log(0.9) - math.log(0.8)) / 2, rel_tol=1e-9)
    assert math.isclose(build_loss("mse").value(np.array([[1.0, 2.0]]), np.array([[0.0, 4.0]])), 2.5)
    assert math.isclose(build_loss("mae").value(np.array([[1.0, 2.0]]), np.array([[0.0, 4.0]])), 1.5)
    # fused gradient: (p - onehot) / n
    g = build_loss("sparse_categorical_crossentropy").grad_logits(p, np.array([0, 1]))
    assert np.allclose(g, [[-0.15, 0.1, 0.05], [0.05, -0.1, 0.05]])
    assert np.allclose(build_loss("mse").grad(np.array([[1.0, 2.0]]), np.array([[0.0, 4.0]])), [[1.0, -2.0]])


def test_cross_entropy_is_finite_for_saturated_predictions():
    p = np.array([[1.0, 0.0]], dtype=np.float32)
    assert np.isfinite(build_loss("sparse_categorical_crossentropy").value(p.copy(), np.array([1])))
    assert np.isfinite(build_loss("binary_crossentropy").value(np.array([[0.0]]), np.array([[1.0]])))
    big = np.array([[1000.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise"):
        assert np.isfinite(build_loss({"type": "sparse_categorical_crossentropy", "from_logits": True}).value(big, np.array([1])))


def test_targets_are_checked_against_the_output():
    loss = build_loss("sparse_categorical_crossentropy")
    with pytest.raises(DataError, match=r"label 10 is outside the model's 10 outputs \(valid labels: 0..9\)"):
        loss.prepare_target(np.array([0, 10]), (10,))
    with pytest.raises(DataError, match="binary_crossentropy wants targets in"):
        build_loss("binary_crossentropy").prepare_target(np.array([0.0, 2.0]), (1,))
    with pytest.raises(DataError, match="targets have shape"):
        build_loss("mse").prepare_target(np.zeros((4, 3)), (2,))
    onehot = build_loss("categorical_crossentropy").prepare_target(np.array([2, 0]), (3,))
    assert np.array_equal(onehot, [[0, 0, 1], [1, 0, 0]])


# ---------------------------------------------------------------- sample weights
def weights(n):
    """Uneven weights with a zero among them (a sample that must not count)."""
    w = RNG.uniform(0.2, 3.0, n)
    w[1] = 0.0
    return w


@pytest.mark.parametrize("name", sorted(CASES))
def test_weighted_grad_matches_finite_differences(name):
    spec, pred, target = CASES[name]
    loss = build_loss(spec)
    p = pred()
    y = loss.prepare_target(target(), p.shape[1:], "float64")
    assert check_loss(loss, p, y, w=weights(len(p))) < TOLERANCE


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "crossentropy" in n])
def test_weighted_from_logits_grad_matches_finite_differences(name):
    spec, _, target = CASES[name]
    loss = build_loss({"type": spec, "from_logits": True})
    z = RNG.standard_normal((6, 4 if name != "binary_crossentropy" else 2)) * 3
    y = loss.prepare_target(target(), z.shape[1:], "float64")
    assert check_loss(loss, z, y, w=weights(6)) < TOLERANCE


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "crossentropy" in n])
def test_weighted_fused_gradient_matches_finite_differences(name):
    spec, _, target = CASES[name]
    loss = build_loss(spec)
    c = 4 if name != "binary_crossentropy" else 2
    act = build_layer(loss.fuses_with, input_shape=(c,), dtype="float64")
    z = RNG.standard_normal((6, c))
    y = loss.prepare_target(target(), (c,), "float64")
    assert check_fused(loss, act, z, y, w=weights(6)) < TOLERANCE


@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_of_one_or_any_constant_are_the_plain_mean(name):
    spec, pred, target = CASES[name]
    loss = build_loss(spec)
    p = pred()
    y = loss.prepare_target(target(), p.shape[1:], "float64")
    plain, g = loss.value(p.copy(), y), loss.grad(p, y).copy()
    for c in (1.0, 7.5):
        w = np.full(len(p), c)
        assert math.isclose(loss.value(p.copy(), y, w), plain, rel_tol=1e-12)
        assert np.allclose(loss.grad(p, y, w), g, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_weight_two_is_the_sample_listed_twice(name):
    """Sum-normalized: a batch with sample 0 duplicated has the loss of weight 2 on sample 0, and
    the two duplicate rows' gradients add up to the weighted row (what reaches the parameters)."""
    spec, pred, target = CASES[name]
    loss = build_loss(spec)
    p = pred()
    y = loss.prepare_target(target(), p.shape[1:], "float64")
    dup = np.r_[0, np.arange(len(p))]
    w = np.ones(len(p))
    w[0] = 2.0
    assert math.isclose(loss.value(p[dup].copy(), y[dup]), loss.value(p.copy(), y, w), rel_tol=1e-12)
    g_dup = loss.grad(p[dup], y[dup]).copy()
    g_w = loss.grad(p, y, w)
    assert np.allclose(g_dup[0] + g_dup[1], g_w[0], rtol=1e-12, atol=1e-15)
    assert np.allclose(g_dup[2:], g_w[1:], rtol=1e-12, atol=1e-15)
    if loss.fuses_with:  # the cases' predictions are probabilities, what grad_logits takes
        gz_dup, gz_w = loss.grad_logits(p[dup], y[dup]).copy(), loss.grad_logits(p, y, w)
        assert np.allclose(gz_dup[0] + gz_dup[1], gz_w[0], rtol=1e-12, atol=1e-15)


def test_hand_computed_weighted_values():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    w = np.array([3.0, 1.0])
    # (3 (-ln 0.7) + 1 (-ln 0.8)) / (3 + 1)
    expected = (-3 * math.log(0.7) - math.log(0.8)) / 4
    assert math.isclose(build_loss("sparse_categorical_crossentropy").value(p.copy(), np.array([0, 1]), w),
                        expected, rel_tol=1e-12)
    assert math.isclose(build_loss("categorical_crossentropy").value(p, np.array([[1.0, 0, 0], [0, 1.0, 0]]), w),
                        expected, rel_tol=1e-12)
    # fused gradient: (p - onehot) * w_i / sum w = (p - onehot) * [0.75, 0.25]
    g = build_loss("sparse_categorical_crossentropy").grad_logits(p, np.array([0, 1]), w)
    assert np.allclose(g, [[-0.225, 0.15, 0.075], [0.025, -0.05, 0.025]], rtol=0, atol=1e-15)
    # mse per sample is the mean over outputs: l = [(1 + 4) / 2, (0 + 1) / 2] = [2.5, 0.5]
    pred, y = np.array([[1.0, 2.0], [3.0, 3.0]]), np.array([[0.0, 4.0], [3.0, 4.0]])
    assert math.isclose(build_loss("mse").value(pred, y, w), (3 * 2.5 + 0.5) / 4, rel_tol=1e-12)
    # dL/dpred = 2 (pred - y) * (w_i / sum w) / k, k = 2 outputs
    assert np.allclose(build_loss("mse").grad(pred, y, w), [[0.75, -1.5], [0.0, -0.25]], rtol=0, atol=1e-15)
    assert math.isclose(build_loss("mae").value(pred, y, w), (3 * 1.5 + 0.5) / 4, rel_tol=1e-12)
    # -(ln 0.9) and -(ln 0.8), weights 1 and 3
    assert math.isclose(build_loss("binary_crossentropy").value(np.array([[0.9], [0.2]]), np.array([[1.0], [0.0]]),
                                                                np.array([1.0, 3.0])),
                        (-math.log(0.9) - 3 * math.log(0.8)) / 4, rel_tol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_all_zero_weights_give_zero_loss_and_gradient(name):
    spec, pred, target = CASES[name]
    loss = build_loss(spec)
    p = pred()
    y = loss.prepare_target(target(), p.shape[1:], "float64")
    assert loss.value(p.copy(), y, np.zeros(len(p))) == 0.0
    assert not loss.grad(p, y, np.zeros(len(p))).any()
