"""The gated recurrent unit (Cho et al. 2014) in Keras' reset_after=True form, PyTorch's GRU, run
feature-major inside (recurrent.py). Gates z, r, h; b_x = bias[0], b_h = bias[1]:

    xz = W^T x_t + b_x    hz = U^T h_{t-1} + b_h           (3u, n) each
    z = sig(xz_z + hz_z)  r = sig(xz_r + hz_r)  h~ = tanh(xz_h + r hz_h)
    h_t = z h_{t-1} + (1 - z) h~ = h~ + z (h_{t-1} - h~)

xz for all steps is one product before the loop. h carries a row of ones under its units, so
hz = [U^T b_h] [h; 1] is one product per step. sig(v) = (1 + tanh(v / 2)) / 2, with the 1/2
folded into the z and r rows of both products (exact: a power of two), so z and r take one tanh.
Backward, with dh_t the carried gradient plus dL/dh_t:

    da_h = dh_t (1 - z) (1 - h~^2)        dz_z = dh_t (h_{t-1} - h~) z (1 - z)
    dz_r = da_h hz_h r (1 - r)            dz = [dz_z, dz_r, da_h]   dz_h = [dz_z, dz_r, da_h r]
    dh_{t-1} = dh_t z + U dz_h

where every factor but dh_t is computed for all steps before the loop; dz gives dW and b_x,
dz_h gives dU and b_h.
"""
from __future__ import annotations

import numpy as np

from ..registry import LAYERS
from .recurrent import Recurrent


@LAYERS.register("gru")
class GRU(Recurrent):
    """Gated recurrent unit (Cho et al. 2014) in Keras' reset_after=True form (PyTorch's GRU), gate
    order z, r, h and two biases, bias[0] on the input and bias[1] on the recurrent product:
    (n, steps, features) -> (n, units), or (n, steps, units) with return_sequences.

    Args:
        units: size of the hidden state.
        return_sequences: output every step's h (n, steps, units), not only the last.
        go_backwards: read the steps last to first (outputs come in that order too).
        kernel_initializer: initializer of kernel (features, 3*units).
        recurrent_initializer: initializer of recurrent_kernel (units, 3*units).
        bias_initializer: initializer of bias (2, 3*units).
        reset_after: only true (Keras' default since 2.x): the reset gate multiplies h U + b_h.
    """

    gates = 3

    def __init__(self, units: int, return_sequences: bool = False, go_backwards: bool = False,
                 kernel_initializer: str = "glorot_uniform", recurrent_initializer: str = "orthogonal",
                 bias_initializer: str = "zeros", reset_after: bool = True):
        super().__init__(units, return_sequences, go_backwards, kernel_initializer, recurrent_initializer,
                         bias_initializer)
        if reset_after is not True:
            raise ValueError(f"reset_after must be true (Keras' default; the reset_after=False GRU is not "
                             f"implemented), got {reset_after!r}")
        self.reset_after = True

    def _bias_shape(self):
        return (2, 3 * self.units)

    def forward(self, x, training=False):
        f, u = x.shape[2], self.units
        k = 3 * u
        kernel, rk, bias = (self.params[name] for name in ("kernel", "recurrent_kernel", "bias"))
        wb = self._buf("wb", (k, f + 1))              # [W^T b_x], the z and r rows halved
        np.copyto(wb[:, :f], kernel.T)
        wb[:, f] = bias[0]
        wb[:2 * u] *= 0.5
        us = self._buf("us", (k, u + 1))              # [U^T b_h], the z and r rows halved
        np.copyto(us[:, :u], rk.T)
        us[:, u] = bias[1]
        us[:2 * u] *= 0.5
        xrows, a = self._input_cols(x, wb)            # a[t] = xz (halved z, r), then z, r, h~
        steps, n = xrows.shape[:2]
        h = self._buf("h", (steps + 1, u + 1, n))     # [h_t; 1], h[0] = 0 the initial state
        h[0, :u] = 0.0
        h[:, u] = 1.0
        hz = self._buf("hz", (steps, k, n))           # [U^T b_h] [h_{t-1}; 1] (halved z, r)
        rh = self._buf("rh", (u, n))
        for t in range(steps):
            at, hzt = a[t], hz[t]
            np.matmul(us, h[t], out=hzt)
            zr = at[:2 * u]
            zr += hzt[:2 * u]
            np.tanh(zr, out=zr)                       # z, r = (1 + tanh(v / 2)) / 2
            zr += 1.0
            zr *= 0.5
            z, r, hh = at[:u], at[u:2 * u], at[2 * u:]
            np.multiply(r, hzt[2 * u:], out=rh)
            hh += rh
            np.tanh(hh, out=hh)                       # h~ = tanh(xz_h + r hz_h)
            ht = h[t + 1, :u]
            np.subtract(h[t, :u], hh, out=ht)         # h_t = h~ + z (h_{t-1} - h~)
            ht *= z
            ht += hh
        self._cache = (xrows, h, a, hz)
        return self._output_cols(h[:, :u])

    def backward(self, grad_y):
        xrows, h, a, hz = self._cached()
        steps, n = xrows.shape[:2]
        f = self.params["kernel"].shape[0]
        u = self.units
        k = 3 * u
        gh = self._grad_h_cols(grad_y, steps)
        a3 = a.reshape(steps, 3, u, n)
        z, r, hh = a3[:, 0], a3[:, 1], a3[:, 2]
        # the factors that do not depend on dh_t, for all steps at once
        coef = self._buf("coef", (steps, 3, u, n))
        w = self._buf("w", (steps, u, n))
        np.subtract(1.0, z, out=w)
        np.multiply(hh, hh, out=coef[:, 2])
        np.subtract(1.0, coef[:, 2], out=coef[:, 2])
        coef[:, 2] *= w                                            # d a_h / d h_t = (1 - z)(1 - h~^2)
        np.subtract(h[:-1, :u], hh, out=coef[:, 0])
        w *= z
        coef[:, 0] *= w                                            # d z_z / d h_t = (h_{t-1} - h~) z (1 - z)
        np.subtract(1.0, r, out=w)
        w *= r
        w *= hz[:, 2 * u:]
        np.multiply(coef[:, 2], w, out=coef[:, 1])                 # d z_r / d h_t = d a_h hz_h r (1 - r)
        dz = self._buf("dz", (steps, 3, u, n))                     # d(xz): the input pre-activations
        dzh = self._buf("dzh", (steps, 3, u, n))                   # d(hz): the recurrent pre-activations
        dh = self._buf("dh", (u, n))
        tmp = self._buf("tmp", (u, n))
        np.copyto(dh, gh[-1])
        uk = self.params["recurrent_kernel"]
        for t in range(steps - 1, -1, -1):
            if t < steps - 1 and self.return_sequences:
                dh += gh[t]
            np.multiply(dh, coef[t], out=dz[t])                    # z, r, h~ pre-activations
            if t:
                dzh[t, :2] = dz[t, :2]
                np.multiply(dz[t, 2], r[t], out=dzh[t, 2])         # a_h = xz_h + r hz_h
                dh *= z[t]                                         # the direct path to h_{t-1}
                np.matmul(uk, dzh[t].reshape(k, n), out=tmp)       # through hz
                dh += tmp
        dzh[0, :2] = dz[0, :2]
        np.multiply(dz[0, 2], r[0], out=dzh[0, 2])
        wrows = self._buf("wrows", (k, f))
        np.copyto(wrows, self.params["kernel"].T)
        return self._weight_grads_cols(xrows, h, dz.reshape(steps, k, n), wrows,
                                       dzh=dzh.reshape(steps, k, n))
