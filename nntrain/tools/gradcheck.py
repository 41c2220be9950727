"""Finite-difference checks of backward passes (float64, central differences).

For a layer with output y = f(x; params) and a random upstream gradient g, the scalar
L = sum(y * g) has dL/dx = backward(g); each partial derivative is compared with
(L(x + eps e_i) - L(x - eps e_i)) / (2 eps). The error is the relative norm with an absolute
floor, ||analytic - numeric|| / max(||analytic|| + ||numeric||, FLOOR), near 1e-9 when both agree.

The floor is for gradients that are zero by construction (a dense or conv bias followed by
batchnorm: the normalization subtracts any shift, so dL/db = 0). There the analytic gradient is
rounding (~1e-16) and the numeric one finite-difference noise (~1e-16 |L| / eps = 1e-10 per
entry), and a purely relative error is ~1.0 for two correct answers. Below the floor the
error is absolute: such a gradient passes when ||analytic - numeric|| < TOLERANCE * FLOOR =
1e-8, which a real backward bug of any useful size exceeds.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

TOLERANCE = 1e-6
FLOOR = 1e-2


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = FLOOR) -> float:
    """||a - b|| / max(||a|| + ||b||, floor): relative for gradients larger than the floor,
    absolute (scaled by 1/floor) below it, so a true gradient of zero can pass."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = max(np.linalg.norm(a) + np.linalg.norm(b), floor)
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


def check_layer(layer, x, training: bool = True, seed: int = 0, eps: float = 1e-6,
                max_entries: int | None = None) -> dict[str, float]:
    """Relative errors of dL/dx ('input') and of each parameter gradient of a built layer. For a
    merge layer x is a list of arrays, and each input's gradient is checked ('input0', ...)."""
    rng = np.random.default_rng(seed)
    reset = _frozen_rng(layer)
    reset()
    merge = isinstance(x, (list, tuple))
    y = layer.forward(list(x) if merge else x, training)
    g = rng.standard_normal(y.shape)
    g_copy = g.copy()
    gx = layer.backward(g)
    assert np.array_equal(g, g_copy), "backward modified its incoming gradient"
    if merge:
        assert len(gx) == len(x), "a merge's backward returns one gradient per input"
        inputs = {f"input{k}": (xk, np.array(gk, copy=True)) for k, (xk, gk) in enumerate(zip(x, gx))}
    else:
        inputs = {} if gx is None else {"input": (x, np.array(gx, copy=True))}
    grads = {k: np.array(v, copy=True) for k, v in layer.grads.items()}

    def loss() -> float:
        reset()
        return float(np.sum(layer.forward(list(x) if merge else x, training) * g))

    errors = {}
    for name, (xk, gk) in inputs.items():
        idx = _sample(xk.size, rng, max_entries)
        errors[name] = _compare(gk, numeric_grad(loss, xk, eps, idx), idx)
    for name, p in layer.params.items():
        idx = _sample(p.size, rng, max_entries)
        errors[name] = _compare(grads[name], numeric_grad(loss, p, eps, idx), idx)
    return errors


def _compare(analytic: np.ndarray, numeric: np.ndarray, idx: np.ndarray | None) -> float:
    a, n = analytic.reshape(-1), numeric.reshape(-1)
    return rel_error(a, n) if idx is None else rel_error(a[idx], n[idx])


def check_loss(loss, pred: np.ndarray, target: np.ndarray, eps: float = 1e-6,
               w: np.ndarray | None = None) -> float:
    """Relative error of loss.grad(pred, target, w) against finite differences of loss.value."""
    analytic = np.array(loss.grad(pred, target, w), copy=True)
    numeric = numeric_grad(lambda: loss.value(pred, target, w), pred, eps)
    return rel_error(analytic, numeric)


def check_fused(loss, activation, logits: np.ndarray, target: np.ndarray, eps: float = 1e-6,
                w: np.ndarray | None = None) -> float:
    """Relative error of loss.grad_logits(activation(z), w) against d value(activation(z), w) / dz."""
    analytic = np.array(loss.grad_logits(np.array(activation.forward(logits)), target, w), copy=True)
    numeric = numeric_grad(lambda: loss.value(np.array(activation.forward(logits)), target, w), logits, eps)
    return rel_error(analytic, numeric)


def kinked(f: Callable[[], float], x: np.ndarray, eps: float, indices: np.ndarray,
           numeric: np.ndarray) -> np.ndarray:
    """Entries (of `indices`) where f has a kink within eps of x: a ReLU input or a max-pool
    near-tie that changes sides. On smooth ground the central differences at eps (`numeric`)
    and at eps/4 agree to O(eps^2 d3f) plus rounding (~1e-16 |f| / eps); across a kink they
    differ by a fraction of the jump in slope.

    Only the forward pass decides this, so skipping such entries cannot hide a backward bug."""
    small = numeric_grad(f, x, eps / 4, indices).reshape(-1)[indices]
    coarse = numeric.reshape(-1)[indices]
    noise = 64 * np.finfo(np.float64).eps * (abs(f()) + 1.0) / eps
    return np.abs(coarse - small) > noise


def check_model(model, loss, x: np.ndarray, y: np.ndarray, eps: float = 1e-6,
                max_entries: int | None = 50, seed: int = 0, skip_kinks: bool = False,
                skipped: dict | None = None, w: np.ndarray | None = None) -> dict[str, float]:
    """Worst relative error per layer of every parameter gradient of `loss` on (x, y), with
    sample weights w (n,) when given.

    skip_kinks: leave out entries where the loss is not differentiable within eps (see
    `kinked`), counting them per layer in `skipped`."""
    from ..train.trainer import is_fused

    fused = is_fused(model, loss)
    resets = [_frozen_rng(layer) for layer in model.layers]

    def value() -> float:
        for r in resets:
            r()
        return loss.value(model.forward(x, training=True), y, w) + model.penalty()

    for r in resets:
        r()
    p = model.forward(x, training=True)
    grad = loss.grad_logits(p, y, w) if fused else loss.grad(p, y, w)
    model.backward(grad, skip_last=fused)
    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    for i, layer in enumerate(model.layers):
        for name, param in layer.params.items():
            idx = _sample(param.size, rng, max_entries)
            analytic = np.array(layer.grads[name], copy=True)
            numeric = numeric_grad(value, param, eps, idx)
            key = f"{i} {layer.registry_name}"
            if skip_kinks:
                if idx is None:
                    idx = np.arange(param.size)
                bad = kinked(value, param, eps, idx, numeric)
                if skipped is not None:
                    skipped[key] = skipped.get(key, 0) + int(bad.sum())
                idx = idx[~bad]
            err = _compare(analytic, numeric, idx)
            errors[key] = max(errors.get(key, 0.0), err)
    return errors


def check_config(cfg, samples: int = 4, max_entries: int | None = 50, seed: int = 0) -> dict:
    """check_model on a config's model (rebuilt in float64) and loss, on its first training samples
    (weighted as fit weighs them: weight column times train.class_weight).

    Returns {"samples", "tolerance", "errors": {"<i> <layer>": worst relative error},
    "kinks_skipped": {"<i> <layer>": entries left out at kinks}, "failed", "ok"}.
    """
    from ..data import load_splits
    from ..errors import ConfigError
    from ..nn.losses import build_loss
    from ..nn.graph import build_model

    shape = tuple(cfg.model.input_shape) if cfg.model.input_shape else None
    # load in the config's dtype (converting all of MNIST to float64 takes seconds), then
    # take the few samples in float64
    splits = load_splits(cfg.data, input_shape=shape, seed=cfg.seed, dtype=cfg.model.dtype, inputs=cfg.model.inputs)
    x = np.ascontiguousarray(splits.train.x[:samples], dtype=np.float64)
    model = build_model(cfg.model.layers, shape or x.shape[1:], dtype="float64", seed=cfg.seed, inputs=cfg.model.inputs)
    if not model.count_params():
        raise ConfigError("the model has no parameters to check", "model.layers")
    # Fresh biases are 0, and on blank inputs (MNIST's border) a pre-activation is then exactly
    # 0: a ReLU kink, where central differences see slope 1/2 and no gradient is right. Nudge
    # every parameter by N(0, 0.01^2) so the check runs at a point where the loss is smooth.
    rng = np.random.default_rng(seed)
    model.flat_params += rng.normal(0.0, 0.01, model.flat_params.shape)
    loss = build_loss(cfg.loss)
    y = loss.prepare_target(splits.train.y[:samples], model.output_shape, "float64")
    w = None
    if cfg.train.class_weight is not None or splits.train.w is not None:
        from ..data.weights import split_weights

        y_all = loss.prepare_target(splits.train.y, model.output_shape, "float64")  # 'balanced' counts them all
        (w,) = split_weights(cfg.train.class_weight, loss, model.output_shape, [(splits.train, y_all)], "float64",
                             getattr(cfg, "where", None), cfg.data.weight)
        w = None if w is None else w[:samples]
    skipped: dict[str, int] = {}
    errors = check_model(model, loss, x, y, max_entries=max_entries, seed=seed, skip_kinks=True, skipped=skipped, w=w)
    failed = [k for k, v in errors.items() if not v < TOLERANCE]
    return {"config": cfg.path, "samples": len(x), "tolerance": TOLERANCE, "errors": errors,
            "kinks_skipped": skipped, "failed": failed, "ok": not failed}


def gradcheck_layer(layer, input_shape, batch: int = 4, training: bool = True, seed: int = 0,
                    max_entries: int | None = None) -> dict[str, float]:
    """A plugin author's one-line check of a layer's backward pass, as nntrain tests its own:

        nntrain.gradcheck_layer({"type": "my_layer", "units": 3}, input_shape=(5,))

    layer: a registry spec (a name or a dict), a registered Layer class, or an unbuilt Layer
    instance, built here in float64 for one sample of `input_shape` (a list of shapes for a
    merge layer). Runs forward on a random batch
    (training or inference mode), backward on a random upstream gradient, and compares dL/dx
    and every parameter gradient with central differences. Returns {gradient: error};
    AssertionError naming each gradient above TOLERANCE (and when backward modifies its
    incoming gradient)."""
    from ..nn.layers import build_layer

    if isinstance(layer, type):
        if not hasattr(layer, "registry_name"):
            raise TypeError(f"{layer.__name__} is not registered: decorate it with @LAYERS.register(name)")
        layer = layer.registry_name
    merge = isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple))
    shape = [tuple(s) for s in input_shape] if merge else tuple(input_shape)
    if hasattr(layer, "forward") and not isinstance(layer, type):  # an instance: built here
        built = layer
        built.build(shape, np.random.default_rng(seed), "float64")
    else:
        built = build_layer(layer, input_shape=shape, dtype="float64", seed=seed)
    rng = np.random.default_rng(seed + 1)
    x = [rng.standard_normal((batch,) + s) for s in shape] if merge else rng.standard_normal((batch,) + shape)
    errors = check_layer(built, x, training=training, seed=seed, max_entries=max_entries)
    bad = {k: v for k, v in errors.items() if not v < TOLERANCE}
    if bad:
        raise AssertionError(f"layer {built.registry_name!r}: gradients differ from finite differences: "
                             + ", ".join(f"{k} {v:.3g}" for k, v in bad.items()) + f" (tolerance {TOLERANCE:g})")
    return errors
