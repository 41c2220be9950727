"""Optimizers: the first three steps on f(p) = p^2 / 2 (so g = p) against values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nntrain import build_optimizer
from nntrain.errors import ConfigError


def run(spec, steps=3, p0=(1.0, -2.0)):
    opt = build_optimizer(spec)
    p = np.array(p0, dtype=np.float64)
    g = np.zeros_like(p)
    out = []
    for _ in range(steps):
        g[...] = p  # gradient of p^2 / 2
        opt.step([("p", p, g)])
        out.append(p.copy())
    return out, opt


def test_sgd_plain():
    # p <- p - 0.1 p = 0.9 p
    out, _ = run({"type": "sgd", "lr": 0.1})
    assert np.allclose([o[0] for o in out], [0.9, 0.81, 0.729])


def test_sgd_momentum_by_hand():
    # v1 = -0.1 * 1 = -0.1, p1 = 0.9; v2 = 0.9 * -0.1 - 0.1 * 0.9 = -0.18, p2 = 0.72;
    # v3 = 0.9 * -0.18 - 0.1 * 0.72 = -0.234, p3 = 0.486
    out, opt = run({"type": "sgd", "lr": 0.1, "momentum": 0.9})
    assert np.allclose([o[0] for o in out], [0.9, 0.72, 0.486])
    assert np.allclose(opt.state["p"]["velocity"][0], -0.234)


def test_sgd_nesterov_by_hand():
    # v1 = -0.1, p1 = 1 + 0.9 * -0.1 - 0.1 = 0.81
    # v2 = -0.09 - 0.081 = -0.171, p2 = 0.81 - 0.1539 - 0.081 = 0.5751
    # v3 = -0.1539 - 0.05751 = -0.21141, p3 = 0.5751 - 0.190269 - 0.05751 = 0.327321
    out, _ = run({"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True})
    assert np.allclose([o[0] for o in out], [0.81, 0.5751, 0.327321])


def test_adam_by_hand():
    # t=1: m = 0.1, v = 0.001, m^ = 1, v^ = 1: p1 = 1 - 0.1 * 1 / (1 + eps^) = 0.9 (eps^ ~ 3e-6)
    # t=2: g = 0.9, m = 0.09 + 0.09 = 0.18, v = 0.000999 + 0.00081 = 0.001809,
    #      m^ = 0.18 / 0.19, v^ = 0.001809 / 0.001999, p2 = 0.9 - 0.1 * m^ / sqrt(v^) = 0.800412
    out, opt = run({"type": "adam", "lr": 0.1})
    assert math.isclose(out[0][0], 0.9, abs_tol=1e-5)
    assert math.isclose(out[1][0], 0.800412, abs_tol=1e-5)
    # t=3 from the textbook (bias-corrected) form, computed independently of the Keras form
    p, m, v = 1.0, 0.0, 0.0
    for t in (1, 2, 3):
        g = p
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        mh, vh = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
        p -= 0.1 * mh / (math.sqrt(vh) + 1e-7 / math.sqrt(1 - 0.999 ** t))
    assert math.isclose(out[2][0], p, rel_tol=1e-9)
    assert opt.iterations == 3


def test_state_round_trip_continues_identically():
    a, opt = run({"type": "adam", "lr": 0.05}, steps=2)
    fresh = build_optimizer({"type": "adam", "lr": 0.05})
    fresh.load_state_dict({k: v.copy() for k, v in opt.state_dict().items()})
    p1, p2 = a[-1].copy(), a[-1].copy()
    opt.step([("p", p1, p1.copy())])
    fresh.step([("p", p2, p2.copy())])
    assert np.array_equal(p1, p2)


@pytest.mark.parametrize("spec, message", [
    ({"type": "adam", "lr": -0.1}, "lr must be > 0"),
    ({"type": "sgd", "lr": 0.1, "momentum": 1.5}, "momentum must be < 1"),
    ({"type": "sgd", "nesterov": True}, "nesterov needs momentum"),
    ({"type": "adamm"}, "did you mean 'adam'"),
    ({"type": "adam", "learning_rate": 0.1}, "has no parameter 'learning_rate'"),
])
def test_bad_optimizer_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        build_optimizer(spec)
