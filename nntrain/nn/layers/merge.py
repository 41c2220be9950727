"""Merge layers: several inputs of a graph model in, one output out.

Their `forward(xs, training)` takes a list of arrays and their `backward(g)` returns a list of
gradients, one per input (the same array may appear more than once: callers never write into a
gradient they receive). With inputs x_1 .. x_k of one shape and upstream gradient g:

    add          y = sum_i x_i                  dL/dx_i = g
    average      y = (1/k) sum_i x_i            dL/dx_i = g / k
    multiply     y = prod_i x_i                 dL/dx_i = g * prod_{j != i} x_j
    concatenate  y = [x_1, ..., x_k] on axis    dL/dx_i = the slice of g that x_i filled
"""
from __future__ import annotations

import numpy as np

from ..registry import LAYERS
from .base import Layer


class Merge(Layer):
    """Base of the merge layers: `build` takes the list of input shapes (no batch axis)."""

    def __init__(self):
        super().__init__()

    def build(self, input_shape, rng: np.random.Generator | None = None, dtype="float32"):
        shapes = [tuple(int(d) for d in s) for s in input_shape]
        if len(shapes) < 2:
            raise ValueError(f"{self.registry_name} merges two or more inputs, got {len(shapes)}")
        self.input_shape = tuple(shapes)
        self.dtype = np.dtype(dtype)
        self.output_shape = tuple(int(d) for d in self._build(self.input_shape, rng))
        self.built = True
        return self.output_shape

    def _build(self, input_shape, rng):
        first = input_shape[0]
        for k, s in enumerate(input_shape[1:], 1):
            if s != first:
                raise ValueError(f"{self.registry_name} needs inputs of one shape, got {list(first)} (input 0) "
                                 f"and {list(s)} (input {k})")
        return first


@LAYERS.register("add")
class Add(Merge):
    """Element-wise sum of two or more inputs of one shape (a residual connection)."""

    def forward(self, xs, training=False):
        y = self._buf("y", xs[0].shape)
        np.add(xs[0], xs[1], out=y)
        for x in xs[2:]:
            y += x
        self._cache = len(xs)
        return y

    def backward(self, grad_y):
        return [grad_y] * self._cached()  # dL/dx_i = g for every input


@LAYERS.register("average")
class Average(Merge):
    """Element-wise mean of two or more inputs of one shape."""

    def forward(self, xs, training=False):
        y = self._buf("y", xs[0].shape)
        np.add(xs[0], xs[1], out=y)
        for x in xs[2:]:
            y += x
        y *= 1.0 / len(xs)
        self._cache = len(xs)
        return y

    def backward(self, grad_y):
        k = self._cached()
        gx = np.multiply(grad_y, 1.0 / k, out=self._buf("gx", grad_y.shape))  # dL/dx_i = g / k
        return [gx] * k


@LAYERS.register("multiply")
class Multiply(Merge):
    """Element-wise product of two or more inputs of one shape (a gate)."""

    def forward(self, xs, training=False):
        y = self._buf("y", xs[0].shape)
        np.multiply(xs[0], xs[1], out=y)
        for x in xs[2:]:
            y *= x
        self._cache = list(xs)
        return y

    def backward(self, grad_y):
        xs = self._cached()
        out = []
        for i in range(len(xs)):
            # dL/dx_i = g * prod_{j != i} x_j (no division: an input may hold zeros)
            gx = self._buf(f"gx{i}", grad_y.shape)
            others = [x for j, x in enumerate(xs) if j != i]
            np.multiply(grad_y, others[0], out=gx)
            for x in others[1:]:
                gx *= x
            out.append(gx)
        return out


@LAYERS.register("concatenate")
class Concatenate(Merge):
    """Joins two or more inputs along one axis; the other axes must agree.

    Args:
        axis: the per-sample axis to join on (-1, the last, is features or channels; 0 is the
            first axis after the batch).
    """

    def __init__(self, axis: int = -1):
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"axis must be an integer, got {axis!r}")
        self.axis = axis

    def _build(self, input_shape, rng):
        rank = len(input_shape[0])
        if not -rank <= self.axis < rank:
            raise ValueError(f"axis {self.axis} is out of range for inputs of shape {list(input_shape[0])} "
                             f"(valid: {-rank} .. {rank - 1}, without the batch axis)")
        a = self.axis % rank
        for k, s in enumerate(input_shape):
            if len(s) != rank or s[:a] + s[a + 1:] != input_shape[0][:a] + input_shape[0][a + 1:]:
                raise ValueError(f"concatenate on axis {self.axis} needs the other axes to agree, got "
                                 f"{list(input_shape[0])} (input 0) and {list(s)} (input {k})")
        bounds = np.cumsum([0] + [s[a] for s in input_shape]).tolist()
        # each input's part of the output (n, ...), an index on the axis after the batch's
        self._parts = [(slice(None),) * (a + 1) + (slice(lo, hi),) for lo, hi in zip(bounds[:-1], bounds[1:])]
        out = list(input_shape[0])
        out[a] = bounds[-1]
        return tuple(out)

    def forward(self, xs, training=False):
        y = self._buf("y", (xs[0].shape[0],) + self.output_shape)
        for x, part in zip(xs, self._parts):
            y[part] = x
        self._cache = True
        return y

    def backward(self, grad_y):
        self._cached()
        out = []
        for i, part in enumerate(self._parts):
            g = grad_y[part]
            gx = self._buf(f"gx{i}", g.shape)
            np.copyto(gx, g)  # a contiguous copy: the layers below may hand it to BLAS
            out.append(gx)
        return out
