"""A trained model as an ONNX graph (opset 13), built with the `onnx` package's helpers.

The graph takes what `nntrain predict` takes: raw samples (batch, *input_shape), channels last
(Keras layout), float32. Standardization statistics of the run become Sub/Div nodes at the
input. Dense -> Gemm (MatMul without bias); activations -> Relu/Sigmoid/Tanh/LeakyRelu/
Softmax/Elu/Selu/Softplus, swish = x Sigmoid(x), gelu from Erf (or Tanh), layernorm from
ReduceMean arithmetic (LayerNormalization is opset 17); flatten/reshape -> Flatten/Reshape; dropout is the identity at inference and is left
out. Spatial layers (conv2d, maxpool2d, avgpool2d, global_avgpool2d, batchnorm on images) run
in ONNX's channels-first layout: a Transpose NHWC->NCHW goes in before the first of them and
NCHW->NHWC back before anything that depends on the element order (flatten, reshape, dense),
so flattened features come out in nntrain's order and dense weights need no permutation.
Conv kernels (kh, kw, c_in, c_out) become (c_out, c_in, kh, kw); 'same' padding becomes the
explicit pads Keras uses (the odd pixel at the end); batch norm is the inference form with the
moving statistics. The sequence layers' converters are in onnx_sequence.py. A graph model runs its layers in topological order, each on the tensors
of its sources; merge layers become Sum (add), Mean (average), Mul (multiply) and Concat.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import NntrainError
from ...nn.model import Sequential
from . import onnx_sequence

OPSET = 13
IR_VERSION = 8  # onnxruntime >= 1.10 reads it
NHWC_TO_NCHW, NCHW_TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class Graph:
    """Nodes and initializers appended in order; `x` is the current tensor, `shape` its
    per-sample nntrain shape and `nchw` whether it is held channels-first."""

    def __init__(self, input_shape):
        self.nodes, self.inits, self.x = [], [], "input"
        self.shape, self.nchw = tuple(input_shape), False
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, array) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type: str, *inputs: str, hint: str | None = None, **attrs) -> str:
        """A node on any tensors; returns its output name (the current tensor stays)."""
        from onnx import helper

        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def op(self, op_type: str, *inputs: str, hint: str | None = None, **attrs) -> str:
        """A node on the current tensor (first input), whose output becomes the current tensor."""
        self.x = self.node(op_type, self.x, *inputs, hint=hint, **attrs)
        return self.x

    def scalar(self, value: float) -> str:
        return self.const("c", np.array(value, dtype=np.float32))

    def channels_first(self) -> None:
        if len(self.shape) != 3:
            raise NntrainError(f"a spatial layer needs (height, width, channels) input, got {list(self.shape)}")
        if not self.nchw:
            self.op("Transpose", perm=NHWC_TO_NCHW, hint="to_nchw")
            self.nchw = True

    def channels_last(self) -> None:
        if self.nchw:
            self.op("Transpose", perm=NCHW_TO_NHWC, hint="to_nhwc")
            self.nchw = False


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _attr(layer, *names, default=None):
    for n in names:
        if hasattr(layer, n):
            return getattr(layer, n)
    return default


def _array(layer, *names, required=True):
    for store in (layer.params, layer.buffers):
        for n in names:
            if n in store:
                return store[n]
    if required:
        raise NntrainError(f"{layer.registry_name}: none of the arrays {', '.join(names)} found "
                           f"(has {', '.join(list(layer.params) + list(layer.buffers))})")
    return None


def _pair(value, what: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return int(value[0]), int(value[1])
    raise NntrainError(f"cannot read {what} {value!r} as an integer or a pair")


def _pads(layer, kernel, strides, dilation=(1, 1)) -> list[int]:
    """ONNX pads [top, left, bottom, right] for the layer's padding on its input (H, W, C)."""
    padding = _attr(layer, "padding", default="valid")
    if isinstance(padding, str) and padding.lower() == "valid":
        return [0, 0, 0, 0]
    if isinstance(padding, str) and padding.lower() == "same":
        before, after = [], []
        for size, k, s, d in zip(layer.input_shape[:2], kernel, strides, dilation):
            out = math.ceil(size / s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            before.append(total // 2)
            after.append(total - total // 2)  # Keras/TF: the odd pixel goes at the end
        return before + after
    ph, pw = _pair(padding, "padding")
    return [ph, pw, ph, pw]


# -- converters: one per registered layer type ------------------------------------------
def _dense(g: Graph, layer) -> None:
    g.channels_last()
    W = g.const("W", _f32(layer.params["W"]))
    if "b" in layer.params:
        g.op("Gemm", W, g.const("b", _f32(layer.params["b"])), hint="dense")
    else:
        g.op("MatMul", W, hint="dense")
    act = getattr(layer, "_act", None)  # a dense layer built alone applies its activation itself
    if act is not None:
        CONVERTERS[act.registry_name](g, act)


def _unary(op_type: str):
    def convert(g: Graph, layer) -> None:
        g.op(op_type)
    return convert


def _leaky_relu(g: Graph, layer) -> None:
    g.op("LeakyRelu", alpha=float(layer.negative_slope))


def _elu(g: Graph, layer) -> None:
    g.op("Elu", alpha=float(layer.alpha))


def _selu(g: Graph, layer) -> None:
    # Klambauer et al. 2017 constants; ONNX's defaults are these rounded to float32
    g.op("Selu", alpha=float(getattr(layer, "alpha", 1.6732632423543772)), gamma=1.0507009873554805)


def _swish(g: Graph, layer) -> None:
    x = g.x
    g.op("Sigmoid")
    g.x = g.node("Mul", x, g.x, hint="swish")  # x sigmoid(x)


def _gelu(g: Graph, layer) -> None:
    x = g.x
    if getattr(layer, "approximate", False):
        # tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", g.node("Mul", x, x), x)
        inner = g.node("Add", x, g.node("Mul", cube, g.scalar(0.044715)))
        t = g.node("Tanh", g.node("Mul", inner, g.scalar(math.sqrt(2.0 / math.pi))))
    else:
        # exact: 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Erf", g.node("Div", x, g.scalar(math.sqrt(2.0))))
    g.x = g.node("Mul", g.node("Mul", x, g.node("Add", t, g.scalar(1.0))), g.scalar(0.5), hint="gelu")


def _layernorm(g: Graph, layer) -> None:
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis (ReduceMean: opset 13)."""
    g.channels_last()
    x = g.x
    d = g.node("Sub", x, g.node("ReduceMean", x, axes=[-1], keepdims=1))
    var = g.node("ReduceMean", g.node("Mul", d, d), axes=[-1], keepdims=1)
    y = g.node("Div", d, g.node("Sqrt", g.node("Add", var, g.scalar(float(layer.epsilon)))))
    gamma = _array(layer, "gamma", "scale", "g", required=False)
    beta = _array(layer, "beta", "shift", "b", "bias", required=False)
    if gamma is not None:
        y = g.node("Mul", y, g.const("gamma", _f32(gamma)))
    if beta is not None:
        y = g.node("Add", y, g.const("beta", _f32(beta)))
    g.x = y


def _softmax(g: Graph, layer) -> None:
    g.op("Softmax", axis=1 if g.nchw else -1)  # nntrain: over the last (channel) axis


def _identity(g: Graph, layer) -> None:
    pass  # linear; dropout is the identity at inference


def _flatten(g: Graph, layer) -> None:
    g.channels_last()
    g.op("Flatten", axis=1)


def _reshape(g: Graph, layer) -> None:
    g.channels_last()
    g.op("Reshape", g.const("shape", np.array([-1, *layer.output_shape], dtype=np.int64)))


def _conv2d(g: Graph, layer) -> None:
    g.channels_first()
    kernel = _f32(_array(layer, "W", "kernel", "K", "w"))  # (kh, kw, c_in, c_out)
    kh, kw = kernel.shape[:2]
    strides = _pair(_attr(layer, "strides", "stride", default=1), "strides")
    dilation = _pair(_attr(layer, "dilation_rate", "dilation", default=1), "dilation")
    inputs = [g.const("W", kernel.transpose(3, 2, 0, 1))]
    bias = _array(layer, "b", "bias", required=False)
    if bias is not None:
        inputs.append(g.const("b", _f32(bias)))
    g.op("Conv", *inputs, kernel_shape=[kh, kw], strides=list(strides), dilations=list(dilation),
         pads=_pads(layer, (kh, kw), strides, dilation), hint="conv")
    act = getattr(layer, "_act", None)
    if act is not None:
        CONVERTERS[act.registry_name](g, act)


def _pool(op_type: str):
    def convert(g: Graph, layer) -> None:
        g.channels_first()
        size = _pair(_attr(layer, "pool_size", "pool", "size", "kernel_size", default=2), "pool_size")
        strides = _attr(layer, "strides", "stride", default=None)
        strides = size if strides is None else _pair(strides, "strides")
        attrs = {"kernel_shape": list(size), "strides": list(strides), "pads": _pads(layer, size, strides)}
        if op_type == "AveragePool":
            attrs["count_include_pad"] = 0  # Keras averages over the real pixels only
        g.op(op_type, **attrs)
    return convert


def _global_avgpool(g: Graph, layer) -> None:
    g.channels_first()
    g.op("GlobalAveragePool")  # (n, c, 1, 1)
    if len(layer.output_shape) == 1:
        g.op("Flatten", axis=1)
        g.nchw = False


def _batchnorm(g: Graph, layer) -> None:
    if len(layer.input_shape) == 3:
        g.channels_first()
    elif len(layer.input_shape) != 1:
        raise NntrainError(f"batchnorm export supports (features,) or (h, w, channels) input, got "
                           f"{list(layer.input_shape)}")
    channels = layer.input_shape[-1]
    ones, zeros = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    scale = _array(layer, "gamma", "scale", "g", required=False)
    shift = _array(layer, "beta", "shift", "b", "bias", required=False)
    mean = _array(layer, "moving_mean", "running_mean", "mean")
    var = _array(layer, "moving_var", "moving_variance", "running_var", "var")
    inputs = [g.const(n, _f32(a).reshape(channels)) for n, a in (
        ("gamma", ones if scale is None else scale), ("beta", zeros if shift is None else shift),
        ("mean", mean), ("var", var))]
    g.op("BatchNormalization", *inputs, epsilon=float(_attr(layer, "epsilon", "eps", default=1e-3)))


CONVERTERS = {
    "dense": _dense,
    "relu": _unary("Relu"),
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "leaky_relu": _leaky_relu,
    "softmax": _softmax,
    "elu": _elu,
    "selu": _selu,
    "softplus": _unary("Softplus"),
    "swish": _swish,
    "silu": _swish,
    "gelu": _gelu,
    "layernorm": _layernorm,
    "linear": _identity,
    "dropout": _identity,
    "flatten": _flatten,
    "reshape": _reshape,
    "conv2d": _conv2d,
    "maxpool2d": _pool("MaxPool"),
    "avgpool2d": _pool("AveragePool"),
    "global_avgpool2d": _global_avgpool,
    "batchnorm": _batchnorm,
}
# the sequence layers (embedding, conv1d, 1-D and global pools, recurrent, attention): see onnx_sequence
CONVERTERS.update({name: (lambda f: lambda g, layer: f(g, layer, CONVERTERS))(f)
                   for name, f in onnx_sequence.CONVERTERS.items()})


def _add(g: Graph, layer, xs: list[str]) -> str:
    return g.node("Sum", *xs, hint="add")


def _average(g: Graph, layer, xs: list[str]) -> str:
    return g.node("Mean", *xs, hint="average")


def _multiply(g: Graph, layer, xs: list[str]) -> str:
    out = xs[0]
    for x in xs[1:]:
        out = g.node("Mul", out, x, hint="multiply")
    return out


def _concatenate(g: Graph, layer, xs: list[str]) -> str:
    rank = len(layer.output_shape)
    axis = layer.axis % rank  # per-sample axis, channels last
    if g.nchw:  # (h, w, c) held as (c, h, w): h -> 2, w -> 3, c -> 1 with the batch axis
        return g.node("Concat", *xs, axis=[2, 3, 1][axis], hint="concatenate")
    return g.node("Concat", *xs, axis=axis + 1, hint="concatenate")


# merge layers: several tensors in (all in one layout), one out
MERGES = {"add": _add, "average": _average, "multiply": _multiply, "concatenate": _concatenate}


def _run_graph(g: Graph, model, mean=None, std=None) -> None:
    """A graph model's layers in topological order, each on the tensors of its sources; merges
    keep channels-first only when all their inputs are (images through a residual block).
    Several inputs are standardized each with its part of the packed statistics."""
    if model.inputs is None:
        held = {0: (g.x, g.shape, g.nchw)}  # after the standardization nodes
    else:
        held = {}
        for j, (name, shape) in enumerate(model.inputs.items()):
            x = name
            if mean is not None:
                lo, hi = model.packed[name]
                x = g.node("Sub", x, g.const("data_mean", _f32(mean).reshape(-1)[lo:hi].reshape(shape)), hint="standardize")
                x = g.node("Div", x, g.const("data_std", _f32(std).reshape(-1)[lo:hi].reshape(shape)), hint="standardize")
            held[j] = (x, tuple(shape), False)
    m = len(held)
    for k in model.order:
        layer, src = model.layers[k], model.sources[k]
        if layer.registry_name in MERGES:
            parts = [held[j] for j in src]
            g.nchw = all(nchw for _, _, nchw in parts)
            xs = []
            for x, shape, nchw in parts:
                g.x, g.shape = x, shape
                if nchw and not g.nchw:
                    g.op("Transpose", perm=NCHW_TO_NHWC, hint="to_nhwc")
                xs.append(g.x)
            g.x = MERGES[layer.registry_name](g, layer, xs)
        else:
            g.x, g.shape, g.nchw = held[src[0]]
            CONVERTERS[layer.registry_name](g, layer)
        g.shape = tuple(layer.output_shape)
        held[m + k] = (g.x, g.shape, g.nchw)
    g.x, g.shape, g.nchw = held[m + len(model.layers) - 1]


def to_onnx_model(model: Sequential, mean=None, std=None, doc: str = "", target_scale=None):
    """The onnx.ModelProto of a model (float32), with standardization at the input if given. A
    graph with several inputs takes them under their names. With target_scale (data.scale_target)
    the output is multiplied by its std and shifted by its mean: the target's units, as predict."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        raise NntrainError("ONNX export needs the onnx package, which is not installed; install the `onnx` "
                           "extra: pip install 'nntrain[onnx]'") from None
    for i, layer in enumerate(model.layers):
        if layer.registry_name not in CONVERTERS and layer.registry_name not in MERGES:
            raise NntrainError(f"cannot export layer {i} ({layer.registry_name}) to ONNX: no converter for it; "
                               f"supported: {', '.join(sorted([*CONVERTERS, *MERGES]))}")
    several = getattr(model, "inputs", None)  # a graph's named inputs: one ONNX input each
    shapes = dict(several) if several else {"input": tuple(model.input_shape)}
    g = Graph(model.input_shape)
    if mean is not None and not several:
        shape = model.input_shape
        g.op("Sub", g.const("data_mean", _f32(mean).reshape(shape)), hint="standardize")
        g.op("Div", g.const("data_std", _f32(std).reshape(shape)), hint="standardize")
    if getattr(model, "sources", None) is not None:  # a graph
        _run_graph(g, model, mean, std)
    else:
        for i, layer in enumerate(model.layers):
            CONVERTERS[layer.registry_name](g, layer)
            g.shape = tuple(layer.output_shape)
    g.channels_last()
    if target_scale is not None:  # output * std + mean: back to the target's units
        g.op("Mul", g.const("target_std", _f32(target_scale.std).reshape(model.output_shape)), hint="unscale_target")
        g.op("Add", g.const("target_mean", _f32(target_scale.mean).reshape(model.output_shape)), hint="unscale_target")
    g.nodes.append(helper.make_node("Identity", [g.x], ["output"]))
    inps = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *shape]) for name, shape in shapes.items()]
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", *model.output_shape])
    graph = helper.make_graph(g.nodes, "nntrain", inps, [out], initializer=g.inits)
    from ... import __version__

    proto = helper.make_model(graph, producer_name="nntrain", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET)], doc_string=doc)
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, {"layout": "channels_last", "standardized": str(mean is not None).lower(),
                                   "target_unscaled": str(target_scale is not None).lower()})
    onnx.checker.check_model(proto)
    return proto


def to_onnx_bytes(model: Sequential, mean=None, std=None, doc: str = "", target_scale=None) -> bytes:
    return to_onnx_model(model, mean, std, doc, target_scale).SerializeToString()
