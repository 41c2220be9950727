"""An Optuna study as a sweep's engine (the `tune` extra): a sampler over the --space (tpe,
cmaes, random, grid), a pruner that stops hopeless trials after any epoch (median, percentile,
asha, hyperband), and a storage (sqlite, a journal file, PostgreSQL/MySQL) that any number of worker
processes, on one machine or many, share. The storage URL is the only thing that changes
between one process and a cluster.

Each trial is still an `nntrain fit` process with its own run folder (runner.py); pruning.py
reports its epochs to the study from inside that process. The budget, --trials N, is shared:
a fresh trial whose place among the study's trials is N or beyond is not run (it is marked
`excess` and failed), so N trials run in all, however many workers ask at once. With the
heartbeat (RDB storages), a worker that dies leaves a trial whose heartbeat stops; another
worker fails it and runs it again (RetryFailedTrialCallback), waiting for running trials
before it leaves, so the study finishes while one worker lives.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import NntrainError, did_you_mean
from .board import append_record, direction, leaderboard
from .plan import Plan, check_out, write_sweep_file
from .space import PRUNERS, SEARCHES, Distribution, SweepError, Trial, trial_id, value_text

HEARTBEAT = 60.0  # seconds between a running trial's heartbeats; stale after twice that
MAX_RETRY = 3  # a trial whose worker died is run again at most this often
TRIAL_ENV = "NNTRAIN_OPTUNA_TRIAL"  # tells a trial's fit process its study and trial (pruning.py)
ATTR = "nntrain"  # the study's user attribute holding what defines it (config, space, metric)


class TrialFailed(Exception):
    """The trial's process ended failed, diverged or killed: the Optuna trial is FAIL."""


class Excess(Exception):
    """The budget was used by other workers between this worker's check and its ask."""


def need_optuna():
    try:
        import optuna
    except ImportError:
        raise SweepError("--search needs optuna, which is not installed; install the `tune` extra: "
                         "pip install 'nntrain[tune]' (plain --grid and --random sweeps need nothing)") from None
    import warnings

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the sweep's display says what happens
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeat, journal
    return optuna


def _retry_callback():
    """Optuna's callback that queues a copy of a trial whose worker died (renamed in 4.9)."""
    from optuna import storages

    cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None) or storages.RetryFailedTrialCallback
    return cls(max_retry=MAX_RETRY)


def shown_url(url: str) -> str:
    """A storage URL with its password hidden (postgresql://user:***@host/db)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def open_storage(url: str, heartbeat: float | None = None):
    """`sqlite:///sweep.db`, `postgresql://...`, `mysql+pymysql://...` (an RDB, with heartbeat),
    or `journal:PATH` (a journal file, safe on NFS, without heartbeat)."""
    optuna = need_optuna()
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url[len("journal:"):].removeprefix("//"))
        if not path.parent.is_dir():
            raise SweepError(f"--storage {url}: the folder {path.parent} does not exist")
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise SweepError(f"--storage {url}: cannot open the journal file: {exc.strerror}") from None
    if "://" not in url:
        raise SweepError(f"--storage {url!r} is not a storage URL; e.g. sqlite:///sweep.db, journal:sweep.journal, "
                         "postgresql://user:pass@host/db")
    kwargs: dict = {}
    if url.startswith("sqlite:"):  # several processes write: wait for the lock instead of failing
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    if heartbeat:
        import inspect

        name = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback"
                in inspect.signature(optuna.storages.RDBStorage).parameters else "failed_trial_callback")
        kwargs.update({"heartbeat_interval": max(1, round(heartbeat)), name: _retry_callback()})
    for attempt in range(6):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except Exception as exc:  # sqlalchemy's errors, a missing database driver, a bad URL
            racing = ("already exists", "UNIQUE constraint failed", "database is locked")
            if any(r in str(exc) for r in racing) and attempt < 5:  # another worker is creating the tables
                time.sleep(0.2 * (attempt + 1))
                continue
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SweepError(f"--storage {shown_url(url)}: cannot open it ({detail})") from None


def make_pruner(spec, epochs: int | None = None):
    """`median`, `percentile`, `asha` or `hyperband`, or {type: NAME, option: value...} with Optuna's options."""
    optuna = need_optuna()
    options = dict(spec) if isinstance(spec, dict) else {"type": spec}
    name = options.pop("type", None)
    if name not in PRUNERS:
        raise SweepError(f"--prune {name!r} is not a pruner{did_you_mean(str(name), PRUNERS)}; valid: {', '.join(PRUNERS)}")
    # defaults for short nntrain runs, measured on 30-trial spirals sweeps over 5 seeds
    # (benchmarks/sweep_search.py): a small lr that ends best starts slowly, so no verdict comes
    # before a third (median) or a tenth (percentile, asha) of the epochs. median stops the half
    # below the median and lost the best trial on 2 of 5 seeds; percentile stops only the worst
    # fifth (a trial above the 80th percentile), after 3 baseline trials as in Ray Tune's median
    # stopping rule, and lost it on none.
    tenth = max(1, (epochs or 10) // 10)
    cls, defaults = {
        "median": (optuna.pruners.MedianPruner, {"n_startup_trials": 5, "n_warmup_steps": max(1, (epochs or 3) // 3)}),
        "percentile": (optuna.pruners.PercentilePruner, {"percentile": 80.0, "n_startup_trials": 3,
                                                          "n_warmup_steps": tenth}),
        "asha": (optuna.pruners.SuccessiveHalvingPruner, {"min_resource": tenth, "reduction_factor": 3}),
        "hyperband": (optuna.pruners.HyperbandPruner, {"min_resource": 1, "max_resource": epochs or "auto",
                                                       "reduction_factor": 3}),
    }[name]
    try:
        return cls(**{**defaults, **options})
    except (TypeError, ValueError) as exc:
        raise SweepError(f"prune: {name}: {exc}") from None


def make_sampler(search: str, space: dict, seed: int | None):
    optuna = need_optuna()
    if search == "grid":
        return optuna.samplers.GridSampler({k: list(d.args) for k, d in space.items()}, seed=seed)
    if search == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise SweepError("--search cmaes needs the cmaes package; install the `tune` extra: pip install 'nntrain[tune]'") from None
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _choice(v):
    return v if v is None or isinstance(v, (bool, int, float, str)) else value_text(v)


@dataclass
class StudySpec:
    """What `--search` adds to a plan: the search space, the budget and where the study lives."""

    search: str
    space: dict  # key -> Distribution (--grid axes become choices)
    trials: int
    metric: str
    mode: str  # min or max
    prune: object = None
    storage: str = ""
    study: str = ""
    seed: int | None = None
    heartbeat: float = HEARTBEAT
    epochs: int | None = None

    def definition(self, plan: Plan) -> dict:
        """What a study stands for: a worker of another config, space or metric must not join it."""
        return {"config_sha1": plan.config_sha1, "config": str(plan.config),
                "sets": sorted(f"{k}={value_text(v)}" for k, v in plan.spec.sets),
                "space": {k: f"{d.kind}{tuple(d.args)}" for k, d in sorted(self.space.items())},
                "metric": self.metric, "mode": self.mode}


def study_spec(plan: Plan, search: str, trials: int | None, prune=None, storage: str | None = None,
               study: str | None = None, heartbeat: float | None = None) -> StudySpec:
    """Check the --search flags against the plan (exit 2 before anything runs)."""
    from ..config.load import load_config

    if search not in SEARCHES:
        raise SweepError(f"--search {search!r} is not a search{did_you_mean(str(search), SEARCHES)}; valid: {', '.join(SEARCHES)}")
    need_optuna()
    spec = plan.spec
    space = {k: Distribution("choice", tuple(values)) for k, values in spec.grid}
    space.update(dict(spec.space))
    if not space:
        raise SweepError(f"--search {search} needs at least one --space KEY=DIST (or --grid KEY=V1,V2) to search")
    if search == "grid":
        wide = [k for k, d in space.items() if d.kind != "choice"]
        if wide:
            raise SweepError(f"--search grid takes --grid values and choice(...) spaces; {wide[0]} is {space[wide[0]].kind}(...)")
        points = 1
        for d in space.values():
            points *= len(d.args)
        trials = min(trials or points, points)
    if trials is None:
        raise SweepError(f"--search {search} needs --trials N (how many trials the study runs in all)")
    if trials < 1:
        raise SweepError(f"--trials must be an integer >= 1, got {trials}")
    if storage is not None and not study:
        raise SweepError("--storage needs --study NAME: the workers sharing a storage find their study by name")
    if heartbeat is not None and heartbeat <= 0:
        raise SweepError(f"--heartbeat must be a number of seconds > 0, got {heartbeat:g}")
    cfg = load_config(plan.config, [f"{k}={value_text(v)}" for k, v in spec.sets])
    metric = plan.metric or ("val.loss" if cfg.data.validation_split else "train.loss")
    if prune is not None:
        make_pruner(prune, cfg.train.epochs)
        if metric.startswith("test."):
            raise SweepError(f"--prune compares trials epoch by epoch, and {metric} is known only at the end: "
                             "rank by a val.* (or train.*) metric")
    _check_space(plan, space)
    return StudySpec(search, space, trials, metric, direction(metric, plan.mode), prune, storage or "", study or "",
                     spec.seed, heartbeat or HEARTBEAT, cfg.train.epochs)


def _check_space(plan: Plan, space: dict) -> None:
    """Every choice and both ends of every range make a valid config (a typo in a key is exit 2)."""
    from ..config.load import load_config

    base = {k: (d.args[0]) for k, d in space.items()}
    for key, d in space.items():
        for value in d.args:
            params = {**base, key: value}
            overrides = sorted(plan.spec.sets + list(params.items()), key=lambda kv: kv[0])
            try:
                load_config(plan.config, [f"{k}={value_text(v)}" for k, v in overrides])
            except NntrainError as exc:
                if exc.where and exc.where.startswith("--set "):
                    exc.where = "--space " + exc.where[6:]
                raise


def study_out(plan: Plan, s: StudySpec, out, root="runs") -> Path:
    """--out, else runs/<config>-<study>/ (with --storage), else runs/<config>-<search>-<hash>/,
    which the same command finds again (and so continues its study)."""
    if out is not None:
        return check_out(Path(out), plan)
    if s.study:
        return check_out(Path(root) / f"{plan.config.stem}-{s.study}", plan)
    key = hashlib.sha1(json.dumps([s.definition(plan), s.search, s.trials], sort_keys=True).encode()).hexdigest()[:8]
    return check_out(Path(root) / f"{plan.config.stem}-{s.search}-{key}", plan)


def open_study(plan: Plan, s: StudySpec, out: Path, heartbeat: bool = True):
    """Create the study or join it; SweepError when it belongs to another config, space or metric."""
    optuna = need_optuna()
    url = s.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    storage = open_storage(url, s.heartbeat if heartbeat and not url.startswith("journal:") else None)
    name = s.study or plan.config.stem
    try:
        study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                    direction="minimize" if s.mode == "min" else "maximize",
                                    sampler=make_sampler(s.search, s.space, s.seed),
                                    pruner=make_pruner(s.prune, s.epochs) if s.prune else optuna.pruners.NopPruner())
    except Exception as exc:
        raise SweepError(f"--storage {shown_url(url)}: cannot open the study {name!r} ({exc})") from None
    mine = s.definition(plan)
    theirs = study.user_attrs.get(ATTR)
    if theirs is None:
        study.set_user_attr(ATTR, mine)
    else:
        for key in ("config_sha1", "sets", "space", "metric", "mode"):
            if theirs.get(key) != mine.get(key):
                if key == "config_sha1":
                    what = f"config file is {theirs.get('config')} (or it changed since), not {plan.config}"
                else:
                    what = f"{key} is {json.dumps(theirs.get(key))}, not {json.dumps(mine.get(key))}"
                raise SweepError(f"--study {name} in {shown_url(url)} belongs to another sweep: its {what}; "
                                 "choose another --study")
    return study, url, name


# -- the budget -----------------------------------------------------------------------------
def _retried(trials) -> set[int]:
    """Numbers of failed trials that a RetryFailedTrialCallback copy replaces."""
    out: set[int] = set()
    for t in trials:
        out.update(t.system_attrs.get("retry_history", []))
    return out


def _counts(trial, retried: set[int]) -> bool:
    """Whether a trial takes a place in the budget (not an excess ask, not a failure run again)."""
    from optuna.trial import TrialState

    if trial.user_attrs.get("excess"):
        return False
    return not (trial.state == TrialState.FAIL and trial.number in retried)


def budget(study) -> tuple[int, int, int]:
    """(trials that count, waiting ones, running ones)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    used = sum(_counts(t, retried) for t in trials)
    return (used, sum(t.state == TrialState.WAITING for t in trials),
            sum(t.state == TrialState.RUNNING and not t.user_attrs.get("excess") for t in trials))


def _place(study, trial) -> int:
    """How many counting trials came before this fresh one."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    return sum(_counts(t, retried) for t in trials if t.number < trial.number)


# -- workers ----------------------------------------------------------------------------------
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
                if _place(self.study, trial) >= self.s.trials:
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
            _retry_callback()(self.study, self.study._storage.get_trial(trial._trial_id))
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
            _retry_callback()(self.study, self.study._storage.get_trial(trial._trial_id))
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


def study_board(study, where: str, metric: str | None = None, mode: str | None = None) -> dict:
    """The leaderboard of a study, from its storage alone (any machine can build it)."""
    from optuna.trial import TrialState

    saved = study.user_attrs.get(ATTR) or {}
    metric, mode = metric or saved.get("metric"), mode if mode not in (None, "auto") else saved.get("mode") or "auto"
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    finished, pending = [], []
    for t in trials:
        if not _counts(t, retried):
            continue
        base = t.user_attrs.get("trial") or {"trial": t.number, "id": None, "name": None, "params": dict(t.params)}
        if t.state in (TrialState.RUNNING, TrialState.WAITING):
            pending.append({**base, "trial": t.number})
            continue
        rec = t.user_attrs.get("record")
        if rec is None:  # failed without a record: killed past its retries
            rec = {**base, "status": "killed" if t.state == TrialState.FAIL else t.state.name.lower(),
                   "error": "its worker stopped sending heartbeats", "epochs": None}
        finished.append({**rec, "trial": t.number})
    board = leaderboard(Path("."), finished, pending, metric, mode)
    board["sweep_dir"] = where
    return board


def report_study(storage: str, study: str, metric: str | None = None, mode: str | None = None) -> dict:
    """`nntrain sweep report --storage URL --study NAME`."""
    optuna = need_optuna()
    st = open_storage(storage)
    try:
        loaded = optuna.load_study(study_name=study, storage=st)
    except KeyError:
        names = [s.study_name for s in optuna.study.get_all_study_summaries(st)]
        raise SweepError(f"--study {study}: no such study in {shown_url(storage)}{did_you_mean(study, names)}; "
                         f"studies: {', '.join(names) or 'none'}") from None
    return study_board(loaded, f"study {study} in {shown_url(storage)}", metric, mode)
