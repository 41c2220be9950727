"""`nntrain fit` without typer (cli/fit.py): the plain command lines a sweep gives its trials run
the same body with the same output, exit codes, signals and run folder as the typer command,
and import neither typer, click, pydantic nor rich; anything else still goes to typer."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nntrain import runs
from nntrain.cli.fit import plain_args

from sample_configs import SPIRALS

TIMEOUT = 60
HEAVY = ("typer", "click", "pydantic", "rich")  # what the plain path leaves out


def nntrain(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nntrain", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=TIMEOUT, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("argv, expected", [
    (["fit", "c.yaml"], {"config": Path("c.yaml"), "progress": "auto", "as_json": False, "quiet": False}),
    (["fit", "--json", "c.yaml", "--set", "a=1", "--quiet", "--set", "b=-2", "--run-dir", "r", "--name", "n",
      "--progress", "plain"],
     {"config": Path("c.yaml"), "set_": ["a=1", "b=-2"], "run_dir": Path("r"), "name": "n", "progress": "plain",
      "as_json": True, "quiet": True}),
    (["fit", "c.yaml", "--run-dir", "a", "--run-dir", "b"],  # as click: the last one
     {"config": Path("c.yaml"), "run_dir": Path("b"), "progress": "auto", "as_json": False, "quiet": False}),
])
def test_a_plain_command_line_is_read_as_click_reads_it(argv, expected):
    assert plain_args(argv) == expected


@pytest.mark.parametrize("argv", [
    [], ["list"], ["fit"], ["fit", "--help"], ["fit", "c.yaml", "-h"], ["fit", "--resume", "r"],
    ["fit", "c.yaml", "-q"], ["fit", "c.yaml", "-s", "a=1"], ["fit", "c.yaml", "--run-dir=r"],
    ["fit", "c.yaml", "--set"], ["fit", "c.yaml", "--set", "--json"], ["fit", "c.yaml", "--run-dir", "-r"],
    ["fit", "c.yaml", "d.yaml"], ["fit", "-"], ["fit", ""], ["fit", "c.yaml", "--"], ["fit", "c.yaml", "--bogus"],
    ["fit", "c.yaml", "--set", ""],
])
def test_anything_else_goes_to_typer(argv):
    assert plain_args(argv) is None


def test_shell_completion_goes_to_typer(monkeypatch):
    monkeypatch.setenv("_NNTRAIN_COMPLETE", "bash_complete")
    assert plain_args(["fit", "c.yaml"]) is None


def test_every_sweep_trial_takes_the_plain_path(tmp_path):
    from nntrain.sweep import plan_sweep

    (tmp_path / "spirals.yaml").write_text(SPIRALS)
    plan = plan_sweep(tmp_path / "spirals.yaml", grid=["optimizer.lr=0.1,0.01", "seed=0,1"], sets=["train.epochs=1"])
    for trial in plan.trials:
        assert plain_args(plan.argv(trial, tmp_path / "out")) is not None, plan.argv(trial, tmp_path / "out")


def test_a_trial_imports_no_typer_click_pydantic_or_rich(tmp_path):
    (tmp_path / "spirals.yaml").write_text(SPIRALS)
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "nntrain", "fit", "spirals.yaml", "--set", "seed=1",
                        "--run-dir", "run", "--json", "--quiet"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in r.stderr.splitlines()
                if line.startswith("import time:") and line.count("|") == 2}
    assert "numpy" in imported and not imported & set(HEAVY), sorted(imported & set(HEAVY))
    assert "nntrain.sweep" not in r.stderr  # nor the sweep package: fit needs it only in a pruned study
    assert "importlib.metadata" not in r.stderr  # no installed plugin declares the group: not scanned


# the same command line in the two forms: plain (cli/fit.py), and with the short -q and
# --run-dir=..., which the plain reader leaves to typer
FORMS = {"run-one": ["--run-dir", "run-one", "--json", "--quiet"], "run-two": ["--run-dir=run-two", "--json", "-q"]}


def without_timings(summary: dict) -> dict:
    """The summary without what differs between two runs of one config: times, the process, the folder."""
    out = {k: v for k, v in summary.items() if k not in ("run_dir", "seconds", "started", "command", "pid")}
    if "error" in out:
        out["error"] = out["error"].replace("run-one", "RUN").replace("run-two", "RUN")
    return out


DIVERGES = SPIRALS.replace("optimizer: adam", "optimizer: {type: sgd, lr: 1.0e+30}")


@pytest.mark.parametrize("case, config, sets, code", [
    ("trains", SPIRALS, [], 0),
    ("a bad --set", SPIRALS, ["--set", "train.epochs=nope"], 2),
    ("a bad key", SPIRALS, ["--set", "train.epochz=2"], 2),
    ("a missing config", None, [], 2),
    ("a diverged run", DIVERGES, [], 1),
    ("a bad --progress", SPIRALS, ["--progress", "bogus"], 2),
])
def test_plain_and_typer_give_the_same_output_exit_code_and_run_folder(tmp_path, case, config, sets, code):
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
    ends = []
    for run, flags in FORMS.items():
        r = nntrain("fit", "c.yaml", *sets, *flags, cwd=tmp_path)
        assert r.returncode == code, f"{case}, {run}: {r.stderr}"
        ends.append((r, tmp_path / run))
    (plain, plain_dir), (typer_, typer_dir) = ends
    assert plain.stderr.replace("run-one", "RUN") == typer_.stderr.replace("run-two", "RUN"), case
    if code:
        assert len(plain.stderr.splitlines()) == 1 and plain.stderr.startswith("error: "), plain.stderr
        assert plain.stdout == typer_.stdout == ""
    else:
        assert without_timings(json.loads(plain.stdout)) == without_timings(json.loads(typer_.stdout))
    assert plain_dir.exists() == typer_dir.exists(), case
    if plain_dir.exists():
        assert sorted(os.listdir(plain_dir)) == sorted(os.listdir(typer_dir)), case
        assert without_timings(runs.read_summary(plain_dir)) == without_timings(runs.read_summary(typer_dir))
        if (plain_dir / runs.WEIGHTS).exists():
            a, b = runs.read_npz(plain_dir / runs.WEIGHTS), runs.read_npz(typer_dir / runs.WEIGHTS)
            assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_an_existing_run_folder_is_refused_alike(tmp_path):
    (tmp_path / "c.yaml").write_text(SPIRALS)
    assert nntrain("fit", "c.yaml", "--run-dir", "run", "--quiet", cwd=tmp_path).returncode == 0
    plain = nntrain("fit", "c.yaml", "--run-dir", "run", "--json", "--quiet", cwd=tmp_path)
    typer_ = nntrain("fit", "c.yaml", "--run-dir=run", "--json", "-q", cwd=tmp_path)
    assert plain.returncode == typer_.returncode == 2
    assert plain.stderr == typer_.stderr and plain.stderr.startswith("error: --run-dir run already holds a run")


LONG = SPIRALS.replace("n_samples: 90", "n_samples: 3000").replace("epochs: 2, batch_size: 16", "epochs: 50, batch_size: 1")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_in_training_ends_both_alike(tmp_path, sig):
    """Stopped once training runs: 128 + the signal, the `interrupted:` line with the resume
    command, and a run folder recorded `interrupted` that resumes."""
    (tmp_path / "c.yaml").write_text(LONG)
    ends = []
    for run, flags in (("plain", ["--run-dir", "plain", "--progress", "plain"]),
                       ("typer", ["--run-dir=typer", "--progress", "plain"])):
        proc = subprocess.Popen([sys.executable, "-m", "nntrain", "fit", "c.yaml", *flags], cwd=tmp_path, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines, deadline = [], time.monotonic() + TIMEOUT
        while not any(line.startswith("epoch 1/") for line in lines):  # an epoch is done: training runs
            line = proc.stderr.readline()
            assert line and time.monotonic() < deadline, "".join(lines)
            lines.append(line)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=TIMEOUT)
        ends.append((proc.returncode, [ln for ln in lines + err.splitlines(True) if not ln.startswith("epoch ")]))
        assert runs.read_summary(tmp_path / run)["status"] == "interrupted"
    (plain_code, plain_err), (typer_code, typer_err) = ends
    assert plain_code == typer_code == 128 + sig
    said = [ln for ln in plain_err if ln.startswith("interrupted: ")]
    assert len(said) == 1 and f"stopped by {sig.name}" in said[0], plain_err
    assert "Traceback" not in "".join(plain_err)
    assert [ln.replace("plain", "RUN") for ln in plain_err if "step" not in ln] == \
        [ln.replace("typer", "RUN") for ln in typer_err if "step" not in ln]
