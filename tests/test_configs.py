"""Every config in configs/ runs as it is (one short epoch on a little data), so none can rot."""
from __future__ import annotations

import json

import pytest

from conftest import CONFIGS

ALL = sorted(CONFIGS.glob("*.yaml"))


def test_there_are_configs():
    assert {"mnist_mlp.yaml", "xor.yaml", "spirals.yaml", "sine_regression.yaml"} <= {p.name for p in ALL}


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_config_runs(cli, tmp_path, path):
    result = cli("fit", path, "--set", "train.epochs=1", "--set", "data.limit=256", "--json",
                 "--run-dir", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "done" and out["epochs"] == 1
    assert out["test"] and all(v == v for v in out["test"].values())  # no NaN
