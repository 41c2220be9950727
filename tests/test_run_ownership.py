"""A run folder belongs to one process (issue 13, part A), and a resume at any point after the
last training step finishes the run (part D): the lock, --name, resume of a complete run, and
signals after the last step."""
from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time

import pytest

from nntrain import api, runs
from nntrain.config import load_config
from nntrain.errors import RunError
from nntrain.train.trainer import Trainer

from sample_configs import SPIRALS

XOR_FOREVER = """\
seed: 0
data: {name: xor}
model: {input_shape: [2], layers: [{type: dense, units: 4, activation: tanh}, {type: dense, units: 2, activation: softmax}]}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, lr: 0.01}
train: {epochs: 1000000, batch_size: full}
"""


def contents(run) -> dict[str, bytes]:
    """Every file of a run folder but its lock file (whose text names the last holder)."""
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.name != runs.LOCK}


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_live_run_folder_refuses_a_second_fit_and_a_resume_naming_the_process(write, cli, tmp_path):
    cfg, run = write("forever.yaml", XOR_FOREVER), tmp_path / "run"
    live = subprocess.Popen([sys.executable, "-m", "nntrain", "fit", str(cfg), "--run-dir", str(run), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (run / runs.SUMMARY).exists():  # the first epoch is written: the run is under way
            assert live.poll() is None and time.monotonic() < deadline, live.stderr.read()
            time.sleep(0.01)
        holder = f"in use by process {live.pid} on {platform.node()}"
        for args in (("fit", cfg, "--run-dir", run), ("fit", "--resume", run)):
            r = cli(*args)
            assert r.exit_code == 2, r.output
            assert r.stderr.startswith("error: ") and holder in r.stderr and r.stderr.count("\n") == 1, r.stderr
        with pytest.raises(RunError, match=re.escape(holder)):
            runs.RunLock(run).acquire()
        assert live.poll() is None  # the live run went on, its files untouched by the refused commands
    finally:
        live.kill()
        live.wait(30)
    # a killed holder leaves no stale lock: the kernel dropped it with the process
    with runs.RunLock(run):
        assert (run / runs.LOCK).read_text().split() == [str(os.getpid()), platform.node()]


def test_run_dir_holding_a_run_is_refused_and_names_resume(write, cli, tmp_path):
    cfg, run = write("s.yaml", SPIRALS), tmp_path / "run"
    assert cli("fit", cfg, "--run-dir", run, "-q").exit_code == 0
    before = contents(run)
    r = cli("fit", cfg, "--run-dir", run)
    assert r.exit_code == 2
    assert f"already holds a run (status: done); continue it with nntrain fit --resume {run}" in r.stderr
    assert contents(run) == before


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute-run", "a/b", "..", ".", "x\\y"])
def test_name_cannot_leave_the_runs_root(write, cli, tmp_path, name):
    cfg = write("s.yaml", SPIRALS)
    r = cli("fit", cfg, "--name", name)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"error: --name {name!r} must be a single folder name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]  # no runs/ folder was made
    assert not (tmp_path.parent.parent / "escaped").exists()


def test_resume_of_a_complete_run_exits_0_and_changes_nothing(write, cli, tmp_path):
    cfg, run = write("s.yaml", SPIRALS), tmp_path / "run"
    assert cli("fit", cfg, "--run-dir", run, "-q").exit_code == 0
    before = contents(run)
    for extra in ((), ("--set", "train.epochs=2"), ("--set", "train.epochs=1")):
        r = cli("fit", "--resume", run, "--json", *extra)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout) == json.loads(before[runs.SUMMARY])
        assert f"{run} is already complete (2 epochs, status done); nothing to do" in r.stderr
        assert contents(run) == before
    r = cli("fit", "--resume", run, "--json", "--set", "train.epochs=3")  # asking for more trains on
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["epochs"] == 3


class SignalAfterLastStep(Trainer):
    """SIGTERM delivered to this process once the last epoch's steps are done (during its
    validation and callbacks), before anything records the run as done."""

    def _epoch(self, batches, epoch, steps, n, val):
        row = super()._epoch(batches, epoch, steps, n, val)
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return row


def signal_in_final_evaluation(monkeypatch):
    real = api.evaluate

    def evaluate(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "evaluate", evaluate)


@pytest.mark.parametrize("when", ["after the last step", "in the final evaluation"])
def test_a_signal_after_the_last_step_exits_143_and_resume_finishes_the_run(write, cli, tmp_path, monkeypatch, when):
    cfg = write("s.yaml", SPIRALS)
    reference = api.fit(load_config(cfg), run_dir=tmp_path / "reference")
    if when == "after the last step":
        monkeypatch.setattr(api, "Trainer", SignalAfterLastStep)
    else:
        signal_in_final_evaluation(monkeypatch)
    run = tmp_path / "run"
    r = cli("fit", cfg, "--run-dir", run)
    assert r.exit_code == 143, r.output
    assert "interrupted: stopped by SIGTERM after epoch 2, before the run was recorded done" in r.stderr
    assert f"resume with: nntrain fit --resume {run}" in r.stderr and "Traceback" not in r.stderr
    assert runs.read_summary(run)["status"] == "interrupted"
    monkeypatch.undo()
    r = cli("fit", "--resume", run, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["status"] == "done" and out["epochs"] == 2 and out["test"] == reference["test"]
    assert contents(run)[runs.WEIGHTS] == contents(tmp_path / "reference")[runs.WEIGHTS]



@pytest.mark.parametrize("files", [{"notes.txt": "mine"}, {"model.npz": "my weights", "summary.json": "{}",
                                                           "metrics.csv": "a,b\n"}])
def test_run_dir_holding_someone_elses_files_is_refused_and_untouched(write, cli, tmp_path, files):
    cfg, run = write("s.yaml", SPIRALS), tmp_path / "theirs"
    run.mkdir()
    for name, text in files.items():
        (run / name).write_text(text)
    r = cli("fit", cfg, "--run-dir", run)
    assert r.exit_code == 2, r.output
    assert "is not empty and is not an nntrain run folder (it holds " in r.stderr
    assert sorted(p.name for p in run.iterdir()) == sorted(files)  # not even a lock file
    assert all((run / name).read_text() == text for name, text in files.items())
    (tmp_path / "empty").mkdir()
    assert cli("fit", cfg, "--run-dir", tmp_path / "empty", "-q").exit_code == 0  # an empty folder is fine
