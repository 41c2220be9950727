"""Optimizers against their docstring formulas: a hand-computed step each, and several steps
against a plain float64 transcription of the Keras (or PyTorch) update rule."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.nn.optimizers import build_optimizer


def run(spec, grads, p0):
    opt = build_optimizer(spec)
    p = np.array(p0, dtype=np.float64)
    for g in grads:
        opt.step([("w", p, np.array(g, dtype=np.float64))])
    return p, opt


GRADS = np.random.default_rng(0).standard_normal((6, 5))
P0 = np.random.default_rng(1).standard_normal(5)


def reference(kind, lr, **kw):
    """The update rules written out once more, step by step, without in-place tricks."""
    p = P0.copy()
    m = np.zeros(5)
    v = np.zeros(5)
    a = np.zeros(5)
    acc = np.full(5, kw.get("initial_accumulator_value", 0.1))
    u_prod = 1.0
    for t, g in enumerate(GRADS, 1):
        if kind == "sgd_torch":  # PyTorch: buf = mu buf + g ; p -= lr * (g + mu buf if nesterov else buf)
            m = kw["momentum"] * m + g
            p = p - lr * (g + kw["momentum"] * m if kw.get("nesterov") else m)
        elif kind == "adam_torch":  # PyTorch: p -= lr * m_hat / (sqrt(v_hat) + eps)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            p = p - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + kw["eps_hat"])
        elif kind == "rmsprop":
            rho, mom, eps = 0.9, kw.get("momentum", 0.0), 1e-7
            v = rho * v + (1 - rho) * g * g
            if kw.get("centered"):
                a = rho * a + (1 - rho) * g
                step = lr * g / np.sqrt(v - a * a + eps)
            else:
                step = lr * g / np.sqrt(v + eps)
            m = mom * m + step
            p = p - m
        elif kind == "adagrad":
            acc = acc + g * g
            p = p - lr * g / np.sqrt(acc + 1e-7)
        elif kind == "adamw":
            p = p - lr * kw["weight_decay"] * p
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            p = p - lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-7)
        elif kind == "nadam":  # Keras 3 nadam.py, transcribed
            u_t = 0.9 * (1 - 0.5 * 0.96 ** t)
            u_t1 = 0.9 * (1 - 0.5 * 0.96 ** (t + 1))
            u_prod = u_prod * u_t
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            m_hat = u_t1 * m / (1 - u_prod * u_t1) + (1 - u_t) * g / (1 - u_prod)
            v_hat = v / (1 - 0.999 ** t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + 1e-7)
    return p


@pytest.mark.parametrize("spec, kind, kw", [
    ({"type": "sgd", "lr": 0.1, "momentum": 0.9}, "sgd_torch", {"momentum": 0.9}),
    ({"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}, "sgd_torch", {"momentum": 0.9, "nesterov": True}),
    # Keras' epsilon applies to sqrt(v) before bias correction: eps_hat = eps * sqrt(1 - b2^t)
    # changes with t, so compare with a tiny epsilon where both forms agree
    ({"type": "adam", "lr": 0.01, "epsilon": 1e-12}, "adam_torch", {"eps_hat": 1e-12}),
    ({"type": "rmsprop", "lr": 0.01}, "rmsprop", {}),
    ({"type": "rmsprop", "lr": 0.01, "momentum": 0.5, "centered": True}, "rmsprop", {"momentum": 0.5, "centered": True}),
    ({"type": "adagrad", "lr": 0.1}, "adagrad", {}),
    ({"type": "adamw", "lr": 0.01, "weight_decay": 0.1}, "adamw", {"weight_decay": 0.1}),
    ({"type": "adam", "lr": 0.01, "weight_decay": 0.1}, "adamw", {"weight_decay": 0.1}),
    ({"type": "nadam", "lr": 0.01}, "nadam", {}),
])
def test_matches_reference_formula(spec, kind, kw):
    p, _ = run(spec, GRADS, P0)
    assert np.allclose(p, reference(kind, spec["lr"], **kw), rtol=1e-10, atol=1e-12)


def test_first_steps_by_hand():
    # rmsprop: v = 0.1 * 4 = 0.4; p = 1 - 0.1 * 2 / sqrt(0.4 + 1e-7)
    p, _ = run({"type": "rmsprop", "lr": 0.1}, [[2.0]], [1.0])
    assert p[0] == pytest.approx(1 - 0.2 / math.sqrt(0.4 + 1e-7))
    # adagrad: acc = 0.1 + 4; p = 1 - 0.1 * 2 / sqrt(4.1 + 1e-7)
    p, _ = run({"type": "adagrad", "lr": 0.1}, [[2.0]], [1.0])
    assert p[0] == pytest.approx(1 - 0.2 / math.sqrt(4.1 + 1e-7))
    # adamw: decay 1 -> 1 - 0.1*0.5*1 = 0.95, then Adam's first step is lr * sign(g) (up to eps)
    p, _ = run({"type": "adamw", "lr": 0.1, "weight_decay": 0.5}, [[3.0]], [1.0])
    assert p[0] == pytest.approx(0.95 - 0.1, abs=1e-6)
    # nadam, t = 1: u1 = 0.9 (1 - 0.48) = 0.468, u2 = 0.9 (1 - 0.5 * 0.9216) = 0.48528
    # m = 0.1 g, v = 0.001 g^2 -> v_hat = g^2; m_hat = u2 0.1 g / (1 - u1 u2) + (1 - u1) g / (1 - u1)
    g = 2.0
    u1, u2 = 0.468, 0.48528
    m_hat = u2 * 0.1 * g / (1 - u1 * u2) + g
    p, _ = run({"type": "nadam", "lr": 0.1}, [[g]], [1.0])
    assert p[0] == pytest.approx(1 - 0.1 * m_hat / (g + 1e-7))
    # sgd + momentum (Keras form): v = -0.1*2 = -0.2 then v = 0.9*(-0.2) - 0.1*2 = -0.38
    p, _ = run({"type": "sgd", "lr": 0.1, "momentum": 0.9}, [[2.0], [2.0]], [1.0])
    assert p[0] == pytest.approx(1 - 0.2 - 0.38)


def test_clipnorm_is_global_and_clipvalue_per_entry():
    opt = build_optimizer({"type": "sgd", "lr": 1.0, "clipnorm": 1.0})
    p1, p2 = np.zeros(2), np.zeros(1)
    g1, g2 = np.array([3.0, 0.0]), np.array([4.0])  # global norm 5 -> scaled by 1/5
    opt.step([("a", p1, g1), ("b", p2, g2)])
    assert np.allclose(p1, [-0.6, 0.0]) and np.allclose(p2, [-0.8])
    opt = build_optimizer({"type": "sgd", "lr": 1.0, "clipnorm": 10.0})  # under the limit: untouched
    p = np.zeros(2)
    opt.step([("a", p, np.array([3.0, 4.0]))])
    assert np.allclose(p, [-3.0, -4.0])
    opt = build_optimizer({"type": "sgd", "lr": 1.0, "clipvalue": 0.5})
    p = np.zeros(3)
    opt.step([("a", p, np.array([2.0, -0.25, -7.0]))])
    assert np.allclose(p, [-0.5, 0.25, 0.5])


def test_weight_decay_is_an_option_of_every_optimizer():
    p, _ = run({"type": "sgd", "lr": 0.1, "weight_decay": 0.5}, [[0.0]], [2.0])
    assert p[0] == pytest.approx(2.0 - 0.1 * 0.5 * 2.0)
    assert build_optimizer("adamw").weight_decay == 0.004  # Keras' default


def test_nadam_state_reload_continues_identically():
    p_ref, _ = run({"type": "nadam", "lr": 0.01}, GRADS, P0)
    p, opt = run({"type": "nadam", "lr": 0.01}, GRADS[:3], P0)
    again = build_optimizer({"type": "nadam", "lr": 0.01})
    again.load_state_dict({k: np.array(v) for k, v in opt.state_dict().items()})
    for g in GRADS[3:]:
        again.step([("w", p, g.copy())])
    assert np.allclose(p, p_ref, rtol=1e-12)


def test_adagrad_state_starts_at_the_initial_value():
    _, opt = run({"type": "adagrad", "initial_accumulator_value": 0.5}, [[0.0, 1.0]], [0.0, 0.0])
    assert opt.state["w"]["accumulator"].tolist() == [0.5, 1.5]


@pytest.mark.parametrize("spec, message", [
    ({"type": "rmsprop", "rho": 1.0}, "rho must be < 1"),
    ({"type": "adagrad", "epsilon": 0}, "epsilon must be > 0"),
    ({"type": "sgd", "clipnorm": -1}, "clipnorm must be > 0"),
    ({"type": "adam", "clipvalue": "x"}, "clipvalue must be a number"),
    ({"type": "nadma"}, "did you mean 'nadam'"),
])
def test_bad_optimizer_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        build_optimizer(spec)


def test_float32_updates_stay_float32():
    for name in ("rmsprop", "adagrad", "adamw", "nadam"):
        opt = build_optimizer(name)
        p = np.ones(4, dtype=np.float32)
        opt.step([("w", p, np.full(4, 0.5, dtype=np.float32))])
        assert p.dtype == np.float32 and np.all(p < 1)
