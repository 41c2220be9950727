"""Experiment tracking (train.log): TensorBoard event files read back with TensorBoard's own
EventAccumulator, an MLflow run read back with MLflow's client from a local file store, and
failures that warn without stopping training. Nothing here is mocked."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from nntrain import api, runs
from nntrain.config import load_config
from nntrain.train.tracking import TrackingWarning, flatten

SPIRALS = """\
seed: 1
data: {name: spirals, options: {n_samples: 240}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 12, activation: relu}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, lr: 0.01}
metrics: [accuracy]
train: {epochs: 3, batch_size: 16, log: [%s], log_every_steps: 5, log_histograms: true}
"""


def fit(write, tmp_path, backends: str, name="run", **kw):
    cfg = load_config(write(f"{name}.yaml", SPIRALS % backends), kw.pop("overrides", []))
    return api.fit(cfg, run_dir=tmp_path / name)


def test_tensorboard_event_files_hold_every_epoch_every_n_steps_and_histograms(write, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    fit(write, tmp_path, "tensorboard")
    ea = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"scalars": 0, "histograms": 0})
    ea.Reload()
    rows = runs.read_metrics_csv(tmp_path / "run" / runs.METRICS)
    for tag in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        events = ea.Scalars(tag)
        assert [e.step for e in events] == [1, 2, 3]
        assert [e.value for e in events] == pytest.approx([row[tag] for row in rows], rel=1e-5)
    # 192 training samples / 16 = 12 steps an epoch, 36 in all: every 5th step
    assert [e.step for e in ea.Scalars("step/loss")] == [5, 10, 15, 20, 25, 30, 35]
    assert all(e.value == pytest.approx(0.01) for e in ea.Scalars("step/lr"))
    hist = ea.Tags()["histograms"]
    assert {"weights/0.W", "weights/0.b", "gradients/0.W", "gradients/0.b"} <= set(hist)
    w = np.load(tmp_path / "run" / "model.npz")["0.W"]
    last = ea.Histograms("weights/0.W")[-1]
    assert last.step == 3 and last.histogram_value.num == w.size
    assert last.histogram_value.sum == pytest.approx(float(w.sum(dtype=np.float64)), rel=1e-6)


def test_mlflow_run_holds_params_metrics_and_artifacts_and_a_resume_continues_it(write, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    store = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    fit(write, tmp_path, "mlflow", overrides=["train.epochs=2"])
    run_id = json.loads((tmp_path / "run" / "tracking.json").read_text())["mlflow_run_id"]
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert client.get_experiment(run.info.experiment_id).name == "run"  # the config's name
    params = run.data.params
    assert params["optimizer.lr"] == "0.01" and params["model.layers.0.units"] == "12"
    assert params["train.epochs"] == "2" and params["loss.type"] == "sparse_categorical_crossentropy"
    rows = runs.read_metrics_csv(tmp_path / "run" / runs.METRICS)
    history = client.get_metric_history(run_id, "val_loss")
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx([r["val_loss"] for r in rows], rel=1e-5)
    assert [m.step for m in client.get_metric_history(run_id, "step_loss")] == [5, 10, 15, 20]
    assert {a.path for a in client.list_artifacts(run_id)} == {"model.npz", "config.yaml"}
    got = np.load(client.download_artifacts(run_id, "model.npz", str(tmp_path)))
    saved = np.load(tmp_path / "run" / "model.npz")
    assert sorted(got.files) == sorted(saved.files)
    for k in saved.files:
        np.testing.assert_array_equal(got[k], saved[k])
    # a resume logs into the same MLflow run
    api.resume(tmp_path / "run", ["train.epochs=3"])
    assert [m.step for m in client.get_metric_history(run_id, "val_loss")] == [1, 2, 3]
    assert client.get_run(run_id).info.status == "FINISHED"


def test_mlflow_defaults_to_a_local_mlruns_folder(write, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    fit(write, tmp_path, "mlflow", overrides=["train.epochs=1", "train.log_every_steps=null"])
    assert (tmp_path / "mlruns").is_dir()
    run_id = json.loads((tmp_path / "run" / "tracking.json").read_text())["mlflow_run_id"]
    run = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri()).get_run(run_id)
    assert set(run.data.metrics) >= {"loss", "accuracy", "val_loss", "lr"}


def test_test_metrics_and_how_the_run_ended_reach_both_backends(write, tmp_path, monkeypatch):
    """The test split's metrics (test_*, at the last epoch) reach MLflow and the event files; a
    diverged run ends FAILED in MLflow with nntrain.status as in summary.json, not RUNNING."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from nntrain.errors import DivergedError

    store = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=store)
    summary = fit(write, tmp_path, "tensorboard, mlflow",
                  overrides=["train.epochs=2", "data.test_split=0.2", "train.log_histograms=false"])
    run = client.get_run(json.loads((tmp_path / "run" / "tracking.json").read_text())["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["nntrain.status"] == "done"
    for name in ("loss", "accuracy"):
        assert run.data.metrics[f"test_{name}"] == pytest.approx(summary["test"][name], rel=1e-6)
        [event] = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload().Scalars(f"test_{name}")
        assert event.step == 2 and event.value == pytest.approx(summary["test"][name], rel=1e-5)
    with pytest.raises(DivergedError):
        fit(write, tmp_path, "mlflow", name="blowup",
            overrides=["optimizer={type: sgd, lr: 1.0e+30}", "train.log_every_steps=null"])
    run = client.get_run(json.loads((tmp_path / "blowup" / "tracking.json").read_text())["mlflow_run_id"])
    status = json.loads((tmp_path / "blowup" / "summary.json").read_text())["status"]
    assert run.info.status == "FAILED" and run.data.tags["nntrain.status"] == status == "diverged"
    # an interrupted run is KILLED (resume takes the same MLflow run back to RUNNING, then FINISHED)
    from nntrain.train.tracking import MLflow

    backend = MLflow(tmp_path / "run", load_config(tmp_path / "run" / "config.yaml"))
    backend.end("interrupted", {}, 2)
    run = client.get_run(backend.run_id)
    assert run.info.status == "KILLED" and run.data.tags["nntrain.status"] == "interrupted"


def test_tracking_failures_warn_and_training_goes_on(write, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://nowhere")  # no MLflow store has this scheme
    with pytest.warns(TrackingWarning) as caught:
        summary = fit(write, tmp_path, "tensorboard, mlflow", overrides=["train.epochs=1"])
    assert summary["status"] == "done" and summary["epochs"] == 1
    text = " ".join(str(w.message) for w in caught)
    assert "tracking: mlflow failed to start" in text and "training goes on without it" in text
    # a file where the event folder should be: TensorBoard cannot write, the resume trains on
    import shutil

    shutil.rmtree(tmp_path / "run" / "tensorboard")
    (tmp_path / "run" / "tensorboard").write_text("not a folder")
    with pytest.warns(TrackingWarning, match="tracking: tensorboard failed to start"):
        summary = api.resume(tmp_path / "run", ["train.epochs=2", "train.log=[tensorboard]"])
    assert summary["status"] == "done" and summary["epochs"] == 2


def test_no_tracking_imports_nothing_of_it(write, tmp_path):
    cfg = write("plain.yaml", (SPIRALS % "").replace("epochs: 3", "epochs: 1"))
    code = ("import sys; from nntrain import api; from nntrain.config import load_config; "
            f"api.fit(load_config({str(cfg)!r}), run_dir={str(tmp_path / 'plain')!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'tensorboard') "
            "or m == 'nntrain.train.tracking'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_log_config_is_checked(cli, write):
    r = cli("check", write("c.yaml", SPIRALS % "tensorbord"))
    assert r.exit_code == 2 and "train.log" in r.stderr and "did you mean 'tensorboard'" in r.stderr
    r = cli("check", write("c.yaml", SPIRALS % "mlflow, mlflow"))
    assert r.exit_code == 2 and "lists a name twice" in r.stderr


def test_flatten_names_every_leaf_by_its_dotted_key():
    assert flatten({"a": {"b": [1, {"c": 2}]}, "d": None, "e": [], "f": "x"}) == {
        "a.b.0": "1", "a.b.1.c": "2", "d": "null", "e": "[]", "f": "x"}
