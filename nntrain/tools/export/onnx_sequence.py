"""ONNX converters of the sequence layers, on a (n, steps, features) channels-last tensor.

    embedding             Gather(table, Cast(ids, int64)); mask_zero exports row 0 as zeros
    positional_embedding  Add of the table's first `steps` rows
    conv1d, max/avgpool1d Transpose to (n, C, steps), Conv / MaxPool / AveragePool, Transpose back
    global pools          ReduceMean / ReduceMax over the steps (or height and width)
    simple_rnn, lstm, gru ONNX's RNN / LSTM / GRU ops on (steps, n, features); Keras' gates
                          i, f, c, o become ONNX's i, o, f, c; the GRU keeps z, r, h with
                          linear_before_reset=1 (Keras' reset_after); go_backwards reverses the
                          steps with a Slice before the op, so outputs come in Keras' order
    bidirectional         both directions, the backward sequence reversed back, then Concat/Sum/Mean
    multi_head_attention  MatMul, Reshape and Transpose per head, Softmax; the causal mask is a
                          constant added to the scores (-1e9 above the diagonal: exp gives 0)

Each converter takes the onnx_graph.Graph `g` and the layer and leaves its output in g.x.
"""
from __future__ import annotations

import math

import numpy as np

INT64_MIN = np.iinfo(np.int64).min
NTC_TO_NCT = [0, 2, 1]


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _i64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _raw(g, op_type: str, inputs: list[str], n_out: int = 1, hint: str | None = None, **attrs) -> list[str]:
    """A node with several (or optional, '') outputs; returns the output names."""
    from onnx import helper

    outs = [g.name(hint or op_type.lower()) for _ in range(n_out)]
    g.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
    return outs


def _activation(g, layer, converters) -> None:
    act = getattr(layer, "_act", None)  # a layer built alone applies its activation itself
    if act is not None:
        converters[act.registry_name](g, act)


def embedding(g, layer, converters=None) -> None:
    g.channels_last()
    table = _f32(layer.params["embeddings"]).copy()
    if layer.mask_zero:
        table[0] = 0.0  # padding's vector is zero in nntrain's forward too
    ids = g.node("Cast", g.x, to=7)  # TensorProto.INT64
    g.x = g.node("Gather", g.const("embeddings", table), ids, axis=0, hint="embedding")


def positional_embedding(g, layer, converters=None) -> None:
    g.channels_last()
    steps = layer.input_shape[0]
    g.op("Add", g.const("positions", _f32(layer.params["embeddings"][:steps])), hint="positional_embedding")


def conv1d(g, layer, converters) -> None:
    g.channels_last()
    w = _f32(layer.params["W"])  # (k, c_in, c_out) -> ONNX (c_out, c_in, k)
    inputs = [g.const("W", w.transpose(2, 1, 0))]
    if "b" in layer.params:
        inputs.append(g.const("b", _f32(layer.params["b"])))
    after = layer.padded_steps - layer.input_shape[0] - layer.pad_before
    g.op("Transpose", perm=NTC_TO_NCT)
    g.op("Conv", *inputs, kernel_shape=[layer.kernel_size], strides=[layer.strides],
         dilations=[layer.dilation_rate], pads=[layer.pad_before, after], hint="conv1d")
    g.op("Transpose", perm=NTC_TO_NCT)
    _activation(g, layer, converters)


def pool1d(op_type: str):
    def convert(g, layer, converters=None) -> None:
        g.channels_last()
        inner = layer.inner  # the 2-D pool on (steps, 1, C) that computes it
        before = inner.pad_top
        after = inner.padded_shape[0] - layer.input_shape[0] - before
        attrs = {"kernel_shape": [layer.pool_size], "strides": [layer.strides], "pads": [before, after]}
        if op_type == "AveragePool":
            attrs["count_include_pad"] = 0  # Keras averages over the real steps only
        g.op("Transpose", perm=NTC_TO_NCT)
        g.op(op_type, **attrs)
        g.op("Transpose", perm=NTC_TO_NCT)
    return convert


def global_pool(op_type: str):
    def convert(g, layer, converters=None) -> None:
        g.channels_last()
        g.op(op_type, axes=list(range(1, len(layer.input_shape))), keepdims=0)
    return convert


def _reverse_steps(g, x: str, axis: int) -> str:
    """x with its steps axis in reverse order."""
    return g.node("Slice", x, g.const("starts", _i64([-1])), g.const("ends", _i64([INT64_MIN])),
                  g.const("axes", _i64([axis])), g.const("steps", _i64([-1])), hint="reverse")


def _rnn_weights(layer):
    """ONNX (W, R, B) with a leading direction axis, from Keras' kernel, recurrent_kernel, bias."""
    u = layer.units
    kernel, rec, bias = (_f32(layer.params[k]) for k in ("kernel", "recurrent_kernel", "bias"))
    kind = layer.registry_name
    if kind == "lstm":  # Keras i, f, c, o -> ONNX i, o, f, c
        order = [0, 3, 1, 2]

        def reorder(a):
            return np.concatenate([a[..., j * u:(j + 1) * u] for j in order], axis=-1)
        kernel, rec, bias = reorder(kernel), reorder(rec), reorder(bias)
        b = np.concatenate([bias, np.zeros_like(bias)])
    elif kind == "gru":  # z, r, h in both; bias[0] on the input, bias[1] on the recurrent product
        b = bias.reshape(-1)
    else:
        b = np.concatenate([bias, np.zeros_like(bias)])
    return kernel.T[None], rec.T[None], b[None]


def recurrent(g, layer, converters=None) -> None:
    g.channels_last()
    op = {"simple_rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[layer.registry_name]
    w, r, b = _rnn_weights(layer)
    x = g.node("Transpose", g.x, perm=[1, 0, 2])  # (steps, n, features)
    if layer.go_backwards:
        x = _reverse_steps(g, x, 0)
    attrs = {"hidden_size": layer.units}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    n_out = 2
    y, y_h = _raw(g, op, [x, g.const("W", w), g.const("R", r), g.const("B", b)], n_out, hint=op.lower(), **attrs)
    if layer.return_sequences:  # Y (steps, 1, n, units) -> (n, steps, units)
        seq = g.node("Squeeze", y, g.const("axes", _i64([1])))
        g.x = g.node("Transpose", seq, perm=[1, 0, 2])
    else:  # Y_h (1, n, units) -> (n, units)
        g.x = g.node("Squeeze", y_h, g.const("axes", _i64([0])))


def bidirectional(g, layer, converters=None) -> None:
    g.channels_last()
    x = g.x
    fwd, bwd = layer.directions()
    recurrent(g, fwd)
    yf = g.x
    g.x = x
    recurrent(g, bwd)
    yb = g.x
    if fwd.return_sequences:
        yb = _reverse_steps(g, yb, 1)  # back to input order
    if layer.merge_mode == "concat":
        g.x = g.node("Concat", yf, yb, axis=-1, hint="bidirectional")
    elif layer.merge_mode == "sum":
        g.x = g.node("Add", yf, yb, hint="bidirectional")
    else:
        g.x = g.node("Mean", yf, yb, hint="bidirectional")


def multi_head_attention(g, layer, converters=None) -> None:
    g.channels_last()
    x = g.x
    steps, d = layer.input_shape
    h, k, v = layer._dims()

    def project(name):
        w = _f32(layer.params[f"{name}_kernel"])
        size = w.shape[-1]
        p = g.node("MatMul", x, g.const(f"{name}_kernel", w.reshape(d, h * size)))
        if layer.use_bias:
            p = g.node("Add", p, g.const(f"{name}_bias", _f32(layer.params[f"{name}_bias"]).reshape(-1)))
        p = g.node("Reshape", p, g.const("shape", _i64([0, steps, h, size])))
        return g.node("Transpose", p, perm=[0, 2, 1, 3])  # (n, heads, steps, size)

    q, key, val = project("query"), project("key"), project("value")
    s = g.node("MatMul", q, g.node("Transpose", key, perm=[0, 1, 3, 2]))
    s = g.node("Mul", s, g.scalar(1.0 / math.sqrt(k)))
    if layer.causal:
        mask = np.triu(np.full((steps, steps), -1e9, dtype=np.float32), 1)
        s = g.node("Add", s, g.const("causal_mask", mask))
    a = g.node("Softmax", s, axis=-1)
    o = g.node("Transpose", g.node("MatMul", a, val), perm=[0, 2, 1, 3])  # (n, steps, heads, v)
    o = g.node("Reshape", o, g.const("shape", _i64([0, steps, h * v])))
    y = g.node("MatMul", o, g.const("output_kernel", _f32(layer.params["output_kernel"]).reshape(h * v, d)))
    if layer.use_bias:
        y = g.node("Add", y, g.const("output_bias", _f32(layer.params["output_bias"])))
    g.x = y


CONVERTERS = {
    "embedding": embedding,
    "positional_embedding": positional_embedding,
    "conv1d": conv1d,
    "maxpool1d": pool1d("MaxPool"),
    "avgpool1d": pool1d("AveragePool"),
    "global_avgpool1d": global_pool("ReduceMean"),
    "global_maxpool1d": global_pool("ReduceMax"),
    "global_maxpool2d": global_pool("ReduceMax"),
    "simple_rnn": recurrent,
    "lstm": recurrent,
    "gru": recurrent,
    "bidirectional": bidirectional,
    "multi_head_attention": multi_head_attention,
}
