"""Graph models (issue 15): merge layers, the wiring checks of a config, a two-branch model's
gradients against numpy by hand, and fit / resume / gradcheck / time / eval / predict / sweep
on a residual model."""
from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from nntrain import api, build_layer, runs
from nntrain.config import load_config
from nntrain.errors import ConfigError, Interrupted
from nntrain.nn.graph import Graph, build_model
from nntrain.nn.losses import build_loss
from nntrain.nn.model import Sequential
from nntrain.train.trainer import Trainer

RESIDUAL = """\
seed: 3
data: {name: spirals, options: {n_samples: 240}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 12, activation: relu, name: stem}
    - {type: dense, units: 12, activation: tanh}
    - {type: dropout, rate: 0.2}
    - {type: dense, units: 12, use_bias: false, name: branch}   # a bias before a batchnorm does nothing
    - {type: add, inputs: [stem, branch]}
    - {type: batchnorm}
    - {type: concatenate, inputs: [stem, 5]}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, lr: 0.01}
metrics: [accuracy]
train: {epochs: 3, batch_size: 16}
"""


@pytest.fixture
def residual(write):
    # the concatenate reads the batchnorm by name
    return write("residual.yaml", RESIDUAL.replace("{type: batchnorm}", "{type: batchnorm, name: normed}")
                 .replace("[stem, 5]", "[stem, normed]"))


# -- merge layers by hand ---------------------------------------------------------------------
def test_add_and_average_hand_computed():
    a, b = np.array([[1.0, 2.0]]), np.array([[10.0, -4.0]])
    add = build_layer("add", [(2,), (2,)], "float64")
    assert np.array_equal(add.forward([a, b]), [[11.0, -2.0]])
    g = np.array([[0.5, -1.0]])
    assert all(np.array_equal(gi, g) for gi in add.backward(g))
    avg = build_layer("average", [(2,), (2,), (2,)], "float64")
    assert np.array_equal(avg.forward([a, b, b]), [[7.0, -2.0]])
    assert all(np.allclose(gi, [[0.5 / 3, -1.0 / 3]]) for gi in avg.backward(g))


def test_multiply_hand_computed_with_a_zero_input():
    a, b, c = np.array([[2.0, 3.0]]), np.array([[0.0, -1.0]]), np.array([[4.0, 5.0]])
    mul = build_layer("multiply", [(2,)] * 3, "float64")
    assert np.array_equal(mul.forward([a, b, c]), [[0.0, -15.0]])
    ga, gb, gc = mul.backward(np.array([[1.0, 2.0]]))
    assert np.array_equal(ga, [[0.0, -10.0]])  # g * b * c
    assert np.array_equal(gb, [[8.0, 30.0]])  # g * a * c: a zero in b does not matter
    assert np.array_equal(gc, [[0.0, -6.0]])  # g * a * b


def test_concatenate_hand_computed_on_both_axes():
    a = np.arange(4.0).reshape(1, 2, 2)
    b = np.arange(10.0, 12.0).reshape(1, 2, 1)
    cat = build_layer({"type": "concatenate"}, [(2, 2), (2, 1)], "float64")
    assert cat.output_shape == (2, 3)
    assert np.array_equal(cat.forward([a, b]), [[[0.0, 1.0, 10.0], [2.0, 3.0, 11.0]]])
    g = np.arange(6.0).reshape(1, 2, 3)
    ga, gb = cat.backward(g)
    assert np.array_equal(ga, [[[0.0, 1.0], [3.0, 4.0]]]) and np.array_equal(gb, [[[2.0], [5.0]]])
    rows = build_layer({"type": "concatenate", "axis": 0}, [(2, 2), (1, 2)], "float64")
    assert rows.output_shape == (3, 2)
    assert np.array_equal(rows.forward([a, np.array([[[7.0, 8.0]]])]), [[[0.0, 1.0], [2.0, 3.0], [7.0, 8.0]]])


@pytest.mark.parametrize("spec, shapes, message", [
    ("add", [(3,), (4,)], "one shape"),
    ("add", [(3,)], "two or more inputs"),
    ({"type": "concatenate", "axis": 0}, [(2, 3), (2, 4)], "other axes to agree"),
    ({"type": "concatenate", "axis": 2}, [(2, 3), (2, 3)], "out of range"),
])
def test_merge_shapes_that_do_not_fit(spec, shapes, message):
    with pytest.raises(ValueError, match=message):
        build_layer(spec, shapes)


# -- a two-branch model against numpy written by hand ------------------------------------------
def test_two_branch_gradients_match_numpy_by_hand():
    """x -> a = tanh(x W1 + b1), b = x W2 + b2 (both from the input: a fan-out of x),
    m = a * b, c = [m, a] (a feeds two layers: a fan-out whose gradients add up),
    out = c W3 + b3, loss = mse."""
    specs = [
        {"type": "dense", "units": 4, "activation": "tanh", "name": "a"},
        {"type": "dense", "units": 4, "inputs": ["input"], "name": "b"},
        {"type": "multiply", "inputs": ["a", "b"], "name": "m"},
        {"type": "concatenate", "inputs": ["m", "a"]},
        {"type": "dense", "units": 2},
    ]
    model = build_model(specs, (3,), dtype="float64", seed=5)
    assert isinstance(model, Graph)
    rng = np.random.default_rng(0)
    model.flat_params[...] = rng.standard_normal(model.flat_params.shape)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    loss = build_loss("mse")
    pred = model.forward(x, training=True)
    model.backward(loss.grad(pred, y))

    p = model.state_dict()
    W1, b1, W2, b2, W3, b3 = (p[k] for k in ("0.W", "0.b", "2.W", "2.b", "5.W", "5.b"))
    a = np.tanh(x @ W1 + b1)
    b = x @ W2 + b2
    m = a * b
    c = np.concatenate([m, a], axis=1)
    out = c @ W3 + b3
    assert np.allclose(pred, out, rtol=0, atol=1e-12)
    g = 2 * (out - y) / out.size  # d mean((out - y)^2) / d out
    gc = g @ W3.T
    gm, ga_direct = gc[:, :4], gc[:, 4:]
    ga = ga_direct + gm * b  # the fan-out of a: its two gradients summed
    gb = gm * a
    gz1 = ga * (1 - a ** 2)
    expected = {"0.W": x.T @ gz1, "0.b": gz1.sum(0), "2.W": x.T @ gb, "2.b": gb.sum(0),
                "5.W": c.T @ g, "5.b": g.sum(0)}
    grads = {name: grad for name, _, grad in model.named_params()}
    for k, v in expected.items():
        assert np.allclose(grads[k], v, rtol=1e-10, atol=1e-12), k


def test_a_graph_that_is_a_stack_trains_bit_identically_to_the_sequential(write, tmp_path):
    """Names alone make a Graph: its forward/backward order, init draws and dropout draws are
    then those of the Sequential it describes."""
    plain = RESIDUAL.split("model:")[0] + """model:
  input_shape: [2]
  layers:
    - {type: dense, units: 12, activation: relu}
    - {type: dropout, rate: 0.2}
    - {type: batchnorm}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, lr: 0.01}
train: {epochs: 2, batch_size: 16}
"""
    named = plain.replace("relu}", "relu, name: h}").replace("{type: dropout, rate: 0.2}",
                                                           "{type: dropout, rate: 0.2, inputs: [h]}")
    a, b = load_config(write("plain.yaml", plain)), load_config(write("named.yaml", named))
    assert isinstance(api.setup(a).model, Sequential) and isinstance(api.setup(b).model, Graph)
    api.fit(a, run_dir=tmp_path / "a")
    api.fit(b, run_dir=tmp_path / "b")
    wa, wb = runs.read_npz(tmp_path / "a" / runs.WEIGHTS), runs.read_npz(tmp_path / "b" / runs.WEIGHTS)
    assert sorted(wa) == sorted(wb) and all(np.array_equal(wa[k], wb[k]) for k in wa)


# -- wiring errors at config time -----------------------------------------------------------
GRAPH_HEAD = """\
data: {name: spirals}
model:
  input_shape: [2]
  layers:
"""
GRAPH_TAIL = "loss: sparse_categorical_crossentropy\n"


@pytest.mark.parametrize("layers, key, line, message", [
    # a cycle: c reads d, d reads c
    ("    - {type: dense, units: 4, name: a}\n"
     "    - {type: dense, units: 4, inputs: [d], name: c}\n"
     "    - {type: dense, units: 4, inputs: [c], name: d}\n"
     "    - {type: add, inputs: [a, d]}\n",
     "model.layers.1.inputs", 6, "cycle: c -> d -> c"),
    # an unknown name, with did-you-mean
    ("    - {type: dense, units: 4, name: stem}\n"
     "    - {type: dense, units: 4}\n"
     "    - {type: add, inputs: [stem, stm]}\n",
     "model.layers.2.inputs.1", 7, "no layer or input is named 'stm' (did you mean 'stem'?)"),
    # two layers with one name
    ("    - {type: dense, units: 4, name: h}\n"
     "    - {type: dense, units: 4, name: h}\n",
     "model.layers.1.name", 6, "two layers are named 'h'"),
    # a merge with one input, given or implicit
    ("    - {type: dense, units: 4, name: h}\n"
     "    - {type: add, inputs: [h]}\n",
     "model.layers.1.inputs", 6, "add merges two or more inputs, got 1"),
    ("    - {type: dense, units: 4}\n"
     "    - {type: concatenate}\n",
     "model.layers.1", 6, "concatenate merges two or more inputs, got 1"),
    # a merge of incompatible shapes, naming both inputs
    ("    - {type: dense, units: 4, name: a}\n"
     "    - {type: dense, units: 3, inputs: [input], name: b}\n"
     "    - {type: add, inputs: [a, b]}\n",
     "model.layers.2", 7, "add of a [4], b [3]: add needs inputs of one shape"),
    # a layer whose output goes nowhere
    ("    - {type: dense, units: 4, name: a}\n"
     "    - {type: dense, units: 4, name: lost}\n"
     "    - {type: dense, units: 4, inputs: [a], name: b}\n"
     "    - {type: add, inputs: [a, b]}\n",
     "model.layers.1", 6, "the output of 'lost' (model.layers.1) goes nowhere"),
    # two inputs into a layer that takes one
    ("    - {type: dense, units: 4, name: a}\n"
     "    - {type: dense, units: 4, inputs: [a, input]}\n",
     "model.layers.1.inputs", 6, "dense takes one input, got 2"),
])
def test_bad_wiring_is_one_error_line_at_the_key(cli, write, layers, key, line, message):
    path = write("g.yaml", GRAPH_HEAD + layers + GRAPH_TAIL)
    r = cli("check", path)
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {path}:{line}:"), r.stderr
    assert f": {key}: " in r.stderr and message in r.stderr, r.stderr


def test_wiring_is_checked_without_an_input_shape(write):
    """The structure needs no shapes: checked even when the input shape comes from the data."""
    path = write("g.yaml", GRAPH_HEAD.replace("  input_shape: [2]\n", "")
                 + "    - {type: dense, units: 4, name: a}\n    - {type: add, inputs: [a, b]}\n" + GRAPH_TAIL)
    with pytest.raises(ConfigError, match=r"model\.layers\.1\.inputs\.1: no layer or input is named 'b'"):
        load_config(path)


def test_set_overrides_reach_graph_layers(residual, cli):
    r = cli("check", residual, "--set", "model.layers.3.units=7")
    assert r.exit_code == 2 and "add of stem [12], branch [7]" in r.stderr, r.stderr
    r = cli("check", residual, "--set", "model.layers.4.inputs=[stem, stem]", "--set", "model.layers.3.units=12")
    assert r.exit_code == 2 and "the output of 'branch' (model.layers.3) goes nowhere" in r.stderr, r.stderr


def test_check_shows_each_layers_inputs(residual, cli):
    r = cli("check", residual)
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.count("│") > 4}
    assert "stem, branch" in rows["6"] and "[batch, 12]" in rows["6"]  # the add
    assert "stem, normed" in rows["8"] and "[batch, 24]" in rows["8"]  # the concatenate
    assert rows["normed"].split("│")[3].strip() == "6"  # the batchnorm reads the add


# -- everything else on a graph ---------------------------------------------------------------
class StopAt(Trainer):
    n = 0

    def train_step(self, xb, yb, wb=None):
        StopAt.n -= 1
        if StopAt.n == 0:
            self.stop_signal = signal.SIGINT
        return super().train_step(xb, yb, wb)


def test_a_graph_resumes_mid_epoch_bit_identically(residual, tmp_path, monkeypatch):
    api.fit(load_config(residual), run_dir=tmp_path / "full")
    monkeypatch.setattr(api, "Trainer", StopAt)
    StopAt.n = 17  # inside epoch 2 (12 steps per epoch)
    with pytest.raises(Interrupted):
        api.fit(load_config(residual), run_dir=tmp_path / "part")
    monkeypatch.setattr(api, "Trainer", Trainer)
    api.resume(tmp_path / "part")
    a, b = runs.read_npz(tmp_path / "full" / runs.WEIGHTS), runs.read_npz(tmp_path / "part" / runs.WEIGHTS)
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert "7.moving_mean" in a  # the batchnorm's buffers are saved and restored too


def test_gradcheck_time_eval_and_predict_on_a_graph(residual, cli, tmp_path):
    r = cli("gradcheck", residual, "--json")
    assert r.exit_code == 0, r.output
    errors = json.loads(r.stdout)["errors"]
    assert set(errors) == {"0 dense", "2 dense", "5 dense", "7 batchnorm", "9 dense"} and max(errors.values()) < 1e-6
    r = cli("time", residual, "--json", "--steps", "2")
    assert r.exit_code == 0, r.output
    timing = json.loads(r.stdout)
    assert [row["layer"] for row in timing["layers"]][:5] == ["0", "stem", "2", "3", "4"]
    assert all(row["forward_ms"] > 0 for row in timing["layers"])
    r = cli("fit", residual, "--run-dir", tmp_path / "run", "--json")
    assert r.exit_code == 0, r.output
    test = json.loads(r.stdout)["test"]
    r = cli("eval", tmp_path / "run", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["loss"] == pytest.approx(test["loss"], rel=1e-6)
    from nntrain.data import load_splits

    cfg = load_config(residual)
    x = load_splits(cfg.data, input_shape=(2,), seed=cfg.seed).test.x
    np.savez(tmp_path / "x.npz", x=x, y=np.zeros(len(x), dtype=np.int64))
    r = cli("predict", tmp_path / "run", tmp_path / "x.npz", "--proba", "--out", tmp_path / "p.npz")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "p.npz") as f:
        proba = f["proba"]
    assert proba.shape == (len(x), 3) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    assert np.array_equal(proba, api.load_model(tmp_path / "run").predict(x))


def test_a_sweep_over_a_graph(residual, cli, tmp_path):
    r = cli("sweep", residual, "--grid", "model.layers.0.units=8,12", "--set", "train.epochs=1",
            "--set", "model.layers.3.units=ref", "--out", tmp_path / "sw")
    assert r.exit_code == 2  # a bad value is still found in a graph
    r = cli("sweep", residual, "--zip", "model.layers.0.units=8,12", "--zip", "model.layers.3.units=8,12",
            "--set", "train.epochs=1", "--out", tmp_path / "sw", "--json")
    assert r.exit_code == 0, r.output


# -- export ---------------------------------------------------------------------------------
def onnx_outputs(data: bytes, feed: dict) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feed.items()})[0]


def test_a_residual_cnn_exports_to_onnx():
    """Merges of channels-first tensors stay channels-first (add, concatenate on channels); a
    merge of a channels-first conv output with the channels-last input transposes it back."""
    from nntrain.tools.export.onnx_graph import to_onnx_bytes

    specs = [
        {"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": "same", "name": "c0"},
        {"type": "add", "inputs": ["c0", "input"], "name": "skip"},  # NCHW + NHWC
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "c1"},
        {"type": "batchnorm"},
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "name": "c2"},
        {"type": "add", "inputs": ["c1", "c2"], "name": "res"},  # NCHW + NCHW
        {"type": "concatenate", "inputs": ["res", "c1"]},  # on channels, in NCHW
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 3, "activation": "softmax"},
    ]
    model = build_model(specs, (6, 6, 2), seed=4)
    rng = np.random.default_rng(0)
    model.flat_params[...] = rng.standard_normal(model.flat_params.size) * 0.3
    for layer in model.layers:
        for buf in layer.buffers.values():
            buf[...] = rng.uniform(0.5, 1.5, buf.shape)
    x = rng.standard_normal((5, 6, 6, 2)).astype(np.float32)
    data = to_onnx_bytes(model)
    assert np.abs(onnx_outputs(data, {"input": x}) - model.predict(x)).max() < 1e-5


def test_two_inputs_export_to_onnx_under_their_names():
    from nntrain.tools.export.onnx_graph import to_onnx_bytes

    specs = [{"type": "dense", "units": 5, "activation": "tanh", "inputs": ["num"], "name": "a"},
             {"type": "reshape", "target_shape": [6], "inputs": ["img"], "name": "flat"},
             {"type": "concatenate", "inputs": ["a", "flat"]},
             {"type": "dense", "units": 2}]
    model = build_model(specs, {"num": [3], "img": [2, 3]}, seed=1)
    rng = np.random.default_rng(1)
    x = {"num": rng.standard_normal((4, 3)), "img": rng.standard_normal((4, 2, 3))}
    assert np.abs(onnx_outputs(to_onnx_bytes(model), x) - model.predict(x)).max() < 1e-5


def test_export_of_a_trained_graph_agrees_with_predict_proba(residual, cli, tmp_path):
    assert cli("fit", residual, "--run-dir", tmp_path / "run", "--quiet").exit_code == 0
    r = cli("export", tmp_path / "run", "--out", tmp_path / "m.onnx")
    assert r.exit_code == 0, r.output
    x = np.random.default_rng(2).uniform(-1, 1, (50, 2)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    r = cli("predict", tmp_path / "run", tmp_path / "x.npz", "--proba", "--out", tmp_path / "p.npz")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "p.npz") as f:
        proba = f["proba"]
    got = onnx_outputs((tmp_path / "m.onnx").read_bytes(), {"input": x})
    assert np.abs(got - proba).max() < 1e-4
    r = cli("export", tmp_path / "run", "--format", "npz", "--out", tmp_path / "w.npz")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "w.npz") as f:
        arch = json.loads(str(f["architecture"]))
    add = arch["layers"][6]
    assert add["type"] == "add" and add["inputs"] == ["stem", "branch"] and add["input_shape"] == [[12], [12]]


def test_the_mnist_resnet_config_trains(cli, tmp_path):
    """configs/mnist_resnet.yaml learns: two short epochs on 800 images reach well above chance."""
    from conftest import CONFIGS

    r = cli("fit", CONFIGS / "mnist_resnet.yaml", "--set", "data.limit=800", "--set", "train.epochs=2",
            "--set", "train.batch_size=32", "--run-dir", tmp_path / "run", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["train"]["loss"] < 1.0 and out["test"]["accuracy"] > 0.75, out
    assert isinstance(api.load_model(tmp_path / "run"), Graph)


# -- several inputs -----------------------------------------------------------------------------
TWO_INPUTS = """\
seed: 2
data: {train: two.npz, test_split: 0.25, standardize: true}
model:
  inputs: {num: [4], img: [3, 3, 1]}
  layers:
    - {type: dense, units: 8, activation: relu, inputs: [num], name: a}
    - {type: flatten, inputs: [img]}
    - {type: dense, units: 8, activation: tanh, name: b}
    - {type: concatenate, inputs: [a, b]}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {type: adam, lr: 0.01}
train: {epochs: 4, batch_size: 32}
"""


@pytest.fixture
def two_inputs(tmp_path, write):
    rng = np.random.default_rng(0)
    num = rng.standard_normal((240, 4)) * 3 + 1
    img = rng.standard_normal((240, 3, 3, 1))
    y = (num[:, 0] + 3 * img[:, 1, 1, 0] > 1).astype(np.int64) + (num[:, 1] > 3).astype(np.int64)
    np.savez(tmp_path / "two.npz", x_num=num, x_img=img, y=y)
    return write("two.yaml", TWO_INPUTS)


def test_two_inputs_train_and_export_agrees_with_predict(two_inputs, cli, tmp_path):
    r = cli("fit", two_inputs, "--run-dir", tmp_path / "run", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["test"]["accuracy"] > 0.6
    r = cli("gradcheck", two_inputs, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"], r.output
    r = cli("predict", tmp_path / "run", tmp_path / "two.npz", "--proba", "--out", tmp_path / "p.npz")
    assert r.exit_code == 0, r.output
    r = cli("export", tmp_path / "run", "--out", tmp_path / "m.onnx")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "two.npz") as f, np.load(tmp_path / "p.npz") as p:
        # one ONNX input per model input, standardized inside the graph as fit standardized them
        got = onnx_outputs((tmp_path / "m.onnx").read_bytes(), {"num": f["x_num"], "img": f["x_img"]})
        assert np.abs(got - p["proba"]).max() < 1e-4
    model = api.load_model(tmp_path / "run")
    assert model.inputs == {"num": (4,), "img": (3, 3, 1)} and model.input_shape == (13,)
    assert cli("eval", tmp_path / "run").exit_code == 0


@pytest.mark.parametrize("changes, key, message", [
    ([("img: [3, 3, 1]", "image: [3, 3, 1]"), ("[img]", "[image]")], "model.inputs.image",
     "has no array x_image for this input (arrays: x_num, x_img, y) (did you mean 'img'?)"),
    ([("inputs: [img]", "inputs: [num]")], "model.inputs.img", "model input 'img' is not used by any layer"),
    ([("{num: [4], img: [3, 3, 1]}", "{num: [4]}"), ("inputs: [img]", "inputs: [num]")], "model.inputs",
     "also holds x_img, an input the model does not declare"),
    ([("img: [3, 3, 1]", "img: [9]")], "model.inputs.img", "holds x_img of shape [3, 3, 1] per sample, not [9]"),
    ([("train: two.npz", "name: spirals")], "model.inputs", "an array x_<name> per input: give data.train: FILE.npz"),
])
def test_several_inputs_bad_config(two_inputs, cli, changes, key, message):
    text = two_inputs.read_text()
    for change in changes:
        text = text.replace(*change)
    two_inputs.write_text(text)
    r = cli("check", two_inputs)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
    assert f": {key}: " in r.stderr and message in r.stderr, r.stderr
