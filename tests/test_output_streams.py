"""Output streams and files (issue 13, part F): what nntrain writes as JSON (--json,
summary.json, a sweep's files) is strict JSON, NaN and infinities as null; a closed stdout is
no traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from nntrain import runs
from nntrain.cli.options import emit_json
from nntrain.sweep.board import append_record

from sample_configs import SPIRALS


def strict_loads(text: str):
    """json.loads that refuses NaN and Infinity, as jq and JavaScript do."""
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_summary_json_and_the_json_output_are_strict_with_null_for_nan_and_inf(tmp_path, capsys):
    obj = {"loss": float("nan"), "best": float("inf"), "val": {"mse": np.float32("-inf"), "acc": np.float64(0.5)},
           "history": [1.0, float("nan")], "weights": np.array([1.0, np.inf]), "epochs": 3, "ok": True, "none": None}
    expected = {"loss": None, "best": None, "val": {"mse": None, "acc": 0.5}, "history": [1.0, None],
                "weights": [1.0, None], "epochs": 3, "ok": True, "none": None}
    runs.write_json(tmp_path / "summary.json", obj)
    assert strict_loads((tmp_path / "summary.json").read_text()) == expected
    emit_json(obj)
    assert strict_loads(capsys.readouterr().out) == expected
    append_record(tmp_path, obj)
    assert strict_loads((tmp_path / "trials.jsonl").read_text()) == expected


def test_a_closed_stdout_is_no_traceback(tmp_path):
    """`nntrain list >&-`: the process starts without a stdout at all."""
    r = subprocess.run([sys.executable, "-m", "nntrain", "list", "layers"], capture_output=False,
                       stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(1), timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def nntrain_out(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nntrain", *map(str, args)], capture_output=True, timeout=120,
                          env={**os.environ, **env})


def test_an_ascii_stdout_gets_ascii_charts_and_a_narrow_one_a_readable_table(write, tmp_path):
    cfg = write("s.yaml", SPIRALS)
    assert nntrain_out("fit", cfg, "--run-dir", tmp_path / "runs" / "s" / "one", "-q", env={}).returncode == 0
    chart = nntrain_out("plot", tmp_path / "runs" / "s" / "one", env={"PYTHONIOENCODING": "ascii"})
    assert chart.returncode == 0 and chart.stderr == b"", chart.stderr
    text = chart.stdout.decode("ascii")  # every byte is ASCII
    assert "+---" in text and "epoch" in text
    narrow = nntrain_out("runs", tmp_path / "runs", env={"COLUMNS": "10"})
    assert narrow.returncode == 0 and b"s/one" in narrow.stdout and b"done" in narrow.stdout


def test_control_characters_in_a_run_name_are_escaped_in_the_table(write, tmp_path, cli):
    cfg = write("s.yaml", SPIRALS)
    name = "evil\x1b[2Jname"
    assert cli("fit", cfg, "--run-dir", tmp_path / "runs" / name, "-q").exit_code == 0
    r = cli("runs", tmp_path / "runs")
    assert r.exit_code == 0 and "evil\\x1b[2Jname" in r.stdout and "\x1b" not in r.stdout


def test_numpy_runtime_warnings_never_reach_stderr(write, tmp_path):
    """A run whose weights went infinite evaluates to a NaN loss; numpy warns ("invalid value
    encountered in dot") on the way, which the library lets through and the CLI does not."""
    from nntrain import api
    from nntrain.config import load_config

    api.fit(load_config(write("s.yaml", SPIRALS)), run_dir=tmp_path / "run")
    weights = runs.read_npz(tmp_path / "run" / runs.WEIGHTS)
    runs.write_npz(tmp_path / "run" / runs.WEIGHTS, {k: v * np.float32(np.inf) for k, v in weights.items()})
    library = subprocess.run([sys.executable, "-W", "default", "-c", "import sys; from nntrain import evaluate_run; "
                              "evaluate_run(sys.argv[1])", tmp_path / "run"], capture_output=True, text=True, timeout=120)
    assert "RuntimeWarning" in library.stderr  # the case does warn: the test below can fail
    r = subprocess.run([sys.executable, "-W", "default", "-m", "nntrain", "eval", tmp_path / "run", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert strict_loads(r.stdout)["loss"] is None  # NaN, written as null


def test_a_reader_that_goes_away_is_exit_141_without_a_word(write, tmp_path):
    """`nntrain list | head -1`: the pipe's reader is gone before nntrain writes (its end is
    closed at once), so the first write meets EPIPE, as a Unix tool meets SIGPIPE: exit 141
    (128 + 13), nothing on stderr; without that it was `error: [Errno 32] Broken pipe`, exit 2."""
    for args in (["list", "--format", "markdown"], ["check", write("s.yaml", SPIRALS)]):
        p = subprocess.Popen([sys.executable, "-m", "nntrain", *map(str, args)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.stdout.close()
        err = p.stderr.read()
        assert p.wait(timeout=120) == 141 and err == "", (args, p.returncode, err)
