"""The speed-minded code paths: Adam's scaled moments, GEMV bias gradients, bare-ufunc loss
value, flush-to-zero, and `nntrain time`. Each is checked against the plain formula."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nntrain import build_layer, build_loss, build_optimizer
from nntrain.tools.gradcheck import TOLERANCE, check_layer
from nntrain.train.denormals import available, flush_denormals

from sample_configs import SPIRALS


def keras_adam(p, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """Adam exactly as Keras writes it, in float64, one step per gradient."""
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    return p, m, v


def test_adam_matches_the_keras_formula_over_many_steps():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(50)
    grads = [rng.standard_normal(50) * 10.0 ** rng.integers(-6, 1) for _ in range(30)]
    grads[3][:10] = 0.0  # zero gradients: only eps keeps the update finite
    opt = build_optimizer({"type": "adam", "lr": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6})
    p = p0.copy()
    for g in grads:
        opt.step([("w", p, g.copy())])
    want, m, v = keras_adam(p0, grads, lr=0.01, b1=0.8, b2=0.99, eps=1e-6)
    np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-15)
    # the saved moments are the documented scaled ones: m / (1 - beta_1), v / (1 - beta_2)
    np.testing.assert_allclose(opt.state["w"]["m"] * 0.2, m, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(opt.state["w"]["v"] * 0.01, v, rtol=1e-12, atol=1e-300)


def test_adam_first_step_by_hand():
    # t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr * sqrt(0.001) / 0.1, so the step is
    # alpha * m / (sqrt(v) + eps) = lr * g / (|g| + eps / sqrt(0.001))
    p, g = np.array([1.0, -2.0]), np.array([0.5, -0.25])
    opt = build_optimizer({"type": "adam", "lr": 0.1})
    opt.step([("w", p, g)])
    e = 1e-7 / math.sqrt(1e-3)
    np.testing.assert_allclose(p, [1.0 - 0.1 * 0.5 / (0.5 + e), -2.0 + 0.1 * 0.25 / (0.25 + e)], rtol=1e-14)


def test_adam_resumes_bit_for_bit_from_its_state_dict():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(20).astype(np.float32) for _ in range(6)]
    p_a = rng.standard_normal(20).astype(np.float32)
    p_b = p_a.copy()
    a = build_optimizer("adam")
    for g in grads:
        a.step([("w", p_a, g)])
    b = build_optimizer("adam")
    for g in grads[:3]:
        b.step([("w", p_b, g)])
    c = build_optimizer("adam")
    c.load_state_dict({k: v.copy() for k, v in b.state_dict().items()})
    for g in grads[3:]:
        c.step([("w", p_b, g)])
    assert np.array_equal(p_a, p_b)


@pytest.mark.parametrize("batches", [[5, 3, 5, 1]])
def test_dense_bias_gradient_is_the_batch_sum_for_changing_batch_sizes(batches):
    layer = build_layer({"type": "dense", "units": 4}, input_shape=(3,), dtype="float32", seed=0)
    rng = np.random.default_rng(0)
    for n in batches:  # the cached ones vector must follow the batch size
        x = rng.standard_normal((n, 3)).astype(np.float32)
        gy = rng.standard_normal((n, 4)).astype(np.float32)
        layer.forward(x, training=True)
        gx = layer.backward(gy)
        np.testing.assert_allclose(layer.grads["b"], gy.sum(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.grads["W"], x.T @ gy, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gx, gy @ layer.params["W"].T, rtol=1e-5, atol=1e-6)


def test_dense_takes_inputs_and_gradients_of_another_dtype():
    layer = build_layer({"type": "dense", "units": 2}, input_shape=(3,), dtype="float32", seed=0)
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x @ layer.params["W"] + layer.params["b"], rtol=1e-6)
    layer.backward(np.ones((2, 2)))  # float64 gradient into a float32 layer
    np.testing.assert_allclose(layer.grads["b"], [2.0, 2.0])


def test_dense_with_its_own_relu_passes_the_float64_gradient_check():
    layer = build_layer({"type": "dense", "units": 4, "activation": "relu"}, input_shape=(5,), dtype="float64", seed=3)
    x = np.random.default_rng(4).standard_normal((6, 5))
    z = x @ layer.params["W"] + layer.params["b"]
    assert (np.abs(z) > 1e-3).all(), "an input on the kink would make finite differences meaningless"
    assert max(check_layer(layer, x).values()) < TOLERANCE
    np.testing.assert_allclose(layer.forward(x), np.maximum(z, 0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_crossentropy_value_matches_the_formula_with_clipping(dtype):
    loss = build_loss("sparse_categorical_crossentropy")
    p = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]], dtype=dtype)
    y = np.array([0, 1, 1, 2])
    picked = np.clip(p[np.arange(4), y].astype(np.float64), 1e-7, 1 - 1e-7)
    assert loss.value(p, y) == pytest.approx(-np.mean(np.log(picked)), rel=1e-6)
    assert p[1, 1] == 1.0 and p[2, 1] == 0.0, "value() must not clip the predictions in place"


@pytest.mark.skipif(not available(), reason="flush-to-zero needs x86-64 Linux")
def test_flush_denormals_turns_denormals_into_zero_and_restores():
    tiny = np.array([1e-40], dtype=np.float32)
    assert (tiny * np.float32(1)) != 0
    with flush_denormals() as active:
        assert active
        assert (tiny * np.float32(1)) == 0
        with flush_denormals(False) as inner:
            assert not inner and (tiny * np.float32(1)) == 0  # off means: leave the mode alone
    assert (tiny * np.float32(1)) != 0
    with pytest.raises(ZeroDivisionError):
        with flush_denormals():
            1 / 0
    assert (tiny * np.float32(1)) != 0, "an exception inside must still put the mode back"


def test_fit_with_flush_denormals(cli, write):
    cfg = write("s.yaml", SPIRALS)
    result = cli("fit", cfg, "--set", "train.flush_denormals=true", "--json", "--run-dir", "run")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "done" and out["epochs"] == 2
    assert "flush_denormals: true" in (cfg.parent / "run" / "config.yaml").read_text()
    tiny = np.array([1e-40], dtype=np.float32)
    assert (tiny * np.float32(1)) != 0, "the mode must not outlive the run"


def test_flush_denormals_must_be_true_false_or_auto(cli, write):
    result = cli("check", write("s.yaml", SPIRALS), "--set", "train.flush_denormals=maybe")
    assert result.exit_code == 2
    assert "train.flush_denormals" in result.stderr and "true, false or auto" in result.stderr


def test_flush_denormals_defaults_to_auto_and_false_turns_it_off(cli, write, monkeypatch):
    import nntrain.train.denormals as denormals

    cfg = write("s.yaml", SPIRALS)
    seen = []
    real = denormals.enable
    monkeypatch.setattr(denormals, "enable", lambda: seen.append("on") or real())
    result = cli("fit", cfg, "--json", "--run-dir", "run")
    assert result.exit_code == 0, result.stderr
    assert "flush_denormals: auto" in (cfg.parent / "run" / "config.yaml").read_text()
    assert seen == ["on"]
    result = cli("fit", cfg, "--set", "train.flush_denormals=false", "--json", "--run-dir", "run2")
    assert result.exit_code == 0, result.stderr
    assert seen == ["on"], "false must leave the floating-point mode alone"


def test_flush_denormals_notes_unavailability_only_when_asked_for(cli, write, monkeypatch):
    import nntrain.train.denormals as denormals

    monkeypatch.setattr(denormals, "enable", lambda: None)  # as on a non-x86 machine
    cfg = write("s.yaml", SPIRALS)
    for setting, noted in (("auto", False), ("true", True)):
        result = cli("fit", cfg, "--set", f"train.flush_denormals={setting}", "--run-dir", f"run-{setting}")
        assert result.exit_code == 0, result.stderr
        assert ("not available on this platform" in result.stderr) is noted, setting


@pytest.mark.skipif(not available(), reason="flush-to-zero needs x86-64 Linux")
def test_a_diverging_fit_puts_the_floating_point_mode_back(cli, write):
    cfg = write("s.yaml", SPIRALS)
    result = cli("fit", cfg, "--set", "optimizer.lr=1e30", "--set", "train.epochs=3", "--run-dir", "run")
    assert result.exit_code == 1, result.stderr
    assert "RuntimeWarning" not in result.stderr  # the divergence is reported once, as an error
    tiny = np.array([1e-40], dtype=np.float32)
    assert (tiny * np.float32(1)) != 0, "flush-to-zero outlived a fit that ended in an error"


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_adam_using_the_gradients_as_scratch_gives_the_same_bits(kind):
    # the Trainer lets the update overwrite the gradients; the parameters must not notice
    rng = np.random.default_rng(3)
    p_keep = rng.standard_normal(40).astype(np.float32)
    p_scratch = p_keep.copy()
    keep, scratch = build_optimizer(kind), build_optimizer(kind)
    scratch.overwrite_grads = True
    for _ in range(20):
        g = rng.standard_normal(40).astype(np.float32)
        g_given = g.copy()
        keep.step([("w", p_keep, g)])
        scratch.step([("w", p_scratch, g_given)])
        assert not np.array_equal(g, g_given)  # the scratch space was used
    assert np.array_equal(p_keep, p_scratch)
    for key in ("m", "v"):
        assert np.array_equal(keep.state["w"][key], scratch.state["w"][key])


def test_the_default_optimizer_leaves_the_gradients_alone():
    g = np.array([0.5, -0.25], dtype=np.float32)
    build_optimizer("adam").step([("w", np.ones(2, np.float32), g)])
    assert g.tolist() == [0.5, -0.25]


def test_accuracy_fast_path_matches_the_general_one():
    from nntrain.nn.metrics import Accuracy, predicted_labels, true_labels

    rng = np.random.default_rng(0)
    pred = rng.integers(0, 3, (200, 4)).astype(np.float32)  # many ties: argmax takes the first
    y = rng.integers(0, 4, 200)
    acc = Accuracy()
    acc.update(pred[:150], y[:150])
    acc.update(pred[150:], y[150:])
    want = np.mean(np.argmax(pred, axis=1) == y)
    assert acc.result() == pytest.approx(want) and acc.count == 200
    general = np.mean(predicted_labels(pred) == true_labels(y))
    assert acc.result() == pytest.approx(general)
    onehot = np.eye(4, dtype=np.float32)[y]  # one-hot targets take the general path, same answer
    acc.reset()
    acc.update(pred, onehot)
    assert acc.result() == pytest.approx(want)


def test_sparse_crossentropy_flat_picks_match_fancy_indexing():
    loss = build_loss("sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    for n, c in ((5, 3), (32, 10), (7, 2)):  # different shapes reuse the workspace
        p = rng.dirichlet(np.ones(c), n).astype(np.float32)
        y = rng.integers(0, c, n)
        picked = np.clip(p[np.arange(n), y].astype(np.float64), 1e-7, 1 - 1e-7)
        assert loss.value(p, y) == pytest.approx(-np.mean(np.log(picked)), rel=1e-6)
        want = p / n
        want[np.arange(n), y] -= 1.0 / n
        np.testing.assert_allclose(loss.grad_logits(p, y), want, rtol=1e-6, atol=1e-9)


def test_relu_against_a_zeros_array_is_still_relu():
    layer = build_layer({"type": "relu"}, input_shape=(6,))
    x = np.array([[-1.0, 0.0, 2.0, -0.0, 3.5, -7.0]] * 3, dtype=np.float32)
    y = layer.forward(x, True)
    assert y.tolist() == [[0.0, 0.0, 2.0, 0.0, 3.5, 0.0]] * 3
    y = layer.forward(-x, True)  # the shared zeros stay zeros
    assert y.tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0, 7.0]] * 3
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), (y > 0).astype(np.float32))


def test_time_reports_every_layer_and_the_update(cli, write):
    result = cli("time", write("s.yaml", SPIRALS), "--steps", "4", "--batch-size", "8", "--json")
    assert result.exit_code == 0, result.stderr
    r = json.loads(result.stdout)
    assert [row["type"] for row in r["layers"]] == ["dense", "relu", "dense", "softmax"]
    assert r["batch_size"] == 8 and r["steps"] == 4 and r["optimizer"] == "adam"
    assert r["layers"][-1]["backward_ms"] is None  # softmax + cross-entropy are fused
    parts = [row["forward_ms"] + (row["backward_ms"] or 0) for row in r["layers"]]
    parts += [r["batch_ms"], r["loss_ms"], r["optimizer_ms"], r["metrics_ms"]]
    assert all(t > 0 for t in parts)
    assert r["total_ms"] == pytest.approx(sum(parts))
    assert r["batches_per_epoch"] == math.ceil(90 / 8)  # spirals: 90 training samples
    assert r["epoch_seconds"] == pytest.approx(r["step_ms"] / 1e3 * r["batches_per_epoch"])


def test_time_prints_a_table(cli, write):
    result = cli("time", write("s.yaml", SPIRALS), "--steps", "2")
    assert result.exit_code == 0, result.stderr
    for text in ("dense", "relu", "softmax", "adam update", "batch gather", "total", "s per epoch"):
        assert text in result.stdout


@pytest.mark.parametrize("flag, value", [("--steps", "0"), ("--batch-size", "0")])
def test_time_rejects_bad_counts(cli, write, flag, value):
    result = cli("time", write("s.yaml", SPIRALS), flag, value)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {flag} must be an integer >= 1")


def test_the_workspace_keeps_the_full_and_the_last_batch_buffers_without_reallocating():
    from nntrain.nn.workspace import Workspace

    ws = Workspace()
    full, last = ws.get("y", (32, 4), np.float32), ws.get("y", (24, 4), np.float32)
    assert full is not last and last.shape == (24, 4)
    for _ in range(3):  # epoch after epoch: 32, ..., 32, 24
        assert ws.get("y", (32, 4), np.float32) is full
        assert ws.get("y", [24, 4], np.float32) is last  # a list shape finds the array too
    assert ws.get("y", (24, 4), np.float64) is not last  # another dtype is another array
    assert ws.arange(5, step=3).tolist() == [0, 3, 6, 9, 12]
    assert ws.arange(2, step=3).tolist() == [0, 3]
    zeros = ws.zeros((2, 3), np.float32)
    assert not zeros.any() and not zeros.flags.writeable and ws.zeros([2, 3], np.float32) is zeros
