"""Recurrent layers over (n, steps, features): what simple_rnn (simple_rnn.py), lstm (lstm.py) and
gru (gru.py) share, and the bidirectional wrapper.

Weights follow Keras' layout, so weights move between the two by name and shape:

    kernel            (features, k*units)   the input's part of every gate, gates side by side
    recurrent_kernel  (units, k*units)      the previous hidden state's part
    bias              (k*units,)            gru: (2, 3*units), input bias and recurrent bias

with k = 1 (simple_rnn), 4 (lstm: gates i, f, c, o) or 3 (gru: gates z, r, h).

    simple_rnn  h_t = tanh(x_t W + h_{t-1} U + b)
    lstm        [i f c~ o] = [sig sig tanh sig](x_t W + h_{t-1} U + b)
                c_t = f * c_{t-1} + i * c~          h_t = o * tanh(c_t)
    gru         (Keras' reset_after=True, PyTorch's GRU; two biases b_x = bias[0], b_h = bias[1])
                xz = x_t W + b_x      hz = h_{t-1} U + b_h
                z = sig(xz_z + hz_z)  r = sig(xz_r + hz_r)  h~ = tanh(xz_h + r * hz_h)
                h_t = z * h_{t-1} + (1 - z) * h~

Inside, the steps run feature-major: every per-step array is (rows, n), the batch last, so a
gate is a contiguous block of rows and each elementwise op runs over one contiguous array (a
gate's columns of an (n, k*units) block are strided, about twice the cost of a numpy call at
batch 32, and a step is about ten calls). The input's part of all steps is one batched product
before the loop, the bias a column of the weights against a row of ones under x_t:

    A_t = [W^T b] [x_t; 1]       (k*units, n) for every t; only U^T h_{t-1} runs step by step

Backpropagation through time walks the steps in reverse with dh (and dc for lstm) carried from
step t to t-1; each step yields the gradient of its gate pre-activations dz_t (k*units, n).
Then, with dZ all steps side by side (k*units, steps*n) and X, H_prev the steps' rows
(steps*n, features | units),

    [dL/dW; dL/db]^T = dZ [X 1]     dL/dU^T = dZ_h H_prev     dL/dX = dZ^T W^T

are three products over all steps at once (dZ_h = dZ but for gru's candidate part, r * dz_h~;
gru's recurrent bias comes with dU, from a row of ones under h). The initial state is zero.
sig(z) is (1 + tanh(z / 2)) / 2: no overflow for any z, and with the 1/2 folded into the
weights (exact, a power of two) one tanh call covers several gates.

return_sequences gives every step's h (n, steps, units), else the last one (n, units);
go_backwards reads the steps last to first and returns the outputs in that order (Keras).
"""
from __future__ import annotations

import numpy as np

from ..registry import LAYERS
from .base import Layer
from .core import _check_initializer, _check_positive_int
from .embedding import sequence_shape


def _check_bool(name, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def transpose_into(rows: np.ndarray, units: int, out: np.ndarray) -> np.ndarray:
    """out = rows^T: gradient rows (k*units, m) in Keras' gate order back to a (m, k*units) weight."""
    np.copyto(out, rows.T)
    return out


class Recurrent(Layer):
    """What simple_rnn, lstm and gru share: options, weights, the input product, the output and
    the weight gradients, all feature-major ((rows, n) per step)."""

    gates = 1

    def __init__(self, units: int, return_sequences: bool = False, go_backwards: bool = False,
                 kernel_initializer: str = "glorot_uniform", recurrent_initializer: str = "orthogonal",
                 bias_initializer: str = "zeros"):
        super().__init__()
        self.units = _check_positive_int("units", units)
        self.return_sequences = _check_bool("return_sequences", return_sequences)
        self.go_backwards = _check_bool("go_backwards", go_backwards)
        for name, value in (("kernel_initializer", kernel_initializer),
                            ("recurrent_initializer", recurrent_initializer), ("bias_initializer", bias_initializer)):
            _check_initializer(name, value)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _build(self, input_shape, rng):
        steps, features = sequence_shape(self, input_shape)
        ku = self.gates * self.units
        self.add_param("kernel", (features, ku), self.kernel_initializer, rng)
        self.add_param("recurrent_kernel", (self.units, ku), self.recurrent_initializer, rng)
        self.add_param("bias", self._bias_shape(), self.bias_initializer, rng)
        return (steps, self.units) if self.return_sequences else (self.units,)

    def _input_cols(self, x: np.ndarray, wb: np.ndarray, spare: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(xrows, A): x in processing order as rows [x_t 1] (steps, n, features + 1 + spare), kept
        for backward (which may write H_prev into the spare columns), and A_t = wb [x_t; 1]
        (steps, rows of wb, n) for every step in one batched product (wb: the kernel^T with the
        bias as its last column, in the layer's gate order)."""
        n, steps, f = x.shape
        xrows = self._buf("xrows", (steps, n, f + 1 + spare))
        np.copyto(xrows[..., :f], (x[:, ::-1] if self.go_backwards else x).transpose(1, 0, 2))
        xrows[..., f] = 1.0
        xcols = self._buf("xcols", (steps, f + 1, n))
        np.copyto(xcols, xrows[..., :f + 1].transpose(0, 2, 1))
        a = self._buf("a", (steps, wb.shape[0], n))
        np.matmul(wb, xcols, out=a)
        return xrows, a

    def _output_cols(self, h: np.ndarray) -> np.ndarray:
        """The layer's output from feature-major h (steps + 1, units, n), h[0] the initial state."""
        n = h.shape[2]
        if not self.return_sequences:
            y = self._buf("y", (n, self.units))
            np.copyto(y, h[-1].T)
            return y
        y = self._buf("y", (n, h.shape[0] - 1, self.units))
        np.copyto(y, h[1:].transpose(2, 0, 1))
        return y

    def _grad_h_cols(self, grad_y, steps: int) -> np.ndarray:
        """dL/dh_t, feature-major (steps, units, n); only the last step's (1, units, n) without
        return_sequences (the others are zero)."""
        if not self.return_sequences:
            gh = self._buf("dh_out", (1, self.units, grad_y.shape[0]))
            np.copyto(gh[0], grad_y.T)
            return gh
        gh = self._buf("dh_out", (steps, self.units, grad_y.shape[0]))
        np.copyto(gh, grad_y.transpose(1, 2, 0))
        return gh

    def _all_steps(self, dz: np.ndarray, key: str) -> np.ndarray:
        """(steps, rows, n) -> (rows, steps*n): every step's columns side by side, one copy."""
        steps, k, n = dz.shape
        out = self._buf(key, (k, steps, n))
        np.copyto(out, dz.transpose(1, 0, 2))
        return out.reshape(k, steps * n)

    def _weight_grads_cols(self, xrows, h, dz, wrows, to_keras=transpose_into, dzh=None) -> np.ndarray | None:
        """Fill the weight gradients from dz (steps, k*units, n), the gates' pre-activation
        gradients in the layer's internal gate order: [dW db_x]^T = dZ [X 1] with X the rows of
        xrows (steps, n, features + 1 + spare); dU^T = dZ_h H_prev with H_prev the rows of h[:-1]
        (dZ_h = dzh, or dz; gru's h carries a row of ones, which gives its recurrent bias). With
        dZ_h = dZ and units spare columns in xrows, H_prev goes there and the two are one product
        dZ [X 1 H_prev]. to_keras(rows, units, out) puts rows back in Keras' gate order. Return
        dL/dx = dZ^T wrows (wrows = kernel^T in the internal order) as (n, steps, features), in the
        input's step order."""
        steps, n, width = xrows.shape
        f, u, k, r = wrows.shape[1], self.units, dz.shape[1], h.shape[1]
        db = self.grads["bias"]
        db_x, db_h = (db[0], db[1]) if db.ndim == 2 else (db, None)
        dz2 = self._all_steps(dz, "dz2")
        if dzh is None and width == f + 1 + r:
            np.copyto(xrows[..., f + 1:], h[:-1].transpose(0, 2, 1))
            g = self._buf("gw", (k, width))
            np.matmul(dz2, xrows.reshape(steps * n, width), out=g)     # [dW db dU]^T = dZ [X 1 H_prev]
            gwb, gu = g[:, :f + 1], g[:, f + 1:]
        else:
            gwb = self._buf("gwb", (k, f + 1))
            np.matmul(dz2, xrows[..., :f + 1].reshape(steps * n, f + 1), out=gwb)  # [dW db]^T = dZ [X 1]
            dzh2 = dz2 if dzh is None else self._all_steps(dzh, "dzh2")
            hrows = self._buf("hrows", (steps, n, r))
            np.copyto(hrows, h[:-1].transpose(0, 2, 1))
            gu = self._buf("gu", (k, r))
            np.matmul(dzh2, hrows.reshape(steps * n, r), out=gu)        # dU^T = dZ_h H_prev
        to_keras(gwb[:, :-1], u, self.grads["kernel"])
        to_keras(gwb[:, -1:], u, db_x[None])
        to_keras(gu[:, :u], u, self.grads["recurrent_kernel"])
        if r > u:
            to_keras(gu[:, u:], u, db_h[None])
        if not self.need_input_grad:
            return None
        dxr = self._buf("dxr", (steps, n, f))
        np.matmul(dz2.T, wrows, out=dxr.reshape(steps * n, f))         # dX = dZ^T W^T
        dx = self._buf("dx", (n, steps, f))
        np.copyto(dx, (dxr[::-1] if self.go_backwards else dxr).transpose(1, 0, 2))
        return dx


@LAYERS.register("bidirectional")
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards and joins their outputs, as
    Keras' Bidirectional: the backward copy's sequence output is put back in input order, so
    step t sees the whole sequence. Its weights are the two layers' with forward_ and backward_
    in front (forward_kernel, backward_recurrent_kernel, ...).

    Args:
        layer: the recurrent layer, e.g. {type: lstm, units: 16, return_sequences: true}.
        merge_mode: concat (units doubled), sum or ave.
    """

    MODES = ("concat", "sum", "ave")

    def __init__(self, layer: dict, merge_mode: str = "concat"):
        super().__init__()
        if merge_mode not in self.MODES:
            raise ValueError(f"merge_mode must be one of {', '.join(self.MODES)}, got {merge_mode!r}")
        if not isinstance(layer, dict) or "type" not in layer:
            raise ValueError(f"layer must be a recurrent layer spec like {{type: lstm, units: 16}}, got {layer!r}")
        kind = LAYERS.get(layer["type"])
        if not (isinstance(kind, type) and issubclass(kind, Recurrent)):
            raise ValueError(f"layer must be simple_rnn, lstm or gru, got {layer['type']!r}")
        self.layer, self.merge_mode = dict(layer), merge_mode
        self.forward_layer = LAYERS.build(dict(layer))
        self.backward_layer = LAYERS.build({**layer, "go_backwards": not self.forward_layer.go_backwards})

    def get_config(self):
        return {"layer": dict(self.layer), "merge_mode": self.merge_mode}

    def _parts(self):
        return (("forward_", self.forward_layer), ("backward_", self.backward_layer))

    def _build(self, input_shape, rng):
        for prefix, inner in self._parts():
            out = inner.build(input_shape, rng, self.dtype)
            for key in inner.params:
                self.params[prefix + key], self.grads[prefix + key] = inner.params[key], inner.grads[key]
        units = out[-1] * (2 if self.merge_mode == "concat" else 1)
        return out[:-1] + (units,)

    def directions(self) -> tuple[Recurrent, Recurrent]:
        """The forward and backward layers, pointed at this layer's arrays first (a model replaces
        them with views into its one parameter vector after building)."""
        for prefix, inner in self._parts():
            for key in inner.params:
                inner.params[key], inner.grads[key] = self.params[prefix + key], self.grads[prefix + key]
            inner.need_input_grad = self.need_input_grad
        return self.forward_layer, self.backward_layer

    def forward(self, x, training=False):
        fwd, bwd = self.directions()
        yf = fwd.forward(x, training)
        yb = bwd.forward(x, training)
        seq = yf.ndim == 3
        if seq:
            yb = yb[:, ::-1]  # back to input order
        self._cache = seq
        if self.merge_mode == "concat":
            y = self._buf("y", yf.shape[:-1] + (2 * yf.shape[-1],))
            u = yf.shape[-1]
            y[..., :u], y[..., u:] = yf, yb
            return y
        y = self._buf("y", yf.shape)
        np.add(yf, yb, out=y)
        if self.merge_mode == "ave":
            y *= 0.5
        return y

    def backward(self, grad_y):
        seq = self._cached()
        if self.merge_mode == "concat":
            u = grad_y.shape[-1] // 2
            gf, gb = grad_y[..., :u], grad_y[..., u:]
        else:
            gf = gb = grad_y * 0.5 if self.merge_mode == "ave" else grad_y
        if seq:
            gb = gb[:, ::-1]
        dxf = self.forward_layer.backward(np.ascontiguousarray(gf))
        dxb = self.backward_layer.backward(np.ascontiguousarray(gb))
        if dxf is None:
            return None
        dx = self._buf("dx", dxf.shape)
        return np.add(dxf, dxb, out=dx)
