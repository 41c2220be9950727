"""The benchmark scripts still run (each worker once, on a tiny config): they are not timed here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import SPIRALS

REPO = Path(__file__).resolve().parent.parent


def worker(system: str, config: Path) -> dict:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "compare.py"), "--worker", system,
                          "--config", str(config), "--batch", "16", "--epochs", "2", "--threads", "1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("system", ["nntrain", "nntrain_noftz", "gemm"])
def test_compare_workers_report_two_epochs(tmp_path, system):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SPIRALS)
    result = worker(system, cfg)
    assert len(result["epoch_seconds"]) == 2 and all(t > 0 for t in result["epoch_seconds"])
    if system != "gemm":
        from nntrain.denormals import available

        assert 0.0 <= result["test_accuracy"] <= 1.0
        # nntrain runs as the config says (auto: flush where available); nntrain_noftz never flushes
        assert result["flush_denormals"] is (system == "nntrain" and available())


@pytest.mark.parametrize("args, what", [(["--size", "1000"], "1,000 float32 parameters"),
                                        (["--train"], "training step of the seed model at batch 32")])
def test_denormals_benchmark_runs(args, what):
    from nntrain.denormals import available

    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "denormals.py"), *args,
                          "--rounds", "2", "--steps", "3"], capture_output=True, text=True, timeout=120)
    if not available():
        assert out.returncode == 1 and "not available" in out.stderr
        return
    assert out.returncode == 0, out.stderr
    assert "on / off:" in out.stdout and what in out.stdout
