"""Every loss: finite-difference gradients (float64), the fused paths, and hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nntrain import build_layer, build_loss
from nntrain.errors import ConfigError, DataError
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
    # delta 0.5 on normal residuals: both the quadratic and the linear branch are hit
    "huber": ({"type": "huber", "delta": 0.5}, lambda: RNG.standard_normal((6, 3)),
              lambda: RNG.standard_normal((6, 3))),
    "hinge": ("hinge", lambda: RNG.standard_normal((6, 2)) * 2, lambda: RNG.choice([-1.0, 1.0], (6, 2))),
    "squared_hinge": ("squared_hinge", lambda: RNG.standard_normal((6, 2)) * 2,
                      lambda: RNG.integers(0, 2, (6, 2)).astype(float)),  # 0/1 labels, mapped to -1/1
    "kl_divergence": ("kl_divergence", lambda: probs(6, 4), lambda: probs(6, 4)),
    "poisson": ("poisson", lambda: RNG.uniform(0.3, 3.0, (6, 2)), lambda: RNG.integers(0, 5, (6, 2)).astype(float)),
}
# losses fused with an output activation (and taking from_logits)
FUSED = ["binary_crossentropy", "categorical_crossentropy", "kl_divergence", "sparse_categorical_crossentropy"]


def test_every_loss_has_a_case():
    assert sorted(CASES) == LOSSES.names()
    assert FUSED == sorted(n for n in LOSSES.names() if LOSSES.get(n).fuses_with)


@pytest.mark.parametrize("name", sorted(CASES))
def test_grad_matches_finite_differences(name):
    spec, pred, target = CASES[name]
    loss = build_loss(spec)
    p = pred()
    y = loss.prepare_target(target(), p.shape[1:], "float64")
    assert check_loss(loss, p, y) < TOLERANCE


@pytest.mark.parametrize("name", FUSED)
def test_from_logits_grad_matches_finite_differences(name):
    spec, _, target = CASES[name]
    loss = build_loss({"type": spec, "from_logits": True})
    z = RNG.standard_normal((6, 4 if name != "binary_crossentropy" else 2)) * 3
    y = loss.prepare_target(target(), z.shape[1:], "float64")
    assert check_loss(loss, z, y) < TOLERANCE


@pytest.mark.parametrize("name", FUSED)
def test_fused_gradient_matches_finite_differences_through_the_activation(name):
    spec, _, target = CASES[name]
    loss = build_loss(spec)
    c = 4 if name != "binary_crossentropy" else 2
    act = build_layer(loss.fuses_with, input_shape=(c,), dtype="float64")
    z = RNG.standard_normal((6, c))
    y = loss.prepare_target(target(), (c,), "float64")
    assert check_fused(loss, act, z, y) < TOLERANCE


@pytest.mark.parametrize("name", FUSED)
def test_from_logits_equals_activation_then_loss(name):
    spec, _, target = CASES[name]
    c = 4 if name != "binary_crossentropy" else 2
    z = RNG.standard_normal((6, c))
    plain, logits = build_loss(spec), build_loss({"type": spec, "from_logits": True})
    y = plain.prepare_target(target(), (c,), "float64")
    p = build_layer(plain.fuses_with, input_shape=(c,), dtype="float64").forward(z)
    assert math.isclose(plain.value(p.copy(), y), logits.value(z, y), rel_tol=1e-9)
    assert np.allclose(plain.grad_logits(p, y), logits.grad(z, y), atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", FUSED)
def test_value_and_grad_logits_in_one_call_equal_the_two_calls(name, weighted):
    """The trainer's one call per step gives the value and the gradient of the separate ones,
    including probabilities clipped at the bounds (their log is log EPS)."""
    spec, pred, target = CASES[name]
    loss = build_loss(spec)
    p = pred()
    p[0] = 0.0  # a row with zero probabilities: clipped in the value
    p[0, 0] = 1.0
    y = loss.prepare_target(target(), p.shape[1:], "float64")
    w = RNG.uniform(0.5, 2.0, len(p)) if weighted else None
    value, grad = loss.value_and_grad_logits(p, y, w)
    grad = grad.copy()  # the loss's buffer, which grad_logits writes again
    assert value == loss.value(p, y, w)
    np.testing.assert_array_equal(grad, loss.grad_logits(p, y, w))


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


@pytest.mark.parametrize("name", FUSED)
def test_weighted_from_logits_grad_matches_finite_differences(name):
    spec, _, target = CASES[name]
    loss = build_loss({"type": spec, "from_logits": True})
    z = RNG.standard_normal((6, 4 if name != "binary_crossentropy" else 2)) * 3
    y = loss.prepare_target(target(), z.shape[1:], "float64")
    assert check_loss(loss, z, y, w=weights(6)) < TOLERANCE


@pytest.mark.parametrize("name", FUSED)
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


# ---------------------------------------------------------------- huber, hinge, kl, poisson, smoothing
def test_hand_computed_new_losses():
    pred, y = np.array([[0.2, 3.0], [-1.0, 1.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])
    # residuals 0.2, 2, -2, 0 with delta 1: 0.5 * 0.04, 1 * (2 - 0.5), 1.5, 0
    huber = build_loss("huber")
    assert math.isclose(huber.value(pred, y), (0.02 + 1.5 + 1.5 + 0.0) / 4, rel_tol=1e-12)
    assert np.allclose(huber.grad(pred, y), np.array([[0.2, 1.0], [-1.0, 0.0]]) / 4)
    # delta 3: every residual is inside, so huber = mse / 2
    assert math.isclose(build_loss({"type": "huber", "delta": 3}).value(pred, y),
                        build_loss("mse").value(pred, y) / 2, rel_tol=1e-12)
    # hinge: margins y p = 0.2, -3 (y = -1 from label 0), 0.5, -1: max(0, 1 - m) = 0.8, 4, 0.5, 2
    hinge = build_loss("hinge")
    t = hinge.prepare_target(np.array([[1, 0], [1, 0]]), (2,), "float64")
    assert np.array_equal(t, [[1.0, -1.0], [1.0, -1.0]])
    p = np.array([[0.2, 3.0], [0.5, 1.0]])
    assert math.isclose(hinge.value(p, t), (0.8 + 4 + 0.5 + 2) / 4, rel_tol=1e-12)
    assert np.allclose(hinge.grad(p, t), np.array([[-1.0, 1.0], [-1.0, 1.0]]) / 4)
    assert hinge.value(np.array([[2.0, -1.5]]), np.array([[1.0, -1.0]])) == 0.0  # both beyond the margin
    # scores, thresholded at 0 like logits: accuracy counts a score > 0 as class 1
    from nntrain.nn.metrics import build_metric

    acc = build_metric("accuracy")
    acc.from_logits = hinge.from_logits
    acc.update(np.array([[0.3], [-0.2], [0.1]]), hinge.prepare_target(np.array([1, 0, 0]), (1,), "float64"))
    assert hinge.from_logits and acc.result() == pytest.approx(2 / 3)
    assert math.isclose(build_loss("squared_hinge").value(p, t), (0.64 + 16 + 0.25 + 4) / 4, rel_tol=1e-12)
    assert np.allclose(build_loss("squared_hinge").grad(p, t), np.array([[-1.6, 8.0], [-1.0, 4.0]]) / 4)
    # poisson: mean(p - y log p) (+1e-7 inside the log)
    pp, yy = np.array([[2.0], [0.5]]), np.array([[3.0], [0.0]])
    assert math.isclose(build_loss("poisson").value(pp, yy), (2 - 3 * math.log(2 + 1e-7) + 0.5) / 2, rel_tol=1e-12)
    assert np.allclose(build_loss("poisson").grad(pp, yy), [[(1 - 3 / (2 + 1e-7)) / 2], [0.5]])
    # kl: sum y log(y / p), with 0 log 0 = 0
    q, r = np.array([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]]), np.array([[1.0, 0, 0], [0.5, 0.5, 0]])
    expected = (math.log(1 / 0.5) + 0.5 * math.log(0.5 / 0.2) + 0.5 * math.log(0.5 / 0.3)) / 2
    assert math.isclose(build_loss("kl_divergence").value(q, r), expected, rel_tol=1e-9)
    assert build_loss("kl_divergence").value(q, q) == pytest.approx(0.0, abs=1e-12)
    # label smoothing 0.3 over C = 3: the target [0, 1, 0] becomes [0.1, 0.8, 0.1]
    p = np.array([[0.2, 0.7, 0.1]])
    soft = -(0.1 * math.log(0.2) + 0.8 * math.log(0.7) + 0.1 * math.log(0.1))
    for spec, target in [("sparse_categorical_crossentropy", np.array([1])),
                         ("categorical_crossentropy", np.array([[0.0, 1.0, 0.0]]))]:
        loss = build_loss({"type": spec, "label_smoothing": 0.3})
        assert math.isclose(loss.value(p.copy(), target), soft, rel_tol=1e-12)
        assert np.allclose(loss.grad_logits(p, target), [[0.1, -0.1, 0.0]])  # p - smoothed target


def test_new_losses_check_their_arguments_and_targets():
    with pytest.raises(ConfigError, match="loss 'huber': delta must be a number > 0"):
        build_loss({"type": "huber", "delta": 0})
    with pytest.raises(ConfigError, match=r"label_smoothing must be a number in \[0, 1\)"):
        build_loss({"type": "categorical_crossentropy", "label_smoothing": 1.0})
    with pytest.raises(DataError, match="hinge wants targets -1/1 or 0/1"):
        build_loss("hinge").prepare_target(np.array([0.0, 2.0]), (1,))
    with pytest.raises(DataError, match="poisson wants counts >= 0"):
        build_loss("poisson").prepare_target(np.array([1.0, -1.0]), (1,))
    with pytest.raises(DataError, match="kl_divergence wants target distributions"):
        build_loss("kl_divergence").prepare_target(np.array([[1.0, -0.5]]), (2,))


SMOOTHED = ["categorical_crossentropy", "sparse_categorical_crossentropy"]


@pytest.mark.parametrize("name", SMOOTHED)
@pytest.mark.parametrize("weighted", [False, True])
def test_label_smoothing_gradients_match_finite_differences(name, weighted):
    """Every path with label_smoothing 0.2: on probabilities, from logits, and fused through softmax."""
    _, pred, target = CASES[name]
    w = weights(6) if weighted else None
    loss = build_loss({"type": name, "label_smoothing": 0.2})
    p = pred()
    y = loss.prepare_target(target(), (4,), "float64")
    assert check_loss(loss, p, y, w=w) < TOLERANCE
    logits = build_loss({"type": name, "label_smoothing": 0.2, "from_logits": True})
    z = RNG.standard_normal((6, 4)) * 3
    assert check_loss(logits, z, y, w=w) < TOLERANCE
    act = build_layer("softmax", input_shape=(4,), dtype="float64")
    assert check_fused(loss, act, RNG.standard_normal((6, 4)), y, w=w) < TOLERANCE
    # the sparse and the one-hot form of the same labels agree
    onehot = build_loss({"type": "categorical_crossentropy", "label_smoothing": 0.2})
    sparse = build_loss({"type": "sparse_categorical_crossentropy", "label_smoothing": 0.2})
    lab = labels(6, 4)
    assert math.isclose(onehot.value(p.copy(), np.eye(4)[lab], w), sparse.value(p.copy(), lab, w), rel_tol=1e-12)


def test_label_smoothing_trains_from_a_config(cli, write):
    rng = np.random.default_rng(0)
    np.savez(write("d.npz", "").parent / "d.npz", x=rng.random((40, 3)), y=rng.integers(0, 3, 40))
    cfg = write("c.yaml", """
data: {train: d.npz, test_split: 0.25}
model: {input_shape: [3], layers: [{type: dense, units: 3, activation: softmax}]}
loss: {type: sparse_categorical_crossentropy, label_smoothing: 0.1}
train: {epochs: 2, batch_size: 8}
""")
    r = cli("fit", cfg, "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
