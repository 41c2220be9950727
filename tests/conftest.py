from __future__ import annotations

import os
from pathlib import Path

# scikit-learn's check_array_api_input runs only with SciPy's array API switch on (it is read
# when SciPy is first imported): tests/test_sklearn.py then runs it instead of skipping it
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run `nntrain ARGS...` in tmp_path; returns the click Result (stdout, stderr, exit_code)."""
    from nntrain.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNTRAIN_PROGRESS", raising=False)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return run


@pytest.fixture
def write(tmp_path):
    """write("name.yaml", text) -> its path in tmp_path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


@pytest.fixture(autouse=True)
def _no_flush_to_zero_left_behind():
    """Every test must leave the floating-point mode as it found it: a fit switches flush-to-zero
    on (train.flush_denormals: auto) and must put it back however it ends."""
    from nntrain.train.denormals import _flushes

    before = _flushes()
    yield
    assert _flushes() == before, "flush-to-zero was left switched on"
