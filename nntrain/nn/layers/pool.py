"""Pooling over channels-last input (n, H, W, C): max, average, and global average.

Max and average pooling walk the ph*pw window offsets (a Python loop of ph*pw steps, e.g. 4),
each a strided view of the whole batch, never the pixels:

    max:  y = max over (p, q) of x[:, p + i*sh, q + j*sw, :]; backward sends g to the first
          offset that attained the max (as PyTorch and TensorFlow do), others get 0
    avg:  y = sum over (p, q) of x[...] / count; backward adds g / count to every offset
"""
from __future__ import annotations

import numpy as np

from ..registry import LAYERS
from .base import Layer
from .conv import Spatial, check_padding, offset_view, pair


class Pool2D(Spatial):
    def __init__(self, pool_size=2, strides=None, padding: str = "valid"):
        super().__init__()
        self.pool_size = pair("pool_size", pool_size)
        self.strides = self.pool_size if strides is None else pair("strides", strides)
        self.padding = check_padding(padding)

    def get_config(self):
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding}

    def _build(self, input_shape, rng):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        oh, ow = self._spatial_build(input_shape, ph, pw, sh, sw)
        self.offsets = [(p, q) for p in range(ph) for q in range(pw)]
        return oh, ow, input_shape[2]

    def _views(self, a):
        oh, ow, _, _, sh, sw = self.geometry
        return [offset_view(a, p, q, oh, ow, sh, sw) for p, q in self.offsets]


@LAYERS.register("maxpool2d")
class MaxPool2D(Pool2D):
    """Maximum over each pool_size window: (n, H, W, C) -> (n, H', W', C).

    Args:
        pool_size: window size, an int or [height, width].
        strides: step between windows (default: pool_size, non-overlapping windows).
        padding: valid (drop the remainder) or same (pad with -inf so that H' = ceil(H / stride)).
    """

    def forward(self, x, training=False):
        oh, ow = self.geometry[:2]
        n, c = x.shape[0], x.shape[3]
        views = self._views(self._padded(x, fill=-np.inf))
        y = self._buf("y", (n, oh, ow, c))
        np.copyto(y, views[0])
        # arg = which offset holds the max; strict > keeps the first of tied offsets. Offsets
        # come in increasing k, so "arg = k where better" is arg = max(arg, k * better)
        # (branch-free, several times faster than copyto(where=)).
        arg = self._buf("arg", y.shape, np.uint8)
        better = self._buf("better", y.shape, np.uint8)
        arg.fill(0)
        for k, v in enumerate(views[1:], 1):
            np.greater(v, y, out=better)
            better *= k
            np.maximum(arg, better, out=arg)
            np.maximum(y, v, out=y)
        self._cache = (arg, x.shape)
        return y

    def backward(self, grad_y):
        arg, xshape = self._cached()
        n, c = xshape[0], xshape[3]
        dxp = self._buf("dxpad", (n,) + self.padded_shape + (c,))
        oh, ow, ph, pw, sh, sw = self.geometry
        disjoint = sh >= ph and sw >= pw
        if (sh, sw) == (ph, pw):
            # windows side by side: every pixel of the first oh*ph rows and ow*pw columns is in
            # exactly one window and is written below, so only the rest is zeroed (the MNIST
            # CNN's 26x26 pool: nothing; a full fill was a quarter of this backward)
            dxp[:, oh * ph:] = 0.0
            dxp[:, :oh * ph, ow * pw:] = 0.0
        else:
            dxp.fill(0.0)
        hit = self._buf("hit", arg.shape, np.bool_)
        part = self._buf("part", arg.shape)
        for k, view in enumerate(self._views(dxp)):
            np.equal(arg, k, out=hit)
            if disjoint:  # each pixel is in one window: write, no accumulation needed
                np.multiply(grad_y, hit, out=view)
            else:
                np.multiply(grad_y, hit, out=part)
                view += part
        return self._unpadded(dxp)


@LAYERS.register("avgpool2d")
class AvgPool2D(Pool2D):
    """Mean over each pool_size window: (n, H, W, C) -> (n, H', W', C).

    Args:
        pool_size: window size, an int or [height, width].
        strides: step between windows (default: pool_size, non-overlapping windows).
        padding: valid (drop the remainder) or same (windows at the border average only the real
            pixels, as Keras does).
    """

    def _build(self, input_shape, rng):
        out = super()._build(input_shape, rng)
        h, w, _ = input_shape
        # real pixels per window: pool a mask of ones padded with zeros (all ph*pw when valid)
        mask = np.zeros((1,) + self.padded_shape + (1,))
        mask[:, self.pad_top:self.pad_top + h, self.pad_left:self.pad_left + w] = 1.0
        count = sum(self._views(mask))
        self.inv_count = (1.0 / count).astype(self.dtype)  # (1, H', W', 1)
        return out

    def forward(self, x, training=False):
        oh, ow = self.geometry[:2]
        n, c = x.shape[0], x.shape[3]
        views = self._views(self._padded(x))
        y = self._buf("y", (n, oh, ow, c))
        np.copyto(y, views[0])
        for v in views[1:]:
            y += v
        y *= self.inv_count
        self._cache = x.shape
        return y

    def backward(self, grad_y):
        xshape = self._cached()
        n, c = xshape[0], xshape[3]
        part = self._buf("part", grad_y.shape)
        np.multiply(grad_y, self.inv_count, out=part)  # dy/dx = 1 / count for every pixel of a window
        dxp = self._buf("dxpad", (n,) + self.padded_shape + (c,))
        dxp.fill(0.0)
        for view in self._views(dxp):
            view += part
        return self._unpadded(dxp)


@LAYERS.register("global_avgpool2d")
class GlobalAvgPool2D(Layer):
    """Mean over height and width: (n, H, W, C) -> (n, C); dL/dx = g / (H W) at every pixel."""

    def __init__(self):
        super().__init__()

    def _build(self, input_shape, rng):
        if len(input_shape) != 3:
            raise ValueError(f"global_avgpool2d expects (height, width, channels) input, got {input_shape}")
        return (input_shape[2],)

    def forward(self, x, training=False):
        self._cache = x.shape
        y = self._buf("y", (x.shape[0], x.shape[3]))
        np.mean(x, axis=(1, 2), out=y)
        return y

    def backward(self, grad_y):
        n, h, w, c = self._cached()
        gx = self._buf("gx", (n, h, w, c))
        np.multiply(grad_y[:, None, None, :], 1.0 / (h * w), out=gx)
        return gx


class GlobalMaxPool(Layer):
    """Maximum over every axis between the batch and the channels; the gradient goes to the first
    position (row-major) that attains each maximum."""

    rank: int

    def __init__(self):
        super().__init__()

    def _build(self, input_shape, rng):
        if len(input_shape) != self.rank:
            what = "(height, width, channels)" if self.rank == 3 else "(steps, features)"
            raise ValueError(f"{self.registry_name} expects {what} input, got {list(input_shape)}")
        return (input_shape[-1],)

    def forward(self, x, training=False):
        n, c = x.shape[0], x.shape[-1]
        flat = x.reshape(n, -1, c)  # (n, positions, C)
        arg = np.argmax(flat, axis=1)  # first position of each maximum, (n, C)
        self._cache = (arg, x.shape)
        y = self._buf("y", (n, c))
        return np.max(flat, axis=1, out=y)

    def backward(self, grad_y):
        arg, shape = self._cached()
        n, c = shape[0], shape[-1]
        gx = self._buf("gx", (n, int(np.prod(shape[1:-1])), c))
        gx.fill(0.0)
        np.put_along_axis(gx, arg[:, None, :], grad_y[:, None, :], axis=1)
        return gx.reshape(shape)


@LAYERS.register("global_maxpool2d")
class GlobalMaxPool2D(GlobalMaxPool):
    """Maximum over height and width: (n, H, W, C) -> (n, C); the gradient goes to the first
    pixel (row-major) that attains each maximum."""

    rank = 3


@LAYERS.register("global_maxpool1d")
class GlobalMaxPool1D(GlobalMaxPool):
    """Maximum over the steps: (n, steps, C) -> (n, C); the gradient goes to the first step that
    attains each maximum."""

    rank = 2


@LAYERS.register("global_avgpool1d")
class GlobalAvgPool1D(Layer):
    """Mean over the steps: (n, steps, C) -> (n, C); dL/dx = g / steps at every step (padded
    steps count too: no mask is propagated, see README, Sequences)."""

    def __init__(self):
        super().__init__()

    def _build(self, input_shape, rng):
        if len(input_shape) != 2:
            raise ValueError(f"global_avgpool1d expects (steps, features) input, got {list(input_shape)}")
        return (input_shape[1],)

    def forward(self, x, training=False):
        self._cache = x.shape
        y = self._buf("y", (x.shape[0], x.shape[2]))
        np.mean(x, axis=1, out=y)
        return y

    def backward(self, grad_y):
        n, steps, c = self._cached()
        gx = self._buf("gx", (n, steps, c))
        np.multiply(grad_y[:, None, :], 1.0 / steps, out=gx)
        return gx


class Pool1D(Layer):
    """A 1-D pool as the 2-D one on (n, steps, 1, C) with a (pool_size, 1) window: the same
    arithmetic, no second implementation."""

    pool2d: type

    def __init__(self, pool_size: int = 2, strides: int | None = None, padding: str = "valid"):
        super().__init__()
        self.pool_size = _positive("pool_size", pool_size)
        self.strides = self.pool_size if strides is None else _positive("strides", strides)
        self.padding = check_padding(padding)
        self.inner = self.pool2d(pool_size=[self.pool_size, 1], strides=[self.strides, 1], padding=padding)

    def get_config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}

    def _build(self, input_shape, rng):
        if len(input_shape) != 2:
            raise ValueError(f"{self.registry_name} expects (steps, features) input, got {list(input_shape)}")
        steps, c = input_shape
        oh, _, _ = self.inner.build((steps, 1, c), rng, self.dtype)
        return oh, c

    def forward(self, x, training=False):
        n, steps, c = x.shape
        self._cache = x.shape
        y = self.inner.forward(x.reshape(n, steps, 1, c), training)
        return y.reshape(n, y.shape[1], c)

    def backward(self, grad_y):
        shape = self._cached()
        n, out, c = grad_y.shape
        return self.inner.backward(grad_y.reshape(n, out, 1, c)).reshape(shape)


def _positive(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


@LAYERS.register("maxpool1d")
class MaxPool1D(Pool1D):
    """Maximum over each window of pool_size steps: (n, steps, C) -> (n, steps', C).

    Args:
        pool_size: window length in steps.
        strides: step between windows (default: pool_size).
        padding: valid (drop the remainder) or same (steps' = ceil(steps / strides)).
    """

    pool2d = MaxPool2D


@LAYERS.register("avgpool1d")
class AvgPool1D(Pool1D):
    """Mean over each window of pool_size steps: (n, steps, C) -> (n, steps', C).

    Args:
        pool_size: window length in steps.
        strides: step between windows (default: pool_size).
        padding: valid (drop the remainder) or same (border windows average only the real steps).
    """

    pool2d = AvgPool2D
