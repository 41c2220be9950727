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
        dxp.fill(0.0)
        hit = self._buf("hit", arg.shape, np.bool_)
        part = self._buf("part", arg.shape)
        disjoint = all(s >= p for s, p in zip(self.strides, self.pool_size))
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
