"""Multi-head self-attention (Vaswani et al. 2017) in Keras' parameter layout.

For x (n, T, d), heads h and key_dim k (value_dim v):

    Q = x Wq + bq    K = x Wk + bk    V = x Wv + bv      Wq (d, h, k), bq (h, k); per head (n, h, T, k)
    S = Q K^T / sqrt(k)                                  (n, h, T, T); causal: S[i, j] = -inf for j > i
    A = softmax(S) over the last axis
    O = A V                                              (n, h, T, v)
    y = O Wo + bo                                        Wo (h, v, d_out), summed over heads and v

Backward, with g = dL/dy:

    dWo = O^T g    dbo = sum g    dO = g Wo^T
    dA = dO V^T    dV = A^T dO
    dS = A * (dA - sum_j(dA * A))                        softmax's Jacobian; masked entries have A = 0
    dQ = dS K / sqrt(k)    dK = dS^T Q / sqrt(k)
    dW* = x^T dQ/dK/dV,  db* = sum,  dx = dQ Wq^T + dK Wk^T + dV Wv^T
"""
from __future__ import annotations

import math

import numpy as np

from ..registry import LAYERS
from .base import Layer
from .core import _check_initializer, _check_positive_int
from .embedding import sequence_shape

PROJECTIONS = ("query", "key", "value")


@LAYERS.register("multi_head_attention")
class MultiHeadAttention(Layer):
    """Self-attention over (n, steps, features) -> (n, steps, features), Keras' MultiHeadAttention
    with query = key = value = the input; weights query_kernel (features, heads, key_dim),
    query_bias (heads, key_dim), the same for key and value (value_dim), output_kernel
    (heads, value_dim, features) and output_bias (features,).

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head's queries and keys.
        value_dim: size of each head's values (default: key_dim).
        causal: step t attends only to steps up to t (Keras' use_causal_mask).
        use_bias: add the projections' and the output's biases.
        kernel_initializer: initializer of the four kernels.
        bias_initializer: initializer of the four biases.
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, causal: bool = False,
                 use_bias: bool = True, kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros"):
        super().__init__()
        self.num_heads = _check_positive_int("num_heads", num_heads)
        self.key_dim = _check_positive_int("key_dim", key_dim)
        self.value_dim = None if value_dim is None else _check_positive_int("value_dim", value_dim)
        for name, value in (("causal", causal), ("use_bias", use_bias)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {value!r}")
        self.causal, self.use_bias = causal, use_bias
        _check_initializer("kernel_initializer", kernel_initializer)
        _check_initializer("bias_initializer", bias_initializer)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def _dims(self):
        return self.num_heads, self.key_dim, self.value_dim or self.key_dim

    def _build(self, input_shape, rng):
        steps, d = sequence_shape(self, input_shape)
        h, k, v = self._dims()
        for name in PROJECTIONS:
            size = v if name == "value" else k
            self.add_param(f"{name}_kernel", (d, h, size), self.kernel_initializer, rng)
            if self.use_bias:
                self.add_param(f"{name}_bias", (h, size), self.bias_initializer, rng)
        self.add_param("output_kernel", (h, v, d), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_param("output_bias", (d,), self.bias_initializer, rng)
        # -inf above the diagonal: exp gives exactly 0 there, so masked entries get no gradient
        self.mask = np.triu(np.full((steps, steps), -np.inf, dtype=self.dtype), 1) if self.causal else None
        return input_shape

    def _project(self, x2, name, n, steps):
        """x Wname + bname as (n, heads, steps, size)."""
        w = self.params[f"{name}_kernel"]
        d, h, size = w.shape
        p = x2 @ w.reshape(d, h * size)
        if self.use_bias:
            p += self.params[f"{name}_bias"].reshape(-1)
        return p.reshape(n, steps, h, size).transpose(0, 2, 1, 3)

    def forward(self, x, training=False):
        n, steps, d = x.shape
        h, k, v = self._dims()
        x2 = np.ascontiguousarray(x, dtype=self.dtype).reshape(n * steps, d)
        q, key, val = (self._project(x2, name, n, steps) for name in PROJECTIONS)
        s = np.matmul(q, key.transpose(0, 1, 3, 2))
        s *= 1.0 / math.sqrt(k)
        if self.mask is not None:
            s += self.mask[:steps, :steps]
        s -= s.max(axis=-1, keepdims=True)
        a = np.exp(s, out=s)
        a /= a.sum(axis=-1, keepdims=True)
        o = np.matmul(a, val)                                        # (n, h, T, v)
        o2 = o.transpose(0, 2, 1, 3).reshape(n * steps, h * v)
        y = self._buf("y", (n * steps, d))
        np.matmul(o2, self.params["output_kernel"].reshape(h * v, d), out=y)
        if self.use_bias:
            y += self.params["output_bias"]
        self._cache = (x2, q, key, val, a, o2, x.shape)
        return y.reshape(n, steps, d)

    def backward(self, grad_y):
        x2, q, key, val, a, o2, (n, steps, d) = self._cached()
        h, k, v = self._dims()
        g = np.ascontiguousarray(grad_y).reshape(n * steps, d)
        wo = self.params["output_kernel"].reshape(h * v, d)
        np.matmul(o2.T, g, out=self.grads["output_kernel"].reshape(h * v, d))   # dWo = O^T g
        if self.use_bias:
            np.sum(g, axis=0, out=self.grads["output_bias"])
        do = (g @ wo.T).reshape(n, steps, h, v).transpose(0, 2, 1, 3)        # (n, h, T, v)
        da = np.matmul(do, val.transpose(0, 1, 3, 2))                        # dA = dO V^T
        dval = np.matmul(a.transpose(0, 1, 3, 2), do)                        # dV = A^T dO
        ds = a * (da - np.sum(da * a, axis=-1, keepdims=True))               # softmax backward
        ds *= 1.0 / math.sqrt(k)
        dq = np.matmul(ds, key)                                              # dQ = dS K / sqrt(k)
        dkey = np.matmul(ds.transpose(0, 1, 3, 2), q)                        # dK = dS^T Q / sqrt(k)
        dx = self._buf("dx", (n * steps, d)) if self.need_input_grad else None
        if dx is not None:
            dx.fill(0.0)
        for name, dp in zip(PROJECTIONS, (dq, dkey, dval)):
            size = dp.shape[-1]
            dp2 = dp.transpose(0, 2, 1, 3).reshape(n * steps, h * size)      # back to (n*T, h*size)
            np.matmul(x2.T, dp2, out=self.grads[f"{name}_kernel"].reshape(d, h * size))
            if self.use_bias:
                np.sum(dp2, axis=0, out=self.grads[f"{name}_bias"].reshape(h * size))
            if dx is not None:
                dx += dp2 @ self.params[f"{name}_kernel"].reshape(d, h * size).T
        return None if dx is None else dx.reshape(n, steps, d)
