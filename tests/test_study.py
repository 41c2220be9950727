"""Optuna studies as sweeps (issue 18): workers sharing one sqlite study, pruning, a killed
worker's trial run again per the heartbeat, the leaderboard from the storage, and bad input.

Everything is real: trials are `nntrain fit` processes, workers are `nntrain sweep` processes,
the study is a sqlite file. The config is XOR with a few epochs, so a trial is mostly its
process start.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from sample_configs import xor_config

XOR = xor_config(units=8, epochs=2)
SPACE = ["--space", "optimizer.lr=loguniform(1e-3,1e-1)"]


@pytest.fixture
def xor(tmp_path) -> Path:
    path = tmp_path / "xor.yaml"
    path.write_text(XOR)
    return path


def sweep(*args, cwd) -> subprocess.Popen:
    env = {**os.environ, "NNTRAIN_PROGRESS": "plain"}
    return subprocess.Popen([sys.executable, "-m", "nntrain", "sweep", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def records(*folders: Path) -> list[dict]:
    return [json.loads(line) for f in folders for line in (f / "trials.jsonl").read_text().splitlines()]


def test_two_workers_share_one_sqlite_study(xor, tmp_path, cli):
    """Two worker processes at once: 5 trials in all, none run twice, one leaderboard from the storage."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    common = [xor, "--search", "random", "--trials", 5, *SPACE, "--storage", db, "--study", "s", "--workers", 1, "-q"]
    procs = [sweep(*common, "--out", tmp_path / f"w{i}", cwd=tmp_path) for i in (0, 1)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    mine = [records(tmp_path / f"w{i}") for i in (0, 1)]
    assert mine[0] and mine[1]  # both workers ran trials
    numbers = sorted(r["trial"] for rs in mine for r in rs)
    assert numbers == [0, 1, 2, 3, 4]  # each trial once, none lost
    assert all(r["status"] == "done" for rs in mine for r in rs)
    study = optuna.load_study(study_name="s", storage=db)
    assert [t.state.name for t in study.trials].count("COMPLETE") == 5
    assert all(t.state.name in ("COMPLETE", "FAIL") for t in study.trials)  # FAIL: an excess ask, not run
    assert sum(not t.user_attrs.get("excess") for t in study.trials) == 5

    result = cli("sweep", "report", "--storage", db, "--study", "s", "--json")
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    assert [r["rank"] for r in board["trials"]] == [1, 2, 3, 4, 5]
    assert sorted(r["trial"] for r in board["trials"]) == numbers
    assert board["pending"] == [] and board["metric"] == "train.loss"
    losses = [r["metric"] for r in board["trials"]]
    assert losses == sorted(losses)
    assert {r["run_dir"] for r in board["trials"]} == {r["run_dir"] for rs in mine for r in rs}
    text = cli("sweep", "report", "--storage", db, "--study", "s")
    assert text.exit_code == 0 and "study s in sqlite:///" in " ".join(text.stdout.split())


@pytest.mark.parametrize("pruner", ["median", "percentile"])
def test_pruning_stops_a_hopeless_trial_and_keeps_its_run(xor, tmp_path, cli, write, pruner):
    """lr 1e-6 cannot learn XOR in 5 epochs: after the good trial, the pruner (median, or the
    80th percentile) stops it at epoch 2; its run folder stays valid, `nntrain runs` shows it
    pruned, the leaderboard counts it."""
    spec = write("prune.yaml", "search: random\ntrials: 2\nseed: 0\nspace: {optimizer.lr: 'choice(1e-6, 0.1)'}\n"
                               f"prune: {{type: {pruner}, n_startup_trials: 1, n_warmup_steps: 1}}\nset: {{train.epochs: 5}}\n")
    proc = sweep(xor, "--spec", spec, "--workers", 1, "--out", tmp_path / "p", "--json", cwd=tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    board = json.loads(out)
    done, pruned = board["trials"]
    assert (done["status"], done["params"], done["epochs"], done["rank"]) == ("done", {"optimizer.lr": 0.1}, 5, 1)
    assert (pruned["status"], pruned["params"], pruned["rank"]) == ("pruned", {"optimizer.lr": 1e-6}, None)
    assert pruned["epochs"] == 2 and board["pruned"] == 1
    summary = json.loads((Path(pruned["run_dir"]) / "summary.json").read_text())
    assert summary["status"] == "pruned" and summary["pruned"]["epoch"] == 2 and summary["test"]
    assert len((Path(pruned["run_dir"]) / "metrics.csv").read_text().splitlines()) == 1 + 2
    runs = json.loads(cli("runs", tmp_path / "p", "--json").stdout)["runs"]
    assert sorted(r["status"] for r in runs) == ["done", "pruned"]
    evaluated = cli("eval", pruned["run_dir"], "--json")  # a valid run: it evaluates like any other
    assert evaluated.exit_code == 0, evaluated.output
    text = cli("sweep", "report", tmp_path / "p")
    assert "1 trial pruned" in text.stdout
    study = optuna.load_study(study_name="xor", storage=f"sqlite:///{tmp_path / 'p' / 'study.db'}")
    assert sorted(t.state.name for t in study.trials) == ["COMPLETE", "PRUNED"]


def test_pruner_defaults_scale_with_the_epochs():
    """No verdict before a third (median) or a tenth (percentile, asha) of train.epochs; percentile
    stops only trials above the 80th percentile, after 3 baseline trials."""
    from nntrain.sweep.search import make_pruner

    median, percentile, asha = (make_pruner(name, 20) for name in ("median", "percentile", "asha"))
    assert isinstance(median, optuna.pruners.MedianPruner) and (median._n_startup_trials, median._n_warmup_steps) == (5, 6)
    assert isinstance(percentile, optuna.pruners.PercentilePruner)
    assert (percentile._percentile, percentile._n_startup_trials, percentile._n_warmup_steps) == (80.0, 3, 2)
    assert asha._min_resource == 2 and make_pruner("percentile", 5)._n_warmup_steps == 1
    assert make_pruner({"type": "percentile", "percentile": 75, "n_warmup_steps": 4}, 20)._percentile == 75.0


def test_a_bad_pruner_option_is_one_error_line(cli, xor, write):
    spec = write("bad.yaml", "prune: {type: percentile, percentile: 120}\n")
    result = cli("sweep", xor, *SPACE, "--search", "random", "--trials", 2, "--spec", spec)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: prune: percentile: Percentile must be between 0 and 100"), lines


def test_a_killed_workers_trial_runs_again(xor, tmp_path, cli):
    """kill -9 a worker inside its trial: with a 1 s heartbeat, the other worker finds the trial
    stale 2 s later, fails it and runs its retry; the study ends complete."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    common = [xor, "--search", "random", "--trials", 1, *SPACE, "--storage", db, "--study", "k", "--workers", 1,
              "--heartbeat", 1, "-q"]
    first = sweep(*common, "--out", tmp_path / "a", cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "a").glob("000-*/fit.stderr")):
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    second = sweep(*common, "--out", tmp_path / "b", cwd=tmp_path)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    study = optuna.load_study(study_name="k", storage=db)
    states = {t.number: t.state.name for t in study.trials}
    assert states == {0: "FAIL", 1: "COMPLETE"}
    assert study.trials[1].system_attrs["failed_trial"] == 0
    assert study.trials[1].params == study.trials[0].params  # the same trial, run again
    assert [r["trial"] for r in records(tmp_path / "b")] == [1]
    board = json.loads(cli("sweep", "report", "--storage", db, "--study", "k", "--json").stdout)
    assert [(r["trial"], r["status"], r["rank"]) for r in board["trials"]] == [(1, "done", 1)]


@pytest.mark.parametrize("args, message", [
    (["--search", "bayes", "--trials", 2], "--search 'bayes' is not a search"),
    (["--search", "tpe", "--trials", 2, "--prune", "medain"], "--prune 'medain' is not a pruner (did you mean 'median'?)"),
    (["--search", "tpe", "--trials", 0], "--trials must be an integer >= 1, got 0"),
    (["--search", "tpe"], "--search tpe needs --trials N"),
    (["--search", "tpe", "--trials", 2, "--storage", "sqlite:////no/such/dir/s.db", "--study", "x"],
     "--storage sqlite:////no/such/dir/s.db: cannot open it"),
    (["--search", "tpe", "--trials", 2, "--storage", "postgresql://u:secret@127.0.0.1:1/db", "--study", "x"],
     "--storage postgresql://u:***@127.0.0.1:1/db: cannot open it"),
    (["--search", "tpe", "--trials", 2, "--storage", "sqlite:///s.db"], "--storage needs --study NAME"),
    (["--trials", 2, "--grid", "optimizer.lr=0.1,0.01"], "--trials belongs to an Optuna study: add --search"),
    (["--search", "grid", "--trials", 2], "--search grid takes --grid values and choice(...) spaces"),
    (["--search", "tpe", "--trials", 2, "--metric", "test.accuracy", "--prune", "median"], "known only at the end"),
])
def test_bad_study_input_is_one_error_line(cli, xor, args, message):
    space = [] if "--grid" in args else SPACE
    result = cli("sweep", xor, *space, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "secret" not in result.stderr


def test_a_study_of_another_space_refuses_a_worker(cli, xor, tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name="s", storage=db)
    study.set_user_attr("nntrain", {"config_sha1": "0" * 12, "config": "other.yaml", "sets": [], "space": {},
                                    "metric": "train.loss", "mode": "min"})
    result = cli("sweep", xor, *SPACE, "--search", "tpe", "--trials", 1, "--storage", db, "--study", "s")
    assert result.exit_code == 2
    assert "--study s in sqlite:///" in result.stderr and "belongs to another sweep: its config file is other.yaml" in result.stderr
    missing = cli("sweep", "report", "--storage", db, "--study", "t")
    assert missing.exit_code == 2 and "--study t: no such study" in missing.stderr and "studies: s" in missing.stderr


def test_without_the_tune_extra_search_names_it(cli, xor, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # what `import optuna` meets when it is not installed
    result = cli("sweep", xor, *SPACE, "--search", "tpe", "--trials", 2)
    assert result.exit_code == 2
    assert "install the `tune` extra: pip install 'nntrain[tune]'" in result.stderr
