"""Fault injection as SQLite tests crash consistency (issue 13, part B6): a short fit, a resume and
a sweep, with the k-th filesystem call that writes (an open for writing, a write, an fsync, a
rename, a mkdir) failing with ENOSPC, for every k up to the number of such calls the run makes.
Every time: exit 2 with one error line naming the cause; then, with the disk healthy again, the
run folder either holds no run or resumes to a model.npz bit-identical to a run that never
failed, and the sweep folder reads back whole and a rerun of the sweep completes it."""
from __future__ import annotations

import builtins
import errno
import json
import os

import numpy as np
import pytest

from nntrain import runs
from nntrain.errors import RunError
from nntrain.runs import folder
from nntrain.sweep import board, runner

from sample_configs import SPIRALS, XOR

# the modules that open files for writing: the run folder, and the sweep's trial logs and trials.jsonl
WRITERS = (folder, runner, board)


class DiskFull:
    """Fails the k-th write-side call with ENOSPC, as a full disk does (a write takes what fits,
    then refuses); counts them all. Trials of a sweep run in processes of their own, which it
    does not reach: their writes are a fit's, tested here as such."""

    def __init__(self, monkeypatch, fail_at: int):
        self.fail_at, self.calls = fail_at, 0
        real_open, real_fsync, real_replace, real_rename, real_mkdir = (builtins.open, os.fsync, os.replace,
                                                                        os.rename, os.mkdir)
        disk = self

        class File:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                try:
                    disk.tick("write", self.f.name)
                except OSError:
                    self.f.write(data[: len(data) // 2])
                    raise
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

        def rename(src, dst, *args, **kwargs):
            disk.tick("rename", dst)
            return real_rename(src, dst, *args, **kwargs)

        def mkdir(path, *args, **kwargs):
            if not os.path.exists(path):  # an existing folder is EEXIST before any disk space counts
                disk.tick("mkdir", path)
            return real_mkdir(path, *args, **kwargs)

        for module in WRITERS:
            monkeypatch.setattr(module, "open", opener, raising=False)
        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(os, "rename", rename)
        monkeypatch.setattr(os, "mkdir", mkdir)

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
            assert f"then continue with: nntrain fit --resume {run}" in r.stderr, (k, r.stderr)
            again = cli("fit", "--resume", run, "-q", "--set", "train.epochs=2")  # what was asked for
            assert again.exit_code == 0, (k, again.output)
            assert same_bits(weights(run), reference), k
            assert runs.read_summary(run)["status"] == "done"
            assert [row["epoch"] for row in runs.read_metrics_csv(run / runs.METRICS)] == [1, 2], k
        else:
            assert run_files(run) == [], (k, run_files(run))
        assert not list(run.glob(".*.tmp-*")), k


def assert_sweep_folder_reads_back(cli, out) -> None:
    """What a failed sweep leaves: nothing, or sweep.json whole, trials.jsonl lines that read back,
    and a complete, finished run behind every trial recorded as done."""
    if not out.exists():
        return
    assert not list(out.rglob(".*.tmp-*")), sorted(out.rglob("*"))
    sweep = json.loads((out / "sweep.json").read_text())  # written before anything else: whole
    assert [t["trial"] for t in sweep["trials"]] == [0, 1]
    report = cli("sweep", "report", out, "--json")
    assert report.exit_code == 0, report.output
    for rec in json.loads(report.stdout)["trials"]:
        assert rec["status"] == "done", rec
        assert runs.read_summary(rec["run_dir"])["status"] == "done"
        assert [row["epoch"] for row in runs.read_metrics_csv(out / rec["name"] / runs.METRICS)] == [1]


def test_every_failing_write_of_a_sweep_is_one_error_line_and_a_rerun_completes_it(write, cli, tmp_path,
                                                                                  monkeypatch):
    cfg = write("xor.yaml", XOR)
    args = ("sweep", cfg, "--grid", "optimizer.lr=0.1,0.01", "--workers", "2", "-q")
    k = 0
    while True:
        k += 1
        out = tmp_path / f"sweep-{k}"
        with monkeypatch.context() as m:
            disk = DiskFull(m, k)
            r = cli(*args, "--out", out)
        if disk.calls < k:  # no call left to fail: the whole sweep went through
            assert r.exit_code == 0, r.output
            # the folder, sweep.json (4), and per trial its folder, two logs, a trials.jsonl line (3)
            assert k > 15, f"only {k - 1} write calls: the injection does not reach the sweep's writes"
            break
        assert r.exit_code == 2, (k, r.output)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, (k, r.stderr)
        assert "No space left on device" in r.stderr and "Traceback" not in r.output, (k, r.stderr)
        assert_sweep_folder_reads_back(cli, out)
        if not out.exists():  # nothing written (the folder or sweep.json failed): a rerun is a new
            continue          # sweep, which the last k, where nothing fails, runs
        # the disk is healthy again: the same command finishes the sweep
        again = cli(*args, "--out", out, "--json")
        assert again.exit_code == 0, (k, again.output)
        board = json.loads(again.stdout)
        assert [t["status"] for t in board["trials"]] == ["done", "done"] and board["pending"] == [], k
        assert_sweep_folder_reads_back(cli, out)


def test_a_trials_jsonl_line_torn_by_a_full_disk_spoils_no_other_record(tmp_path, monkeypatch):
    """The next record starts on a line of its own, not glued to the torn one (which would lose it)."""
    board.append_record(tmp_path, {"id": "a", "trial": 0, "status": "done"})
    with monkeypatch.context() as m:
        DiskFull(m, 2)  # the open, then the write: half the line reaches the disk
        with pytest.raises(RunError, match="trials.jsonl: No space left on device"):
            board.append_record(tmp_path, {"id": "b", "trial": 1, "status": "done"})
    board.append_record(tmp_path, {"id": "c", "trial": 2, "status": "done"})
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 3 and lines[1].startswith('{"id": "b"') and not lines[1].endswith("}")
    assert sorted(board.read_records(tmp_path)) == ["a", "c"]


def test_a_trial_stopped_by_a_full_disk_runs_again_on_rerun_but_bad_input_does_not():
    """classify() reads a trial's exit code and error line: a refused write (full disk, quota,
    read-only) is `interrupted`, which a rerun of the sweep repeats; exit 2 for bad input stays
    `failed`, which it does not."""
    from nntrain.sweep.board import FINAL
    from nntrain.sweep.runner import classify

    for cause in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        line = f"error: cannot write runs/s/0-ab/state.npz: {os.strerror(cause)}; free some space first\n"
        status, error = classify(2, line)
        assert status == "interrupted" and status not in FINAL and os.strerror(cause) in error
    assert classify(2, "error: data/x.csv line 3: 'x' is not a number\n")[0] == "failed"
    assert "failed" in FINAL
