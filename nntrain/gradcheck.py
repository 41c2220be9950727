"""Finite-difference checks of backward passes (float64, central differences).

For a layer with output y = f(x; params) and a random upstream gradient g, the scalar
L = sum(y * g) has dL/dx = backward(g); each partial derivative is compared with
(L(x + eps e_i) - L(x - eps e_i)) / (2 eps). The error is the relative norm
||analytic - numeric|| / (||analytic|| + ||numeric||), near 1e-9 when both agree.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

TOLERANCE = 1e-6


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numeric_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6,
                 indices: np.ndarray | None = None) -> np.ndarray:
    """dF/dx by central differences, changing x in place (restored); only at `indices` if given."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def _sample(size: int, rng: np.random.Generator, limit: int | None) -> np.ndarray | None:
    return None if limit is None or size <= limit else rng.choice(size, limit, replace=False)


def _frozen_rng(layer):
    """Forward calls that draw the same random numbers (dropout masks) every time."""
    rng = getattr(layer, "rng", None)
    state = rng.bit_generator.state if rng is not None else None

    def reset():
        if rng is not None:
            rng.bit_generator.state = state
    return reset


def check_layer(layer, x: np.ndarray, training: bool = True, seed: int = 0, eps: float = 1e-6,
                max_entries: int | None = None) -> dict[str, float]:
    """Relative errors of dL/dx ('input') and of each parameter gradient of a built layer."""
    rng = np.random.default_rng(seed)
    reset = _frozen_rng(layer)
    reset()
    y = layer.forward(x, training)
    g = rng.standard_normal(y.shape)
    g_copy = g.copy()
    gx = layer.backward(g)
    assert np.array_equal(g, g_copy), "backward modified its incoming gradient"
    gx = None if gx is None else np.array(gx, copy=True)
    grads = {k: np.array(v, copy=True) for k, v in layer.grads.items()}

    def loss() -> float:
        reset()
        return float(np.sum(layer.forward(x, training) * g))

    errors = {}
    if gx is not None:
        idx = _sample(x.size, rng, max_entries)
        num = numeric_grad(loss, x, eps, idx)
        errors["input"] = _compare(gx, num, idx)
    for name, p in layer.params.items():
        idx = _sample(p.size, rng, max_entries)
        errors[name] = _compare(grads[name], numeric_grad(loss, p, eps, idx), idx)
    return errors


def _compare(analytic: np.ndarray, numeric: np.ndarray, idx: np.ndarray | None) -> float:
    a, n = analytic.reshape(-1), numeric.reshape(-1)
    return rel_error(a, n) if idx is None else rel_error(a[idx], n[idx])


def check_loss(loss, pred: np.ndarray, target: np.ndarray, eps: float = 1e-6) -> float:
    """Relative error of loss.grad(pred, target) against finite differences of loss.value."""
    analytic = np.array(loss.grad(pred, target), copy=True)
    numeric = numeric_grad(lambda: loss.value(pred, target), pred, eps)
    return rel_error(analytic, numeric)


def check_fused(loss, activation, logits: np.ndarray, target: np.ndarray, eps: float = 1e-6) -> float:
    """Relative error of loss.grad_logits(activation(z)) against d value(activation(z)) / dz."""
    analytic = np.array(loss.grad_logits(np.array(activation.forward(logits)), target), copy=True)
    numeric = numeric_grad(lambda: loss.value(np.array(activation.forward(logits)), target), logits, eps)
    return rel_error(analytic, numeric)


def check_model(model, loss, x: np.ndarray, y: np.ndarray, eps: float = 1e-6,
                max_entries: int | None = 50, seed: int = 0) -> dict[str, float]:
    """Worst relative error per layer of every parameter gradient of `loss` on (x, y)."""
    from .trainer import is_fused

    fused = is_fused(model, loss)
    resets = [_frozen_rng(layer) for layer in model.layers]

    def value() -> float:
        for r in resets:
            r()
        return loss.value(model.forward(x, training=True), y) + model.penalty()

    for r in resets:
        r()
    p = model.forward(x, training=True)
    grad = loss.grad_logits(p, y) if fused else loss.grad(p, y)
    model.backward(grad, skip_last=fused)
    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    for i, layer in enumerate(model.layers):
        for name, param in layer.params.items():
            idx = _sample(param.size, rng, max_entries)
            analytic = np.array(layer.grads[name], copy=True)
            err = _compare(analytic, numeric_grad(value, param, eps, idx), idx)
            key = f"{i} {layer.registry_name}"
            errors[key] = max(errors.get(key, 0.0), err)
    return errors
