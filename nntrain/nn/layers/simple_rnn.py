"""The fully connected recurrence h_t = tanh(x_t W + h_{t-1} U + b), Keras' SimpleRNN, run
feature-major inside (recurrent.py): per step

    h_t = tanh(A_t + U^T h_{t-1})      A_t = [W^T b] [x_t; 1], all steps in one product

and backward, with dh carried from step t to t-1 and tanh' = 1 - h_t^2 for all steps at once:

    dz_t = (dh_t + dL/dh_t) (1 - h_t^2)        dh_{t-1} = U dz_t
"""
from __future__ import annotations

import numpy as np

from ..registry import LAYERS
from .recurrent import Recurrent


@LAYERS.register("simple_rnn")
class SimpleRNN(Recurrent):
    """Fully connected recurrence h_t = tanh(x_t W + h_{t-1} U + b): (n, steps, features) ->
    (n, units), or (n, steps, units) with return_sequences.

    Args:
        units: size of the hidden state.
        return_sequences: output every step's state (n, steps, units), not only the last.
        go_backwards: read the steps last to first (outputs come in that order too).
        kernel_initializer: initializer of kernel (features, units).
        recurrent_initializer: initializer of recurrent_kernel (units, units).
        bias_initializer: initializer of bias (units,).
    """

    gates = 1

    def forward(self, x, training=False):
        f, u = x.shape[2], self.units
        wb = self._buf("wb", (u, f + 1))
        np.copyto(wb[:, :f], self.params["kernel"].T)
        wb[:, f] = self.params["bias"]
        xrows, a = self._input_cols(x, wb, spare=u)
        steps, n = xrows.shape[:2]
        ut = self._buf("ut", (u, u))
        np.copyto(ut, self.params["recurrent_kernel"].T)  # U^T, C-contiguous for the product
        h = self._buf("h", (steps + 1, u, n))             # h[0] = 0 the initial state
        h[0] = 0.0
        z = self._buf("zt", (u, n))
        for t in range(steps):
            np.matmul(ut, h[t], out=z)
            z += a[t]
            np.tanh(z, out=h[t + 1])
        self._cache = (xrows, h)
        return self._output_cols(h)

    def backward(self, grad_y):
        xrows, h = self._cached()
        steps, n = xrows.shape[:2]
        f = self.params["kernel"].shape[0]
        u = self.units
        gh = self._grad_h_cols(grad_y, steps)
        dz = self._buf("dz", (steps, u, n))
        np.multiply(h[1:], h[1:], out=dz)
        np.subtract(1.0, dz, out=dz)                      # tanh' = 1 - h_t^2, all steps at once
        dh = self._buf("dh", (u, n))
        np.copyto(dh, gh[-1])
        uk = self.params["recurrent_kernel"]
        for t in range(steps - 1, -1, -1):
            if t < steps - 1 and self.return_sequences:
                dh += gh[t]
            dz[t] *= dh                                   # dL/da_t = dh_t (1 - h_t^2)
            if t:
                np.matmul(uk, dz[t], out=dh)              # carried to h_{t-1}: U dz_t
        wrows = self._buf("wrows", (u, f))
        np.copyto(wrows, self.params["kernel"].T)
        return self._weight_grads_cols(xrows, h, dz, wrows)
