"""The LSTM layer (Hochreiter & Schmidhuber 1997) with Keras' weights, run feature-major inside.

Keras' layout (recurrent.py): kernel (features, 4u), recurrent_kernel (u, 4u), bias (4u,), gates
i, f, c, o side by side. With z = x_t W + h_{t-1} U + b,

    [i f c~ o] = [sig sig tanh sig](z)    c_t = f c_{t-1} + i c~    h_t = o tanh(c_t)

Inside, every per-step array is feature-major, (rows, batch): a gate is then a contiguous block
of rows, so each elementwise op runs over one contiguous array (a column slice of a
(batch, 4u) row would be strided, about twice the cost per call at batch 32). The gates are
reordered to o, i, f, c~: the three sigmoids are rows [0, 3u) and the three gates that
multiply dc in backward are rows [u, 4u). sig(z) = (1 + tanh(z / 2)) / 2 with the 1/2 folded
into the weights of o, i, f (exact: a power of two), so one tanh covers all four gates:

    A_t = Us h_{t-1} + Ws x_t + bs     (4u, n)   Us = S P^T U^T, Ws = S P^T W^T, bs = S P^T b
    [o i f c~] = [(1 + tanh) / 2 on rows < 3u, tanh on the rest](A_t)

with P the gate permutation and S = diag(1/2 on o, i, f; 1 on c~). The input's part of all
steps, Ws x_t + bs, is one batched product with the bias as a column of Ws against a row of
ones under x_t. Backward walks the steps in reverse carrying dh, dc (u, n):

    dc_t = dc_{t+1} f_{t+1} + dh_t o_t (1 - tanh(c_t)^2)
    dz_o = dh_t tanh(c_t) o (1 - o)     dz_i = dc_t c~ i (1 - i)
    dz_f = dc_t c_{t-1} f (1 - f)       dz_c~ = dc_t i (1 - c~^2)
    dh_{t-1} = P^T U dz_t               (u, 4u) @ (4u, n)

where every factor but dh_t, dc_t is computed for all steps before the loop. Then, with dZ the
dz of all steps side by side (4u, steps*n), X and H_prev the steps' rows (steps*n, features|u):

    dL/d[W; b] (as rows of gates) = dZ [X 1]    dL/dU = dZ H_prev    dL/dX = dZ^T (P^T W^T)

three products over all steps, permuted back to Keras' gate order at the end.
"""
from __future__ import annotations

import numpy as np

from ..registry import LAYERS
from .recurrent import Recurrent, _check_bool

# Keras' gate index (i 0, f 1, c 2, o 3) of each internal gate block, in the internal order o, i, f, c~
ORDER = (3, 0, 1, 2)
SCALE = (0.5, 0.5, 0.5, 1.0)  # sigmoid(z) = (1 + tanh(z / 2)) / 2: the 1/2 goes into the weights


def gates_rows(w: np.ndarray, u: int, out: np.ndarray, scale=(1.0, 1.0, 1.0, 1.0)) -> np.ndarray:
    """out[j-th block of u rows] = scale[j] * w[..., ORDER[j] gate].T: a (.., 4u) Keras weight
    (or bias) as (4u, ..) rows in the internal gate order."""
    for j, (g, s) in enumerate(zip(ORDER, scale)):
        np.multiply(w[..., g * u:(g + 1) * u].T, s, out=out[j * u:(j + 1) * u])
    return out


def gates_cols(w: np.ndarray, u: int, out: np.ndarray) -> np.ndarray:
    """out[:, j-th block] = w[:, ORDER[j] gate]: a (.., 4u) Keras weight's columns in the internal order."""
    for j, g in enumerate(ORDER):
        out[:, j * u:(j + 1) * u] = w[:, g * u:(g + 1) * u]
    return out


def gates_keras(rows: np.ndarray, u: int, out: np.ndarray) -> np.ndarray:
    """The inverse of gates_rows (scale 1): (4u, ..) internal rows -> (.., 4u) Keras columns."""
    for j, g in enumerate(ORDER):
        out[..., g * u:(g + 1) * u] = rows[j * u:(j + 1) * u].T
    return out


@LAYERS.register("lstm")
class LSTM(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), Keras' gate order i, f, c, o:
    (n, steps, features) -> (n, units), or (n, steps, units) with return_sequences.

    Args:
        units: size of the hidden and cell states.
        return_sequences: output every step's h (n, steps, units), not only the last.
        go_backwards: read the steps last to first (outputs come in that order too).
        kernel_initializer: initializer of kernel (features, 4*units).
        recurrent_initializer: initializer of recurrent_kernel (units, 4*units).
        bias_initializer: initializer of bias (4*units,).
        unit_forget_bias: start the forget gate's bias at 1 (Keras' default; Jozefowicz et al. 2015).
    """

    gates = 4

    def __init__(self, units: int, return_sequences: bool = False, go_backwards: bool = False,
                 kernel_initializer: str = "glorot_uniform", recurrent_initializer: str = "orthogonal",
                 bias_initializer: str = "zeros", unit_forget_bias: bool = True):
        super().__init__(units, return_sequences, go_backwards, kernel_initializer, recurrent_initializer,
                         bias_initializer)
        self.unit_forget_bias = _check_bool("unit_forget_bias", unit_forget_bias)

    def _build(self, input_shape, rng):
        out = super()._build(input_shape, rng)
        if self.unit_forget_bias:
            self.params["bias"][self.units:2 * self.units] = 1.0
        return out

    def forward(self, x, training=False):
        f, u = x.shape[2], self.units
        k = 4 * u
        wb = self._buf("wb", (k, f + 1))                # [Ws bs], internal gate order, scaled
        gates_rows(self.params["kernel"], u, wb[:, :f], SCALE)
        gates_rows(self.params["bias"][None], u, wb[:, f:], SCALE)
        xrows, a = self._input_cols(x, wb, spare=u)              # a[t] = Ws x_t + bs, then the gates
        steps, n = xrows.shape[:2]
        us = gates_rows(self.params["recurrent_kernel"], u, self._buf("us", (k, u)), SCALE)
        h = self._buf("h", (steps + 1, u, n))           # h[0] = 0 the initial state
        c = self._buf("c", (steps + 1, u, n))
        tc = self._buf("tc", (steps, u, n))             # tanh(c_t)
        ig = self._buf("ig", (u, n))
        zt = self._buf("zt", (k, n))
        h[0] = 0.0
        c[0] = 0.0
        for t in range(steps):
            at = a[t]
            np.matmul(us, h[t], out=zt)
            at += zt
            np.tanh(at, out=at)
            sig = at[:3 * u]                             # o, i, f: (1 + tanh(z / 2)) / 2
            sig += 1.0
            sig *= 0.5
            o, i, fg, g = at[:u], at[u:2 * u], at[2 * u:3 * u], at[3 * u:]
            np.multiply(fg, c[t], out=c[t + 1])          # c_t = f c_{t-1} + i c~
            np.multiply(i, g, out=ig)
            c[t + 1] += ig
            np.tanh(c[t + 1], out=tc[t])
            np.multiply(o, tc[t], out=h[t + 1])          # h_t = o tanh(c_t)
        self._cache = (xrows, h, c, a, tc)
        return self._output_cols(h)

    def backward(self, grad_y):
        xrows, h, c, a, tc = self._cached()
        steps, n = xrows.shape[:2]
        f = self.params["kernel"].shape[0]
        u = self.units
        k = 4 * u
        a4 = a.reshape(steps, 4, u, n)
        o, i, fg, g = a4[:, 0], a4[:, 1], a4[:, 2], a4[:, 3]
        # the factors that do not depend on the carried dh, dc, for all steps at once
        coef = self._buf("coef", (steps, 4, u, n))
        np.multiply(a4[:, :3], a4[:, :3], out=coef[:, :3])
        np.subtract(a4[:, :3], coef[:, :3], out=coef[:, :3])       # s (1 - s) for o, i, f
        coef[:, 0] *= tc                                             # dz_o / dh = tanh(c_t) o (1 - o)
        coef[:, 1] *= g                                              # dz_i / dc = c~ i (1 - i)
        coef[:, 2] *= c[:-1]                                         # dz_f / dc = c_{t-1} f (1 - f)
        np.multiply(g, g, out=coef[:, 3])
        np.subtract(1.0, coef[:, 3], out=coef[:, 3])
        coef[:, 3] *= i                                              # dz_c~ / dc = i (1 - c~^2)
        dtc = self._buf("dtc", (steps, u, n))                        # d c_t / d h_t = o (1 - tanh(c_t)^2)
        np.multiply(tc, tc, out=dtc)
        np.subtract(1.0, dtc, out=dtc)
        dtc *= o
        up = gates_cols(self.params["recurrent_kernel"], u, self._buf("up", (u, k)))  # U P, C-contiguous
        gh = self._grad_h_cols(grad_y, steps)
        dz = self._buf("dz", (steps, 4, u, n))
        dh = self._buf("dh", (u, n))
        dc = self._buf("dc", (u, n))
        tmp = self._buf("tmp", (u, n))
        np.copyto(dh, gh[-1])
        np.multiply(dh, dtc[-1], out=dc)
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                if self.return_sequences:
                    dh += gh[t]
                dc *= fg[t + 1]                                      # from c_{t+1}
                np.multiply(dh, dtc[t], out=tmp)
                dc += tmp
            np.multiply(dc, coef[t, 1:], out=dz[t, 1:])              # i, f, c~
            np.multiply(dh, coef[t, 0], out=dz[t, 0])                # o
            if t:
                np.matmul(up, dz[t].reshape(k, n), out=dh)           # to h_{t-1}
        wrows = gates_rows(self.params["kernel"], u, self._buf("wrows", (k, f)))  # P^T W^T, for dL/dx
        return self._weight_grads_cols(xrows, h, dz.reshape(steps, k, n), wrows, gates_keras)
