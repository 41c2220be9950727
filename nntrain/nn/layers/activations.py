"""Element-wise activations and softmax. Each backward is the local derivative times grad_y.

`dense: {activation: relu}` in a config is shorthand for a dense layer followed by one of these.
"""
from __future__ import annotations

import numpy as np

from ..registry import LAYERS
from .base import Layer


class Activation(Layer):
    """Base of the parameter-free activations: shape in == shape out."""

    def __init__(self):
        super().__init__()


@LAYERS.register("relu")
class ReLU(Activation):
    """max(x, 0); derivative 1 where x > 0, else 0."""

    def forward(self, x, training=False):
        y = self._buf("y", x.shape)
        np.maximum(x, self._work.zeros(x.shape, self.dtype), out=y)  # not the scalar 0: see Workspace.zeros
        self._cache = y
        return y

    def backward(self, grad_y):
        y = self._cached()
        on = self._buf("on", y.shape, dtype=np.bool_)
        # against a zeros array, not the scalar 0: 1.4 vs 4.1 us at (32, 64) (see Workspace.zeros)
        np.greater(y, self._work.zeros(y.shape, self.dtype), out=on)
        return np.multiply(grad_y, on, out=self._buf("gx", y.shape))


@LAYERS.register("leaky_relu")
class LeakyReLU(Activation):
    """x where x > 0, else negative_slope * x (Keras' default slope 0.3).

    Args:
        negative_slope: slope for x <= 0.
    """

    def __init__(self, negative_slope: float = 0.3):
        super().__init__()
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)) or negative_slope < 0:
            raise ValueError(f"negative_slope must be a number >= 0, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x, training=False):
        self._cache = x
        y = self._buf("y", x.shape)
        np.multiply(x, self.negative_slope, out=y)
        return np.maximum(x, y, out=y) if self.negative_slope <= 1 else np.where(x > 0, x, y)

    def backward(self, grad_y):
        x = self._cached()
        slope = self._buf("slope", x.shape)
        slope[...] = np.where(x > 0, 1.0, self.negative_slope)  # dy/dx
        return np.multiply(grad_y, slope, out=self._buf("gx", x.shape))


@LAYERS.register("sigmoid")
class Sigmoid(Activation):
    """1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2 so it never overflows; dy/dx = y (1 - y)."""

    def forward(self, x, training=False):
        y = self._buf("y", x.shape)
        np.multiply(x, 0.5, out=y)
        np.tanh(y, out=y)
        y += 1.0
        y *= 0.5
        self._cache = y
        return y

    def backward(self, grad_y):
        y = self._cached()
        gx = self._buf("gx", y.shape)
        np.subtract(1.0, y, out=gx)
        gx *= y
        gx *= grad_y
        return gx


@LAYERS.register("tanh")
class Tanh(Activation):
    """tanh(x); dy/dx = 1 - y^2."""

    def forward(self, x, training=False):
        y = self._buf("y", x.shape)
        np.tanh(x, out=y)
        self._cache = y
        return y

    def backward(self, grad_y):
        y = self._cached()
        gx = self._buf("gx", y.shape)
        np.multiply(y, y, out=gx)
        np.subtract(1.0, gx, out=gx)
        gx *= grad_y
        return gx


@LAYERS.register("linear")
class Linear(Activation):
    """The identity (what `activation: linear` or no activation means)."""

    def forward(self, x, training=False):
        self._cache = True
        return x

    def backward(self, grad_y):
        self._cached()
        return grad_y


@LAYERS.register("softmax")
class Softmax(Activation):
    """Softmax over the last axis: y_i = exp(x_i - max x) / sum_j exp(x_j - max x).

    Its backward (g - sum(g * y)) * y is only used when the loss is not cross-entropy: with
    cross-entropy the model fuses the two into p - onehot(y) and skips this layer.
    """

    def forward(self, x, training=False):
        y = self._buf("y", x.shape)
        peak = self._buf("peak", x.shape[:-1] + (1,))
        # ufunc.reduce directly: np.max / np.sum add ~2 us of Python wrapping per call
        np.maximum.reduce(x, axis=-1, keepdims=True, out=peak)
        np.subtract(x, peak, out=y)
        np.exp(y, out=y)
        # the row sums as the product y @ 1: BLAS, ~1.4 us against ~3.2 for add.reduce at (32, 10)
        np.dot(y, self._work.ones(x.shape[-1], self.dtype).reshape(-1, 1), out=peak)
        np.divide(y, peak, out=y)
        self._cache = y
        return y

    def backward(self, grad_y):
        y = self._cached()
        gx = self._buf("gx", y.shape)
        dot = self._buf("dot", y.shape[:-1] + (1,))
        np.multiply(grad_y, y, out=gx)
        np.add.reduce(gx, axis=-1, keepdims=True, out=dot)  # sum_j g_j y_j
        np.subtract(grad_y, dot, out=gx)
        gx *= y
        return gx
