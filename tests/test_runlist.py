"""`nntrain runs`: real done / interrupted / diverged runs, stale detection, sorting, --json."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

import pytest

import nntrain
from nntrain import api, runs
from nntrain.errors import DivergedError
from nntrain.runs.table import list_runs, run_status, sort_runs

SPIRALS = """
seed: 0
data: {name: spirals, options: {n_samples: 120}, validation_split: 0.25}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 8, activation: tanh}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, lr: 0.01}
metrics: [accuracy]
train: {epochs: 3, batch_size: 16}
"""

SINE = """
seed: 0
data: {name: sine, options: {n_samples: 64}}
model:
  input_shape: [1]
  layers:
    - {type: dense, units: 16, activation: tanh}
    - {type: dense, units: 1}
loss: mse
optimizer: {type: sgd, lr: 1.0e6}
train: {epochs: 3, batch_size: 8}
"""


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """runs/spirals/done, runs/spirals/interrupted, runs/sine/diverged made by api.fit."""
    root = tmp_path_factory.mktemp("runs")
    spirals = root / "spirals.yaml"
    spirals.write_text(SPIRALS)
    sine = root / "sine.yaml"
    sine.write_text(SINE)
    nntrain.fit(nntrain.load_config(spirals), run_dir=root / "spirals" / "done")

    # Ctrl-C during the second epoch: api.fit records "interrupted" and re-raises
    original = api.RunWriter.on_epoch_end

    def interrupt(self, trainer, st):
        original(self, trainer, st)
        if st.epoch == 2:
            raise KeyboardInterrupt

    api.RunWriter.on_epoch_end = interrupt
    try:
        with pytest.raises(KeyboardInterrupt):
            nntrain.fit(nntrain.load_config(spirals, ["train.epochs=5"]), run_dir=root / "spirals" / "interrupted")
    finally:
        api.RunWriter.on_epoch_end = original

    with pytest.raises(DivergedError):
        nntrain.fit(nntrain.load_config(sine), run_dir=root / "sine" / "diverged")
    return root


def test_done_interrupted_and_diverged_have_the_right_status(cli, three_runs):
    result = cli("runs", three_runs, "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    status = {r["name"]: r["status"] for r in out["runs"]}
    assert status == {"spirals/done": "done", "spirals/interrupted": "interrupted", "sine/diverged": "diverged"}
    by_name = {r["name"]: r for r in out["runs"]}
    assert by_name["spirals/done"]["epochs"] == 3 and by_name["spirals/done"]["final"] == "test"
    assert by_name["spirals/interrupted"]["epochs"] == 2
    assert "the loss became inf" in by_name["sine/diverged"]["error"]
    assert by_name["spirals/done"]["config"] == "spirals"

    table = cli("runs", three_runs)
    assert table.exit_code == 0, table.stderr
    for name, st in status.items():
        line = next(ln for ln in table.stdout.splitlines() if name in ln)
        assert st in line


def test_sort_by_metric_best_first_and_reverse(cli, three_runs):
    records = list_runs(three_runs)
    by_acc = [r["name"] for r in sort_runs(records, "val.accuracy")]
    accs = [r["val"]["accuracy"] for r in sort_runs(records, "val.accuracy") if r["val"]]
    assert accs == sorted(accs, reverse=True) and by_acc[-1] == "sine/diverged"  # no accuracy: last
    by_loss = sort_runs(records, "train.loss")
    losses = [r["train"]["loss"] for r in by_loss if r["train"]]
    assert len(losses) == 2 and losses == sorted(losses)  # loss: lowest first
    assert by_loss[-1]["name"] == "sine/diverged"
    names = [r["name"] for r in sort_runs(records, "name", reverse=True)]
    assert names == sorted(names, reverse=True)


def test_bad_sort_key_and_missing_folder_are_errors(cli, three_runs, tmp_path):
    bad = cli("runs", three_runs, "--sort", "val.acuracy")
    assert bad.exit_code == 2 and "val.accuracy" in bad.stderr and "Traceback" not in bad.stderr
    bad = cli("runs", three_runs, "--sort", "epoch")
    assert bad.exit_code == 2 and "did you mean 'epochs'" in bad.stderr
    missing = cli("runs", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "nowhere" in missing.stderr


def _summary(path, **fields):
    path.mkdir(parents=True)
    (path / runs.CONFIG).write_text("seed: 0\n")
    runs.write_json(path / runs.SUMMARY, {"status": "running", "epochs": 2, "seconds": 4.0, **fields})


def test_a_dead_running_process_is_stale(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _summary(tmp_path / "dead", pid=int(dead.stdout), host=platform.node())
    _summary(tmp_path / "alive", pid=os.getpid(), host=platform.node())
    _summary(tmp_path / "old", host="elsewhere")  # no live pid to ask: judged by age
    _summary(tmp_path / "fresh")
    old = tmp_path / "old" / runs.SUMMARY
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    (tmp_path / "started").mkdir()
    (tmp_path / "started" / runs.CONFIG).write_text("seed: 0\n")
    records = {r["name"]: r for r in list_runs(tmp_path)}
    assert {k: r["status"] for k, r in records.items()} == {
        "dead": "stale", "alive": "running", "old": "stale", "fresh": "running", "started": "incomplete"}
    assert records["dead"]["recorded_status"] == "running"


def test_age_limit_scales_with_epoch_time(tmp_path):
    path = tmp_path / runs.SUMMARY
    path.write_text("{}")
    now = path.stat().st_mtime + 1200  # 20 minutes without a rewrite
    assert run_status({"status": "running", "epochs": 2, "seconds": 10.0}, path, now) == "stale"
    # epochs of 5 minutes: 20 minutes is less than 5 epochs, still plausibly running
    assert run_status({"status": "running", "epochs": 2, "seconds": 600.0}, path, now) == "running"
