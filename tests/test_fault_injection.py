"""Fault injection as SQLite tests crash consistency (issue 13, part B6): a short fit, and a resume,
with the k-th filesystem call that writes (an open for writing, a write, an fsync, a rename)
failing with ENOSPC, for every k up to the number of such calls the run makes. Every time:
exit 2 with one error line naming the cause; then, with the disk healthy again, the run folder
either holds no run or resumes to a model.npz bit-identical to a run that never failed."""
from __future__ import annotations

import builtins
import errno
import os

import numpy as np
import pytest

from nntrain import runs
from nntrain.runs import folder

from sample_configs import SPIRALS


class DiskFull:
    """Fails the k-th write-side call with ENOSPC; counts them all."""

    def __init__(self, monkeypatch, fail_at: int):
        self.fail_at, self.calls = fail_at, 0
        real_open, real_fsync, real_replace = builtins.open, os.fsync, os.replace
        disk = self

        class File:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                disk.tick("write", self.f.name)
                return self.f.write(data)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.f.__exit__(*exc)

            def __getattr__(self, name):
                return getattr(self.f, name)

        def opener(path, mode="r", *args, **kwargs):
            if not any(c in mode for c in "wax+"):
                return real_open(path, mode, *args, **kwargs)
            disk.tick("open", path)
            return File(real_open(path, mode, *args, **kwargs))

        def fsync(fd):
            disk.tick("fsync", fd)
            return real_fsync(fd)

        def replace(src, dst, *args, **kwargs):
            disk.tick("rename", dst)
            return real_replace(src, dst, *args, **kwargs)

        monkeypatch.setattr(folder, "open", opener, raising=False)  # the run folder's writes
        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)

    def tick(self, what: str, where) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError(errno.ENOSPC, "No space left on device", str(where))


def weights(run) -> dict[str, np.ndarray]:
    with np.load(run / runs.WEIGHTS, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def same_bits(a: dict, b: dict) -> bool:
    return sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)


def run_files(run) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name != runs.LOCK) if run.exists() else []


@pytest.fixture
def setup(write, cli, tmp_path):
    cfg = write("s.yaml", SPIRALS)  # 2 epochs of 6 steps: every write of a run, a few times over
    assert cli("fit", cfg, "--run-dir", tmp_path / "reference", "-q").exit_code == 0
    return cfg, weights(tmp_path / "reference")


@pytest.mark.parametrize("command", ["fit", "resume"])
def test_every_failing_write_is_one_error_line_and_the_run_resumes_bit_exactly(setup, cli, tmp_path, monkeypatch,
                                                                              command):
    cfg, reference = setup
    k = 0
    while True:
        k += 1
        run = tmp_path / f"{command}-{k}"
        if command == "resume":  # one healthy epoch first, then the resume to epoch 2 meets the fault
            assert cli("fit", cfg, "--run-dir", run, "-q", "--set", "train.epochs=1").exit_code == 0
        with monkeypatch.context() as m:
            disk = DiskFull(m, k)
            args = ("fit", cfg, "--run-dir", run) if command == "fit" else ("fit", "--resume", run)
            r = cli(*args, "-q", *(("--set", "train.epochs=2") if command == "resume" else ()))
        if disk.calls < k:  # no call left to fail: the whole run went through
            assert r.exit_code == 0, r.output
            assert k > 20, f"only {k - 1} write calls: the injection does not reach the run's writes"
            break
        assert r.exit_code == 2, (k, r.output)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, (k, r.stderr)
        assert "No space left on device" in r.stderr and "Traceback" not in r.output, (k, r.stderr)
        # the disk is healthy again: either nothing of a run is there (fit it anew), or it resumes
        if (run / runs.CONFIG).exists():
            again = cli("fit", "--resume", run, "-q", "--set", "train.epochs=2")  # what was asked for
            assert again.exit_code == 0, (k, again.output)
            assert same_bits(weights(run), reference), k
            assert runs.read_summary(run)["status"] == "done"
            assert [row["epoch"] for row in runs.read_metrics_csv(run / runs.METRICS)] == [1, 2], k
        else:
            assert run_files(run) == [], (k, run_files(run))
        assert not list(run.glob(".*.tmp-*")), k
