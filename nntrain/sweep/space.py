"""What a sweep tries: --grid / --zip / --random + --space / a sweep file -> a list of trials.

A trial is a set of `KEY=VALUE` overrides on top of the config (and of the sweep's fixed --set
overrides). Values are YAML, read with `yaml.safe_load` and never evaluated:

    --grid optimizer.lr=0.1,0.01          the list `[0.1,0.01]` in YAML flow syntax
    --zip  model.layers.0.units=8,16      paired with every other --zip (not a product)
    --space optimizer.lr=loguniform(1e-4,1e-1)   one of loguniform, uniform, int, choice

Trials are the cartesian product of the grid axes and the zip axis, repeated for each of the
--random draws. A trial's id is a hash of all its overrides, so the same trial keeps the same
id (and run folder) across runs of the same command: that is what makes sweeps resumable.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..config.load import yaml_problem, yaml_value
from ..config.schema import number_from, type_name
from ..errors import NntrainError, did_you_mean

DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")
SEARCHES = ("tpe", "cmaes", "random", "grid")  # Optuna's samplers (search.py, the `tune` extra)
PRUNERS = ("median", "percentile", "asha", "hyperband")  # Optuna's pruners
SPEC_KEYS = ("set", "grid", "zip", "random", "space", "seed", "metric", "mode",
             "search", "trials", "prune", "storage", "study")  # the last five: an Optuna study (study.py)
RANDOM_DIGITS = 4  # random floats keep 4 significant digits: readable commands, no lost meaning
_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)


class SweepError(NntrainError):
    """A malformed --grid / --zip / --space / sweep file (exit code 2)."""


def value_text(v) -> str:
    """The YAML text of a value, as `--set KEY=TEXT` reads it back to the same value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else {math.inf: ".inf", -math.inf: "-.inf"}.get(v, ".nan")
    if isinstance(v, int):
        return str(v)
    text = yaml.safe_dump(v, default_flow_style=True, width=1 << 30, sort_keys=False).strip()
    return text[:-3].rstrip() if text.endswith("\n...") else text


def _canonical(v):
    """Values that `--set` reads the same way hash the same (1e-1 and 0.1)."""
    return json.dumps(number_from(v), sort_keys=True, default=str)


@dataclass
class Trial:
    index: int  # K: position in this sweep (what --trial K and SLURM_ARRAY_TASK_ID name)
    id: str  # stable hash of the overrides
    params: list[tuple[str, object]]  # the swept (key, value) pairs, sorted by key
    overrides: list[str] = field(default_factory=list)  # everything passed as --set, sets included
    epochs: int | None = None  # from the validated config, for the live display

    @property
    def name(self) -> str:
        """The trial's run folder inside the sweep folder."""
        return f"{self.index:03d}-{self.id}"

    @property
    def label(self) -> str:
        return " ".join(f"{k}={value_text(v)}" for k, v in self.params) or "(the config as it is)"

    def as_dict(self) -> dict:
        return {"trial": self.index, "id": self.id, "name": self.name,
                "params": {k: v for k, v in self.params}, "overrides": self.overrides}


# -- parsing flags ------------------------------------------------------------------------
def _split_key(text: str, flag: str, example: str) -> tuple[str, str]:
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")) or " " in key:
        raise SweepError(f"{flag} expects KEY=VALUES with a dotted config key (e.g. {example}), got {text!r}")
    return key, rest


def parse_values(text: str, where: str) -> list:
    """`0.1,0.01` -> [0.1, 0.01]: the text read as a YAML flow list, so `[2,3],[4]` works too."""
    try:
        values = yaml_value(f"[{text}]")
    except yaml.YAMLError as exc:
        raise SweepError(f"{where}: the values are not valid YAML ({yaml_problem(exc)})") from None
    if not values:
        raise SweepError(f"{where}: no values (write them comma-separated, e.g. 0.1,0.01)")
    return [number_from(v) for v in values]


def parse_axis(text: str, flag: str) -> tuple[str, list]:
    """`--grid KEY=V1,V2` or `--zip KEY=V1,V2` -> (key, values)."""
    key, rest = _split_key(text, flag, "optimizer.lr=0.1,0.01")
    return key, parse_values(rest, f"{flag} {text}")


def _numbers(args: str, count: int, kind: str, where: str, integer: bool = False) -> list:
    try:
        values = yaml_value(f"[{args}]")
    except yaml.YAMLError:
        values = None
    values = [number_from(v) for v in values] if isinstance(values, list) else None
    ok = values is not None and len(values) == count and all(
        isinstance(v, int if integer else (int, float)) and not isinstance(v, bool) for v in values)
    if not ok:
        what = "two integers (low, high)" if integer else "two numbers (low, high)"
        raise SweepError(f"{where}: {kind} takes {what}, e.g. {kind}({'1,4' if integer else '1e-4,1e-1'}); got ({args})")
    return values


@dataclass(frozen=True)
class Distribution:
    """One --space entry: how to draw a value."""

    kind: str
    args: tuple

    def draw(self, rng: random.Random):
        if self.kind == "choice":
            return rng.choice(self.args)
        low, high = self.args
        if self.kind == "int":
            return rng.randint(low, high)  # both ends included
        if self.kind == "uniform":
            value = rng.uniform(low, high)
        else:  # loguniform: log(x) uniform in [log a, log b]
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        return float(f"{value:.{RANDOM_DIGITS}g}")


def parse_distribution(text, where: str) -> Distribution:
    """`loguniform(1e-4,1e-1)`, `uniform(0,0.5)`, `int(1,4)` or `choice(32,64,128)` (no eval)."""
    if isinstance(text, list):  # a sweep file may give a plain list: a choice
        if not text:
            raise SweepError(f"{where}: an empty list has nothing to choose from")
        return Distribution("choice", tuple(number_from(v) for v in text))
    m = _CALL.match(text) if isinstance(text, str) else None
    if not m:
        hint = ""
        if isinstance(text, str) and "(" in text and ")" not in text:
            hint = " (inside a YAML {...} mapping a comma ends the value: quote it or use block style)"
        raise SweepError(f"{where}: expected one of {', '.join(d + '(...)' for d in DISTRIBUTIONS)}, "
                         f"e.g. loguniform(1e-4,1e-1); got {text!r}{hint}")
    kind, args = m.group(1), m.group(2)
    if kind not in DISTRIBUTIONS:
        raise SweepError(f"{where}: unknown distribution {kind!r}{did_you_mean(kind, DISTRIBUTIONS)}; "
                         f"valid: {', '.join(DISTRIBUTIONS)}")
    if kind == "choice":
        return Distribution(kind, tuple(parse_values(args, where)))
    low, high = _numbers(args, 2, kind, where, integer=kind == "int")
    if kind == "loguniform" and low <= 0:
        raise SweepError(f"{where}: loguniform needs 0 < low, got low={low:g}")
    if not (low <= high if kind == "int" else low < high):
        raise SweepError(f"{where}: {kind} needs low {'<=' if kind == 'int' else '<'} high, got ({args})")
    return Distribution(kind, (low, high))


def parse_space(text: str) -> tuple[str, Distribution]:
    key, rest = _split_key(text, "--space", "optimizer.lr=loguniform(1e-4,1e-1)")
    return key, parse_distribution(rest, f"--space {text}")


# -- the sweep file -------------------------------------------------------------------------
@dataclass
class SweepSpec:
    """Everything that defines the trials, from the flags and/or a sweep file."""

    sets: list[tuple[str, object]] = field(default_factory=list)
    grid: list[tuple[str, list]] = field(default_factory=list)
    zip: list[tuple[str, list]] = field(default_factory=list)
    space: list[tuple[str, Distribution]] = field(default_factory=list)
    random: int | None = None
    seed: int | None = None
    metric: str | None = None
    mode: str | None = None
    origin: dict[str, str] = field(default_factory=dict)  # key -> where it was given, for errors
    # an Optuna study instead of a list of trials (study.py): sampler, budget, pruner, where it lives
    search: str | None = None
    trials: int | None = None
    prune: str | dict | None = None  # a pruner name, or {type: NAME, its options...}
    storage: str | None = None
    study: str | None = None


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SweepError(f"{where}: must be a mapping of config keys, got {type_name(value)}")
    for k in value:
        if not isinstance(k, str) or not k or any(not p for p in k.split(".")):
            raise SweepError(f"{where}: {k!r} is not a dotted config key like optimizer.lr")
    return value


def _count(value, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SweepError(f"{where}: must be an integer >= {low}, got {value!r}")
    return value


def read_spec(path: str | Path) -> SweepSpec:
    """A sweep file: the same things as the flags, e.g.

        grid: {optimizer.lr: [0.1, 0.01], train.batch_size: [32, 64]}
        zip: {model.layers.0.units: [64, 128], model.layers.1.units: [32, 64]}
        random: 20
        space: {optimizer.lr: loguniform(1e-4,1e-1), train.batch_size: choice(32,64)}
        seed: 0
        set: {train.epochs: 5}
        metric: val.loss
    """
    path = Path(path)
    try:
        raw = yaml_value(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"sweep file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read sweep file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SweepError(f"{where}: invalid YAML: {yaml_problem(exc)}") from None
    if not isinstance(raw, dict) or not raw:
        raise SweepError(f"{path}: a sweep file is a mapping with some of: {', '.join(SPEC_KEYS)}")
    for k in raw:
        if k not in SPEC_KEYS:
            raise SweepError(f"{path}: unknown key {k!r}{did_you_mean(str(k), SPEC_KEYS)}; valid keys: {', '.join(SPEC_KEYS)}")
    spec = SweepSpec()
    for k, v in _mapping(raw.get("set"), f"{path}: set").items():
        spec.sets.append((k, number_from(v)))
        spec.origin[k] = f"{path}: set.{k}"
    for name in ("grid", "zip"):
        for k, values in _mapping(raw.get(name), f"{path}: {name}").items():
            if not isinstance(values, list) or not values:
                raise SweepError(f"{path}: {name}.{k}: must be a non-empty list of values, got {values!r}")
            getattr(spec, name).append((k, [number_from(v) for v in values]))
            spec.origin[k] = f"{path}: {name}.{k}"
    for k, v in _mapping(raw.get("space"), f"{path}: space").items():
        spec.space.append((k, parse_distribution(v, f"{path}: space.{k}")))
        spec.origin[k] = f"{path}: space.{k}"
    if "random" in raw:
        spec.random = _count(raw["random"], f"{path}: random", 1)
    if "seed" in raw:
        spec.seed = _count(raw["seed"], f"{path}: seed", 0)
    if "trials" in raw:
        spec.trials = _count(raw["trials"], f"{path}: trials", 1)
    if isinstance(raw.get("prune"), dict):
        spec.prune = raw["prune"]  # {type: median, n_startup_trials: 2}: checked by search.make_pruner
    for name in ("metric", "mode", "search", "storage", "study") + (("prune",) if "prune" in raw and spec.prune is None else ()):
        if name in raw:
            if not isinstance(raw[name], str) or not raw[name]:
                raise SweepError(f"{path}: {name}: must be a string, got {raw[name]!r}")
            setattr(spec, name, raw[name])
    return spec


# -- expanding into trials ------------------------------------------------------------------
def _check_keys(spec: SweepSpec) -> None:
    seen: dict[str, str] = {}
    for flag, pairs in (("set", spec.sets), ("grid", spec.grid), ("zip", spec.zip), ("space", spec.space)):
        for key, _ in pairs:
            if key in seen:
                same = "twice in" if seen[key] == flag else f"in both --{seen[key]} and"
                raise SweepError(f"{key} is given {same} --{flag}; give each key once")
            seen[key] = flag
    lengths = {len(values) for _, values in spec.zip}
    if len(lengths) > 1:
        detail = ", ".join(f"{k} has {len(v)}" for k, v in spec.zip)
        raise SweepError(f"--zip keys pair values one to one, so they need equally many values ({detail})")
    if spec.search is not None:  # an Optuna study samples the --space itself (study.py)
        if spec.zip:
            raise SweepError("--zip pairs fixed values and cannot be searched: use --grid or --space with --search")
        if spec.random:
            raise SweepError("--random N draws a plain random sweep; with --search, the budget is --trials N")
        return
    if spec.space and not spec.random:
        raise SweepError("--space needs --random N (how many random trials to draw)")
    if spec.random and not spec.space:
        raise SweepError("--random N needs at least one --space KEY=DISTRIBUTION, e.g. --space optimizer.lr=loguniform(1e-4,1e-1)")


# measured with tracemalloc: a trial's record (its overrides, id, command words and the set of
# ids seen) takes about 650 bytes plus 170 per key
TRIAL_BYTES, KEY_BYTES = 700, 200


def _check_memory(spec: SweepSpec, points: int) -> None:
    """SweepError when the trials a spec asks for would not fit in memory: every trial is
    listed before the first runs (for --trial K, --print-commands and sweep.json), so an absurd
    --random N would otherwise grind to a MemoryError."""
    from ..nn.layers.base import beyond_memory

    keys = len(spec.sets) + len(spec.grid) + len(spec.zip) + len(spec.space)
    n_trials = points * (spec.random or 1)
    too_big = beyond_memory(n_trials * (TRIAL_BYTES + KEY_BYTES * keys))
    if too_big:
        asked = " x ".join(([f"--random {spec.random:,} draws"] if spec.random else [])
                           + ([f"{points:,} grid points"] if points > 1 or not spec.random else []))
        raise SweepError(f"{asked} make {n_trials:,} trials, whose list alone needs about {too_big}; "
                         f"ask for fewer trials")


def trial_id(pairs: list[tuple[str, object]]) -> str:
    text = "\n".join(f"{k}={_canonical(v)}" for k, v in sorted(pairs, key=lambda kv: kv[0]))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def expand(spec: SweepSpec) -> tuple[list[Trial], int]:
    """The trials of a spec (duplicates dropped) and how many duplicates were dropped.

    Overrides are applied sorted by key, so a whole section (`optimizer={type: sgd}`) always
    comes before its keys (`optimizer.lr=0.1`) whatever the order of the flags.
    """
    _check_keys(spec)
    axes = [[[(k, v)] for v in values] for k, values in spec.grid]
    if spec.zip:
        axes.append([[(k, values[i]) for k, values in spec.zip] for i in range(len(spec.zip[0][1]))])
    _check_memory(spec, math.prod(len(axis) for axis in axes))
    rng = random.Random(spec.seed or 0)
    draws = [[(k, d.draw(rng)) for k, d in spec.space] for _ in range(spec.random or 0)] or [[]]
    trials, seen, dropped = [], set(), 0
    for draw in draws:
        for combo in itertools.product(*axes):
            params = sorted([kv for group in combo for kv in group] + draw, key=lambda kv: kv[0])
            everything = sorted(spec.sets + params, key=lambda kv: kv[0])
            tid = trial_id(everything)
            if tid in seen:
                dropped += 1
                continue
            seen.add(tid)
            trials.append(Trial(len(trials), tid, params, [f"{k}={value_text(v)}" for k, v in everything]))
    return trials, dropped
