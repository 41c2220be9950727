"""1-D convolution over (n, steps, channels), as one matrix product (im2col).

For input x (n, T, C), kernel K (k, C, F), bias b (F,), stride s and dilation d:

    cols[n, t, (p, c)] = xpad[n, t*s + p*d, c]        an as_strided view, copied once
    y = cols @ K.reshape(k*C, F) + b                   (n*T', F) == (n, T', F)

and backward, with g = dL/dy seen as (n*T', F):

    dL/dK = cols^T @ g          dL/db = sum of g over rows
    dL/dxpad[n, t*s + p*d, :] += g[n, t, :] @ K[p]^T   one product and strided add per kernel tap

Padding, as Keras: valid (none), same (T' = ceil(T / s), the odd step of padding at the end),
causal (k-1)*d zeros before the sequence only, so y[t] never sees x after t.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..registry import LAYERS
from .base import Layer
from .core import _check_positive_int, set_kernel_options
from .embedding import sequence_shape

PADDINGS_1D = ("valid", "same", "causal")


def out_size_1d(size: int, k: int, s: int, d: int, padding: str) -> tuple[int, int, int]:
    """(output steps, padding before, padding after) along the steps axis, as Keras computes them."""
    span = (k - 1) * d + 1  # the dilated kernel's extent
    if padding == "valid":
        return (size - span) // s + 1, 0, 0
    if padding == "causal":
        return (size - 1) // s + 1, span - 1, 0
    out = -(-size // s)
    total = max((out - 1) * s + span - size, 0)
    return out, total // 2, total - total // 2


@LAYERS.register("conv1d")
class Conv1D(Layer):
    """1-D convolution over (n, steps, channels) -> (n, steps', filters).

    Args:
        filters: number of output channels.
        kernel_size: window length in steps.
        strides: step between windows.
        padding: valid (none), same (steps' = ceil(steps / strides)) or causal (zeros before the
            sequence only: output t sees inputs up to t).
        dilation_rate: spacing between the kernel's taps.
        activation: shorthand for an activation layer right after this one (e.g. relu).
        use_bias: add a bias per filter.
        kernel_initializer: initializer of the kernel (kernel_size, channels, filters).
        bias_initializer: initializer of the bias (filters,).
        kernel_regularizer: weight penalty added to the loss, e.g. {l2: 0.0001} (or l1).
    """

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, padding: str = "valid",
                 dilation_rate: int = 1, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer: dict | None = None):
        super().__init__()
        self.filters = _check_positive_int("filters", filters)
        self.kernel_size = _check_positive_int("kernel_size", kernel_size)
        self.strides = _check_positive_int("strides", strides)
        self.dilation_rate = _check_positive_int("dilation_rate", dilation_rate)
        if padding not in PADDINGS_1D:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS_1D)}, got {padding!r}")
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError("strides > 1 with dilation_rate > 1 is not supported (as in Keras)")
        self.padding = padding
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer)

    def _build(self, input_shape, rng):
        steps, c = sequence_shape(self, input_shape)
        k, s, d = self.kernel_size, self.strides, self.dilation_rate
        out, self.pad_before, after = out_size_1d(steps, k, s, d, self.padding)
        if out <= 0:
            raise ValueError(f"a kernel of {k} taps (dilation {d}) does not fit in {steps} steps with padding {self.padding}")
        self.out_steps, self.padded_steps = out, steps + self.pad_before + after
        if self._act is not None:
            self._act.build((out, self.filters), rng, self.dtype)
        self.add_param("W", (k, c, self.filters), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_param("b", (self.filters,), self.bias_initializer, rng)
        return out, self.filters

    def _padded(self, x):
        n, steps, c = x.shape
        if self.padded_steps == steps:
            return np.ascontiguousarray(x)
        xp = self._buf("xpad", (n, self.padded_steps, c))
        xp.fill(0.0)
        xp[:, self.pad_before:self.pad_before + steps] = x
        return xp

    def _tap(self, a, p):
        """a[:, p*d + t*s] for t < steps': the steps that kernel tap p sees."""
        start = p * self.dilation_rate
        return a[:, start:start + self.strides * (self.out_steps - 1) + 1:self.strides]

    def forward(self, x, training=False):
        n, _, c = x.shape
        k, out = self.kernel_size, self.out_steps
        xp = self._padded(x)
        s0, s1, s2 = xp.strides
        view = as_strided(xp, shape=(n, out, k, c), strides=(s0, s1 * self.strides, s1 * self.dilation_rate, s2),
                          writeable=False)
        cols = self._buf("cols", (n, out, k, c))
        np.copyto(cols, view)
        cols = cols.reshape(n * out, k * c)
        y = self._buf("y", (n * out, self.filters))
        np.matmul(cols, self.params["W"].reshape(k * c, self.filters), out=y)
        if self.use_bias:
            y += self.params["b"]
        self._cache = (cols, x.shape)
        y = y.reshape(n, out, self.filters)
        return self._act.forward(y, training) if self._act is not None else y

    def backward(self, grad_y):
        cols, (n, steps, c) = self._cached()
        if self._act is not None:
            grad_y = self._act.backward(grad_y)
        k, out = self.kernel_size, self.out_steps
        g = np.ascontiguousarray(grad_y).reshape(n * out, self.filters)
        np.matmul(cols.T, g, out=self.grads["W"].reshape(k * c, self.filters))  # dL/dK = cols^T g
        if self.use_bias:
            np.sum(g, axis=0, out=self.grads["b"])
        if not self.need_input_grad:
            return None
        part = self._buf("dcols", (n * out, c))
        dxp = self._buf("dxpad", (n, self.padded_steps, c))
        dxp.fill(0.0)
        w = self.params["W"]
        for p in range(k):  # col2im one tap at a time: dxpad[:, p*d + t*s] += g K[p]^T
            np.matmul(g, w[p].T, out=part)
            view = self._tap(dxp, p)
            view += part.reshape(n, out, c)
        return dxp[:, self.pad_before:self.pad_before + steps]
