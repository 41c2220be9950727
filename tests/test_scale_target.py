"""data.scale_target (issue 14, point 3): a regression target standardized with the training
split's statistics; the loss is of the scaled target, metrics, eval, predict and the export are
in the original units."""
from __future__ import annotations

import csv
import json

import numpy as np
import onnxruntime as ort
import pytest

from nntrain import runs
from nntrain.data.builtin import sine
from nntrain.data.preprocessing import Tabular

SCALE = 1000.0
CONFIG = """\
seed: 0
data: {{train: {train}, test: {test}{more}}}
model:
  layers:
    - {{type: dense, units: 32, activation: tanh}}
    - {{type: dense, units: 32, activation: tanh}}
    - {{type: dense, units: 1}}
loss: mse
optimizer: {{type: sgd, lr: 0.05, momentum: 0.9}}
metrics: [mse, mae, r2]
train: {{epochs: 20, batch_size: 16}}
"""


@pytest.fixture
def sines(tmp_path):
    """The sine data as it is (y), times 1000, and standardized by hand (train statistics)."""
    train, test = sine(n_samples=512, noise=0.05, seed=0)
    y, yt = train.y * SCALE, test.y * SCALE  # float32, as a user's file would hold them
    mean, std = y.astype(np.float64).mean(axis=0), y.astype(np.float64).std(axis=0)
    np.savez(tmp_path / "unit.npz", x=train.x, y=train.y)
    np.savez(tmp_path / "unit_test.npz", x=test.x, y=test.y)
    np.savez(tmp_path / "big.npz", x=train.x, y=y)
    np.savez(tmp_path / "big_test.npz", x=test.x, y=yt)
    np.savez(tmp_path / "std.npz", x=train.x, y=((y - mean) / std).astype(np.float32))
    np.savez(tmp_path / "std_test.npz", x=test.x, y=((yt - mean) / std).astype(np.float32))
    return test.x, yt, mean, std


def fit(cli, write, name, train, test, more=""):
    cfg = write(f"{name}.yaml", CONFIG.format(train=train, test=test, more=more))
    r = cli("fit", cfg, "--run-dir", name, "--json", "--quiet")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["test"]


def predict(cli, run, data):
    r = cli("predict", run, data)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "y"
    return np.array([float(v) for v in lines[1:]])


def test_a_target_1000_times_larger_trains_to_the_same_r2_with_scale_target(sines, tmp_path, cli, write):
    x_test, y_test, mean, std = sines
    unit = fit(cli, write, "unit", "unit.npz", "unit_test.npz")
    scaled = fit(cli, write, "scaled", "big.npz", "big_test.npz", ", scale_target: true")
    raw = fit(cli, write, "raw", "big.npz", "big_test.npz")
    assert unit["r2"] > 0.97 and abs(scaled["r2"] - unit["r2"]) < 0.01
    assert raw["r2"] < 0.8  # the same settings on the raw target: what scale_target is for
    # the scaled run is, weight for weight, the run on the target standardized by hand
    by_hand = fit(cli, write, "by_hand", "std.npz", "std_test.npz")
    a, b = runs.read_npz(tmp_path / "scaled" / runs.WEIGHTS), runs.read_npz(tmp_path / "by_hand" / runs.WEIGHTS)
    assert all(np.array_equal(a[k], b[k]) for k in b)
    assert np.allclose(a["target.mean"], mean, rtol=1e-12) and np.allclose(a["target.std"], std, rtol=1e-12)
    # the loss is of the scaled target; the metrics are in the original units
    assert scaled["loss"] == by_hand["loss"]
    assert np.isclose(scaled["mse"], std[0] ** 2 * by_hand["mse"], rtol=1e-5)
    assert np.isclose(scaled["mse"], std[0] ** 2 * scaled["loss"], rtol=1e-5)
    assert np.isclose(scaled["mae"], std[0] * by_hand["mae"], rtol=1e-5)
    assert np.isclose(scaled["r2"], by_hand["r2"], atol=1e-6)
    # predict gives original units: the metrics computed from its output are the reported ones
    p = predict(cli, "scaled", "big_test.npz")
    assert np.allclose(p, predict(cli, "by_hand", "std_test.npz") * std[0] + mean[0], rtol=1e-5, atol=1e-3)
    d = p - y_test[:, 0]
    assert np.isclose(np.mean(d * d), scaled["mse"], rtol=1e-4)
    assert np.isclose(1 - np.sum(d * d) / np.sum((y_test[:, 0] - y_test[:, 0].mean()) ** 2), scaled["r2"], atol=1e-5)
    # eval reports what fit did, on its test split and on a file
    for args in ((), ("--data", "big_test.npz")):
        r = cli("eval", "scaled", *args, "--json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout)
        assert np.isclose(out["loss"], scaled["loss"], rtol=1e-6) and np.isclose(out["mse"], scaled["mse"], rtol=1e-6)


def test_the_export_outputs_original_units_like_predict(sines, tmp_path, cli, write):
    x_test = sines[0]
    fit(cli, write, "scaled", "big.npz", "big_test.npz", ", scale_target: true")
    expected = predict(cli, "scaled", "big_test.npz")
    assert cli("export", "scaled", "--out", "m.onnx").exit_code == 0
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x_test.astype(np.float32)})[0][:, 0]
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-3) and np.abs(expected).max() > 500
    assert cli("export", "scaled", "--out", "m.npz").exit_code == 0
    with np.load(tmp_path / "m.npz") as z:
        arch = json.loads(str(z["architecture"]))
        assert arch["unscale_target"] == {"mean": "target.mean", "std": "target.std"}
        h = np.tanh(np.tanh(x_test @ z["0.W"] + z["0.b"]) @ z["2.W"] + z["2.b"]) @ z["4.W"] + z["4.b"]
        assert np.allclose(h[:, 0] * z["target.std"][0] + z["target.mean"][0], expected, rtol=1e-4, atol=1e-2)


def test_a_typed_csv_regression_target_scales_and_predicts_raw_rows(tmp_path, cli, write):
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(300):
        size, colour = rng.uniform(-2, 2), ["red", "blue"][rng.integers(2)]
        rows.append([f"{size:.4f}", colour, f"{SCALE * (size + (3 if colour == 'red' else 0)) + 5000:.3f}"])
    with open(tmp_path / "t.csv", "w", newline="") as f:
        csv.writer(f).writerows([["size", "colour", "price"], *rows])
    cfg = write("t.yaml", CONFIG.format(train="t.csv", test="null", more=", test_split: 0.2, scale_target: true"))
    r = cli("fit", cfg, "--run-dir", "run", "--json", "--quiet")
    assert r.exit_code == 0, r.output
    test = json.loads(r.stdout)["test"]
    assert test["r2"] > 0.99 and np.isclose(test["mse"], test["loss"] * float(runs.read_npz(
        tmp_path / "run" / runs.WEIGHTS)["target.std"][0]) ** 2, rtol=1e-5)
    saved = json.loads((tmp_path / "run" / "preprocessing.json").read_text())["tabular"]["target"]
    assert saved == {"name": "price", "kind": "numeric", "classes": None}
    with open(tmp_path / "new.csv", "w", newline="") as f:
        csv.writer(f).writerows([["size", "colour"], ["0.5", "red"], ["-1", "blue"]])
    p = predict(cli, "run", "new.csv")
    assert np.allclose(p, [8500.0, 4000.0], atol=150)  # prices, not standardized values


def test_preprocessing_written_before_scale_target_moved_still_loads():
    d = {"target": {"name": "y", "kind": "numeric", "classes": None, "mean": None, "std": None},
         "columns": [], "na_values": [""], "ignored": []}
    assert Tabular.from_json(d, "p.json").target.name == "y"


def test_scale_target_with_a_classification_loss_is_refused(tmp_path, cli, write):
    cfg = write("c.yaml", "data: {name: xor, scale_target: true}\nmodel: {input_shape: [2], layers: "
                          "[{type: dense, units: 2, activation: softmax}]}\nloss: sparse_categorical_crossentropy\n")
    r = cli("fit", cfg, "--run-dir", "out")
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "c.yaml:1:" in lines[0]
    assert "data.scale_target: standardizes a regression target, but sparse_categorical_crossentropy is a " \
           "classification loss" in lines[0]
    assert not (tmp_path / "out").exists()
