"""A run folder written by nntrain 0.1.0 (before the package moved into nn/, train/, runs/, ...)
still loads, evaluates, predicts and resumes bit-exactly: tests/fixtures/README.md."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import nntrain

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def legacy(tmp_path) -> Path:
    """A copy of the old run folder (tests write into it; the fixture itself stays as it was)."""
    return Path(shutil.copytree(FIXTURES / "run-0.1.0", tmp_path / "legacy"))


def arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def assert_same_bits(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def test_old_run_evaluates_to_the_test_metrics_it_recorded(legacy, cli):
    recorded = json.loads((legacy / "summary.json").read_text())["test"]
    r = cli("eval", legacy, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["loss"] == pytest.approx(recorded["loss"], rel=1e-12)
    assert out["accuracy"] == recorded["accuracy"]


def test_old_run_predicts_what_the_old_version_predicted(legacy, cli):
    extras = FIXTURES / "run-0.1.0-extras"
    r = cli("predict", legacy, extras / "inputs.csv", "--proba")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (extras / "predictions.csv").read_text()
    model = nntrain.load_model(legacy)
    assert [layer.registry_name for layer in model.layers] == ["dense", "relu", "dense", "softmax"]


def test_same_config_trains_to_the_same_bits_as_the_old_version(legacy, cli, tmp_path):
    r = cli("fit", legacy / "config.yaml", "--run-dir", tmp_path / "again", "-q")
    assert r.exit_code == 0, r.stderr
    assert_same_bits(arrays(tmp_path / "again" / "model.npz"), arrays(legacy / "model.npz"))
    assert_same_bits(arrays(tmp_path / "again" / "best.npz"), arrays(legacy / "best.npz"))


def test_old_run_resumes_bit_exactly(legacy, cli, tmp_path):
    r = cli("fit", "--resume", legacy, "--set", "train.epochs=4", "-q")
    assert r.exit_code == 0, r.stderr
    fresh = cli("fit", FIXTURES / "run-0.1.0" / "config.yaml", "--set", "train.epochs=4",
                "--run-dir", tmp_path / "fresh", "-q")
    assert fresh.exit_code == 0, fresh.stderr
    assert_same_bits(arrays(legacy / "model.npz"), arrays(tmp_path / "fresh" / "model.npz"))
    rows = (legacy / "metrics.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["epoch", "1", "2", "3", "4"]
    assert json.loads((legacy / "summary.json").read_text())["status"] == "done"


# -- a run trained from a CSV without model.input_shape, before fit saved the inferred shape ------
@pytest.fixture
def legacy_csv(tmp_path) -> Path:
    """A copy of the 0.1.0 CSV run (config.yaml: input_shape null) beside its data folder."""
    shutil.copytree(FIXTURES / "run-0.1.0-csv-data", tmp_path / "run-0.1.0-csv-data")
    return Path(shutil.copytree(FIXTURES / "run-0.1.0-csv", tmp_path / "legacy-csv"))


def test_old_csv_run_without_input_shape_evaluates_predicts_and_exports(legacy_csv, cli, tmp_path):
    assert "input_shape: null" in (legacy_csv / "config.yaml").read_text()
    recorded = json.loads((legacy_csv / "summary.json").read_text())["test"]
    r = cli("eval", legacy_csv, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["loss"] == pytest.approx(recorded["loss"], rel=1e-6)
    assert out["accuracy"] == recorded["accuracy"]
    inputs = tmp_path / "run-0.1.0-csv-data" / "inputs.csv"
    r = cli("predict", legacy_csv, inputs)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "label" and len(r.stdout.splitlines()) == 6
    r = cli("export", legacy_csv, "--out", tmp_path / "m.npz")
    assert r.exit_code == 0, r.stderr
    assert nntrain.load_model(legacy_csv).input_shape == (3,)


@pytest.mark.parametrize("fmt", ["csv", "npz"])
def test_fit_saves_the_input_shape_it_inferred_from_the_data(fmt, cli, write, tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 2, 40)
    if fmt == "csv":
        np.savetxt(tmp_path / "d.csv", np.column_stack([x, y]), fmt="%.6g", delimiter=",",
                   header="a,b,c,d,y", comments="")
    else:
        np.savez(tmp_path / "d.npz", x=x, y=y)
    cfg = write("c.yaml", f"data: {{train: d.{fmt}, test: d.{fmt}, standardize: true}}\n"
                          "model: {layers: [{type: dense, units: 2, activation: softmax}]}\n"
                          "loss: sparse_categorical_crossentropy\nmetrics: [accuracy]\n")
    r = cli("fit", cfg, "--run-dir", tmp_path / "run", "-q")
    assert r.exit_code == 0, r.stderr
    import yaml

    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]["input_shape"] == [4]
    for args in (("eval", tmp_path / "run"), ("predict", tmp_path / "run", tmp_path / f"d.{fmt}"),
                 ("export", tmp_path / "run", "--out", tmp_path / "m.npz")):
        r = cli(*args)
        assert r.exit_code == 0, (args, r.stderr)
