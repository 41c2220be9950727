"""The benchmark scripts still run (each worker once, on a tiny config): they are not timed here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sample_configs import SPIRALS

REPO = Path(__file__).resolve().parent.parent


def worker(system: str, config: Path) -> dict:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "compare.py"), "--worker", system,
                          "--config", str(config), "--batch", "16", "--epochs", "2", "--threads", "1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("system", ["nntrain", "nntrain_noftz", "numpy", "numpy_report", "gemm"])
def test_compare_workers_report_two_epochs(tmp_path, system):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SPIRALS)
    result = worker(system, cfg)
    assert len(result["epoch_seconds"]) == 2 and all(t > 0 for t in result["epoch_seconds"])
    if system != "gemm":
        assert 0.0 <= result["test_accuracy"] <= 1.0
    if system.startswith("nntrain"):
        from nntrain.train.denormals import available

        # nntrain runs as the config says (auto: flush where available); nntrain_noftz never flushes
        assert result["flush_denormals"] is (system == "nntrain" and available())


def test_hand_written_numpy_loop_learns_like_nntrain(tmp_path):
    """The floor the benchmark reports is a real training loop: on spirals, 60 epochs of it reach
    an accuracy near nntrain's (different init draws, same math)."""
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SPIRALS.replace("n_samples: 90", "n_samples: 300").replace("units: 8", "units: 32"))
    out = {}
    for system in ("numpy", "nntrain"):
        run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "compare.py"), "--worker", system,
                              "--config", str(cfg), "--batch", "16", "--epochs", "60", "--threads", "1"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        out[system] = json.loads(run.stdout.strip().splitlines()[-1])["test_accuracy"]
    assert out["numpy"] > 0.6 and abs(out["numpy"] - out["nntrain"]) < 0.15, out


def test_hand_written_numpy_loop_skips_what_it_does_not_cover(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SPIRALS.replace("optimizer: adam", "optimizer: sgd"))
    assert "Adam" in worker("numpy", cfg)["skipped"]
    cfg.write_text(SPIRALS.replace("activation: relu", "activation: tanh"))
    assert "dense + relu" in worker("numpy", cfg)["skipped"]


@pytest.mark.parametrize("args, what", [(["--size", "1000"], "1,000 float32 parameters"),
                                        (["--train"], "training step of the seed model at batch 32")])
def test_denormals_benchmark_runs(args, what):
    from nntrain.train.denormals import available

    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "denormals.py"), *args,
                          "--rounds", "2", "--steps", "3"], capture_output=True, text=True, timeout=120)
    if not available():
        assert out.returncode == 1 and "not available" in out.stderr
        return
    assert out.returncode == 0, out.stderr
    assert "on / off:" in out.stdout and what in out.stdout


def test_floor_pairs_epochs_of_the_same_round():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import floor
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    out = floor.summary({"nntrain": [2.0, 6.0, 3.0], "numpy": [1.0, 3.0, 3.0], "gemm": [1.0, 2.0, 1.0]})
    assert out["seconds"]["nntrain"] == (3.0, 2.0, 6.0)
    # same-round ratios 2, 3, 3 -- not the ratio of medians (3 / 1)
    assert out["ratios"]["nntrain / gemm"] == (3.0, 2.0, 3.0)
    assert out["ratios"]["nntrain / numpy"] == (2.0, 1.0, 2.0)
    # rounds rotate who goes first
    calls = []
    seconds = floor.measure({k: (lambda k=k: calls.append(k) or 1.0) for k in "abc"}, rounds=2, warmup=1)
    assert calls == list("abcbcacab") and seconds == {k: [1.0, 1.0] for k in "abc"}


def test_floor_script_runs(tmp_path):
    cfg, out = tmp_path / "s.yaml", tmp_path / "floor.json"
    cfg.write_text(SPIRALS)
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "floor.py"), "--config", str(cfg),
                          "--batch-sizes", "16", "--rounds", "2", "--warmup", "0", "--threads", "1",
                          "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "| 16 | nntrain / gemm |" in run.stdout
    res = json.loads(out.read_text())["16"]
    assert set(res["ratios"]) == {"nntrain / gemm", "numpy / gemm", "nntrain / numpy", "nntrain / numpy_report"}
    assert all(len(v) == 2 for v in res["epoch_seconds"].values())
    # --repeat: each round's number is the mean of that many epochs
    calls = []
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import floor
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    seconds = floor.measure({"a": lambda: calls.append(1) or float(len(calls))}, rounds=1, warmup=0, repeat=3)
    assert len(calls) == 3 and seconds == {"a": [2.0]}


def test_residual_block_benchmark_runs(tmp_path):
    """benchmarks/residual_block.py (issue 15) on a tiny block, nntrain only (torch is optional)."""
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "residual_block.py"), "--systems", "nntrain",
                          "--batch", "4", "--size", "5", "--channels", "3", "--rounds", "1", "--steps", "2",
                          "--threads", "1", "--json", str(tmp_path / "r.json")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["input"] == [5, 5, 3] and result["ms_per_step"]["nntrain"] > 0 and "ratio" not in result


def test_sweep_overhead_benchmark_breaks_a_trial_down():
    """benchmarks/sweep_overhead.py (issue 19) without the 64-trial sweep: one trial's process,
    phase by phase, whose parts add up to its total and whose import cost names numpy."""
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "sweep_overhead.py"), "--no-sweep", "--starts", "1",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "machine:" in out.stdout and "numpy" in out.stdout  # the machine line names numpy and its BLAS
    res = json.loads(out.stdout.strip().splitlines()[-1])["this tree"]
    assert res["sweeps"] == [] and res["imports"][0]["numpy"] > 0
    phases = res["timelines"][0]
    wall = {k: v[0] for k, v in phases.items()}
    assert 0 < wall["time to first step"] < wall["total"]
    assert wall["fit: the epochs' step loops (summary seconds)"] > 0 and wall["  fsync: calls (a count, not ms)"] > 0
