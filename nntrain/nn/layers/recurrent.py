"""Recurrent layers over (n, steps, features): simple_rnn, lstm, gru, and the bidirectional wrapper.

Weights follow Keras' layout, so weights move between the two by name and shape:

    kernel            (features, k*units)   the input's part of every gate, gates side by side
    recurrent_kernel  (units, k*units)      the previous hidden state's part
    bias              (k*units,)            gru: (2, 3*units), input bias and recurrent bias

with k = 1 (simple_rnn), 4 (lstm: gates i, f, c, o) or 3 (gru: gates z, r, h). The input's
part of all steps is one product, X W + b over (n*steps, features); only h U runs step by step.

    simple_rnn  h_t = tanh(x_t W + h_{t-1} U + b)
    lstm        [i f c~ o] = [sig sig tanh sig](x_t W + h_{t-1} U + b)
                c_t = f * c_{t-1} + i * c~          h_t = o * tanh(c_t)
    gru         (Keras' reset_after=True, PyTorch's GRU; two biases b_x = bias[0], b_h = bias[1])
                xz = x_t W + b_x      hz = h_{t-1} U + b_h
                z = sig(xz_z + hz_z)  r = sig(xz_r + hz_r)  h~ = tanh(xz_h + r * hz_h)
                h_t = z * h_{t-1} + (1 - z) * h~

Backpropagation through time walks the steps in reverse with dh (and dc for lstm) carried from
step t to t-1; each step yields the gradient of its gate pre-activations dZ_t, and then

    dL/dW = X^T dZ    dL/db = sum dZ    dL/dX = dZ W^T    dL/dU = H_prev^T dZ_h

are four products over all steps at once (dZ_h = dZ except gru's candidate part, r * dZ_h~).
The initial state is zero. sig(z) is computed as (1 + tanh(z / 2)) / 2: no overflow for any z.

return_sequences gives every step's h (n, steps, units), else the last one (n, units);
go_backwards reads the steps last to first and returns the outputs in that order (Keras).
"""
from __future__ import annotations

import numpy as np

from ..registry import LAYERS
from .base import Layer
from .core import _check_initializer, _check_positive_int
from .embedding import sequence_shape


def sigmoid(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = 1 / (1 + exp(-z)) = (1 + tanh(z / 2)) / 2, never overflowing."""
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _check_bool(name, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


class Recurrent(Layer):
    """What simple_rnn, lstm and gru share: options, weights, the input product, the output."""

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

    def _input_product(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x time-major in processing order (steps, n, features), X W + b as (steps, n, k*units)).
        The steps run time-major so that each step's rows are one contiguous block."""
        n, steps, f = x.shape
        xt = self._buf("xt", (steps, n, f))
        np.copyto(xt, (x[:, ::-1] if self.go_backwards else x).transpose(1, 0, 2))
        xw = self._buf("xw", (steps, n, self.gates * self.units))
        np.matmul(xt.reshape(steps * n, f), self.params["kernel"], out=xw.reshape(steps * n, -1))
        bias = self.params["bias"]
        xw += bias[0] if bias.ndim == 2 else bias
        return xt, xw

    def _output(self, h: np.ndarray) -> np.ndarray:
        """The layer's output from h (steps + 1, n, units), h[0] the initial state."""
        if not self.return_sequences:
            return h[-1]
        y = self._buf("y", (h.shape[1], h.shape[0] - 1, self.units))
        np.copyto(y, h[1:].transpose(1, 0, 2))
        return y

    def _grad_h(self, grad_y, steps: int) -> np.ndarray:
        """dL/dh_t for every step, time-major (zero but at the last step without return_sequences)."""
        n = grad_y.shape[0]
        dh = self._buf("dh_out", (steps, n, self.units))
        if self.return_sequences:
            np.copyto(dh, grad_y.transpose(1, 0, 2))
        else:
            dh[:-1] = 0.0
            dh[-1] = grad_y
        return dh

    def _weight_grads(self, xt, h, dz, dz_h) -> np.ndarray | None:
        """Fill dW = X^T dZ, dU = H_prev^T dZ_h, db; return dL/dx (n, steps, features) in the
        input's step order."""
        steps, n, f = xt.shape
        ku = dz.shape[-1]
        dz2 = dz.reshape(steps * n, ku)
        np.matmul(xt.reshape(steps * n, f).T, dz2, out=self.grads["kernel"])
        np.matmul(h[:-1].reshape(steps * n, self.units).T, dz_h.reshape(steps * n, ku),
                  out=self.grads["recurrent_kernel"])
        db = self.grads["bias"]
        if db.ndim == 2:  # gru: input bias, recurrent bias
            np.sum(dz2, axis=0, out=db[0])
            np.sum(dz_h.reshape(steps * n, ku), axis=0, out=db[1])
        else:
            np.sum(dz2, axis=0, out=db)
        if not self.need_input_grad:
            return None
        dxt = self._buf("dxt", (steps, n, f))
        np.matmul(dz2, self.params["kernel"].T, out=dxt.reshape(steps * n, f))
        dx = self._buf("dx", (n, steps, f))
        np.copyto(dx, (dxt[::-1] if self.go_backwards else dxt).transpose(1, 0, 2))
        return dx


    # feature-major helpers (lstm.py): per-step arrays are (rows, n), h is (steps + 1, units, n)

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

    def _weight_grads_cols(self, xrows, h, dz, wrows, to_keras) -> np.ndarray | None:
        """From dz (steps, k*units, n), the gate pre-activations' gradients in the layer's internal
        gate order: fill dW, db = dZ [X 1], dU = dZ H_prev with dZ (k*units, steps*n), X the rows
        of xrows (steps, n, features + 1, the last column ones), H_prev the rows of h[:-1], each
        put back in Keras' order by to_keras(rows, units, out); return dL/dx = dZ^T wrows as
        (n, steps, features) in the input's step order (wrows: kernel^T in the internal order)."""
        steps, n, f1 = xrows.shape
        u, k = self.units, dz.shape[1]
        dz2 = self._buf("dz2", (k, steps, n))
        np.copyto(dz2, dz.transpose(1, 0, 2))
        dz2 = dz2.reshape(k, steps * n)
        gwb = self._buf("gwb", (k, f1))
        np.matmul(dz2, xrows.reshape(steps * n, f1), out=gwb)      # [dW db]^T = dZ [X 1]
        to_keras(gwb[:, :-1], u, self.grads["kernel"])
        to_keras(gwb[:, -1:], u, self.grads["bias"][None])
        hrows = self._buf("hrows", (steps, n, u))
        np.copyto(hrows, h[:-1].transpose(0, 2, 1))
        gu = self._buf("gu", (k, u))
        np.matmul(dz2, hrows.reshape(steps * n, u), out=gu)         # dU^T = dZ H_prev
        to_keras(gu, u, self.grads["recurrent_kernel"])
        if not self.need_input_grad:
            return None
        dxr = self._buf("dxr", (steps, n, f1 - 1))
        np.matmul(dz2.T, wrows, out=dxr.reshape(steps * n, f1 - 1))  # dX = dZ^T W^T
        dx = self._buf("dx", (n, steps, f1 - 1))
        np.copyto(dx, (dxr[::-1] if self.go_backwards else dxr).transpose(1, 0, 2))
        return dx


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
        xt, xw = self._input_product(x)
        steps, n = xt.shape[:2]
        h = self._buf("h", (steps + 1, n, self.units))  # time-major, h[0] = 0 the initial state
        h[0] = 0.0
        u = self.params["recurrent_kernel"]
        for t in range(steps):
            z = h[t + 1]
            np.matmul(h[t], u, out=z)
            z += xw[t]
            np.tanh(z, out=z)
        self._cache = (xt, h)
        return self._output(h)

    def backward(self, grad_y):
        xt, h = self._cached()
        steps, n = xt.shape[:2]
        gh = self._grad_h(grad_y, steps)
        dz = self._buf("dz", (steps, n, self.units))
        np.multiply(h[1:], h[1:], out=dz)
        np.subtract(1.0, dz, out=dz)  # tanh' = 1 - h_t^2, all steps at once
        dh = self._buf("dh", (n, self.units))
        dh.fill(0.0)
        u_t = self.params["recurrent_kernel"].T
        for t in range(steps - 1, -1, -1):
            dh += gh[t]
            dz[t] *= dh                   # dL/da_t = dh_t (1 - h_t^2)
            np.matmul(dz[t], u_t, out=dh)  # carried to h_{t-1}
        return self._weight_grads(xt, h, dz, dz)


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
        xt, xw = self._input_product(x)
        steps, n = xt.shape[:2]
        u = self.units
        h = self._buf("h", (steps + 1, n, u))
        a = self._buf("a", (steps, n, 3 * u))    # z, r, h~
        hz = self._buf("hz", (steps, n, 3 * u))  # h_{t-1} U + b_h
        h[0] = 0.0
        rk, bh = self.params["recurrent_kernel"], self.params["bias"][1]
        for t in range(steps):
            at, hzt, xwt = a[t], hz[t], xw[t]
            np.matmul(h[t], rk, out=hzt)
            hzt += bh
            np.add(xwt[:, :2 * u], hzt[:, :2 * u], out=at[:, :2 * u])
            sigmoid(at[:, :2 * u], at[:, :2 * u])
            z, r, hh = at[:, :u], at[:, u:2 * u], at[:, 2 * u:]
            np.multiply(r, hzt[:, 2 * u:], out=hh)
            hh += xwt[:, 2 * u:]
            np.tanh(hh, out=hh)
            # h_t = z h_{t-1} + (1 - z) h~ = h~ + z (h_{t-1} - h~)
            ht = h[t + 1]
            np.subtract(h[t], hh, out=ht)
            ht *= z
            ht += hh
        self._cache = (xt, h, a, hz)
        return self._output(h)

    def backward(self, grad_y):
        xt, h, a, hz = self._cached()
        steps, n = xt.shape[:2]
        u = self.units
        gh = self._grad_h(grad_y, steps)
        dz = self._buf("dz", (steps, n, 3 * u))     # d(xz): the input pre-activations
        dzh = self._buf("dzh", (steps, n, 3 * u))   # d(hz): the recurrent pre-activations
        # per step, with dh_t the carried gradient:
        #   da_h = dh_t (1 - z) (1 - h~^2)                 dz_z = dh_t (h_{t-1} - h~) z (1 - z)
        #   dz_r = da_h hz_h r (1 - r)                     dzh = [dz_z, dz_r, da_h r]
        #   dh_{t-1} = dh_t z + dzh U^T
        # the factors that do not depend on dh_t, for all steps at once:
        z, r, hh = a[..., :u], a[..., u:2 * u], a[..., 2 * u:]
        coef = self._buf("coef", (steps, n, 3, u))
        np.multiply(1.0 - z, 1.0 - hh * hh, out=coef[:, :, 2])                   # d a_h / d h_t
        np.multiply(h[:-1] - hh, z * (1.0 - z), out=coef[:, :, 0])               # d a_z / d h_t
        np.multiply(coef[:, :, 2] * hz[..., 2 * u:], r * (1.0 - r), out=coef[:, :, 1])  # d a_r / d h_t
        dz3, dzh3 = dz.reshape(steps, n, 3, u), dzh.reshape(steps, n, 3, u)
        dh = self._buf("dh", (n, u))
        dh.fill(0.0)
        rk_t = self.params["recurrent_kernel"].T
        for t in range(steps - 1, -1, -1):
            dh += gh[t]
            np.multiply(dh[:, None, :], coef[t], out=dz3[t])               # z, r, h~ pre-activations
            dzh3[t, :, :2] = dz3[t, :, :2]
            np.multiply(dz3[t, :, 2], r[t], out=dzh3[t, :, 2])             # a_h = xz_h + r hz_h
            dh *= z[t]                                                     # direct path to h_{t-1}
            dh += dzh[t] @ rk_t                                            # through hz
        return self._weight_grads(xt, h, dz, dzh)


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
