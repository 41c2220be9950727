"""`nntrain export`: ONNX graphs run in onnxruntime and agree with nntrain; npz is readable."""
from __future__ import annotations

import json
import sys

import numpy as np
import onnxruntime as ort
import pytest

import nntrain
from nntrain.api import load_run
from nntrain.data import load_splits
from nntrain.nn.graph import build_model
from nntrain.nn.layers import Activation
from nntrain.nn.model import Sequential

from conftest import CONFIGS
from test_layers import EXAMPLES, example_input

TOL = 1e-5


def onnx_run(path_or_bytes, x):
    """The graph's output for x, or for {input name: array} of a model with several inputs."""
    data = path_or_bytes.read_bytes() if hasattr(path_or_bytes, "read_bytes") else path_or_bytes
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = x if isinstance(x, dict) else {"input": x}
    return sess.run(None, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feed.items()})[0]


def to_onnx(model, mean=None, std=None):
    from nntrain.tools.export.onnx_graph import to_onnx_bytes

    return to_onnx_bytes(model, mean, std)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_registered_layer_exports_and_matches(name):
    """A new layer type fails here until it has an ONNX converter (or is documented as not exportable)."""
    spec, shape = EXAMPLES[name]
    if isinstance(shape, list):  # a merge layer: a graph of one merge of its model inputs
        shape = {f"x{k}": s for k, s in enumerate(shape)}
        model = build_model([{**spec, "inputs": list(shape)}], shape, seed=3)
    else:
        model = Sequential.from_specs([spec], shape, dtype="float32", seed=3)
    # every parameter and buffer (e.g. moving statistics) non-trivial, not the initial zeros/ones
    rng = np.random.default_rng(0)
    model.flat_params[...] = rng.standard_normal(model.flat_params.size) * 0.5
    for layer in model.layers:
        for buf in layer.buffers.values():
            buf[...] = rng.uniform(0.5, 1.5, buf.shape)  # positive, so variances stay valid
    rng = np.random.default_rng(1)
    if isinstance(shape, dict):
        x = {k: rng.standard_normal((7,) + s).astype(np.float32) for k, s in shape.items()}
    else:
        x = example_input(tuple(shape), 7, rng, np.float32, name=name)
    got = onnx_run(to_onnx(model), x)
    ref = model.predict(x)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < TOL


def test_a_deeper_model_with_reshape_dropout_and_leaky_relu():
    specs = [{"type": "dense", "units": 12, "activation": "tanh"}, {"type": "dropout", "rate": 0.5},
             {"type": "reshape", "target_shape": [2, 2, 3]}, {"type": "leaky_relu", "negative_slope": 0.1},
             {"type": "flatten"}, {"type": "dense", "units": 4, "activation": "sigmoid"},
             {"type": "dense", "units": 3, "use_bias": False, "activation": "softmax"}]
    model = Sequential.from_specs(specs, (5,), seed=0)
    x = np.random.default_rng(2).standard_normal((9, 5)).astype(np.float32)
    assert np.abs(onnx_run(to_onnx(model), x) - model.predict(x)).max() < TOL


def test_mnist_run_agrees_with_predict_on_the_test_set(cli, tmp_path):
    fit = cli("fit", CONFIGS / "mnist_mlp.yaml", "--set", "data.limit=1000", "--set", "train.epochs=1",
              "--run-dir", tmp_path / "run", "--quiet")
    assert fit.exit_code == 0, fit.stderr
    result = cli("export", tmp_path / "run", "--format", "onnx", "--out", tmp_path / "mnist.onnx")
    assert result.exit_code == 0, result.stderr
    cfg = load_run(tmp_path / "run").cfg
    x = load_splits(cfg.data, input_shape=(784,), seed=0).test.x
    ref = nntrain.load_model(tmp_path / "run").predict(x)
    got = onnx_run(tmp_path / "mnist.onnx", x)
    assert np.abs(got - ref).max() < TOL
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)  # probabilities: softmax is in the graph


def test_standardization_is_part_of_the_graph(cli, tmp_path, write):
    config = write("spirals.yaml", """
data: {name: spirals, options: {n_samples: 80}, standardize: true}
model: {input_shape: [2], layers: [{type: dense, units: 6, activation: relu}, {type: dense, units: 3, activation: softmax}]}
loss: sparse_categorical_crossentropy
train: {epochs: 1}
""")
    assert cli("fit", config, "--run-dir", tmp_path / "run", "--quiet").exit_code == 0
    assert cli("export", tmp_path / "run", "--out", tmp_path / "m.onnx").exit_code == 0
    run = load_run(tmp_path / "run")
    assert run.mean is not None and not np.allclose(run.std, 1.0)
    raw = np.random.default_rng(0).uniform(-1, 1, (20, 2)).astype(np.float32)
    ref = run.model.predict((raw - run.mean) / run.std)  # what `nntrain predict` computes
    assert np.abs(onnx_run(tmp_path / "m.onnx", raw) - ref).max() < TOL


def test_npz_export_is_readable_without_nntrain(cli, tmp_path, write):
    config = write("mlp.yaml", """
data: {name: spirals, options: {n_samples: 80}}
model: {input_shape: [2], layers: [{type: dense, units: 6, activation: relu}, {type: dense, units: 3, activation: softmax}]}
loss: sparse_categorical_crossentropy
train: {epochs: 2}
""")
    fit = cli("fit", config, "--run-dir", tmp_path / "run", "--quiet")
    assert fit.exit_code == 0, fit.stderr
    result = cli("export", tmp_path / "run", "--format", "npz", "--out", tmp_path / "w.npz")
    assert result.exit_code == 0, result.stderr
    with np.load(tmp_path / "w.npz", allow_pickle=False) as f:
        arch = json.loads(str(f["architecture"]))
        arrays = {k: f[k] for k in f.files}
    assert [layer["type"] for layer in arch["layers"]] == ["dense", "relu", "dense", "softmax"]
    assert arch["input_shape"] == [2] and arch["standardize"] is None
    # the forward pass from the file alone: relu(x W0 + b0) W2 + b2, softmax
    d0, d2 = arch["layers"][0]["params"], arch["layers"][2]["params"]
    x = np.random.default_rng(0).uniform(-1, 1, (5, 2)).astype(np.float32)
    h = np.maximum(x @ arrays[d0["W"]] + arrays[d0["b"]], 0)
    z = h @ arrays[d2["W"]] + arrays[d2["b"]]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.abs(p - nntrain.load_model(tmp_path / "run").predict(x)).max() < TOL


class Mystery(Activation):  # a layer type no converter knows
    registry_name = "mystery"

    def forward(self, x, training=False):
        return x


def test_unknown_layer_and_missing_extra_are_clear_errors(monkeypatch):
    from nntrain.errors import NntrainError
    from nntrain.nn.layers import Dense

    model = Sequential([Dense(3), Mystery()], (4,))
    with pytest.raises(NntrainError, match=r"layer 1 \(mystery\).*supported: "):
        to_onnx(model)
    from nntrain.tools.export.onnx_graph import to_onnx_bytes

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the extra were not installed
    with pytest.raises(NntrainError, match=r"nntrain\[onnx\]"):
        to_onnx_bytes(Sequential([Dense(3)], (4,)))


def test_export_cli_errors(cli, tmp_path):
    bad = cli("export", tmp_path / "nope", "--out", tmp_path / "m.onnx")
    assert bad.exit_code == 2 and "run folder not found" in bad.stderr
    bad = cli("export", tmp_path / "nope", "--out", tmp_path / "m.bin")
    assert bad.exit_code == 2 and "--format onnx or npz" in bad.stderr
    assert not (tmp_path / "m.onnx").exists()
