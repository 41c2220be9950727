"""Signals sent to a real `nntrain fit` process: stop, save, resume bit-identically; SIGKILL
inside a checkpoint write leaves a run folder that loads and resumes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from nntrain import api, runs
from nntrain.config import load_config
from nntrain.train import checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CONFIG = """\
seed: 3
data: {name: spirals, options: {n_samples: 1800}, validation_split: 0.1}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 16, activation: relu}
    - {type: dropout, rate: 0.2}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, lr: 0.01}
metrics: [accuracy]
train: {epochs: 3, batch_size: 2}
"""
TIMEOUT = 60


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "spirals.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory):
    """Weights of the same run never interrupted."""
    run = tmp_path_factory.mktemp("ref") / "run"
    api.fit(load_config(config), run_dir=run)
    return runs.read_npz(run / runs.WEIGHTS)


class Fit:
    """`python -m nntrain fit ...` in the background, its stderr collected line by line."""

    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nntrain", "fit", *map(str, args), "--progress", "plain"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, predicate, what: str):
        deadline = time.monotonic() + TIMEOUT
        while not predicate():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"never saw {what}; stderr: {''.join(self.lines)}")
            time.sleep(0.005)

    def send(self, sig):
        self.proc.send_signal(sig)

    def finish(self) -> tuple[int, str]:
        code = self.proc.wait(TIMEOUT)
        self.reader.join(TIMEOUT)
        return code, "".join(self.lines)


def assert_weights_equal(run_dir, reference):
    got = runs.read_npz(run_dir / runs.WEIGHTS)
    assert sorted(got) == sorted(reference)
    for k in reference:
        assert np.array_equal(got[k], reference[k]), k


def test_sigint_mid_epoch_saves_and_resume_is_bit_identical(config, reference, tmp_path, cli):
    run = tmp_path / "run"
    fit = Fit(config, "--run-dir", run)
    fit.wait_for(lambda: (run / checkpoint.STATE).exists(), "the end-of-epoch-1 checkpoint")
    time.sleep(0.01)  # into epoch 2 (an epoch is 810 steps, at least 0.08 s)
    fit.send(signal.SIGINT)
    rc, err = fit.finish()
    assert rc == 130, err
    assert "interrupted: stopped by SIGINT at epoch 2, step" in err
    assert f"resume with: nntrain fit --resume {run}" in err
    assert "Traceback" not in err
    state = runs.read_npz(run / checkpoint.STATE)
    assert json.loads(str(state["counters"][()]))["epoch"] == 1
    assert json.loads(str(state["partial"][()]))["cursor"] > 0  # stopped inside epoch 2
    assert runs.read_summary(run)["status"] == "interrupted"
    r = cli("fit", "--resume", run, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["epochs"] == 3
    assert_weights_equal(run, reference)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGUSR1, 138)])
def test_sigterm_and_sigusr1_save_and_exit_128_plus_the_signal(config, tmp_path, cli, monkeypatch, sig, code):
    """The real signal, delivered to this process during step 300 (epoch 1 has 405 steps)."""
    from nntrain.train.trainer import Trainer

    class SignalAt(Trainer):
        def train_step(self, xb, yb, wb=None):
            if self.state.step == 299:
                os.kill(os.getpid(), sig)
            return super().train_step(xb, yb, wb)

    monkeypatch.setattr(api, "Trainer", SignalAt)
    r = cli("fit", config, "--run-dir", tmp_path / "run")
    assert r.exit_code == code, r.output
    assert f"interrupted: stopped by {signal.Signals(sig).name} at epoch 1, step 300 of 810" in r.stderr
    assert signal.getsignal(sig) is signal.SIG_DFL  # the handlers are put back
    state = runs.read_npz(tmp_path / "run" / checkpoint.STATE)
    assert json.loads(str(state["partial"][()]))["cursor"] == 300


def test_second_ctrl_c_stops_at_once_and_corrupts_nothing(config, reference, tmp_path, cli):
    run = tmp_path / "run"
    # the second checkpoint write (end of epoch 2) pauses for 60 s with half its bytes written
    fit = Fit(config, "--run-dir", run, env={checkpoint._PAUSE_ENV: "60,2"})
    fit.wait_for(lambda: (run / ".checkpoint-writing").exists(), "the paused write")
    fit.send(signal.SIGINT)  # first: stop after the current step (the write goes on)
    time.sleep(0.2)
    started = time.monotonic()
    fit.send(signal.SIGINT)  # second: stop now
    rc, err = fit.finish()
    assert rc == 130 and time.monotonic() - started < 10, err
    assert "SIGINT again: stopped at once" in err and "Traceback" not in err
    assert not list(run.glob(".*.tmp-*"))  # the half-written file was removed
    state = runs.read_npz(run / checkpoint.STATE)  # the epoch-1 checkpoint, whole
    assert json.loads(str(state["counters"][()]))["epoch"] == 1
    r = cli("fit", "--resume", run)
    assert r.exit_code == 0, r.output
    assert_weights_equal(run, reference)


def test_sigkill_inside_a_checkpoint_write_leaves_a_loadable_resumable_run(config, reference, tmp_path, cli):
    run = tmp_path / "run"
    fit = Fit(config, "--run-dir", run, env={checkpoint._PAUSE_ENV: "60,2"})
    fit.wait_for(lambda: (run / ".checkpoint-writing").exists(), "the paused write")
    fit.send(signal.SIGKILL)
    rc, _ = fit.finish()
    assert rc == -signal.SIGKILL
    assert list(run.glob(".state.npz.tmp-*"))  # the half-written state is there, under its temporary name
    state = runs.read_npz(run / checkpoint.STATE)
    assert json.loads(str(state["counters"][()]))["epoch"] == 1
    r = cli("eval", run, "--json")  # the run folder loads
    assert r.exit_code == 0, r.output
    r = cli("fit", "--resume", run)
    assert r.exit_code == 0, r.output
    assert not list(run.glob(".*.tmp-*"))
    assert_weights_equal(run, reference)
