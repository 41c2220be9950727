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
