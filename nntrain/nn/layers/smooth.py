"""Smooth activations: elu, selu, softplus, swish/silu, gelu. Each backward is dy/dx * grad_y."""
from __future__ import annotations

import math

import numpy as np

from ..registry import LAYERS
from .activations import Activation

SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. 2017
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(1 + tanh(x / 2)) / 2: the logistic function without overflow."""
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


@LAYERS.register("elu")
class ELU(Activation):
    """x for x > 0, alpha (exp(x) - 1) otherwise; dy/dx = 1, or y + alpha.

    Args:
        alpha: the limit -alpha of y for x -> -inf.
    """

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a number >= 0, got {alpha!r}")
        self.alpha = float(alpha)

    def _scale(self) -> float:
        return 1.0

    def forward(self, x, training=False):
        y = self._buf("y", x.shape)
        np.minimum(x, 0.0, out=y)  # exp only of x <= 0: no overflow
        np.expm1(y, out=y)
        y *= self.alpha
        np.copyto(y, x, where=x > 0)
        y *= self._scale()
        self._cache = (x, y)
        return y

    def backward(self, grad_y):
        x, y = self._cached()
        s = self._scale()
        gx = self._buf("gx", x.shape)
        # x <= 0: d(s alpha (e^x - 1))/dx = s alpha e^x = y + s alpha
        np.add(y, s * self.alpha, out=gx)
        np.copyto(gx, s, where=x > 0)
        gx *= grad_y
        return gx


@LAYERS.register("selu")
class SELU(ELU):
    """Scaled ELU: scale * elu(x, alpha) with the self-normalizing constants alpha = 1.6733, scale = 1.0507."""

    def __init__(self):
        super().__init__(SELU_ALPHA)

    def get_config(self):
        return {}

    def _scale(self) -> float:
        return SELU_SCALE


@LAYERS.register("softplus")
class Softplus(Activation):
    """log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)); dy/dx = sigmoid(x)."""

    def forward(self, x, training=False):
        y = self._buf("y", x.shape)
        np.abs(x, out=y)
        np.negative(y, out=y)
        np.exp(y, out=y)
        np.log1p(y, out=y)
        y += np.maximum(x, 0.0)
        self._cache = x
        return y

    def backward(self, grad_y):
        gx = _sigmoid(self._cached(), self._buf("gx", grad_y.shape))
        gx *= grad_y
        return gx


@LAYERS.register("swish")
class Swish(Activation):
    """x * sigmoid(x) (Ramachandran et al. 2017); dy/dx = s + x s (1 - s) with s = sigmoid(x)."""

    def forward(self, x, training=False):
        s = _sigmoid(x, self._buf("s", x.shape))
        y = self._buf("y", x.shape)
        np.multiply(x, s, out=y)
        self._cache = (x, s, y)
        return y

    def backward(self, grad_y):
        x, s, y = self._cached()
        gx = self._buf("gx", x.shape)
        # s + x s (1 - s) = s + y - y s
        np.multiply(y, s, out=gx)
        np.subtract(y, gx, out=gx)
        gx += s
        gx *= grad_y
        return gx


@LAYERS.register("silu")
class SiLU(Swish):
    """x * sigmoid(x): the same function as swish, under PyTorch's name."""


@LAYERS.register("gelu")
class GELU(Activation):
    """x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016).

    exact:       y = x (1 + erf(x / sqrt 2)) / 2;      dy/dx = Phi(x) + x phi(x)
    approximate: y = x (1 + tanh(u)) / 2, u = sqrt(2/pi) (x + 0.044715 x^3);
                 dy/dx = (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2, t = tanh(u)

    Args:
        approximate: use the tanh form (fast, as in GPT-2); false = the exact erf form (as the
            Keras and PyTorch defaults; slower here, erf has no numpy ufunc).
    """

    def __init__(self, approximate: bool = False):
        super().__init__()
        if not isinstance(approximate, bool):
            raise ValueError(f"approximate must be true or false, got {approximate!r}")
        self.approximate = approximate

    def forward(self, x, training=False):
        t = self._buf("t", x.shape)
        if self.approximate:
            np.multiply(x, x, out=t)
            t *= 0.044715
            t += 1.0
            t *= x
            t *= _SQRT_2_OVER_PI
            np.tanh(t, out=t)  # t = tanh(u)
        else:
            t[...] = _erf(x * (1.0 / math.sqrt(2.0)))  # t = erf(x / sqrt 2)
        y = self._buf("y", x.shape)
        np.add(t, 1.0, out=y)
        y *= x
        y *= 0.5
        self._cache = (x, t)
        return y

    def backward(self, grad_y):
        x, t = self._cached()
        gx = self._buf("gx", x.shape)
        if self.approximate:
            du = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
            np.multiply(t, t, out=gx)
            np.subtract(1.0, gx, out=gx)
            gx *= du
            gx *= x
            gx += 1.0 + t
            gx *= 0.5
        else:
            # Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi)
            np.multiply(x, x, out=gx)
            gx *= -0.5
            np.exp(gx, out=gx)
            gx *= x * (1.0 / math.sqrt(2.0 * math.pi))
            gx += 0.5 * (1.0 + t)
        gx *= grad_y
        return gx
