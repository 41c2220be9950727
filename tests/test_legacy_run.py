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
