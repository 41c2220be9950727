"""Schedules, callbacks (early stopping, best checkpoint), the gradcheck command, eval's
confusion matrix and the config keys behind them, driven as a user would."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from nntrain.nn.optimizers import build_schedule

from conftest import CONFIGS


def lrs(spec, epochs=6, base=0.1):
    s = build_schedule(spec)
    s.start(base, epochs)
    return [s.lr(e) for e in range(epochs)]


def test_schedules_by_hand():
    assert lrs("constant", 3) == [0.1, 0.1, 0.1]
    assert lrs({"type": "step", "step_size": 2, "gamma": 0.5}) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert lrs({"type": "exponential", "gamma": 0.5}, 3) == pytest.approx([0.1, 0.05, 0.025])
    # cosine over 4 epochs: 0.1 * (1 + cos(pi * e / 4)) / 2
    assert lrs("cosine", 4) == pytest.approx([0.1, 0.1 * (1 + math.sqrt(0.5)) / 2, 0.05, 0.1 * (1 - math.sqrt(0.5)) / 2])
    # warmup 2 then cosine over the 4 epochs left, down to min_lr 0.02
    got = lrs({"type": "cosine", "warmup": 2, "min_lr": 0.02})
    assert got == pytest.approx([0.1 / 3, 0.2 / 3, 0.1, 0.02 + 0.08 * (1 + math.sqrt(0.5)) / 2, 0.06,
                                 0.02 + 0.08 * (1 - math.sqrt(0.5)) / 2])


def test_reduce_on_plateau_by_hand():
    s = build_schedule({"type": "reduce_on_plateau", "monitor": "val_loss", "factor": 0.5, "patience": 2,
                        "min_delta": 0.0, "cooldown": 1, "min_lr": 0.02})
    s.start(0.1, 10)
    seen = []
    for e, v in enumerate([1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.95, 0.96]):
        seen.append(s.lr(e))
        s.observe(e, {"val_loss": v})
    # best 0.9 at epoch 1; epochs 2, 3 bad -> halve after 3. As in Keras, the cooldown epoch (4)
    # ends the cooldown and then counts as bad, so 4, 5 -> halve after 5; 6, 7 -> after 7 the
    # lr would be 0.0125 but stops at min_lr
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02])
    s.observe(9, {"val_loss": 0.97})
    assert s.lr(10) == pytest.approx(0.02)
    again = build_schedule({"type": "reduce_on_plateau", "factor": 0.5})
    again.start(0.1, 10)
    again.load_state_dict(s.state_dict())
    assert again.lr(11) == s.lr(11) and again.wait == s.wait


CFG = """
seed: 0
data: {name: spirals, validation_split: 0.25}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 16, activation: relu}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
"""

# lr so large the loss only gets worse after the first epoch: early stopping stops 2 epochs later
DIVERGING_EARLY_STOP = """
optimizer: {type: sgd, lr: 40.0}
train:
  epochs: 30
  batch_size: 8
  early_stopping: {monitor: val_loss, patience: 2, restore_best: true}
"""


def test_schedule_sets_the_lr_column_and_callbacks_write_best(cli, write, tmp_path):
    path = write("c.yaml", CFG + """
optimizer: {type: sgd, lr: 0.5, schedule: {type: step, step_size: 1, gamma: 0.5}}
train:
  epochs: 4
  batch_size: 32
  checkpoint: {monitor: val_accuracy}
""")
    r = cli("fit", path, "--run-dir", tmp_path / "run", "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    import csv
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [float(row["lr"]) for row in rows] == pytest.approx([0.5, 0.25, 0.125, 0.0625])
    best = out["checkpoint"]
    accs = [float(row["val_accuracy"]) for row in rows]
    assert best["best_epoch"] == 1 + int(np.argmax(accs)) and best["best"] == pytest.approx(max(accs))
    from nntrain.runs import read_npz
    assert set(read_npz(tmp_path / "run" / "best.npz")) == set(read_npz(tmp_path / "run" / "model.npz"))


def test_early_stopping_stops_and_restores_the_best_weights(cli, write, tmp_path):
    path = write("c.yaml", CFG + DIVERGING_EARLY_STOP)
    r = cli("fit", path, "--run-dir", tmp_path / "run", "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    es = out["early_stopping"]
    assert out["epochs"] < 30 and es["stopped_epoch"] == out["epochs"] == es["best_epoch"] + 2
    assert es["restored_best"] is True
    # model.npz now holds the best epoch's weights: eval reproduces the best val loss's model
    ev = cli("eval", tmp_path / "run", "--json")
    assert ev.exit_code == 0 and json.loads(ev.stdout)["loss"] == pytest.approx(out["test"]["loss"])


def test_early_stopping_restores_the_best_weights_after_a_resume(cli, write, tmp_path):
    path = write("c.yaml", CFG + DIVERGING_EARLY_STOP)
    full = cli("fit", path, "--run-dir", tmp_path / "full", "--json", "--quiet")
    assert full.exit_code == 0, full.stderr
    best = json.loads(full.stdout)["early_stopping"]["best_epoch"]
    # stop the second run right after its best epoch, then resume it to the end
    part = cli("fit", path, "--set", f"train.epochs={best + 1}", "--run-dir", tmp_path / "part", "--quiet")
    assert part.exit_code == 0, part.stderr
    resumed = cli("fit", "--resume", tmp_path / "part", "--set", "train.epochs=30", "--json", "--quiet")
    assert resumed.exit_code == 0, resumed.stderr
    es = json.loads(resumed.stdout)["early_stopping"]
    assert es["best_epoch"] == best and es["restored_best"] is True
    weights = [np.load(tmp_path / run / "model.npz", allow_pickle=False) for run in ("full", "part")]
    for key in weights[0].files:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])


@pytest.mark.parametrize("extra, key, message", [
    ("train: {early_stopping: {monitor: val_acuracy}}", "train.early_stopping.monitor", "did you mean 'val_accuracy'"),
    ("train: {checkpoint: {monitor: val_loss, mode: biggest}}", "train.checkpoint.mode", "must be one of auto, min, max"),
    ("optimizer: {type: adam, clipnorm: -1}", "optimizer.clipnorm", "clipnorm must be > 0"),
    ("optimizer: {type: adam, schedule: {type: cosin}}", "optimizer.schedule", "did you mean 'cosine'"),
    ("optimizer: {type: adam, schedule: {type: step, step_size: 0}}", "optimizer.schedule", "step_size must be an integer >= 1"),
    ("train: {early_stopping: {patience: 0}}", "train.early_stopping.patience", "must be an integer >= 1"),
])
def test_bad_callback_and_schedule_keys(cli, write, extra, key, message):
    r = cli("check", write("c.yaml", CFG + extra))
    assert r.exit_code == 2
    assert message in r.stderr and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert "c.yaml:" in r.stderr  # located at file:line:column


def test_val_monitor_without_a_validation_split_is_a_config_error(cli, write):
    r = cli("check", write("c.yaml", CFG.replace("validation_split: 0.25", "validation_split: 0.0")
                           + "train: {early_stopping: {monitor: val_loss}}"))
    assert r.exit_code == 2 and "no validation set" in r.stderr


def test_resolved_config_round_trips(cli, write, tmp_path):
    from nntrain.config import dump_config, load_config

    cfg = load_config(write("c.yaml", CFG + """
optimizer: {type: rmsprop, clipvalue: 1.0, weight_decay: 0.01, schedule: cosine}
train: {early_stopping: {monitor: val_accuracy}, checkpoint: {}}
"""))
    assert cfg.optimizer["schedule"] == {"type": "cosine", "warmup": 0, "min_lr": 0.0, "epochs": None}
    assert cfg.optimizer["clipvalue"] == 1.0 and cfg.optimizer["rho"] == 0.9
    again = load_config(write("d.yaml", dump_config(cfg)))
    assert dump_config(again) == dump_config(cfg)


def test_eval_prints_a_confusion_matrix(cli, write, tmp_path):
    path = write("c.yaml", CFG + "train: {epochs: 1}\nmetrics: [accuracy, f1, precision, recall]\n")
    path.write_text(path.read_text().replace("metrics: [accuracy]\n", ""))
    assert cli("fit", path, "--run-dir", tmp_path / "run", "--quiet").exit_code == 0
    r = cli("eval", tmp_path / "run", "--json")
    out = json.loads(r.stdout)
    cm = np.array(out["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == out["samples"]
    assert out["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert 0 <= out["f1"] <= 1
    text = cli("eval", tmp_path / "run").stdout
    assert "confusion matrix" in text and "precision" in text


def test_sine_regression_reports_r2(cli, tmp_path):
    r = cli("fit", CONFIGS / "sine_regression.yaml", "--set", "train.epochs=2", "--set", "data.options.n_samples=128",
            "--run-dir", tmp_path / "run", "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert 0.5 < out["test"]["r2"] <= 1.0 and "r2" in out["val"]


@pytest.mark.parametrize("config", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_gradcheck_passes_on_every_config(cli, config):
    # 16 samples, except where model.inputs declares the one-hot widths of CSV column groups:
    # 16 penguins do not hold every island and sex, so their columns would encode narrower
    groups = (yaml.safe_load((CONFIGS / config).read_text()).get("data") or {}).get("inputs")
    limit = [] if groups else ["--set", "data.limit=16"]
    r = cli("gradcheck", CONFIGS / config, "--entries", "10", *limit, "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["errors"] and max(out["errors"].values()) < out["tolerance"]


def test_gradcheck_fails_on_a_wrong_backward(cli, write, monkeypatch):
    from nntrain.nn.layers.conv import Conv2D

    right = Conv2D.backward

    def wrong(self, grad_y):
        gx = right(self, grad_y)
        self.grads["W"] *= 1.001
        return gx

    rng = np.random.default_rng(0)
    np.savez(write("d.npz", "").parent / "d.npz", x=rng.random((8, 6, 6, 1)), y=rng.integers(0, 3, 8))
    path = write("c.yaml", """
data: {train: d.npz}
model:
  input_shape: [6, 6, 1]
  layers:
    - {type: conv2d, filters: 2, kernel_size: 3, activation: relu}
    - {type: maxpool2d}
    - {type: flatten}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
""")
    assert cli("gradcheck", path).exit_code == 0
    monkeypatch.setattr(Conv2D, "backward", wrong)
    r = cli("gradcheck", path)
    assert r.exit_code == 1 and "FAIL" in r.stdout and "0 conv2d" in r.stderr


@pytest.mark.parametrize("first, shape", [({"type": "dense", "units": 4}, (5,)),
                                          ({"type": "conv2d", "filters": 3, "kernel_size": 3}, (6, 6, 2))])
def test_gradcheck_passes_a_bias_before_batchnorm_whose_gradient_is_zero(first, shape, monkeypatch):
    """batchnorm subtracts the batch mean, so the bias before it has dL/db = 0 exactly; the
    analytic gradient is rounding and the numeric one noise, and only the absolute floor of
    the error measure lets them agree. A wrong bias gradient still fails."""
    from nntrain.nn.losses import build_loss
    from nntrain.nn.model import Sequential
    from nntrain.tools.gradcheck import TOLERANCE, check_model, rel_error

    tail = [] if len(shape) == 1 else ["global_avgpool2d"]
    specs = [first, "batchnorm", *tail, {"type": "dense", "units": 3, "activation": "softmax"}]
    model = Sequential.from_specs(specs, shape, "float64", seed=0)
    rng = np.random.default_rng(1)
    model.flat_params += rng.normal(0.0, 0.01, model.flat_params.shape)
    x, y = rng.standard_normal((6, *shape)), rng.integers(0, 3, 6)
    loss = build_loss("sparse_categorical_crossentropy")
    errors = check_model(model, loss, x, y, max_entries=None)
    assert max(errors.values()) < TOLERANCE, errors
    assert np.linalg.norm(model.layers[0].grads["b"]) < 1e-12  # really zero by construction
    # the old purely relative measure called this 1.0
    assert rel_error(np.array([1e-17]), np.array([3e-11]), floor=0.0) == pytest.approx(1.0)

    layer_type = type(model.layers[0])
    right = layer_type.backward

    def wrong(self, grad_y):
        gx = right(self, grad_y)
        self.grads["b"] += 1e-6  # a small but real error in a zero gradient
        return gx

    monkeypatch.setattr(layer_type, "backward", wrong)
    errors = check_model(model, loss, x, y, max_entries=None)
    assert errors[f"0 {first['type']}"] > TOLERANCE


def test_gradcheck_command_passes_dense_bias_batchnorm(cli, write):
    rng = np.random.default_rng(0)
    np.savez(write("d.npz", "").parent / "d.npz", x=rng.random((8, 5)), y=rng.integers(0, 3, 8))
    path = write("c.yaml", """
data: {train: d.npz}
model:
  input_shape: [5]
  layers:
    - {type: dense, units: 4}
    - {type: batchnorm}
    - {type: relu}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
""")
    r = cli("gradcheck", path, "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"]


def test_list_shows_every_new_entry(cli):
    out = cli("list").stdout
    for name in ("conv2d", "maxpool2d", "avgpool2d", "global_avgpool2d", "batchnorm", "layernorm", "gelu", "elu",
                 "selu", "softplus", "swish", "silu", "rmsprop", "adamw", "adagrad", "nadam", "cosine",
                 "reduce_on_plateau", "exponential", "top_k_accuracy", "precision", "recall", "f1", "r2",
                 "clipnorm", "warmup"):
        assert name in out, name


def test_batchnorm_moving_statistics_are_saved_and_used_by_eval(cli, write, tmp_path):
    path = write("c.yaml", CFG.replace("- {type: dense, units: 16, activation: relu}",
                                       "- {type: dense, units: 16}\n    - {type: batchnorm, momentum: 0.5}\n"
                                       "    - {type: relu}") + "train: {epochs: 2}\n")
    r = cli("fit", path, "--run-dir", tmp_path / "run", "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    from nntrain.api import load_model

    bn = load_model(tmp_path / "run").layers[1]
    assert bn.registry_name == "batchnorm"
    assert not np.allclose(bn.buffers["moving_mean"], 0) and not np.allclose(bn.buffers["moving_var"], 1)
    ev = json.loads(cli("eval", tmp_path / "run", "--json").stdout)
    assert ev["loss"] == pytest.approx(json.loads(r.stdout)["test"]["loss"], rel=1e-6)
