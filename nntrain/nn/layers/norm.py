"""Normalization layers: batch normalization and layer normalization.

Both normalize x to xhat = (x - mean) / sqrt(var + epsilon) and output y = gamma * xhat + beta
(gamma, beta per feature of the last axis). With N values per statistic, the backward pass is

    dL/dxhat = g * gamma
    dL/dx    = (1 / sqrt(var + eps)) / N * (N dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
    dL/dgamma = sum(g * xhat)        dL/dbeta = sum(g)

where the sums run over the values that share the statistic (the batch for batchnorm, the
features of one sample for layernorm).
"""
from __future__ import annotations

import math

import numpy as np

from ..registry import LAYERS
from .base import Layer


def _check_unit(name, value, open_low=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _check_eps(value) -> float:
    value = _check_unit("epsilon", value)
    if value <= 0:
        raise ValueError(f"epsilon must be > 0, got {value!r}")
    return value


class _Norm(Layer):
    def __init__(self, epsilon: float, center: bool, scale: bool):
        super().__init__()
        self.epsilon = _check_eps(epsilon)
        for name, v in (("center", center), ("scale", scale)):
            if not isinstance(v, bool):
                raise ValueError(f"{name} must be true or false, got {v!r}")
        self.center, self.scale = center, scale

    def _add_affine(self, c: int, rng) -> None:
        if self.scale:
            self.add_param("gamma", (c,), "ones", rng)
        if self.center:
            self.add_param("beta", (c,), "zeros", rng)

    def _affine(self, xhat: np.ndarray, y: np.ndarray) -> np.ndarray:
        """y = gamma * xhat + beta."""
        if self.scale:
            np.multiply(xhat, self.params["gamma"], out=y)
        else:
            np.copyto(y, xhat)
        if self.center:
            y += self.params["beta"]
        return y

    def _affine_grads(self, g: np.ndarray, xhat: np.ndarray, axis) -> np.ndarray:
        """Fill dgamma, dbeta; return dL/dxhat = g * gamma (a work array)."""
        dxhat = self._buf("dxhat", g.shape)
        if self.scale:
            np.multiply(g, xhat, out=dxhat)
            np.sum(dxhat, axis=axis, out=self.grads["gamma"])
        if self.center:
            np.sum(g, axis=axis, out=self.grads["beta"])
        if self.scale:
            np.multiply(g, self.params["gamma"], out=dxhat)
        else:
            np.copyto(dxhat, g)
        return dxhat

    @staticmethod
    def _normalize_backward(dxhat, xhat, inv, axis, n: int, out: np.ndarray) -> np.ndarray:
        """out = inv / n * (n dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), sums over `axis`."""
        keep = axis == -1
        s1 = np.sum(dxhat, axis=axis, keepdims=keep)
        np.multiply(dxhat, xhat, out=out)
        s2 = np.sum(out, axis=axis, keepdims=keep)
        np.multiply(xhat, s2, out=out)
        np.subtract(dxhat * n, out, out=out)
        out -= s1
        out *= inv / n
        return out


@LAYERS.register("batchnorm")
class BatchNorm(_Norm):
    """Batch normalization (Ioffe & Szegedy 2015) over the last axis (features, or channels of NHWC input).

    Training normalizes with the batch's mean and (biased) variance and updates the moving
    statistics: moving = momentum * moving + (1 - momentum) * batch (Keras' form); evaluation
    and predict use the moving statistics, which are saved with the weights.

    Args:
        momentum: decay of the moving mean and variance, in [0, 1).
        epsilon: added to the variance before the square root.
        center: learn an offset beta.
        scale: learn a scale gamma.
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 0.001, center: bool = True, scale: bool = True):
        super().__init__(epsilon, center, scale)
        self.momentum = _check_unit("momentum", momentum)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")

    def _build(self, input_shape, rng):
        c = input_shape[-1]
        self._add_affine(c, rng)
        self.buffers["moving_mean"] = np.zeros(c, dtype=self.dtype)
        self.buffers["moving_var"] = np.ones(c, dtype=self.dtype)
        return input_shape

    def forward(self, x, training=False):
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        xhat = self._buf("xhat", x2.shape)
        mm, mv = self.buffers["moving_mean"], self.buffers["moving_var"]
        if training:
            mean = x2.mean(axis=0)
            np.subtract(x2, mean, out=xhat)
            var = np.mean(np.square(xhat), axis=0)
            # moving += (1 - momentum) (batch - moving)
            mm += (1.0 - self.momentum) * (mean - mm)
            mv += (1.0 - self.momentum) * (var - mv)
        else:
            np.subtract(x2, mm, out=xhat)
            var = mv
        inv = (1.0 / np.sqrt(var + self.epsilon)).astype(self.dtype)
        xhat *= inv
        self._cache = (xhat, inv, training, x.shape)
        return self._affine(xhat, self._buf("y", x2.shape)).reshape(x.shape)

    def backward(self, grad_y):
        xhat, inv, training, shape = self._cached()
        g = grad_y.reshape(xhat.shape)
        dxhat = self._affine_grads(g, xhat, axis=0)
        gx = self._buf("gx", xhat.shape)
        if training:  # the batch statistics depend on x too
            self._normalize_backward(dxhat, xhat, inv, 0, len(xhat), gx)
        else:
            np.multiply(dxhat, inv, out=gx)
        return gx.reshape(shape)


@LAYERS.register("layernorm")
class LayerNorm(_Norm):
    """Layer normalization (Ba et al. 2016): each sample normalized over its last axis.

    Args:
        epsilon: added to the variance before the square root.
        center: learn an offset beta.
        scale: learn a scale gamma.
    """

    def __init__(self, epsilon: float = 0.001, center: bool = True, scale: bool = True):
        super().__init__(epsilon, center, scale)

    def _build(self, input_shape, rng):
        self._add_affine(input_shape[-1], rng)
        return input_shape

    def forward(self, x, training=False):
        d = x.shape[-1]
        x2 = x.reshape(-1, d)
        xhat = self._buf("xhat", x2.shape)
        np.subtract(x2, x2.mean(axis=-1, keepdims=True), out=xhat)
        var = np.mean(np.square(xhat), axis=-1, keepdims=True)
        inv = 1.0 / np.sqrt(var + self.epsilon)
        xhat *= inv
        self._cache = (xhat, inv, x.shape)
        return self._affine(xhat, self._buf("y", x2.shape)).reshape(x.shape)

    def backward(self, grad_y):
        xhat, inv, shape = self._cached()
        g = grad_y.reshape(xhat.shape)
        dxhat = self._affine_grads(g, xhat, axis=0)
        gx = self._buf("gx", xhat.shape)
        self._normalize_backward(dxhat, xhat, inv, -1, xhat.shape[-1], gx)
        return gx.reshape(shape)
