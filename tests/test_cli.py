"""End to end through the CLI: fit, --json, eval, check, list, and errors without tracebacks."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import CONFIGS


def fit_json(cli, *args):
    result = cli("fit", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_fit_xor_to_full_accuracy_and_eval_reproduces_it(cli, tmp_path):
    out = fit_json(cli, CONFIGS / "xor.yaml", "--run-dir", tmp_path / "run")
    assert out["status"] == "done" and out["epochs"] == 200
    assert out["test"]["accuracy"] == 1.0 and out["train"]["accuracy"] == 1.0
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [".lock", "config.yaml", "metrics.csv", "model.npz", "state.npz",
                                                     "summary.json"]
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 200 and list(rows[0]) == ["epoch", "lr", "loss", "accuracy", "seconds"]
    assert json.loads((run / "summary.json").read_text())["test"] == out["test"]
    ev = cli("eval", run, "--json")
    assert ev.exit_code == 0, ev.stderr
    scored = json.loads(ev.stdout)
    assert scored["accuracy"] == out["test"]["accuracy"]
    assert scored["loss"] == pytest.approx(out["test"]["loss"], rel=1e-6)


def test_json_output_is_one_object_and_progress_goes_to_stderr(cli, tmp_path):
    result = cli("fit", CONFIGS / "spirals.yaml", "--set", "train.epochs=2", "--json", "--progress", "plain")
    assert result.exit_code == 0
    out = json.loads(result.stdout)  # exactly one JSON document
    assert set(out) >= {"run_dir", "epochs", "seconds", "train", "val", "test"}
    assert set(out["val"]) == {"loss", "accuracy"}
    assert "epoch 1/2" in result.stderr and "\x1b[" not in result.stderr


def test_overrides_land_in_the_saved_config(cli, tmp_path):
    out = fit_json(cli, CONFIGS / "spirals.yaml", "--set", "optimizer.lr=0.05", "--set", "train.epochs=1",
                   "--quiet")
    saved = yaml.safe_load((Path(out["run_dir"]) / "config.yaml").read_text())
    assert saved["optimizer"]["lr"] == 0.05 and saved["train"]["epochs"] == 1
    assert out["epochs"] == 1
    assert Path(out["run_dir"]).parent == Path("runs") / "spirals"


def test_quiet_prints_nothing(cli):
    result = cli("fit", CONFIGS / "xor.yaml", "--set", "train.epochs=2", "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_run_dir_that_holds_a_run_is_refused(cli, tmp_path):
    fit_json(cli, CONFIGS / "xor.yaml", "--set", "train.epochs=1", "--run-dir", tmp_path / "r")
    result = cli("fit", CONFIGS / "xor.yaml", "--run-dir", tmp_path / "r")
    assert result.exit_code == 2 and "already holds a run" in result.stderr


@pytest.mark.parametrize("edit, key", [
    (("type: dense, units: 8", "type: dance, units: 8"), "model.layers.0"),
    (("  epochs: 200", "  epochs: 200\n  epoks: 3"), "train.epoks"),
    (("  epochs: 200", "  epochs: many"), "train.epochs"),
    (("lr: 0.5", "lr: -0.5"), "optimizer"),
    (("  name: xor", "  train: missing.csv"), "data.train"),
    (("input_shape: [2]", "input_shape: [3, 3]"), "model.layers.0"),
])
def test_bad_configs_exit_2_with_one_error_line(cli, write, edit, key):
    text = (CONFIGS / "xor.yaml").read_text().replace(*edit)
    path = write("bad.yaml", text)
    result = cli("fit", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:") and key in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not Path("runs").exists()  # nothing written


def test_missing_config_and_bad_flags(cli):
    result = cli("fit", "nope.yaml")
    assert result.exit_code == 2 and result.stderr.startswith("error: config file not found")
    result = cli("fit", CONFIGS / "xor.yaml", "--set", "train.epochs")
    assert result.exit_code == 2 and "--set expects KEY=VALUE" in result.stderr
    result = cli("fit", CONFIGS / "xor.yaml", "--progress", "fancy")
    assert result.exit_code == 2 and "--progress must be one of" in result.stderr
    result = cli("eval", "no/such/run")
    assert result.exit_code == 2 and "run folder not found" in result.stderr


def test_check_prints_the_summary(cli):
    result = cli("check", CONFIGS / "mnist_mlp.yaml")
    assert result.exit_code == 0, result.stderr
    assert "100,480" in result.stdout and "101,770" in result.stdout and "[batch, 10]" in result.stdout


def test_list_shows_parameters_and_defaults(cli):
    result = cli("list", "optimizers")
    assert result.exit_code == 0
    assert "adam" in result.stdout and "epsilon=1e-07" in result.stdout and "momentum=0.0" in result.stdout
    assert cli("list", "layer").exit_code == 2


def test_python_api_matches_the_cli(tmp_path):
    import nntrain

    cfg = nntrain.load_config(CONFIGS / "spirals.yaml", overrides=["train.epochs=2"])
    result = nntrain.fit(cfg, run_dir=tmp_path / "api")
    model = nntrain.load_model(tmp_path / "api")
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    p = model.predict(x)
    assert p.shape == (5, 3) and np.allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert result["epochs"] == 2 and result["status"] == "done"


def test_same_seed_same_result(cli):
    a = fit_json(cli, CONFIGS / "spirals.yaml", "--set", "train.epochs=2")
    b = fit_json(cli, CONFIGS / "spirals.yaml", "--set", "train.epochs=2")
    c = fit_json(cli, CONFIGS / "spirals.yaml", "--set", "train.epochs=2", "--set", "seed=1")
    assert a["test"] == b["test"] and a["test"] != c["test"]


@pytest.mark.parametrize("args, message", [
    (("plot", "run", "--height", "abc"), "Invalid value for '--height'"),
    (("gradcheck", "c.yaml", "--entries", "0"), "Invalid value for '--entries'"),
    (("fit", "--bogus"), "No such option: --bogus (see: nntrain fit --help)"),
    (("fitt",), "No such command 'fitt'. Did you mean 'fit'?"),
    (("sweep", "report"), "sweep report needs a sweep folder DIR, or --storage URL --study NAME"),
])
def test_a_flag_click_cannot_parse_is_one_error_line_and_exit_2(cli, args, message):
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "Usage:" not in r.output and r.stdout == ""


def test_bare_nntrain_still_shows_the_help(cli):
    r = cli()
    assert r.exit_code == 2 and "Usage: nntrain [OPTIONS] COMMAND" in r.output and "fit" in r.output
