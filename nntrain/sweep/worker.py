"""The worker: runs a study's trials in this process, `workers` at once, until the budget is used.

Each trial is still an `nntrain fit` process with its own run folder (runner.py); pruning.py
reports its epochs to the study from inside that process. With the heartbeat (RDB storages), a
worker that dies leaves a trial whose heartbeat stops; another worker fails it and runs it
again (RetryFailedTrialCallback), waiting for running trials before it leaves, so the study
finishes while one worker lives.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from .board import append_record
from .plan import Plan, write_sweep_file
from .space import Distribution, SweepError, Trial, trial_id, value_text
from .storage import retry_callback, shown_url
from .study import StudySpec, budget, open_study, place, study_board, study_out

TRIAL_ENV = "NNTRAIN_OPTUNA_TRIAL"  # tells a trial's fit process its study and trial (pruning.py)


class TrialFailed(Exception):
    """The trial's process ended failed, diverged or killed: the Optuna trial is FAIL."""


class Excess(Exception):
    """The budget was used by other workers between this worker's check and its ask."""


def _choice(v):
    return v if v is None or isinstance(v, (bool, int, float, str)) else value_text(v)


class Worker:
    """Runs the study's trials in this process, `workers` at once, until the budget is used."""

    def __init__(self, plan: Plan, s: StudySpec, out: Path, display, cores: int, workers: int):
        from .runner import thread_env

        self.plan, self.s, self.out, self.display = plan, s, out, display
        self.study, self.url, self.name = open_study(plan, s, out)
        self.env = {**os.environ, **thread_env(workers, cores)}
        self.env.pop("NNTRAIN_PROGRESS", None)
        self.workers, self.lock, self.stop = workers, threading.RLock(), threading.Event()
        self.running: dict[int, object] = {}  # trial number -> Running
        self.records: list[dict] = []
        self.heartbeat = not self.url.startswith("journal:")

    def run(self) -> None:
        if self.workers == 1:
            return self.loop()
        threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(self.workers)]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(0.2)
                with self.lock:
                    self._live()
        except BaseException:
            self.stop.set()
            self._stop_all()
            deadline = time.monotonic() + 60  # each thread records its trial's end and queues it again
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            raise
        if getattr(self, "error", None) is not None:
            raise self.error

    def loop(self) -> None:
        import optuna

        try:
            while not self.stop.is_set():
                with self.lock:  # one ask at a time in this process; other processes race by the rules above
                    optuna.storages.fail_stale_trials(self.study)
                    used, waiting, running = budget(self.study)
                if used >= self.s.trials and not waiting:
                    if running and self.heartbeat and not self.running:
                        time.sleep(min(self.s.heartbeat, 2.0))  # another worker's trial may die: run it again
                        continue
                    if running and self.running:
                        time.sleep(0.2)
                        continue
                    return
                try:
                    self.study.optimize(self.objective, n_trials=1, catch=(TrialFailed,))
                except Excess:
                    continue
        except BaseException as exc:
            if threading.current_thread() is threading.main_thread():
                raise
            self.error = exc if isinstance(exc, Exception) else SweepError(str(exc))
            self.stop.set()

    def objective(self, trial) -> float:
        import optuna

        retry = "failed_trial" in self.study._storage.get_trial(trial._trial_id).system_attrs
        if not retry:
            with self.lock:
                if place(self.study, trial) >= self.s.trials:
                    trial.set_user_attr("excess", True)
                    raise Excess()
        params = sorted(((k, self._suggest(trial, k, d)) for k, d in self.s.space.items()), key=lambda kv: kv[0])
        everything = sorted(self.plan.spec.sets + params, key=lambda kv: kv[0])
        # the same params may be drawn twice: each Optuna trial is a trial of its own, with its own id
        tid = trial_id(everything + [(" study", f"{self.name}#{trial.number}")])
        t = Trial(trial.number, tid, params, [f"{k}={value_text(v)}" for k, v in everything], self.s.epochs)
        trial.set_user_attr("trial", t.as_dict())
        record = self._run(trial, t)
        if record["status"] == "interrupted" or record["status"] == "killed":
            # stopped by this worker's end, not by its own fault: another worker runs it again
            retry_callback()(self.study, self.study._storage.get_trial(trial._trial_id))
        trial.set_user_attr("record", record)
        if record["status"] not in ("interrupted", "killed"):
            with self.lock:
                append_record(self.out, record)
        if self.stop.is_set() and record["status"] in ("interrupted", "killed"):
            raise KeyboardInterrupt
        if record["status"] == "pruned":
            raise optuna.TrialPruned(f"at epoch {record.get('epochs')}")
        from .board import metric_value

        value = metric_value(record, self.s.metric) if record["status"] == "done" else None
        if value is None:
            raise TrialFailed(record.get("error") or record["status"])
        return value

    def _suggest(self, trial, key: str, d: Distribution):
        if d.kind == "choice":  # back from the YAML text of a choice that is not a scalar
            value = trial.suggest_categorical(key, [_choice(v) for v in d.args])
            return next((v for v in d.args if _choice(v) == value), value)
        if d.kind == "int":
            return trial.suggest_int(key, *d.args)
        return float(trial.suggest_float(key, *d.args, log=d.kind == "loguniform"))

    def _run(self, trial, t: Trial) -> dict:
        import shutil

        from .runner import Running, _parent_death_signal, finish, start_files

        run_dir = self.out / t.name
        with self.lock:
            if run_dir.exists():  # left by an attempt of this very trial that never ended
                shutil.rmtree(run_dir, ignore_errors=True)
            files = start_files(run_dir)
        env = dict(self.env)
        if self.s.prune is not None:
            env[TRIAL_ENV] = json.dumps({"storage": self.url, "study": self.name, "trial_id": trial._trial_id,
                                         "monitor": _monitor(self.s.metric), "prune": self.s.prune,
                                         "epochs": self.s.epochs})
        proc = subprocess.Popen([sys.executable, "-m", "nntrain", *self.plan.argv(t, self.out)],
                                stdin=subprocess.DEVNULL, stdout=files[0], stderr=files[1], env=env,
                                preexec_fn=_parent_death_signal())
        r = Running(t, proc, run_dir, time.monotonic(), files)
        with self.lock:
            self.running[t.index] = r
            self.display.started(t)
        try:
            while (code := proc.poll()) is None:
                time.sleep(0.1)
                if self.workers == 1:
                    self._live()
        except BaseException:  # Ctrl-C, SIGTERM: the trial stops with this worker and is queued again
            self._stop_all()
            retry_callback()(self.study, self.study._storage.get_trial(trial._trial_id))
            raise
        with self.lock:
            self.running.pop(t.index, None)
            record = finish(r, code)
            record["run_dir"] = str(run_dir.resolve())
            self.display.finished(record)
            self.records.append(record)
        return record

    def _live(self) -> None:
        from .runner import LIVE_EVERY, _last_row

        now = time.monotonic()
        for r in list(self.running.values()):
            if self.display.live and now >= r.next_read:
                r.next_read = now + LIVE_EVERY
                self.display.progress(r.trial, _last_row(r.run_dir))
        self.display.refresh()

    def _stop_all(self) -> None:
        from .runner import _stop

        with self.lock:
            _stop(list(self.running.values()))


def _monitor(metric: str) -> str:
    """metrics.csv's column of a val.* or train.* metric."""
    split, _, name = metric.partition(".")
    return f"val_{name}" if split == "val" else name


def run_study(plan: Plan, s: StudySpec, out=None, workers: int | None = None, display=None, root="runs") -> dict:
    """Work on the study until its budget is used; return its leaderboard."""
    from .display import make_display
    from .runner import usable_cores

    display = make_display(display) if isinstance(display, str) or display is None else display
    out = study_out(plan, s, out, root)
    # marks the folder a sweep's; its trials come from the study, so sweep.json lists none
    write_sweep_file(dataclasses.replace(plan, trials=[], metric=s.metric, mode=s.mode), out)  # report DIR ranks as the study
    cores = usable_cores()
    workers = max(1, min(workers or cores, s.trials))
    worker = Worker(plan, s, out, display, cores, workers)
    used = budget(worker.study)[0]
    display.begin(out, s.trials, max(0, s.trials - used), workers, max(1, cores // workers), s.metric)
    import signal

    from .runner import _raise_interrupt

    handlers = {}
    if threading.current_thread() is threading.main_thread():  # SIGTERM/SIGHUP end trials like Ctrl-C
        handlers = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig}
    try:
        worker.run()
    except KeyboardInterrupt:
        display.end()
        display.note(f"interrupted: the study {worker.name} keeps its finished trials; rerun the same command to go on")
        raise
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)
        display.end()
    return study_board(worker.study, f"study {worker.name} in {shown_url(worker.url)}")
