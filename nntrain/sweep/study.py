"""An Optuna study as a sweep's engine (the `tune` extra): what defines a study (the config, its
overrides, the --space, the metric), its folder, creating it or joining it (a worker of another
sweep is refused), its budget of trials and its leaderboard, read from the storage alone.

The sampler and the pruner are search.py's, the storage storage.py's; worker.py runs the
trials. The budget, --trials N, is shared: a fresh trial whose place among the study's trials
is N or beyond is not run (it is marked `excess` and failed), so N trials run in all, however
many workers ask at once.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import NntrainError, did_you_mean
from .board import direction, leaderboard
from .plan import Plan, check_out
from .search import make_pruner, make_sampler
from .space import SEARCHES, Distribution, SweepError, value_text
from .storage import need_optuna, open_storage, shown_url

HEARTBEAT = 60.0  # seconds between a running trial's heartbeats; stale after twice that
ATTR = "nntrain"  # the study's user attribute holding what defines it (config, space, metric)


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


def place(study, trial) -> int:
    """How many counting trials came before this fresh one."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    return sum(_counts(t, retried) for t in trials if t.number < trial.number)


# -- the leaderboard ------------------------------------------------------------------------
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
