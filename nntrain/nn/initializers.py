"""Weight initializers: `init(shape, rng, dtype) -> ndarray`.

fan_in / fan_out follow Keras: for a dense kernel (n_in, n_out) they are n_in and n_out; for a
convolution kernel (kh, kw, c_in, c_out) they are kh*kw*c_in and kh*kw*c_out.
"""
from __future__ import annotations

import math

import numpy as np

from .registry import INITIALIZERS


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __call__(self, shape, rng: np.random.Generator, dtype="float32") -> np.ndarray:
        raise NotImplementedError


def _uniform(limit, shape, rng, dtype):
    return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)


def _normal(std, shape, rng, dtype):
    return (rng.standard_normal(size=shape) * std).astype(dtype, copy=False)


@INITIALIZERS.register("glorot_uniform")
class GlorotUniform(Initializer):
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010); Keras' default kernel init."""

    def __call__(self, shape, rng, dtype="float32"):
        fi, fo = fans(shape)
        return _uniform(math.sqrt(6.0 / (fi + fo)), shape, rng, dtype)


@INITIALIZERS.register("glorot_normal")
class GlorotNormal(Initializer):
    """N(0, s^2) with s = sqrt(2 / (fan_in + fan_out))."""

    def __call__(self, shape, rng, dtype="float32"):
        fi, fo = fans(shape)
        return _normal(math.sqrt(2.0 / (fi + fo)), shape, rng, dtype)


@INITIALIZERS.register("he_uniform")
class HeUniform(Initializer):
    """U(-l, l) with l = sqrt(6 / fan_in) (He et al. 2015), for relu networks."""

    def __call__(self, shape, rng, dtype="float32"):
        fi, _ = fans(shape)
        return _uniform(math.sqrt(6.0 / fi), shape, rng, dtype)


@INITIALIZERS.register("he_normal")
class HeNormal(Initializer):
    """N(0, s^2) with s = sqrt(2 / fan_in)."""

    def __call__(self, shape, rng, dtype="float32"):
        fi, _ = fans(shape)
        return _normal(math.sqrt(2.0 / fi), shape, rng, dtype)


@INITIALIZERS.register("zeros")
class Zeros(Initializer):
    """All zeros (the default for biases)."""

    def __call__(self, shape, rng, dtype="float32"):
        return np.zeros(shape, dtype=dtype)


@INITIALIZERS.register("ones")
class Ones(Initializer):
    """All ones (the default for normalization scales)."""

    def __call__(self, shape, rng, dtype="float32"):
        return np.ones(shape, dtype=dtype)


@INITIALIZERS.register("uniform")
class Uniform(Initializer):
    """U(-0.05, 0.05), Keras' RandomUniform default and its embedding initializer."""

    def __call__(self, shape, rng, dtype="float32"):
        return _uniform(0.05, shape, rng, dtype)


@INITIALIZERS.register("orthogonal")
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al. 2014),
    Keras' recurrent kernel default; shapes of more than two axes are treated as (prod(shape[:-1]), shape[-1])."""

    def __call__(self, shape, rng, dtype="float32"):
        rows, cols = math.prod(shape[:-1]) if len(shape) > 1 else 1, shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # a uniformly distributed orthogonal matrix
        q = q if rows >= cols else q.T
        return q.reshape(shape).astype(dtype, copy=False)


def get_initializer(spec) -> Initializer:
    """An initializer from a name, a {'type': name} dict, or an instance."""
    return INITIALIZERS.build(spec)
