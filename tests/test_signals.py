"""Signals sent to a real `nntrain fit` process: stop, save, resume bit-identically; SIGKILL
inside a checkpoint write leaves a run folder that loads and resumes; before training (imports,
config, data, run folder) and outside it, a signal still ends nntrain with 128 + its number, an
`interrupted:` line and no traceback."""
from __future__ import annotations

import json
import os
import shutil
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
    """`python -m nntrain fit ...` (or `command fit ...`) in the background, its stderr collected
    line by line."""

    def __init__(self, *args, env=None, command=(sys.executable, "-m", "nntrain")):
        self.proc = subprocess.Popen(
            [*command, "fit", *map(str, args), "--progress", "plain"],
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


# -- before training: from nntrain's first line on (nntrain/launch.py) ----------------------
# `python -X importtime` prints a line to stderr as each import ends: the k-th line after
# nntrain.launch's places a signal among the imports of typer, pydantic, rich, numpy, yaml and
# nntrain's own modules, on any machine however fast; the end of an import of nntrain's places
# it in a step of `fit`. (Before launch.main runs is Python's own start-up, where Python's
# defaults apply: see launch.py.)
IMPORTED = "import time:"
SETUP_DONE = "run folder:"  # fit's note just before training begins


def after_imports(k: int):
    """A wait_for predicate: the k-th import since nntrain's handlers went in has ended (or
    setup is over, should there be fewer imports than k)."""
    def seen(lines):
        ours = next((i for i, ln in enumerate(lines) if ln.rstrip().endswith(" nntrain.launch")), None)
        if ours is None:
            return False
        return sum(ln.startswith(IMPORTED) for ln in lines[ours + 1:]) >= k or after_setup(lines)
    return seen


def after_import_of(module: str):
    return lambda lines: any(ln.startswith(IMPORTED) and ln.rstrip().endswith(" " + module) for ln in lines) \
        or after_setup(lines)


def after_setup(lines):
    return any(ln.startswith(SETUP_DONE) for ln in lines)


WHEN = [(f"import {k}", after_imports(k)) for k in (1, 80, 160, 260)] + [
    ("the config, the data", after_import_of("nntrain.api")),  # api imported: load_config, setup next
    ("the run folder", after_import_of("nntrain.train.checkpoint")),  # made and locked; config.yaml next
    ("the start of training", after_setup),
]
STARTUP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)


def interrupt(config, run, when, sig, command=(sys.executable, "-m", "nntrain")) -> tuple[int, str]:
    fit = Fit(config, "--run-dir", run, env={"PYTHONPROFILEIMPORTTIME": "1"}, command=command)
    fit.wait_for(lambda: when(list(fit.lines)), "the moment to send the signal")
    fit.send(sig)
    return fit.finish()


def assert_clean_end(rc: int, err: str, sig, run, cli, where: str) -> None:
    """Exit 128 + the signal with an `interrupted:` line naming it (or 0 for a run that ended
    first), no traceback, and a run folder that is absent, empty, or resumes to the end."""
    said = [ln for ln in err.splitlines() if not ln.startswith(IMPORTED)]
    assert rc in (0, 128 + sig), f"{where}: exit {rc}\n" + "\n".join(said)
    assert "Traceback" not in err, f"{where}:\n" + "\n".join(said)
    if rc:
        assert any(ln.startswith(f"interrupted: stopped by {sig.name}") for ln in said), f"{where}: {said}"
    if (run / runs.CONFIG).exists():
        r = cli("fit", "--resume", run)
        assert r.exit_code == 0, f"{where}: resume: {r.output}"
        assert runs.read_summary(run)["status"] == "done", where
    elif run.exists():  # made, but the run had not begun in it: a new fit may use it
        assert runs.folder.foreign_files(run) == [], f"{where}: {sorted(os.listdir(run))}"


def test_a_signal_at_any_moment_of_start_up_exits_128_plus_it_and_leaves_no_half_run(config, tmp_path, cli):
    """SIGTERM, SIGUSR1 and SIGINT in turn, from the first import after nntrain's handlers are
    in, through the config, the data and the run folder, into training."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [(where, when, STARTUP_SIGNALS[i % 3], tmp_path / f"run{i}") for i, (where, when) in enumerate(WHEN)]
    with ThreadPoolExecutor(3) as pool:  # three processes at a time: each waits on its own output
        ends = list(pool.map(lambda c: interrupt(config, c[3], c[1], c[2]), cases))
    for (where, _, sig, run), (rc, err) in zip(cases, ends):
        assert_clean_end(rc, err, sig, run, cli, f"{sig.name} at {where}")


def test_the_console_script_handles_a_signal_among_its_imports(config, tmp_path, cli):
    script = shutil.which("nntrain", path=os.path.dirname(sys.executable))
    assert script, f"no nntrain script beside {sys.executable}: pip install -e ."
    run = tmp_path / "run"
    rc, err = interrupt(config, run, after_imports(60), signal.SIGTERM, command=(script,))
    assert rc == 143, err
    assert_clean_end(rc, err, signal.SIGTERM, run, cli, "SIGTERM at import 60")


# a real signal sent by the process to itself at a chosen point (os.kill, then a sleep that it
# interrupts), nntrain started as the console script starts it
AT_A_POINT = """\
import atexit, os, signal, sys, time

from nntrain import launch
from nntrain.cli import options

def signal_me():
    os.kill(os.getpid(), signal.{sig})
    time.sleep(5)

{hook}
sys.argv[0] = "nntrain"
sys.exit(launch.main())
"""
HOOKS = {
    # click looks the command up while it parses: typer turns a KeyboardInterrupt there into exit 130
    "while click parses the command line": ("SIGTERM", ["list", "losses"], """\
looked_up = options.AppGroup.get_command
def get_command(self, ctx, name):
    signal_me()
    return looked_up(self, ctx, name)
options.AppGroup.get_command = get_command
"""),
    # inside the command: guarded() prints the line and exits with the signal's code
    "inside the command": ("SIGUSR1", ["runs", "."], """\
from nntrain.runs import table
def list_runs(root):
    signal_me()
table.list_runs = list_runs
"""),
    # the command has ended and printed its output; Python is running its exit handlers
    "after the command": ("SIGINT", ["--help"], "atexit.register(signal_me)\n"),
}


@pytest.mark.parametrize("where", list(HOOKS))
def test_a_signal_outside_training_gives_one_interrupted_line_and_its_code(tmp_path, where):
    name, args, hook = HOOKS[where]
    script = tmp_path / "nntrain_at_a_point.py"
    script.write_text(AT_A_POINT.format(sig=name, hook=hook))
    r = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert r.returncode == 128 + signal.Signals[name], r.stderr
    assert r.stderr.splitlines() == [f"interrupted: stopped by {name}"], r.stderr
    if where == "after the command":
        assert "Commands:" in r.stdout and r.stdout.endswith("\n")  # the help, flushed whole
