"""Best weights everywhere: `--weights best|last` on eval, predict and export (and the Python
API), which epoch was best in the summary and on the console, and the early stop announced
and recorded with its epoch and monitored value."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from nntrain.runs import read_npz

# spirals, a learning rate so large that val_loss soon stops improving: early
# stopping ends the run 2 epochs after the best, and the best and last weights differ
CFG = """
seed: 0
data: {name: spirals, validation_split: 0.25, test_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 16, activation: relu}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {type: sgd, lr: 1.0}
train:
  epochs: 30
  batch_size: 8
  early_stopping: {monitor: val_loss, patience: 2}
  checkpoint: {monitor: val_loss}
"""


@pytest.fixture
def run(cli, write, tmp_path):
    r = cli("fit", write("c.yaml", CFG), "--run-dir", tmp_path / "run", "--progress", "plain")
    assert r.exit_code == 0, r.stdout + r.stderr
    return tmp_path / "run", r


def test_the_early_stop_and_the_best_epoch_are_announced_and_recorded(run):
    path, r = run
    summary = json.loads((path / "summary.json").read_text())
    rows = list(csv.DictReader(open(path / "metrics.csv")))
    losses = [float(row["val_loss"]) for row in rows]
    best = 1 + int(np.argmin(losses))
    es = summary["early_stopping"]
    assert es["stopped_epoch"] == summary["epochs"] == len(rows) == best + 2 < 30
    assert es["stopped_value"] == pytest.approx(losses[-1]) and es["best"] == pytest.approx(min(losses))
    assert summary["best"] == {"epoch": best, "monitor": "val_loss", "value": pytest.approx(min(losses)),
                               "weights": "best.npz"}
    # on the console: the stop when it happens (stderr, with the progress), the best epoch at the end
    assert (f"early stop after epoch {best + 2}: val_loss {losses[-1]:.6g} has not improved on "
            f"{min(losses):.6g} (epoch {best}) for 2 epochs") in r.stderr
    assert f"stop  early, after epoch {best + 2}: val_loss" in r.stdout
    assert f"best  epoch {best}: val_loss {min(losses):.4f}  (weights in best.npz)" in r.stdout


def test_eval_predict_and_export_take_the_best_or_the_last_weights(run, cli, tmp_path):
    from nntrain import api
    from nntrain.runs.load import load_model, load_run

    path, _ = run
    best, last = read_npz(path / "best.npz"), read_npz(path / "model.npz")
    assert not np.array_equal(best["0.W"], last["0.W"])
    # the Python API
    for which, arrays in (("best", best), ("last", last)):
        model = load_run(path, weights=which).model
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v, arrays[k])
        np.testing.assert_array_equal(load_model(path, weights=which).state_dict()["0.W"], arrays["0.W"])
    # eval: the best weights score the test split as the best epoch's model does
    ev = {w: json.loads(cli("eval", path, "--json", "--weights", w).stdout) for w in ("best", "last")}
    assert ev["best"]["weights"] == "best" and ev["last"]["weights"] == "last"
    assert ev["best"]["loss"] != ev["last"]["loss"]
    assert ev["last"] == json.loads(cli("eval", path, "--json").stdout)  # last is the default
    assert api.evaluate_run(path, weights="best")["loss"] == ev["best"]["loss"]
    r = cli("eval", path, "--weights", "best")
    assert r.exit_code == 0 and "best weights" in r.stdout
    # predict: probabilities of the best epoch's model
    x = np.random.default_rng(0).standard_normal((5, 2))
    np.savez(tmp_path / "x.npz", x=x)
    for which in ("best", "last"):
        r = cli("predict", path, tmp_path / "x.npz", "--proba", "--weights", which)
        assert r.exit_code == 0, r.stderr
        got = np.loadtxt(io.StringIO(r.stdout), delimiter=",", skiprows=1)
        np.testing.assert_allclose(got, load_model(path, weights=which).predict(x), rtol=1e-5, atol=1e-6)
    # export: the npz holds the best epoch's arrays
    r = cli("export", path, "--out", tmp_path / "best.export.npz", "--weights", "best")
    assert r.exit_code == 0, r.stderr
    exported = np.load(tmp_path / "best.export.npz")
    np.testing.assert_array_equal(exported["0.W"], best["0.W"])


def test_best_weights_of_a_run_without_a_checkpoint_are_a_clear_error(cli, write, tmp_path):
    cfg = write("c.yaml", CFG.replace("  checkpoint: {monitor: val_loss}\n", "").replace("epochs: 30", "epochs: 2"))
    assert cli("fit", cfg, "--run-dir", tmp_path / "run", "--quiet").exit_code == 0
    for args in (("eval", tmp_path / "run"), ("predict", tmp_path / "run", "x.csv"),
                 ("export", tmp_path / "run", "--out", tmp_path / "m.npz")):
        r = cli(*args, "--weights", "best")
        assert r.exit_code == 2 and "has no best.npz" in r.stderr and "train.checkpoint" in r.stderr, r.stderr
    r = cli("eval", tmp_path / "run", "--weights", "middle")
    assert r.exit_code == 2 and "weights must be best or last, got 'middle'" in r.stderr
