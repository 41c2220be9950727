"""Sweeps: trial expansion, bad input, and the four acceptance checks of issue 5 end to end.

Trials are real `nntrain fit` processes on a 4-sample XOR config with few epochs; the sweep of
acceptance 1 runs once per module and the other checks compare against it.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nntrain.cli import app
from nntrain.sweep import plan_sweep, report
from nntrain.sweep.board import direction, leaderboard
from nntrain.sweep.display import PlainDisplay, RichDisplay
from nntrain.sweep.plan import build_spec
from nntrain.sweep.runner import classify, thread_env
from nntrain.sweep.space import SweepError, parse_distribution, value_text

from sample_configs import xor_config

REPO = Path(__file__).resolve().parent.parent
XOR = xor_config(units=8, epochs=3)
GRID = ["--grid", "optimizer.lr=0.1,0.01", "--grid", "train.batch_size=4,8"]
COMPARED = ("trial", "id", "params", "status", "epochs", "train", "val", "test", "rank", "metric")


def flat(text: str) -> str:
    """Output with its line breaks and runs of spaces folded: a table title that names a long
    temporary folder wraps at the table's width."""
    return " ".join(text.split())


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def same_board(board: dict) -> list[dict]:
    """What two leaderboards of the same trials must share (times and folders differ)."""
    return [{k: row[k] for k in COMPARED} for row in board["trials"]]


@pytest.fixture(scope="module")
def xor(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "xor.yaml"
    path.write_text(XOR)
    return path


@pytest.fixture(scope="module")
def swept(tmp_path_factory, xor):
    """Acceptance 1: the 4-trial grid with 2 workers; (out folder, CLI result)."""
    out = tmp_path_factory.mktemp("sweep") / "s"
    result = invoke("sweep", xor, *GRID, "--workers", 2, "--out", out, "--progress", "plain")
    assert result.exit_code == 0, result.stderr
    return out, result


# -- acceptance -----------------------------------------------------------------------------
def test_grid_runs_four_trials_and_prints_a_leaderboard(swept):
    out, result = swept
    lines = (out / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 4
    records = [json.loads(line) for line in lines]
    assert sorted(r["trial"] for r in records) == [0, 1, 2, 3]
    assert {(r["params"]["optimizer.lr"], r["params"]["train.batch_size"]) for r in records} == {
        (0.1, 4), (0.1, 8), (0.01, 4), (0.01, 8)}
    assert all(r["status"] == "done" and r["exit_code"] == 0 and r["epochs"] == 3 for r in records)
    # the leaderboard: ranked by test.accuracy (xor has no validation split), best first
    assert "4 trials by test.accuracy (higher is better)" in flat(result.stdout)
    board = report(out)
    accs = [row["test"]["accuracy"] for row in board["trials"]]
    assert accs == sorted(accs, reverse=True) and [row["rank"] for row in board["trials"]] == [1, 2, 3, 4]
    best = board["trials"][0]
    assert f"best: trial {best['trial']}" in result.stdout
    # each trial folder is a complete run with the trial's overrides in its resolved config
    for r in records:
        cfg = (out / r["name"] / "config.yaml").read_text()
        assert f"lr: {r['params']['optimizer.lr']}" in cfg and f"batch_size: {r['params']['train.batch_size']}" in cfg
    assert "2 workers x" in result.stderr and result.stderr.count(" started ") == 4


def test_print_commands_reproduce_the_sweep(swept, xor, tmp_path):
    out, _ = swept
    other = tmp_path / "cmds"
    result = invoke("sweep", xor, *GRID, "--out", other, "--print-commands")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("nntrain fit ") for line in lines)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    by_trial = {r["trial"]: r for r in map(json.loads, (out / "trials.jsonl").read_text().splitlines())}
    procs = [subprocess.Popen(line, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              cwd=tmp_path) for line in lines]  # as `parallel` would
    for k, proc in enumerate(procs):
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        summary = json.loads(stdout)
        assert summary["train"] == by_trial[k]["train"] and summary["test"] == by_trial[k]["test"]
    as_json = invoke("sweep", xor, *GRID, "--out", other, "--print-commands", "--json")
    assert json.loads(as_json.stdout) == {"sweep_dir": str(other), "commands": lines}
    # and the folder they wrote ranks exactly like the sweep (sweep.json says which trial is which)
    assert same_board(report(other)) == same_board(report(out))


def test_trial_k_jobs_then_report_give_the_same_leaderboard(swept, xor, tmp_path):
    out, _ = swept
    jobs = tmp_path / "jobs"
    for k in range(4):
        result = invoke("sweep", xor, *GRID, "--out", jobs, "--trial", k, "--quiet")
        assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    assert len((jobs / "trials.jsonl").read_text().splitlines()) == 4
    result = invoke("sweep", "report", jobs, "--json")
    assert result.exit_code == 0, result.stderr
    assert same_board(json.loads(result.stdout)) == same_board(report(out))
    # a finished trial is not run again
    again = invoke("sweep", xor, *GRID, "--out", jobs, "--trial", 2, "--progress", "plain")
    assert again.exit_code == 0 and "0 trials to run, 1 already finished" in again.stderr
    assert len((jobs / "trials.jsonl").read_text().splitlines()) == 4


def test_killed_sweep_reruns_only_unfinished_trials(xor, tmp_path):
    """Kill (SIGTERM, then SIGKILL) a 1-worker sweep after a trial ends; each rerun runs the rest."""
    out = tmp_path / "s"
    jsonl = out / "trials.jsonl"
    cmd = [sys.executable, "-m", "nntrain", "sweep", str(xor), *GRID, "--workers", "1", "--out", str(out),
           "--progress", "plain"]

    def records():
        return [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.exists() else []

    def kill_after(n_records, sig):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        deadline = time.monotonic() + 60
        while len(records()) < n_records and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(sig)
        return proc.communicate(timeout=30), proc.returncode

    (_, err), code = kill_after(1, signal.SIGTERM)
    assert code == 143 and "\ninterrupted" in err and "rerun the same command" in err  # 128 + SIGTERM
    first = records()
    assert 1 <= len(first) < 4
    (_, err), code = kill_after(len(first) + 1, signal.SIGKILL)
    assert code == -signal.SIGKILL
    second = records()
    assert len(first) < len(second) < 4 and second[:len(first)] == first
    started = {int(k) for k in re.findall(r"trial (\d+) started", err)}
    assert not started & {r["trial"] for r in first}  # the first rerun skipped what had finished
    mtimes = {r["name"]: (out / r["name"] / "summary.json").stat().st_mtime_ns for r in second}
    time.sleep(0.2)  # the trial running at SIGKILL gets SIGTERM from the kernel (PR_SET_PDEATHSIG)
    rerun = invoke(*cmd[3:])  # the same command, in-process this time
    assert rerun.exit_code == 0, rerun.stderr
    started = {int(k) for k in re.findall(r"trial (\d+) started", rerun.stderr)}
    assert started == {0, 1, 2, 3} - {r["trial"] for r in second}
    final = records()
    assert len(final) == 4 and len({r["id"] for r in final}) == 4 and final[:len(second)] == second
    assert all(r["status"] == "done" for r in final)
    for name, mtime in mtimes.items():  # finished trials were left alone
        assert (out / name / "summary.json").stat().st_mtime_ns == mtime
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no stale leftovers
    assert "4 trials by test.accuracy" in flat(rerun.stdout)


def test_failed_and_diverged_trials_are_recorded_and_the_sweep_goes_on(tmp_path, write):
    good = write("good.csv", "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    write("bad.csv", "a,b,y\n0,1,0\n0,zero,0\n")  # 'zero' among numbers: a data error (a text column would train)
    cfg = write("csv.yaml", XOR.replace("data: {name: xor}", f"data: {{train: {good.name}, test: {good.name}}}"))
    result = invoke("sweep", cfg, "--zip", "data.train=good.csv,good.csv,bad.csv", "--zip", "optimizer.lr=0.05,1e12,0.05",
                    "--set", "model.layers.0.activation=linear", "--set", "optimizer.type=sgd",
                    "--out", tmp_path / "s", "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    board = json.loads(result.stdout)
    by = {(Path(r["params"]["data.train"]).name, r["params"]["optimizer.lr"]): r for r in board["trials"]}
    assert by[("good.csv", 0.05)]["status"] == "done" and by[("good.csv", 0.05)]["rank"] == 1
    diverged = by[("good.csv", 1e12)]
    assert diverged["status"] == "diverged" and diverged["exit_code"] == 1 and "training diverged" in diverged["error"]
    failed = by[("bad.csv", 0.05)]
    assert failed["status"] == "failed" and failed["exit_code"] == 2 and "bad.csv" in failed["error"]
    assert failed["rank"] is None and diverged["rank"] is None
    assert len((tmp_path / "s" / "trials.jsonl").read_text().splitlines()) == 3
    # a --trial K job exits with its trial's status, so a scheduler sees the failure
    job = invoke("sweep", cfg, "--zip", "data.train=good.csv,good.csv,bad.csv", "--zip", "optimizer.lr=0.05,1e12,0.05",
                 "--set", "model.layers.0.activation=linear", "--set", "optimizer.type=sgd",
                 "--out", tmp_path / "s", "--trial", failed["trial"], "--quiet")
    assert job.exit_code == 2 and job.stdout == ""


# -- bad input: an error line, exit 2, nothing written --------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--grid", "optimizer.lrr=0.1,0.01"], "--grid optimizer.lrr=0.1: optimizer: optimizer 'adam' has no parameter 'lrr' (did you mean 'lr'?)"),
    (["--grid", "optimizer.lr=-1,0.1"], "--grid optimizer.lr=-1"),
    (["--grid", "optimizer.lr"], "--grid expects KEY=VALUES"),
    (["--grid", "optimizer.lr=[0.1"], "not valid YAML"),
    (["--zip", "optimizer.lr=0.1,0.2", "--zip", "train.epochs=1,2,3"], "equally many values"),
    (["--random", "3", "--space", "optimizer.lr=loguniform(0,1)"], "loguniform needs 0 < low"),
    (["--random", "3", "--space", "optimizer.lr=logunifrom(1e-4,1e-1)"], "did you mean 'loguniform'"),
    (["--random", "3", "--space", "optimizer.lr=uniform(1)"], "uniform takes two numbers"),
    (["--random", "3", "--space", "train.epochs=int(1.5,3)"], "int takes two integers"),
    (["--random", "3", "--space", "optimizer.lr=__import__('os')"], "unknown distribution '__import__'"),
    (["--random", "3", "--space", "optimizer.lr=os.system('ls')"], "expected one of loguniform(...)"),
    (["--random", "3"], "--random N needs at least one --space"),
    (["--space", "optimizer.lr=uniform(0.1,0.2)"], "--space needs --random N"),
    (["--grid", "optimizer.lr=0.1", "--space", "optimizer.lr=uniform(0.1,0.2)", "--random", "2"],
     "optimizer.lr is given in both --grid and --space"),
    (["--grid", "optimizer.lr=0.1", "--metric", "accuracy"], "--metric names a split and a metric"),
    (["--grid", "optimizer.lr=0.1", "--trial", "0"], "--trial K needs --out DIR"),
    (["--grid", "optimizer.lr=0.1", "--trial", "5", "--out", "x"], "the sweep has 1 trials, numbered 0 to 0"),
    (["--grid", "optimizer.lr=0.1", "--workers", "0"], "--workers must be an integer >= 1"),
])
def test_bad_sweep_input_is_an_error_line_and_writes_nothing(cli, xor, tmp_path, args, message):
    result = cli("sweep", xor, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, message", [
    ("grid: {optimizer.lr: [0.1]}\ngird: {}\n", "unknown key 'gird' (did you mean 'grid'?)"),
    ("grid: {optimizer.lr: 0.1}\n", "grid.optimizer.lr: must be a non-empty list"),
    ("random: 0\nspace:\n  optimizer.lr: uniform(0,1)\n", "random: must be an integer >= 1"),
    ("random: 2\nspace: {optimizer.lr: uniform(0, 1)}\n", "a comma ends the value: quote it or use block style"),
    ("[1, 2]\n", "a sweep file is a mapping"),
    ("grid: {optimizer.lr: [0.1}\n", "invalid YAML"),
    ("grid: {optimizer.lrr: [0.1, 0.2]}\n", "sweep.yaml: grid.optimizer.lrr=0.1: optimizer: optimizer 'adam' has no parameter 'lrr'"),
])
def test_bad_sweep_file(cli, xor, write, text, message):
    spec = write("sweep.yaml", text)
    result = cli("sweep", xor, "--spec", spec)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert not (spec.parent / "runs").exists()


def test_report_of_a_folder_that_is_not_a_sweep(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    for target in ("missing", "empty"):
        result = cli("sweep", "report", tmp_path / target)
        assert result.exit_code == 2 and result.stderr.startswith("error: ")


# -- expansion --------------------------------------------------------------------------------
def test_grid_zip_product_order_and_stable_ids(xor):
    plan = plan_sweep(xor, grid=["optimizer.lr=0.1,1e-2"], zips=["model.layers.0.units=4,8", "train.epochs=2,3"])
    assert [t.label for t in plan.trials] == [
        "model.layers.0.units=4 optimizer.lr=0.1 train.epochs=2", "model.layers.0.units=8 optimizer.lr=0.1 train.epochs=3",
        "model.layers.0.units=4 optimizer.lr=0.01 train.epochs=2", "model.layers.0.units=8 optimizer.lr=0.01 train.epochs=3"]
    assert [t.epochs for t in plan.trials] == [2, 3, 2, 3]
    # the same values written differently, in another flag order -> the same trial ids
    again = plan_sweep(xor, zips=["train.epochs=2,3", "model.layers.0.units=4,8"], grid=["optimizer.lr=0.1,0.01"])
    assert sorted(t.id for t in again.trials) == sorted(t.id for t in plan.trials)
    # fixed --set overrides are part of a trial's identity (another epoch count is another trial)
    other = plan_sweep(xor, grid=["optimizer.lr=0.1"], sets=["train.epochs=5"])
    assert other.trials[0].id != plan_sweep(xor, grid=["optimizer.lr=0.1"]).trials[0].id
    assert other.trials[0].overrides == ["optimizer.lr=0.1", "train.epochs=5"]


def test_a_whole_section_is_applied_before_its_keys(xor):
    plan = plan_sweep(xor, grid=["optimizer.lr=0.5", "optimizer={type: sgd, momentum: 0.9},{type: adam}"])
    assert plan.trials[0].overrides == ["optimizer={type: sgd, momentum: 0.9}", "optimizer.lr=0.5"]
    from nntrain.config import load_config

    cfg = load_config(xor, plan.trials[0].overrides)
    assert cfg.optimizer["type"] == "sgd" and cfg.optimizer["lr"] == 0.5 and cfg.optimizer["momentum"] == 0.9


def test_random_search_is_seeded_and_stays_in_its_space(xor):
    space = ["optimizer.lr=loguniform(1e-4,1e-1)", "train.epochs=int(1,3)", "train.batch_size=choice(1,2,full)",
             "data.validation_split=uniform(0,0.5)"]
    plan = plan_sweep(xor, random=12, space=space, seed=7)
    assert len(plan.trials) + plan.dropped == 12
    params = [dict(t.params) for t in plan.trials]
    assert all(1e-4 <= p["optimizer.lr"] <= 1e-1 for p in params)
    assert {p["train.epochs"] for p in params} == {1, 2, 3} and {p["train.batch_size"] for p in params} <= {1, 2, "full"}
    assert all(0 <= p["data.validation_split"] <= 0.5 for p in params)
    same = plan_sweep(xor, random=12, space=space, seed=7)
    assert [t.id for t in same.trials] == [t.id for t in plan.trials]
    assert [t.id for t in plan_sweep(xor, random=12, space=space, seed=8).trials] != [t.id for t in plan.trials]


def test_distributions_draw_what_they_say():
    rng = random.Random(0)
    log = parse_distribution("loguniform(1e-4, 1)", "x")
    draws = [log.draw(rng) for _ in range(2000)]
    assert min(draws) >= 1e-4 and max(draws) <= 1
    # log-uniform: each decade gets about a quarter of the draws
    decades = [sum(10.0 ** -(k + 1) <= d < 10.0 ** -k for d in draws) for k in range(4)]
    assert all(380 < n < 620 for n in decades), decades
    assert all(float(f"{d:.4g}") == d for d in draws) and len(set(draws)) > 1900  # 4 significant digits
    ints = parse_distribution("int(2, 4)", "x")
    assert {ints.draw(rng) for _ in range(200)} == {2, 3, 4}
    assert parse_distribution("choice(relu, [1, 2], {a: 1})", "x").args == ("relu", [1, 2], {"a": 1})
    with pytest.raises(SweepError, match="low < high"):
        parse_distribution("uniform(2, 1)", "x")


def test_value_text_round_trips_through_set(xor):
    from nntrain.config import apply_override

    for value in (0.1, 1e-05, 3, True, None, "relu", "1", [2, 3], {"type": "sgd", "lr": 0.1}, 1.5e20):
        raw: dict = {}
        apply_override(raw, f"k={value_text(value)}")
        assert raw["k"] == value


def test_sweep_file_holds_the_same_as_the_flags(xor, write):
    spec = write("sweep.yaml", "grid: {optimizer.lr: [0.1, 0.01]}\nset: {train.epochs: 2}\n"
                               "random: 2\nseed: 3\nspace:\n  model.layers.0.units: choice(4, 8)\nmetric: train.loss\n")
    plan = plan_sweep(xor, spec_file=spec)
    flags = plan_sweep(xor, grid=["optimizer.lr=0.1,0.01"], sets=["train.epochs=2"], random=2, seed=3,
                       space=["model.layers.0.units=choice(4,8)"], metric="train.loss")
    assert [t.id for t in plan.trials] == [t.id for t in flags.trials] and plan.metric == "train.loss"
    assert build_spec(spec, random=5).random == 5  # a flag wins over the file


# -- pieces -----------------------------------------------------------------------------------
def test_threads_per_worker_never_oversubscribe():
    for cores in (1, 2, 3, 8, 64):
        for workers in (1, 2, 3, 8, 100):
            threads = int(thread_env(workers, cores)["OPENBLAS_NUM_THREADS"])
            assert threads >= 1 and (workers * threads <= cores or threads == 1)
            assert set(thread_env(workers, cores).values()) == {str(threads)}
    assert thread_env(2, 8)["OMP_NUM_THREADS"] == "4" and thread_env(2, 8)["MKL_NUM_THREADS"] == "4"


def test_exit_codes_become_statuses():
    assert classify(0, "") == ("done", None)
    assert classify(1, "error: the loss became nan at epoch 3\n") == ("diverged", "the loss became nan at epoch 3")
    assert classify(2, "error: data/x.csv: bad\n") == ("failed", "data/x.csv: bad")
    assert classify(1, "Traceback (most recent call last):\nValueError: boom\n") == ("crashed", "exit code 1: ValueError: boom")
    assert classify(-9, "") == ("killed", "killed by SIGKILL")
    assert classify(130, "error: interrupted\n")[0] == "interrupted"


def test_leaderboard_order_and_direction(tmp_path):
    def rec(k, loss, acc=None, status="done"):
        test = {"loss": loss} if acc is None else {"loss": loss, "accuracy": acc}
        return {"trial": k, "id": str(k), "name": f"{k:03d}-{k}", "params": {"a": k}, "status": status,
                "train": {"loss": loss}, "val": None, "test": test if loss is not None else None}

    records = [rec(0, 0.5, 0.9), rec(1, 0.2, 0.9), rec(2, None, status="diverged"), rec(3, 0.1, 0.8)]
    board = leaderboard(tmp_path, records, [], None)
    assert board["metric"] == "test.accuracy" and board["mode"] == "max"
    assert [r["trial"] for r in board["trials"]] == [1, 0, 3, 2]  # tie on accuracy -> lower loss first
    assert [r["rank"] for r in board["trials"]] == [1, 2, 3, None]
    board = leaderboard(tmp_path, records, [], "test.loss")
    assert [r["trial"] for r in board["trials"]] == [3, 1, 0, 2] and board["mode"] == "min"
    assert direction("val.accuracy") == "max" and direction("val.mean_squared_error") == "min"
    assert direction("val.accuracy", "min") == "min"
    with pytest.raises(Exception, match="available: test.accuracy, test.loss, train.loss"):
        leaderboard(tmp_path, records, [], "val.loss")
    records[0]["val"] = {"loss": 0.3}  # with a validation split, val.loss is the default
    assert leaderboard(tmp_path, records, [], None)["metric"] == "val.loss"


def test_displays(xor, tmp_path):
    plan = plan_sweep(xor, grid=["optimizer.lr=0.1,0.01"])
    record = {"trial": 0, "id": plan.trials[0].id, "name": plan.trials[0].name, "params": {"optimizer.lr": 0.1},
              "status": "done", "epochs": 8, "wall": 1.5, "train": {"loss": 0.25}, "test": {"accuracy": 1.0}}
    plain = StringIO()
    d = PlainDisplay(plain)
    d.begin(tmp_path, 2, 2, 2, 1, None)
    d.started(plan.trials[0])
    d.finished(record)
    assert plain.getvalue().splitlines() == [
        f"sweep {tmp_path}: 2 trials to run; 2 workers x 1 thread", "trial 0 started  optimizer.lr=0.1",
        "[1/2] trial 0 done  optimizer.lr=0.1  test.accuracy 1.0000  1.5s"]
    live = StringIO()
    d = RichDisplay(live)
    d.begin(tmp_path, 2, 2, 2, 1, "train.loss")
    for t in plan.trials:
        d.started(t)
    d.progress(plan.trials[1], {"epoch": 2, "loss": 0.125})
    d.finished(record)
    d.end()
    text = live.getvalue()
    assert "optimizer.lr=0.01" in text and "2/3" in text and "loss 0.1250" in text and "running" in text
    assert "train.loss 0.2500" in text and "done" in text


def test_cli_import_stays_light():
    code = "import sys, nntrain.cli; print(sorted(m for m in ('numpy', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_of_both_forms(cli):
    run_help = cli("sweep", "--help")
    assert run_help.exit_code == 0 and "Usage: nntrain sweep [OPTIONS]" in run_help.stdout
    assert "--grid" in run_help.stdout and "nntrain sweep report DIR" in run_help.stdout
    report_help = cli("sweep", "report", "--help")
    assert report_help.exit_code == 0 and "Usage: nntrain sweep report [OPTIONS]" in report_help.stdout
    assert "--grid" not in report_help.stdout


# -- the README's shell loop ------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("bash") is None, reason="needs bash and jq")
def test_readme_learning_rate_loop(tmp_path):
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- lr-loop -->\s*```bash\n(.*?)```", text, re.S).group(1)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "xor.yaml").write_text(XOR)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", block], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines()]
    assert [r[0] for r in rows] == ["0.1", "0.03", "0.01"]
    assert all(0.0 <= float(r[1]) <= 1.0 for r in rows)
    for lr, acc in rows:
        summary = json.loads((tmp_path / "runs" / "xor" / f"lr-{lr}" / "summary.json").read_text())
        assert summary["test"]["accuracy"] == float(acc)


def test_the_same_command_without_out_continues_its_folder(cli, xor, tmp_path):
    args = ("sweep", xor, "--grid", "optimizer.lr=0.1", "--progress", "plain")
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("xor-sweep-")
    again = cli(*args)
    assert again.exit_code == 0 and f"resuming runs/{folders[0].name}" in again.stderr
    assert "0 trials to run, 1 already finished" in again.stderr and "started" not in again.stderr
    assert list((tmp_path / "runs").iterdir()) == folders
    assert again.stdout == first.stdout  # the same leaderboard
    other = cli("sweep", xor, "--grid", "optimizer.lr=0.2", "--print-commands")  # another sweep: a new folder
    assert other.exit_code == 0 and len(list((tmp_path / "runs").iterdir())) == 2
    # a sweep folder holds one config: a changed config cannot reuse its finished trials
    changed = tmp_path / "xor.yaml"
    changed.write_text(xor.read_text().replace("units: 8", "units: 6"))
    refused = cli("sweep", changed, "--grid", "optimizer.lr=0.1", "--out", folders[0])
    assert refused.exit_code == 2 and "holds a sweep of another config" in refused.stderr


def test_trials_jsonl_latest_line_wins_and_a_torn_line_is_skipped(tmp_path):
    from nntrain.sweep.board import append_record, read_records

    append_record(tmp_path, {"id": "a", "trial": 0, "status": "killed"})
    append_record(tmp_path, {"id": "b", "trial": 1, "status": "done"})
    append_record(tmp_path, {"id": "a", "trial": 0, "status": "done"})
    with open(tmp_path / "trials.jsonl", "a") as f:
        f.write('{"id": "c", "trial": 2, "sta')  # a write cut short
    records = read_records(tmp_path)
    assert sorted(records) == ["a", "b"] and records["a"]["status"] == "done"


def test_two_sweeps_share_one_folder_and_survive_a_kill(xor, tmp_path):
    """Two `nntrain sweep` processes on one --out claim trials (an flock per trial): each trial
    is recorded once; kill -9 one of them in the middle and the other runs what it left."""
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "nntrain", "sweep", str(xor), "--grid", "optimizer.lr=0.1,0.01,0.03",
           "--grid", "train.batch_size=4,8", "--workers", "1", "--out", str(out), "--json", "-q"]
    first, second = (subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
                     for _ in range(2))
    jsonl = out / "trials.jsonl"
    deadline = time.monotonic() + 60
    while not (jsonl.exists() and jsonl.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sorted(r["trial"] for r in lines) == [0, 1, 2, 3, 4, 5]  # each once, none lost
    assert all(r["status"] == "done" for r in lines)
    board = json.loads(stdout)
    assert len(board["trials"]) == 6 and board["pending"] == []
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # claims go with their records
