"""ONNX converters of layers written on another branch (conv2d, pooling, batchnorm, layernorm,
smooth activations) against numpy references.

Until those layers are merged these tests drive the converters with stand-ins that hold what
the layers hold (channels-last input, kernels (kh, kw, c_in, c_out), Keras 'same' padding,
gamma/beta params and moving_mean/moving_var buffers). After the merge, test_export.py's test
over every registered layer checks the real ones as well.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest

from nntrain.nn.layers import build_layer
from nntrain.tools.export.onnx_graph import to_onnx_bytes

RNG = np.random.default_rng(0)


class StandIn:
    def __init__(self, name, input_shape, output_shape, params=(), buffers=(), **attrs):
        self.registry_name, self.input_shape, self.output_shape = name, input_shape, output_shape
        self.params, self.buffers = dict(params), dict(buffers)
        self.__dict__.update(attrs)


def pad_same(x, k, s):
    """Keras 'same': out = ceil(in / s); the odd pixel of padding goes at the end."""
    pads = []
    for size, kk, ss in zip(x.shape[1:3], k, s):
        total = max((math.ceil(size / ss) - 1) * ss + kk - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def windows(x, k, s, padding, fill=0.0):
    """(n, oh, ow, kh, kw, c) windows of NHWC x, padded with fill."""
    if padding == "same":
        (t, b), (l, r) = pad_same(x, k, s)
        x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=fill)
    n, h, w, c = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.empty((n, oh, ow, k[0], k[1], c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
    return out


def conv_ref(x, K, b, s, padding):
    return np.einsum("nijabc,abco->nijo", windows(x, K.shape[:2], s, padding), K) + b


def conv(x_shape, filters, k, s, padding):
    K = RNG.standard_normal((k, k, x_shape[-1], filters)).astype(np.float32)
    b = RNG.standard_normal(filters).astype(np.float32)
    out = conv_ref(np.zeros((1,) + x_shape, np.float32), K, b, (s, s), padding).shape[1:]
    layer = StandIn("conv2d", x_shape, out, {"W": K, "b": b}, kernel_size=k, strides=s, padding=padding)
    return layer, lambda x: conv_ref(x, K, b, (s, s), padding)


def pool(kind, x_shape, k, s, padding):
    if kind == "maxpool2d":
        def f(x):
            return windows(x, (k, k), (s, s), padding, -np.inf).max(axis=(3, 4))
    else:
        def f(x):  # average over the real pixels only
            total = windows(x, (k, k), (s, s), padding).sum(axis=(3, 4))
            count = windows(np.ones_like(x), (k, k), (s, s), padding).sum(axis=(3, 4))
            return total / count
    out = f(np.zeros((1,) + x_shape, np.float32)).shape[1:]
    return StandIn(kind, x_shape, out, pool_size=k, strides=s, padding=padding), f


def batchnorm(x_shape):
    c = x_shape[-1]
    gamma, beta = RNG.uniform(0.5, 2, c).astype(np.float32), RNG.standard_normal(c).astype(np.float32)
    mean, var = RNG.standard_normal(c).astype(np.float32), RNG.uniform(0.5, 2, c).astype(np.float32)
    layer = StandIn("batchnorm", x_shape, x_shape, {"gamma": gamma, "beta": beta},
                    {"moving_mean": mean, "moving_var": var}, epsilon=1e-3)
    return layer, lambda x: (x - mean) / np.sqrt(var + 1e-3) * gamma + beta


def run_both(stack, input_shape):
    """The stand-in model through onnxruntime and through the numpy references."""
    layers, fns = zip(*stack)
    model = SimpleNamespace(layers=list(layers), input_shape=input_shape, output_shape=layers[-1].output_shape)
    x = RNG.standard_normal((3,) + input_shape).astype(np.float32)
    sess = ort.InferenceSession(to_onnx_bytes(model), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x})[0]
    ref = x.astype(np.float64)
    for f in fns:
        ref = f(ref)
    return got, ref


def real(spec, shape):
    layer = build_layer(spec, input_shape=shape, seed=4)
    for p in layer.params.values():
        p[...] = RNG.standard_normal(p.shape)
    return layer, lambda x: layer.forward(x.astype(np.float32)).astype(np.float64)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_batchnorm_pool_flatten_dense(padding, stride):
    c1, f1 = conv((7, 6, 2), 4, 3, stride, padding)
    bn, fbn = batchnorm(c1.output_shape)
    mp, fmp = pool("maxpool2d", c1.output_shape, 2, 2, padding)
    ap, fap = pool("avgpool2d", mp.output_shape, 2, 1, padding)
    flat = real({"type": "flatten"}, ap.output_shape)
    dense = real({"type": "dense", "units": 3}, flat[0].output_shape)
    relu = real("relu", c1.output_shape)
    got, ref = run_both([(c1, f1), (bn, fbn), relu, (mp, fmp), (ap, fap), flat, dense], (7, 6, 2))
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < 1e-4 * max(1.0, np.abs(ref).max())


def test_global_average_pool_and_softmax_over_channels():
    c1, f1 = conv((5, 5, 3), 4, 3, 1, "same")
    soft = real("softmax", c1.output_shape)  # over the channel axis, as in nntrain
    gap = StandIn("global_avgpool2d", c1.output_shape, (4,))
    got, ref = run_both([(c1, f1), soft, (gap, lambda x: x.mean(axis=(1, 2)))], (5, 5, 3))
    assert got.shape == (3, 4) and np.abs(got - ref).max() < 1e-5


def test_spatial_output_comes_back_channels_last():
    c1, f1 = conv((4, 5, 1), 2, 3, 1, "valid")
    got, ref = run_both([(c1, f1)], (4, 5, 1))
    assert got.shape == (3, 2, 3, 2) and np.abs(got - ref).max() < 1e-5


def test_batchnorm_on_features():
    bn, f = batchnorm((5,))
    got, ref = run_both([(bn, f)], (5,))
    assert np.abs(got - ref).max() < 1e-5


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
_erf = np.vectorize(math.erf)


def _sig(x):
    return 0.5 * (1 + np.tanh(x / 2))


ACTIVATIONS = {
    "elu": ({"alpha": 0.7}, lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    "selu": ({"alpha": SELU_ALPHA},
             lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))),
    "softplus": ({}, lambda x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)),
    "swish": ({}, lambda x: x * _sig(x)),
    "silu": ({}, lambda x: x * _sig(x)),
    "gelu": ({"approximate": False}, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": ({"approximate": True},
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_smooth_activations(name):
    attrs, f = ACTIVATIONS[name]
    layer = StandIn(name.split("_")[0], (6,), (6,), **attrs)
    got, ref = run_both([(layer, f)], (6,))
    x = np.array([[-60.0, -3.0, -0.5, 0.0, 0.7, 60.0]], np.float32)  # large |x|: no overflow
    sess = ort.InferenceSession(to_onnx_bytes(SimpleNamespace(layers=[layer], input_shape=(6,), output_shape=(6,))),
                                providers=["CPUExecutionProvider"])
    extreme = sess.run(None, {"input": x})[0]
    assert np.abs(got - ref).max() < 1e-5
    assert np.all(np.isfinite(extreme)) and np.allclose(extreme, f(x.astype(np.float64)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(5,), (3, 4, 2)])
def test_layernorm_over_the_last_axis(shape):
    c = shape[-1]
    gamma, beta = RNG.uniform(0.5, 2, c).astype(np.float32), RNG.standard_normal(c).astype(np.float32)
    layer = StandIn("layernorm", shape, shape, {"gamma": gamma, "beta": beta}, epsilon=1e-3)

    def f(x):
        d = x - x.mean(axis=-1, keepdims=True)
        return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-3) * gamma + beta

    stack = [(layer, f)]
    if len(shape) == 3:  # after a conv, so the graph holds the tensor channels-first before it
        c1, f1 = conv(shape[:2] + (1,), c, 1, 1, "same")
        layer.input_shape = layer.output_shape = c1.output_shape
        stack = [(c1, f1), (layer, f)]
        shape = shape[:2] + (1,)
    got, ref = run_both(stack, shape)
    assert np.abs(got - ref).max() < 1e-4
