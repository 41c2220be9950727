"""Running trials: one `nntrain fit` process per trial, `workers` at a time.

Separate processes isolate crashes and keep numpy's BLAS threads per trial under control: each
worker gets cores // workers threads (OMP/OPENBLAS/MKL_NUM_THREADS), so workers x threads never
exceeds the cores this process may use. Each trial's stdout/stderr go to fit.stdout/fit.stderr in
its run folder; its record is appended to trials.jsonl the moment it ends.
"""
from __future__ import annotations

import errno
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .board import FINAL, append_record, record_from_summary
from .plan import Plan
from .space import Trial

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")
POLL = 0.1  # seconds between checks on the running trials, when none ends sooner
LIVE_EVERY = 0.5  # seconds between reads of a running trial's metrics.csv


def usable_cores() -> int:
    """Cores this process may run on (respects taskset / SLURM cpu binding)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_env(workers: int, cores: int | None = None) -> dict[str, str]:
    threads = max(1, (cores or usable_cores()) // max(1, workers))
    return {var: str(threads) for var in THREAD_VARS}


def _parent_death_signal():
    """A preexec_fn asking Linux to SIGTERM the trial if the sweep dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child():
        prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the sweep died before prctl took effect
            os._exit(1)

    return in_child


@dataclass
class Running:
    trial: Trial
    proc: subprocess.Popen
    run_dir: Path
    start: float
    files: list = field(default_factory=list)
    next_read: float = 0.0
    claim: object = None  # the trial's claim on a shared sweep folder, released once it is recorded
    pidfd: int | None = None  # readable once the process exits (Linux): see wait_for_exit


def _last_error(stderr: str) -> str | None:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln[len("error: "):] for ln in lines if ln.startswith("error: ")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else None


# a trial that exits 2 because its disk refused a write (full, over quota, read-only) did not
# fail on its input: it is `interrupted`, which a rerun of the sweep runs again
ENVIRONMENT = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def classify(code: int, stderr: str) -> tuple[str, str | None]:
    """(status, error) from a trial's exit code (DESIGN.md: 1 diverged, 2 bad input, 130 Ctrl-C;
    143 and 138 are SIGTERM and SIGUSR1, which fit also answers by saving a checkpoint)."""
    error = _last_error(stderr)
    if code == 0:
        return "done", None
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return "killed", f"killed by {name}"
    if code in (130, 138, 143):
        return "interrupted", error or "interrupted"
    if code == 1 and error and "Traceback" not in stderr:
        return "diverged", error
    if code == 2 and error and any(f": {os.strerror(e)}" in error for e in ENVIRONMENT):
        return "interrupted", error  # the disk refused, not the input: a rerun runs the trial again
    if code == 2:
        return "failed", error
    return "crashed", f"exit code {code}: {error}" if error else f"exit code {code}"


def _read_json_line(text: str) -> dict | None:
    import json

    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def finish(r: Running, code: int) -> dict:
    """The trial's record, from its exit code, its `--json` line or summary.json, and its stderr."""
    from ..runs.folder import read_summary

    for f in r.files:
        f.close()
    close_pidfd(r)
    read = lambda name: (r.run_dir / name).read_text(encoding="utf-8", errors="replace")  # noqa: E731
    stderr = read("fit.stderr")
    status, error = classify(code, stderr)
    try:
        summary = _read_json_line(read("fit.stdout")) or read_summary(r.run_dir)
    except Exception:  # a trial that died early may leave no readable summary
        summary = {}
    if status == "done" and summary.get("status") == "pruned":  # stopped cleanly by a study's pruner
        status = "pruned"
    return record_from_summary(
        r.trial.as_dict(), {**summary, "status": status, "error": error}, exit_code=code,
        wall=round(time.monotonic() - r.start, 3), host=socket.gethostname(),
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )


def clear_stale(out: Path, trial: Trial) -> None:
    """Remove what an unfinished earlier attempt of this trial left (same id, any index)."""
    from ..runs.folder import write_error

    for trash in out.glob(f".*-{trial.id}.stale-*"):  # a removal that was itself interrupted
        shutil.rmtree(trash, ignore_errors=True)
    for path in out.glob(f"*-{trial.id}"):
        if path.is_dir():
            trash = path.with_name(f".{path.name}.stale-{os.getpid()}")
            try:
                path.rename(trash)  # atomic: a straggling writer cannot mix old files into the new run
            except OSError as exc:
                raise write_error(path, exc) from None
            shutil.rmtree(trash, ignore_errors=True)


def start_files(run_dir: Path) -> list:
    """The trial's folder, created, and its fit.stdout and fit.stderr, opened for the process."""
    from ..runs.folder import write_error

    path, files = run_dir, []
    try:
        run_dir.mkdir(parents=True)
        for name in ("fit.stdout", "fit.stderr"):
            path = run_dir / name
            files.append(open(path, "wb"))
    except OSError as exc:  # a full or read-only disk: the sweep stops here, a rerun starts this trial again
        for f in files:
            f.close()
        raise write_error(path, exc) from None
    return files


def claim(out: Path, trial: Trial):
    """The trial's claim in a sweep folder that several `nntrain sweep` processes may share: an
    flock on <out>/.<id>.claim, held while the trial runs and released when its record is written
    (the kernel releases it too when the process dies, kill -9 included, so no claim goes stale).
    The open file, or None when another process holds it."""
    from ..runs.folder import write_error

    path = out / f".{trial.id}.claim"
    try:
        f = open(path, "a")
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        import fcntl

        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # no flock (Windows): one process per sweep folder, as before
        pass
    except OSError:
        f.close()
        return None
    return f


def drop_claims(out: Path, trials: list[Trial], finished: set[str]) -> None:
    """Remove the claim files of finished trials that nobody holds (one left by a sweep killed
    between a trial's end and its record, whose run folder then told a rerun it was done)."""
    for trial in trials:
        if trial.id in finished and (out / f".{trial.id}.claim").exists():
            owned = claim(out, trial)
            if owned is not None:
                Path(owned.name).unlink(missing_ok=True)
                owned.close()


def _finished_elsewhere(out: Path, trial: Trial) -> bool:
    """Whether another process recorded the trial since this one listed what to run."""
    from .board import read_records

    record = read_records(out).get(trial.id)
    return record is not None and record.get("status") in FINAL


def open_pidfd(pid: int) -> int | None:
    """A file descriptor that becomes readable when the process exits (Linux 5.3+), or None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def close_pidfd(r: Running) -> None:
    if r.pidfd is not None:
        os.close(r.pidfd)
        r.pidfd = None


def wait_for_exit(running: list[Running], timeout: float) -> None:
    """Sleep up to `timeout`, less when a trial's process exits: a freed worker starts the next
    trial at once instead of at the next POLL (a plain sleep idles it POLL / 2 = 0.05 s per
    trial on average, a cost that benchmarks/sweep_overhead.py charges to every tiny trial)."""
    fds = [r.pidfd for r in running if r.pidfd is not None]
    if fds and len(fds) == len(running):
        select.select(fds, [], [], timeout)
    else:
        time.sleep(timeout)


def _raise_interrupt(signum, frame):
    """SIGTERM/SIGHUP end the sweep like Ctrl-C, with 128 + their number as the exit code."""
    from ..errors import Interrupted

    raise Interrupted(f"stopped by {signal.Signals(signum).name}", signum)


def run_trials(plan: Plan, out: Path, trials: list[Trial], workers: int, display, cores: int | None = None) -> list[dict]:
    """Run the trials, `workers` at a time; each record is appended to trials.jsonl as it ends."""
    workers = max(1, min(workers, len(trials)))
    env = {**os.environ, **thread_env(workers, cores)}
    env.pop("NNTRAIN_PROGRESS", None)
    child_setup = _parent_death_signal()
    queue, running, records = list(trials), [], []
    held: list[Trial] = []  # claimed by another process on this folder: waited for at the end
    handlers = {}
    if threading.current_thread() is threading.main_thread():  # SIGTERM/SIGHUP end trials like Ctrl-C
        handlers = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s}
    try:
        while queue or running or held:
            if not queue and held and len(running) < workers:
                queue.append(held.pop(0))  # the other process runs it, or died: its claim tells
            while queue and len(running) < workers:
                trial = queue.pop(0)
                owned = claim(out, trial)
                if owned is None:  # another sweep on this folder runs it
                    held.append(trial)
                    if not queue and not running:
                        time.sleep(POLL)
                    continue
                if _finished_elsewhere(out, trial):
                    Path(owned.name).unlink(missing_ok=True)  # opening it may have made it again
                    owned.close()
                    continue
                clear_stale(out, trial)
                run_dir = out / trial.name
                try:
                    files = start_files(run_dir)
                except BaseException:
                    owned.close()
                    raise
                proc = subprocess.Popen([sys.executable, "-m", "nntrain", *plan.argv(trial, out)],
                                        stdin=subprocess.DEVNULL, stdout=files[0], stderr=files[1], env=env,
                                        preexec_fn=child_setup)
                running.append(Running(trial, proc, run_dir, time.monotonic(), files, claim=owned,
                                       pidfd=open_pidfd(proc.pid)))
                display.started(trial)
            wait_for_exit(running, POLL)
            now = time.monotonic()
            for r in list(running):
                code = r.proc.poll()
                if code is not None:
                    running.remove(r)
                    record = finish(r, code)
                    try:
                        if record["status"] in FINAL or record["status"] == "killed":
                            append_record(out, record)
                            # recorded: whoever still waits on this claim finds the record and skips
                            Path(r.claim.name).unlink(missing_ok=True)
                    finally:
                        r.claim.close()
                    records.append(record)
                    display.finished(record)
                elif display.live and now >= r.next_read:
                    r.next_read = now + LIVE_EVERY
                    display.progress(r.trial, _last_row(r.run_dir))
            display.refresh()
    except BaseException:
        _stop(running)
        raise
    finally:
        for s, old in handlers.items():
            signal.signal(s, old)
    return records


def _last_row(run_dir: Path) -> dict:
    from ..errors import NntrainError
    from ..runs.folder import read_metrics_csv

    try:
        rows = read_metrics_csv(run_dir / "metrics.csv")
    except NntrainError:  # a live display never stops a sweep
        return {}
    return rows[-1] if rows else {}


def _stop(running: list[Running], grace: float = 5.0) -> None:
    """Terminate the running trials (they are not recorded: a rerun starts them again)."""
    for r in running:
        if r.proc.poll() is None:
            r.proc.terminate()
    deadline = time.monotonic() + grace
    for r in running:
        try:
            r.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            r.proc.kill()
            r.proc.wait()
        for f in r.files + ([r.claim] if r.claim is not None else []):
            f.close()
        close_pidfd(r)
