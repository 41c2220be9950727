"""Dense, Flatten, Reshape and Dropout."""
from __future__ import annotations

import math

import numpy as np

from ..registry import INITIALIZERS, LAYERS
from .base import Layer
from .regularizers import parse_regularizer


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_initializer(name: str, value) -> None:
    key = value if isinstance(value, str) else (value or {}).get("type") if isinstance(value, dict) else None
    if key is None or key not in INITIALIZERS:
        raise ValueError(f"{name} must be one of {', '.join(INITIALIZERS.names())}, got {value!r}")


def set_kernel_options(layer: Layer, activation, use_bias, kernel_initializer, bias_initializer,
                       kernel_regularizer) -> None:
    """The options dense and conv2d share, checked and stored under their own names.

    Sequential expands `activation` into a layer of its own; a layer used alone
    (nntrain.build_layer) applies it itself through `_act`.
    """
    layer.activation = activation
    layer._act = LAYERS.build(activation) if activation not in (None, "linear") else None
    layer.use_bias = bool(use_bias)
    _check_initializer("kernel_initializer", kernel_initializer)
    _check_initializer("bias_initializer", bias_initializer)
    layer.kernel_initializer = kernel_initializer
    layer.bias_initializer = bias_initializer
    layer.kernel_regularizer = kernel_regularizer
    layer.regularizer = parse_regularizer(kernel_regularizer)


@LAYERS.register("dense")
class Dense(Layer):
    """Fully connected layer: y = x @ W + b, x of shape (n, in), y of shape (n, units).

    Args:
        units: number of outputs.
        activation: shorthand for an activation layer right after this one (e.g. relu).
        use_bias: add the bias b.
        kernel_initializer: initializer of W (in, units).
        bias_initializer: initializer of b (units,).
        kernel_regularizer: weight penalty added to the loss, e.g. {l2: 0.0001} (or l1).
    """

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer: dict | None = None):
        super().__init__()
        self.units = _check_positive_int("units", units)
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer)

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(
                f"dense expects flat input (features,), got {input_shape}; add a flatten layer before it"
            )
        if self._act is not None:
            self._act.build((self.units,), rng, self.dtype)
        self.add_param("W", (input_shape[0], self.units), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_param("b", (self.units,), self.bias_initializer, rng)
        return (self.units,)

    def forward(self, x, training=False):
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        self._cache = x
        y = self._buf("y", (x.shape[0], self.units))
        # np.dot goes straight to BLAS: ~0.5 us less per call than np.matmul at small shapes
        np.dot(x, self.params["W"], out=y)
        if self.use_bias:
            np.add(y, self.params["b"], out=y)
        return self._act.forward(y, training) if self._act is not None else y

    def backward(self, grad_y):
        x = self._cached()
        if self._act is not None:
            grad_y = self._act.backward(grad_y)
        if grad_y.dtype != self.dtype:
            grad_y = grad_y.astype(self.dtype)
        # dL/dW = x^T g. With the transposed operand np.matmul is faster than np.dot once W is
        # large (same sgemm call and bits; 63 vs 71 us for 784 x 128 at batch 32, OpenBLAS 0.3.31)
        # and ~0.5 us slower for small W.
        (np.matmul if self.grads["W"].size >= 4096 else np.dot)(x.T, grad_y, out=self.grads["W"])
        if self.use_bias:
            # dL/db = sum over the batch of g, as the GEMV 1^T g (~1 us vs ~3.5 us for np.sum)
            np.dot(self._work.ones(len(grad_y), self.dtype), grad_y, out=self.grads["b"])
        if not self.need_input_grad:
            return None
        gx = self._buf("gx", x.shape)
        return np.dot(grad_y, self.params["W"].T, out=gx)  # dL/dx = g W^T


@LAYERS.register("flatten")
class Flatten(Layer):
    """Flattens every axis but the batch axis: (n, d1, d2, ...) -> (n, d1*d2*...)."""

    def __init__(self):
        super().__init__()

    def _build(self, input_shape, rng):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_y):
        return grad_y.reshape(self._cached())


@LAYERS.register("reshape")
class Reshape(Layer):
    """Reshapes each sample to target_shape (one entry may be -1).

    Args:
        target_shape: the new per-sample shape, e.g. [28, 28, 1].
    """

    def __init__(self, target_shape: list):
        super().__init__()
        if not isinstance(target_shape, (list, tuple)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1) for d in target_shape
        ) or list(target_shape).count(-1) > 1:
            raise ValueError(f"target_shape must be a list of positive integers (one may be -1), got {target_shape!r}")
        self.target_shape = list(target_shape)

    def _build(self, input_shape, rng):
        size = math.prod(input_shape)
        shape = list(self.target_shape)
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            if size % known:
                raise ValueError(f"cannot reshape {input_shape} ({size} values) to {self.target_shape}")
            shape[shape.index(-1)] = size // known
        if math.prod(shape) != size:
            raise ValueError(f"cannot reshape {input_shape} ({size} values) to {self.target_shape}")
        return tuple(shape)

    def forward(self, x, training=False):
        self._cache = x.shape
        return x.reshape((x.shape[0],) + self.output_shape)

    def backward(self, grad_y):
        return grad_y.reshape(self._cached())


@LAYERS.register("dropout")
class Dropout(Layer):
    """Inverted dropout: in training zero each value with probability rate and scale the rest
    by 1/(1-rate), so evaluation is the identity.

    Args:
        rate: fraction of values dropped, in [0, 1).
    """

    def __init__(self, rate: float = 0.5):
        super().__init__()
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def _build(self, input_shape, rng):
        self.rng = rng  # masks are drawn from the model's generator, so they follow the seed
        return input_shape

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._cache = False  # identity: backward passes the gradient through
            return x
        keep = 1.0 - self.rate
        mask = self._buf("mask", x.shape)
        self.rng.random(out=mask, dtype=mask.dtype)
        # mask <- (u < keep) / keep, in place
        np.less(mask, keep, out=mask)
        mask *= 1.0 / keep
        self._cache = mask
        y = self._buf("y", x.shape)
        return np.multiply(x, mask, out=y)

    def backward(self, grad_y):
        mask = self._cached()
        if mask is False:
            return grad_y
        gx = self._buf("gx", grad_y.shape)
        return np.multiply(grad_y, mask, out=gx)
