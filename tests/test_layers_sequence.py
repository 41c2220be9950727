"""Sequence layers (embedding, conv1d, 1-D and global pools, simple_rnn, lstm, gru, bidirectional,
multi_head_attention, positional_embedding): hand-computed examples, option variants under
finite differences, and the config errors. Numpy only; test_layers.py runs the registry-wide
finite-difference check, test_sequence_torch.py the comparison with PyTorch (when torch is installed)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from nntrain import build_layer, build_loss
from nntrain.errors import ConfigError, DataError
from nntrain.nn.graph import build_model
from nntrain.tools.gradcheck import TOLERANCE, check_layer, check_model


def sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def layer64(spec, shape):
    return build_layer(spec, input_shape=shape, dtype="float64", seed=0)


def test_embedding_hand_computed_with_padding_and_repeated_ids():
    layer = layer64({"type": "embedding", "input_dim": 3, "output_dim": 2, "mask_zero": True}, (4,))
    layer.params["embeddings"][...] = [[9.0, 9.0], [1.0, 2.0], [3.0, 4.0]]  # row 0 is padding
    x = np.array([[1.0, 0.0, 2.0, 1.0]])
    assert np.array_equal(layer.forward(x, True), [[[1, 2], [0, 0], [3, 4], [1, 2]]])
    assert layer.backward(np.arange(8.0).reshape(1, 4, 2)) is None  # ids carry no gradient
    # dE[v] = sum of g where id == v: id 1 at steps 0 and 3, id 2 at step 2, padding untrained
    assert np.array_equal(layer.grads["embeddings"], [[0, 0], [0 + 6, 1 + 7], [4, 5]])
    plain = layer64({"type": "embedding", "input_dim": 3, "output_dim": 2}, (4,))
    plain.forward(x, True)
    plain.backward(np.ones((1, 4, 2)))
    assert np.array_equal(plain.grads["embeddings"], [[1, 1], [2, 2], [1, 1]])


@pytest.mark.parametrize("vocab", [4, 50])  # a bincount per column, and one over the flat table
def test_embedding_gradient_sums_repeated_ids_like_add_at(vocab):
    layer = layer64({"type": "embedding", "input_dim": vocab, "output_dim": 3}, (6,))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 4, (2, 6))
    g = rng.standard_normal((2, 6, 3))
    layer.forward(ids.astype(np.float64), True)
    layer.backward(g)
    expected = np.zeros((vocab, 3))
    np.add.at(expected, ids.reshape(-1), g.reshape(-1, 3))
    assert np.allclose(layer.grads["embeddings"], expected, rtol=1e-14, atol=1e-14)


def test_embedding_rejects_what_is_not_an_id_of_its_vocabulary():
    layer = build_layer({"type": "embedding", "input_dim": 3, "output_dim": 2}, (2,))
    with pytest.raises(DataError, match=r"id 3 is outside 0 \.\. 2"):
        layer.forward(np.array([[1.0, 3.0]], np.float32))
    with pytest.raises(DataError, match=r"id -1"):
        layer.forward(np.array([[-1.0, 0.0]], np.float32))
    with pytest.raises(DataError, match=r"embedding takes integer ids, got 0\.5"):
        layer.forward(np.array([[1.0, 0.5]], np.float32))  # features, not ids: not silently truncated


def test_positional_embedding_adds_a_vector_per_step():
    layer = layer64({"type": "positional_embedding", "sequence_length": 3}, (2, 1))
    layer.params["embeddings"][...] = [[10.0], [20.0], [30.0]]
    y = layer.forward(np.array([[[1.0], [2.0]], [[3.0], [4.0]]]), True)
    assert np.array_equal(y, [[[11], [22]], [[13], [24]]])
    layer.backward(np.ones((2, 2, 1)))
    assert np.array_equal(layer.grads["embeddings"], [[2], [2], [0]])  # the third position is unused


@pytest.mark.parametrize("padding, dilation, strides, expected", [
    ("causal", 1, 1, [10, 21, 32, 43]),   # y[t] = x[t-1] + 10 x[t], a zero before the sequence
    ("causal", 2, 1, [10, 20, 31, 42]),   # y[t] = x[t-2] + 10 x[t]
    ("valid", 1, 1, [21, 32, 43]),
    ("valid", 1, 2, [21, 43]),
    ("same", 1, 2, [21, 43]),             # Keras: the odd step of padding goes at the end
    ("same", 1, 1, [21, 32, 43, 4]),     # the last window is (4, a zero after)
])
def test_conv1d_hand_computed(padding, dilation, strides, expected):
    layer = layer64({"type": "conv1d", "filters": 1, "kernel_size": 2, "padding": padding,
                     "dilation_rate": dilation, "strides": strides}, (4, 1))
    layer.params["W"][...] = np.array([1.0, 10.0]).reshape(2, 1, 1)
    layer.params["b"][...] = 0.0
    y = layer.forward(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1), True)
    assert np.array_equal(y.reshape(-1), expected)


def test_pools_1d_and_global_pools_hand_computed():
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0]).reshape(1, 5, 1)
    assert np.array_equal(layer64({"type": "maxpool1d"}, (5, 1)).forward(x).reshape(-1), [3, 5])
    assert np.array_equal(layer64({"type": "maxpool1d", "padding": "same"}, (5, 1)).forward(x).reshape(-1), [3, 5, 4])
    avg = layer64({"type": "avgpool1d", "padding": "same"}, (5, 1))
    assert np.array_equal(avg.forward(x).reshape(-1), [2, 3.5, 4])  # the last window holds one real step
    gmax = layer64({"type": "global_maxpool1d"}, (5, 1))
    assert np.array_equal(gmax.forward(x, True), [[5]])
    assert np.array_equal(gmax.backward(np.array([[2.0]])).reshape(-1), [0, 0, 0, 2, 0])
    gavg = layer64({"type": "global_avgpool1d"}, (5, 1))
    assert np.array_equal(gavg.forward(x, True), [[3]])
    assert np.allclose(gavg.backward(np.array([[1.0]])).reshape(-1), 0.2)
    img = np.array([[1.0, 7.0], [7.0, 2.0]]).reshape(1, 2, 2, 1)  # a tie: the first pixel gets it
    g2 = layer64({"type": "global_maxpool2d"}, (2, 2, 1))
    assert np.array_equal(g2.forward(img, True), [[7]])
    assert np.array_equal(g2.backward(np.array([[1.0]])).reshape(-1), [0, 1, 0, 0])


def test_simple_rnn_hand_computed():
    layer = layer64({"type": "simple_rnn", "units": 1, "return_sequences": True}, (2, 1))
    layer.params["kernel"][...], layer.params["recurrent_kernel"][...], layer.params["bias"][...] = 1.0, 0.5, 0.0
    y = layer.forward(np.array([[[1.0], [0.0]]]))
    h1 = math.tanh(1.0)
    assert np.allclose(y.reshape(-1), [h1, math.tanh(0.5 * h1)])


def test_lstm_hand_computed_in_keras_gate_order():
    layer = layer64({"type": "lstm", "units": 1, "return_sequences": True}, (2, 1))
    # kernel columns i, f, c, o
    layer.params["kernel"][...] = [[0.5, -1.0, 2.0, 1.0]]
    layer.params["recurrent_kernel"][...] = [[0.1, 0.2, 0.3, 0.4]]
    layer.params["bias"][...] = [0.0, 1.0, 0.0, 0.0]  # unit_forget_bias: the forget gate's bias starts at 1
    x = [1.0, -2.0]
    h = c = 0.0
    expected = []
    for xt in x:
        i, f = sig(0.5 * xt + 0.1 * h), sig(-1.0 * xt + 0.2 * h + 1.0)
        g, o = math.tanh(2.0 * xt + 0.3 * h), sig(1.0 * xt + 0.4 * h)
        c = f * c + i * g
        h = o * math.tanh(c)
        expected.append(h)
    assert np.allclose(layer.forward(np.array(x).reshape(1, 2, 1)).reshape(-1), expected, rtol=1e-12)


def test_lstm_forget_bias_starts_at_one():
    layer = layer64({"type": "lstm", "units": 2}, (3, 4))
    assert np.array_equal(layer.params["bias"], [0, 0, 1, 1, 0, 0, 0, 0])
    assert layer64({"type": "lstm", "units": 2, "unit_forget_bias": False}, (3, 4)).params["bias"].sum() == 0


def test_gru_hand_computed_reset_after_with_two_biases():
    layer = layer64({"type": "gru", "units": 1, "return_sequences": True}, (2, 1))
    layer.params["kernel"][...] = [[0.5, -1.0, 2.0]]           # z, r, h
    layer.params["recurrent_kernel"][...] = [[0.3, 0.2, -0.4]]
    layer.params["bias"][...] = [[0.1, 0.0, 0.2], [0.0, 0.3, 0.5]]  # input bias, recurrent bias
    x = [1.0, -2.0]
    h, expected = 0.0, []
    for xt in x:
        z = sig(0.5 * xt + 0.1 + 0.3 * h + 0.0)
        r = sig(-1.0 * xt + 0.0 + 0.2 * h + 0.3)
        hh = math.tanh(2.0 * xt + 0.2 + r * (-0.4 * h + 0.5))  # the reset gate multiplies h U + b_h
        h = z * h + (1 - z) * hh
        expected.append(h)
    assert np.allclose(layer.forward(np.array(x).reshape(1, 2, 1)).reshape(-1), expected, rtol=1e-12)
    assert layer.params["bias"].shape == (2, 3)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_go_backwards_reads_the_steps_in_reverse_and_returns_them_so(kind):
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    fwd = layer64({"type": kind, "units": 4, "return_sequences": True}, (5, 3))
    back = layer64({"type": kind, "units": 4, "return_sequences": True, "go_backwards": True}, (5, 3))
    assert np.allclose(back.forward(x), fwd.forward(x[:, ::-1]))
    last = layer64({"type": kind, "units": 4, "go_backwards": True}, (5, 3))
    assert np.allclose(last.forward(x), fwd.forward(x[:, ::-1])[:, -1])


def test_bidirectional_joins_forward_and_reversed_backward_outputs():
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    bi = layer64({"type": "bidirectional", "layer": {"type": "lstm", "units": 4, "return_sequences": True}}, (5, 3))
    assert bi.output_shape == (5, 8)
    assert sorted(bi.params) == sorted(f"{d}_{k}" for d in ("forward", "backward")
                                       for k in ("kernel", "recurrent_kernel", "bias"))
    fwd = layer64({"type": "lstm", "units": 4, "return_sequences": True}, (5, 3))
    for k in fwd.params:
        fwd.params[k][...] = bi.params[f"forward_{k}"]
    y = bi.forward(x)
    assert np.allclose(y[..., :4], fwd.forward(x))
    for k in fwd.params:
        fwd.params[k][...] = bi.params[f"backward_{k}"]
    assert np.allclose(y[..., 4:], fwd.forward(x[:, ::-1])[:, ::-1])  # step t of the backward pass, in input order


def test_attention_hand_computed_one_head():
    def attention(causal):
        layer = layer64({"type": "multi_head_attention", "num_heads": 1, "key_dim": 1, "causal": causal}, (2, 1))
        for name, p in layer.params.items():
            p[...] = 1.0 if name.endswith("kernel") else 0.0
        return layer.forward(np.array([[[0.0], [1.0]]])).reshape(-1)

    # scores x_i x_j: row 0 all 0 -> weights (1/2, 1/2); row 1 (0, 1) -> weight e / (1 + e) on x_1 = 1
    e = math.e / (1 + math.e)
    assert np.allclose(attention(False), [0.5, e])
    assert np.allclose(attention(True), [0.0, e])  # step 0 sees only itself


@pytest.mark.parametrize("spec, shape", [
    ({"type": "embedding", "input_dim": 5, "output_dim": 3}, (6,)),
    ({"type": "conv1d", "filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (8, 3)),
    ({"type": "conv1d", "filters": 2, "kernel_size": 2, "strides": 3, "padding": "valid"}, (8, 3)),
    ({"type": "maxpool1d", "pool_size": 2, "strides": 1}, (5, 2)),
    ({"type": "simple_rnn", "units": 3, "go_backwards": True}, (4, 2)),
    ({"type": "lstm", "units": 3, "go_backwards": True}, (4, 2)),
    ({"type": "lstm", "units": 2}, (6, 3)),
    ({"type": "gru", "units": 3, "return_sequences": True}, (4, 2)),
    ({"type": "bidirectional", "layer": {"type": "lstm", "units": 2}, "merge_mode": "sum"}, (4, 3)),
    ({"type": "bidirectional", "layer": {"type": "simple_rnn", "units": 2, "return_sequences": True},
      "merge_mode": "ave"}, (4, 3)),
    ({"type": "multi_head_attention", "num_heads": 3, "key_dim": 2}, (5, 4)),
    ({"type": "multi_head_attention", "num_heads": 1, "key_dim": 2, "use_bias": False, "causal": True}, (3, 2)),
])
def test_variants_match_finite_differences(spec, shape):
    layer = build_layer(spec, input_shape=shape, dtype="float64", seed=1)
    rng = np.random.default_rng(2)
    if spec["type"] == "embedding":
        x = rng.integers(0, 5, (3,) + shape).astype(np.float64)
    else:
        x = rng.standard_normal((3,) + shape)
    errors = check_layer(layer, x)
    assert errors and max(errors.values()) < TOLERANCE, errors



@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("steps, batch", [(1, 1), (3, 2)])
def test_recurrent_edges_match_finite_differences(kind, steps, batch):
    """One step and a batch of one, with every output option: the first and last steps of
    backpropagation through time are special cases of its loop."""
    rng = np.random.default_rng(steps)
    x = rng.standard_normal((batch, steps, 2))
    for rs in (False, True):
        for gb in (False, True):
            layer = build_layer({"type": kind, "units": 3, "return_sequences": rs, "go_backwards": gb},
                                input_shape=(steps, 2), dtype="float64", seed=1)
            for p in layer.params.values():
                p[...] = rng.uniform(-0.5, 0.5, p.shape)
            errors = check_layer(layer, x)
            assert errors and max(errors.values()) < TOLERANCE, (rs, gb, errors)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_recurrent_float32_agrees_with_float64(kind):
    """The float32 path (the default) computes what the float64 one does, to float32 precision."""
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 6, 5))
    out = {}
    for dtype in ("float32", "float64"):
        layer = build_layer({"type": kind, "units": 5, "return_sequences": True}, input_shape=(6, 3), dtype=dtype)
        for name, p in layer.params.items():
            p[...] = np.random.default_rng(len(name)).uniform(-0.5, 0.5, p.shape)
        layer.need_input_grad = True
        y = np.array(layer.forward(x.astype(dtype), training=True), dtype=np.float64)
        dx = np.array(layer.backward(g.astype(dtype)), dtype=np.float64)
        out[dtype] = (y, dx, {k: np.array(v, dtype=np.float64) for k, v in layer.grads.items()})
    (y32, dx32, g32), (y64, dx64, g64) = out["float32"], out["float64"]
    assert np.allclose(y32, y64, rtol=1e-4, atol=1e-5)
    assert np.allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for k in g64:
        assert np.allclose(g32[k], g64[k], rtol=1e-4, atol=1e-4), k

TRANSFORMER = [
    {"type": "embedding", "input_dim": 11, "output_dim": 8, "mask_zero": True},
    {"type": "positional_embedding", "name": "tokens"},
    {"type": "multi_head_attention", "num_heads": 2, "key_dim": 4, "causal": True},
    {"type": "add", "inputs": ["tokens", "multi_head_attention"], "name": "res"},
    {"type": "layernorm"},
    {"type": "conv1d", "filters": 6, "kernel_size": 3, "padding": "same", "activation": "tanh"},
    {"type": "bidirectional", "layer": {"type": "gru", "units": 3, "return_sequences": True}},
    {"type": "global_avgpool1d"},
    {"type": "dense", "units": 3, "activation": "softmax"},
]


def test_a_small_transformer_block_trains_through_a_graph():
    """embedding -> positions -> attention + residual -> layernorm -> conv1d -> bidirectional
    gru -> pooling -> softmax: the whole model's gradients against finite differences."""
    specs = [dict(s) for s in TRANSFORMER]
    specs[2]["name"] = "multi_head_attention"
    model = build_model(specs, (6,), dtype="float64", seed=0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 11, (4, 6)).astype(np.float64)
    y = rng.integers(0, 3, 4)
    errors = check_model(model, build_loss("sparse_categorical_crossentropy"), x, y, max_entries=15)
    assert max(errors.values()) < TOLERANCE, errors
    assert model.predict(x).shape == (4, 3)


@pytest.mark.parametrize("specs, shape, message", [
    ([{"type": "lstm", "units": 4}], (5,), r"model\.layers\.0.*lstm expects \(steps, features\) input, got \[5\]"),
    ([{"type": "gru", "units": 4}, {"type": "conv1d", "filters": 2}], (5, 3),
     r"model\.layers\.1.*conv1d expects \(steps, features\).*return_sequences: false"),
    ([{"type": "embedding", "input_dim": 4, "output_dim": 2}], (5, 2), r"embedding expects \(steps,\) integer ids"),
    ([{"type": "gru", "units": 4, "reset_after": False}], (5, 3), "reset_after must be true"),
    ([{"type": "bidirectional", "layer": {"type": "dense", "units": 2}}], (5, 3), "simple_rnn, lstm or gru"),
    ([{"type": "conv1d", "filters": 2, "padding": "full"}], (5, 3), "valid, same, causal"),
    ([{"type": "conv1d", "filters": 2, "kernel_size": 4}], (3, 3), "does not fit in 3 steps"),
    ([{"type": "positional_embedding", "sequence_length": 2}], (5, 3), "shorter than the input's 5 steps"),
])
def test_sequence_config_errors_name_the_layer(specs, shape, message):
    with pytest.raises(ConfigError, match=message):
        build_model(specs, shape)


@pytest.mark.parametrize("spec, shape", [
    ({"type": "embedding", "input_dim": 9, "output_dim": 2, "mask_zero": True}, (4,)),
    ({"type": "conv1d", "filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "causal"}, (7, 2)),
    ({"type": "avgpool1d", "pool_size": 3}, (7, 2)),
    ({"type": "lstm", "units": 3, "return_sequences": True, "unit_forget_bias": False}, (4, 2)),
    ({"type": "bidirectional", "layer": {"type": "gru", "units": 2}, "merge_mode": "ave"}, (4, 3)),
    ({"type": "multi_head_attention", "num_heads": 2, "key_dim": 3, "causal": True}, (4, 5)),
])
def test_get_config_rebuilds_sequence_layers(spec, shape):
    layer = build_layer(spec, shape)
    again = type(layer)(**layer.get_config())
    assert again.get_config() == layer.get_config()
    assert again.build(shape) == layer.output_shape


ID_CONFIG = """\
data: {train: ids.npz, test_split: 0.25}
model:
  input_shape: [6]
  layers:
    - {type: embedding, input_dim: 10, output_dim: 4, mask_zero: true}
    - {type: gru, units: 3}
    - {type: dense, units: 2, activation: softmax}
loss: sparse_categorical_crossentropy
train: {epochs: 1, batch_size: 8}
"""


@pytest.mark.parametrize("x, message", [
    (np.full((16, 6), 0.5), r"model\.layers\.0: the (training|test) data: embedding takes integer ids, got 0\.5"),
    (np.full((16, 6), 12), r"model\.layers\.0: the (training|test) data: embedding: id 12 is outside 0 \.\. 9"),
])
def test_data_that_is_not_ids_of_the_embedding_is_a_config_error(cli, write, tmp_path, x, message):
    np.savez(tmp_path / "ids.npz", x=x, y=np.arange(16) % 2)
    result = cli("fit", write("ids.yaml", ID_CONFIG), "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    assert re.search(message, result.stderr), result.stderr


def test_a_text_model_on_ids_trains_and_exports(cli, write, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, (32, 6))
    np.savez(tmp_path / "ids.npz", x=x, y=(x == 3).any(axis=1).astype(int))
    fit = cli("fit", write("ids.yaml", ID_CONFIG), "--run-dir", tmp_path / "run", "--quiet")
    assert fit.exit_code == 0, fit.stderr
    assert cli("export", tmp_path / "run", "--out", tmp_path / "m.onnx").exit_code == 0
    import onnxruntime as ort

    import nntrain

    xf = x.astype(np.float32)
    got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": xf})[0]
    assert np.abs(got - nntrain.load_model(tmp_path / "run").predict(xf)).max() < 1e-5
