"""A sweep's plan: the config, the validated trials, the sweep folder and each trial's command.

Every trial's config is loaded and validated (keys, values, registry names, model shapes)
before anything runs or is written, so a typo in `--grid optimizer.lrr=...` costs nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config.load import yaml_problem, yaml_value
from ..config.schema import number_from
from ..errors import NntrainError
from .space import SweepError, SweepSpec, Trial, expand, parse_axis, parse_space, read_spec, value_text

SPLITS = ("train", "val", "test")
SWEEP_FILE = "sweep.json"
TRIALS_FILE = "trials.jsonl"


@dataclass
class Plan:
    config: Path
    spec: SweepSpec
    trials: list[Trial]
    dropped: int = 0  # duplicate trials (e.g. repeated random draws) left out
    metric: str | None = None
    mode: str = "auto"
    config_sha1: str = ""  # of the config file's bytes: a sweep folder holds trials of one config

    @property
    def key(self) -> str:
        """Identifies the sweep: the same config and trials give the same key (used to resume)."""
        text = self.config_sha1 + "\n" + "\n".join(t.id for t in self.trials)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]

    def argv(self, trial: Trial, out: Path) -> list[str]:
        """`fit` arguments of a trial (after `nntrain`)."""
        args = ["fit", str(self.config)]
        for text in trial.overrides:
            args += ["--set", text]
        return args + ["--run-dir", str(out / trial.name), "--json", "--quiet"]

    def command(self, trial: Trial, out: Path) -> str:
        """One shell line: what --print-commands prints."""
        return shlex.join(["nntrain", *self.argv(trial, out)])

    def describe(self) -> dict:
        return {"config": str(self.config), "config_sha1": self.config_sha1,
                "sets": [f"{k}={value_text(v)}" for k, v in self.spec.sets],
                "trials": [t.as_dict() for t in self.trials]}


def parse_set(text: str) -> tuple[str, object]:
    """A fixed `--set KEY=VALUE` of the sweep, read as `nntrain fit --set` reads it."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(f"--set expects KEY=VALUE (e.g. train.epochs=5), got {text!r}")
    try:
        return key, number_from(yaml_value(value)) if value.strip() else None
    except yaml.YAMLError as exc:
        raise SweepError(f"--set {text}: the value is not valid YAML ({yaml_problem(exc)})") from None


def build_spec(spec_file=None, sets=(), grid=(), zips=(), space=(), random=None, seed=None, search=None,
               trials=None, prune=None, storage=None, study=None) -> SweepSpec:
    """The sweep file (if any) with the flags added; a flag wins over the file for random/seed
    and for the study's search/trials/prune/storage/study."""
    spec = read_spec(spec_file) if spec_file else SweepSpec()
    for name, value in (("search", search), ("trials", trials), ("prune", prune), ("storage", storage), ("study", study)):
        if value is not None:
            setattr(spec, name, value)
    spec.sets += [parse_set(t) for t in sets]
    flags = [("--grid", spec.grid, grid, lambda t: parse_axis(t, "--grid")),
             ("--zip", spec.zip, zips, lambda t: parse_axis(t, "--zip")), ("--space", spec.space, space, parse_space)]
    for flag, target, texts, parse in flags:
        for text in texts:
            target.append(parse(text))
            spec.origin.setdefault(target[-1][0], flag)
    if random is not None:
        if random < 1:
            raise SweepError(f"--random must be an integer >= 1, got {random}")
        spec.random = random
    if seed is not None:
        spec.seed = seed
    return spec


def check_metric(metric: str | None, mode: str | None) -> tuple[str | None, str]:
    mode = mode or "auto"
    if mode not in ("auto", "min", "max"):
        raise SweepError(f"--mode must be min, max or auto, got {mode!r}")
    if metric is not None:
        split, dot, name = metric.partition(".")
        if not dot or split not in SPLITS or not name:
            raise SweepError(f"--metric names a split and a metric, e.g. val.loss or test.accuracy "
                             f"(splits: {', '.join(SPLITS)}); got {metric!r}")
    return metric, mode


def make_plan(config, spec: SweepSpec, metric: str | None = None, mode: str | None = None) -> Plan:
    """Expand the spec and validate every trial's config; raises before anything is written."""
    from ..config.load import load_config

    config = Path(config)
    metric, mode = check_metric(metric or spec.metric, mode or spec.mode)
    trials, dropped = expand(spec)
    for trial in trials:
        try:
            cfg = load_config(config, trial.overrides)
        except NntrainError as exc:
            _blame(exc, trial, spec.origin, len(trials))
            raise
        trial.epochs = cfg.train.epochs
    digest = hashlib.sha1(config.read_bytes()).hexdigest()[:12]
    return Plan(config, spec, trials, dropped, metric, mode, digest)


def _blame(exc: NntrainError, trial: Trial, origin: dict, total: int) -> None:
    """`--set optimizer.lr=-1` (what load_config saw) -> `--grid optimizer.lr=-1` (what the user wrote)."""
    where = exc.where or ""
    if where.startswith("--set "):
        key = where[6:].partition("=")[0]
        if key in origin:
            flag = origin[key]
            exc.where = f"{flag} {where[6:]}" if flag.startswith("--") else f"{flag}={where[6:].partition('=')[2]}"
    if total > 1:
        exc.message = f"{exc.message} (trial {trial.index}: {trial.label})"


# -- the sweep folder -----------------------------------------------------------------------
# what readers rely on in sweep.json and in each of its trials, with the types each may have
SWEEP_FIELDS = {"key": (str,), "config": (str,), "config_sha1": (str, type(None)), "trials": (list,),
                "earlier": (list,), "metric": (str, type(None)), "mode": (str, type(None))}
TRIAL_FIELDS = {"trial": (int,), "id": (str,), "name": (str,), "params": (dict,)}
_KINDS = {"str": "text", "int": "an integer", "float": "a number", "dict": "an object", "list": "a list",
          "NoneType": "null"}


def shown(value) -> str:
    """A JSON value as the file holds it, cut to one short phrase."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def wrong_field(data: dict, fields: dict) -> tuple[str, str, object] | None:
    """(key, what it must be, its value) for the first field of `data` with a wrong type."""
    for key, types in fields.items():
        value = data.get(key)
        if key in data and (not isinstance(value, types) or isinstance(value, bool)):
            kinds = [_KINDS[t.__name__] for t in types if not (t is int and float in types)]  # int: a number
            return key, " or ".join(kinds), value
    return None


def entry_problem(entry, fields: dict, required) -> str | None:
    """What keeps one trial (sweep.json) or record (trials.jsonl) from being read, phrased to follow
    where it is ('trials[1] is null, not an object'); None when nothing does."""
    if not isinstance(entry, dict):
        return f"is {shown(entry)}, not an object"
    missing = [k for k in required if k not in entry]
    if missing:
        return f"lacks {', '.join(map(repr, missing))}"
    wrong = wrong_field(entry, fields)
    if wrong:
        return f"has {wrong[0]!r} {shown(wrong[2])}, which must be {wrong[1]}"
    name = entry.get("name")
    if isinstance(name, str) and (name in ("", ".", "..") or any(c in name for c in "/\\\0")):
        # it is joined to the sweep folder's path: never a way out of it
        return f"has 'name' {shown(name)}, which must be a folder name inside the sweep folder"
    return None


def read_sweep_file(out: Path) -> dict:
    """sweep.json as a dict ({} when there is none); SweepError naming the file and what is wrong
    when it is not JSON, not an object, or a field has the wrong type. Its trials one by one:
    `sweep_trials`."""
    path = out / SWEEP_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise SweepError(f"{path} is not valid JSON ({exc})") from None
    except OSError as exc:
        raise SweepError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise SweepError(f"{path} holds {shown(data)}, not a JSON object")
    wrong = wrong_field(data, SWEEP_FIELDS)
    if wrong:
        raise SweepError(f"{path}: {wrong[0]!r} must be {wrong[1]}, got {shown(wrong[2])}")
    return data


def sweep_trials(sweep: dict) -> tuple[list[dict], list[tuple[str, object, str]]]:
    """(the trials of a read sweep.json, earlier commands' included, that can be used; (where,
    entry, problem) of each of the others, e.g. ('trials[1]', None, 'is null, not an object'))."""
    good, damaged = [], []
    for section in ("trials", "earlier"):
        for i, entry in enumerate(sweep.get(section, [])):
            problem = entry_problem(entry, TRIAL_FIELDS, TRIAL_FIELDS)
            if problem:
                damaged.append((f"{section}[{i}]", entry, problem))
            else:
                good.append(entry)
    return good, damaged


def default_out(plan: Plan, root: str | Path = "runs") -> tuple[Path, bool]:
    """(folder, resuming): the newest runs/<config>-sweep-*/ of the same sweep, else a new name.

    Rerunning the same command therefore continues where it stopped instead of starting over.
    """
    stem = plan.config.stem
    previous = sorted(Path(root).glob(f"{stem}-sweep-*/{SWEEP_FILE}"), reverse=True)
    for path in previous:
        try:
            if read_sweep_file(path.parent).get("key") == plan.key:
                return path.parent, True
        except SweepError:  # damaged: not the folder to continue
            continue
    base = Path(root) / f"{stem}-sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path, False


def check_out(out: Path, plan: Plan | None = None) -> Path:
    """An explicit --out: new, empty, or a sweep folder of the same config."""
    try:
        if out.exists() and not out.is_dir():
            raise SweepError(f"--out {out} exists and is not a folder")
    except OSError as exc:  # a name too long, a parent that cannot be searched
        raise SweepError(f"cannot create the sweep folder {out}: {exc.strerror}") from None
    if plan is not None and (out / SWEEP_FILE).is_file():
        try:
            old = read_sweep_file(out)
        except SweepError:  # damaged: rewritten from this command (trials.jsonl keeps the finished trials)
            old = {}
        if old.get("config_sha1") not in (None, plan.config_sha1):
            raise SweepError(f"--out {out} holds a sweep of another config ({old.get('config')}, or it has changed "
                             "since); its finished trials would not match: choose another --out")
    # hidden names are ignored: they may be another job's sweep.json being written right now
    visible = out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir())
    if visible and not (out / SWEEP_FILE).exists() and not (out / TRIALS_FILE).exists():
        raise SweepError(f"--out {out} is a folder that holds something other than a sweep; choose a new or empty folder")
    return out


def write_sweep_file(plan: Plan, out: Path) -> None:
    """sweep.json: the trials of the latest command, plus those of earlier commands in this folder."""
    from ..runs.folder import write_json

    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"cannot create the sweep folder {out}: {exc.strerror}") from None
    path = out / SWEEP_FILE
    try:
        old = read_sweep_file(out)
    except SweepError:  # damaged: rewritten whole from this command (trials.jsonl keeps the finished trials)
        old = {}
    ids = {t.id for t in plan.trials}
    known = [t for t in sweep_trials(old)[0] if t["id"] not in ids]
    try:
        write_json(path, {"key": plan.key, **plan.describe(), "earlier": known,
                          "metric": plan.metric, "mode": plan.mode, "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
                          "host": os.uname().nodename if hasattr(os, "uname") else ""})
    except NntrainError:
        if created:  # a sweep that could not start leaves the disk as it was
            try:
                out.rmdir()
            except OSError:
                pass
        raise
