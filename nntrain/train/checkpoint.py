"""The resumable state of a run: `state.npz` in the run folder, one atomic file.

    model/<layer>.<param>   weights and buffers (self-contained: model.npz may lag by a write)
    optimizer/<name>        optimizer.state_dict() arrays (step count, moments, velocities)
    optimizer.lr            the learning rate in use (schedules set it from outside)
    rng                     JSON: bit-generator states of model.rng (init, then dropout) and
                            of the trainer's shuffle_rng
    counters                JSON: epochs done, steps, skipped batches, seconds, the stop flag
    history                 JSON: one metrics row per completed epoch
    metrics                 JSON: the streaming metrics' accumulators (mid-epoch values)
    callbacks               JSON: `state_dict()` of each callback that has one
    callback/<i>/<name>     arrays of callback i (`state_arrays()`: early stopping's best weights)
    data                    JSON: samples and batches per epoch (checked on resume)
    run.config              sha1 of the run's config.yaml without RESUME_KEYS: a state.npz
                            copied in from another run is named as such on resume
    partial, partial/order  JSON + int64: the epoch in progress (batch cursor, running loss)
                            and its shuffle order, when saved mid-epoch

JSON travels as 0-d unicode arrays and floats as their shortest repr, which round-trips
exactly, so nothing needs pickle (`allow_pickle=False` on load) and resuming is bit-identical.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from .. import runs
from ..config.schema import Config
from ..errors import RunError
from ..runs.lock import RunLock
from .trainer import EpochPosition, Trainer

STATE = runs.STATE
# what `fit --resume --set` may change: nothing that alters shapes, data or the order of draws
# (tracking only watches)
RESUME_KEYS = ("train.epochs", "train.checkpoint_every_steps", "train.on_nonfinite", "optimizer.lr",
               "train.log", "train.log_every_steps", "train.log_histograms")
FORMAT = 1
# a test hook, "SECONDS[,N]": pause inside the Nth state write of the process (default the
# first), with half the bytes in the temporary file, so that tests can kill it there
_PAUSE_ENV = "NNTRAIN_TEST_PAUSE_CHECKPOINT"
_writes = [0]


def _json(obj) -> np.ndarray:
    return np.array(json.dumps(obj, default=runs.json_default))


def _unjson(arrays: dict, key: str, source: str):
    try:
        value = arrays[key]
    except KeyError:
        raise RunError(f"{source} has no {key!r} entry (an incomplete or foreign checkpoint)") from None
    if value.dtype.kind != "U" or value.shape != ():
        raise RunError(f"{source}: {key!r} is not a JSON text entry")
    try:
        return json.loads(str(value[()]))
    except ValueError as exc:
        raise RunError(f"{source}: {key!r} is not valid JSON ({exc})") from None


def _metric_state(m) -> tuple[dict, dict[str, np.ndarray]]:
    """A metric's accumulators: JSON-able attributes, and array attributes apart."""
    plain, arrays = {}, {}
    for k, v in vars(m).items():
        if isinstance(v, np.ndarray):
            arrays[k] = v
        elif isinstance(v, (bool, int, float, str, np.generic)) or v is None:
            plain[k] = v.item() if isinstance(v, np.generic) else v
    return plain, arrays


def data_fingerprint(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> str:
    """Exact float64 sums of the training arrays (hex): a changed data file changes them.
    Sample weights w, when the run has them, add a third part."""
    parts = [float(a.sum(dtype=np.float64)).hex() for a in (x, y) + (() if w is None else (w,))]
    return "/".join(parts)


def config_identity(run_dir: Path) -> str | None:
    """sha1 of the run folder's config.yaml with the keys a resume may change left out, or None
    when there is no readable config. Two runs share it only if they train the same model on
    the same data the same way, so a checkpoint of another run is told apart from changed data."""
    import yaml

    try:
        raw = yaml.safe_load((Path(run_dir) / runs.CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(raw, dict):
        return None
    for key in RESUME_KEYS:
        section, _, name = key.partition(".")
        if isinstance(raw.get(section), dict):
            raw[section].pop(name, None)
    return hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()


def capture(trainer: Trainer, n_train: int, batch_size: int, fingerprint: str | None = None) -> dict[str, np.ndarray]:
    """Everything `restore` needs to continue `trainer` exactly where it is."""
    st, model = trainer.state, trainer.model
    out: dict[str, np.ndarray] = {"format": np.array(FORMAT)}
    out.update({f"model/{k}": v for k, v in model.state_dict().items()})
    out.update({f"optimizer/{k}": v for k, v in trainer.optimizer.state_dict().items()})
    out["optimizer.lr"] = np.array(float(trainer.optimizer.lr))
    out["rng"] = _json({"model": model.rng.bit_generator.state, "shuffle": trainer.shuffle_rng.bit_generator.state})
    out["counters"] = _json({"epoch": st.epoch, "step": st.step, "skipped": st.skipped,
                             "seconds": st.seconds, "stop": st.stop})
    # the last epoch's row only (what the summary shows): metrics.csv keeps them all, so a
    # checkpoint costs the same at epoch 100,000 as at epoch 1
    out["history"] = _json(st.history[-1:])
    metrics = []
    for i, m in enumerate(trainer.metrics):
        plain, arrays = _metric_state(m)
        metrics.append(plain)
        out.update({f"metric/{i}/{k}": v for k, v in arrays.items()})
    out["metrics"] = _json(metrics)
    out["callbacks"] = _json([cb.state_dict() if hasattr(cb, "state_dict") else None for cb in trainer.callbacks])
    for i, cb in enumerate(trainer.callbacks):
        if hasattr(cb, "state_arrays"):
            out.update({f"callback/{i}/{k}": v for k, v in cb.state_arrays().items()})
    out["data"] = _json({"samples": n_train, "batch_size": batch_size, "fingerprint": fingerprint})
    pos = trainer.partial
    if pos is not None:
        out["partial"] = _json({"cursor": pos.cursor, "total": pos.total, "seen": pos.seen,
                                "skipped": pos.skipped, "seconds": pos.seconds, "weight": pos.weight})
        out["partial/order"] = pos.order.astype(np.int64, copy=False)
    return out


def save(run_dir: Path, trainer: Trainer, n_train: int, batch_size: int, base_lr: float | None = None,
         fingerprint: str | None = None, identity: str | None = None) -> None:
    """Write state.npz atomically; refuse (DivergedError) to replace a good one with NaN weights."""
    trainer._check_finite(trainer.state.epoch + (trainer.partial is not None))
    arrays = capture(trainer, n_train, batch_size, fingerprint)
    if base_lr is not None:
        arrays["optimizer.base_lr"] = np.array(float(base_lr))
    if identity is not None:
        arrays["run.config"] = np.array(identity)
    _writes[0] += 1
    pause, _, nth = (os.environ.get(_PAUSE_ENV) or "").partition(",")
    slow = pause and _writes[0] == int(nth or 1)
    runs.write_npz(run_dir / STATE, arrays, midway=_pause_midway(run_dir, float(pause)) if slow else None)


def _pause_midway(run_dir: Path, pause: float):
    """The test hook of runs.atomic_write: mark the folder, then sleep with half a file written."""
    def hook():
        (run_dir / ".checkpoint-writing").touch()
        time.sleep(pause)
    return hook


def load(run_dir: Path) -> dict[str, np.ndarray] | None:
    """The arrays of state.npz, or None when the run has not saved one yet."""
    path = Path(run_dir) / STATE
    if not path.exists():
        return None
    arrays = runs.read_npz(path)
    fmt = arrays.get("format")
    if fmt is None or fmt.shape != () or fmt.dtype.kind not in "iu" or int(fmt) != FORMAT:
        raise RunError(f"{path} is not a checkpoint of this nntrain version (format {fmt}, expected {FORMAT})")
    return arrays


def restore(trainer: Trainer, arrays: dict[str, np.ndarray], source: str, n_train: int, batch_size: int,
            fingerprint: str | None = None) -> None:
    """Put `trainer` back in the state `capture` recorded; RunError when it does not fit."""
    try:
        _restore(trainer, arrays, source, n_train, batch_size, fingerprint)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise RunError(f"{source} is damaged or from another version ({type(exc).__name__}: {exc})") from None


def _under(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays whose key starts with prefix, keyed by the rest of the key."""
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _restore(trainer: Trainer, arrays: dict[str, np.ndarray], source: str, n_train: int, batch_size: int,
             fingerprint: str | None) -> None:
    data = _unjson(arrays, "data", source)
    if data.get("fingerprint") and fingerprint and data["fingerprint"] != fingerprint:
        raise RunError(f"{source}: the training data differ from those the run started with "
                       f"(same {n_train} samples, other values); the data files changed since")
    if {k: data.get(k) for k in ("samples", "batch_size")} != {"samples": n_train, "batch_size": batch_size}:
        raise RunError(f"{source} was saved with {data.get('samples')} training samples in batches of "
                       f"{data.get('batch_size')}, but the run's data now gives {n_train} in batches of "
                       f"{batch_size}; the data files changed since the run started")
    model, st = trainer.model, trainer.state
    model.load_state_dict(_under(arrays, "model/"), source)
    opt = _under(arrays, "optimizer/")
    if "iterations" not in opt or "optimizer.lr" not in arrays:
        raise RunError(f"{source} has no optimizer state")
    for name, value in opt.items():
        if name != "iterations" and value.shape != model.flat_params.shape:
            raise RunError(f"{source}: optimizer state {name} has shape {list(value.shape)} but the model "
                           f"has {model.flat_params.size} parameters")
    needed = {f"{name}/{k}" for name, _, _ in model.param_groups() for k in trainer.optimizer.state_names}
    if int(opt["iterations"]) > 0 and not needed <= set(opt):
        raise RunError(f"{source} lacks optimizer state {', '.join(sorted(needed - set(opt)))}")
    trainer.optimizer.load_state_dict(opt)
    trainer.optimizer.lr = float(arrays["optimizer.lr"])
    rng = _unjson(arrays, "rng", source)
    model.rng.bit_generator.state = rng["model"]
    trainer.shuffle_rng.bit_generator.state = rng["shuffle"]
    counters = _unjson(arrays, "counters", source)
    st.epoch, st.step, st.skipped = int(counters["epoch"]), int(counters["step"]), int(counters["skipped"])
    history = _unjson(arrays, "history", source)
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise RunError(f"{source}: 'history' is not a list of metric rows")
    # the last row; a checkpoint of nntrain 0.1.0 held every row
    if trainer.optimizer.iterations != st.step or len(history) not in (min(st.epoch, 1), st.epoch):
        raise RunError(f"{source}: its counters disagree (optimizer steps {trainer.optimizer.iterations}, "
                       f"trainer steps {st.step}, epochs {st.epoch})")
    st.seconds, st.stop = float(counters["seconds"]), bool(counters["stop"])
    st.history = history[-1:]
    for i, (m, plain) in enumerate(zip(trainer.metrics, _unjson(arrays, "metrics", source))):
        for k, v in plain.items():
            setattr(m, k, v)
        for k, v in _under(arrays, f"metric/{i}/").items():
            setattr(m, k, np.array(v, copy=True))
    for i, (cb, state) in enumerate(zip(trainer.callbacks, _unjson(arrays, "callbacks", source))):
        if state is not None and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(state)
        if hasattr(cb, "load_state_arrays"):
            cb.load_state_arrays(_under(arrays, f"callback/{i}/"))
    trainer.partial = None
    if "partial" in arrays:
        p = _unjson(arrays, "partial", source)
        order = arrays["partial/order"]
        if order.shape != (n_train,) or order.dtype.kind not in "iu" or \
                not np.array_equal(np.sort(order), np.arange(n_train)):
            raise RunError(f"{source}: the saved shuffle order is not a permutation of {n_train} samples")
        steps = -(-n_train // min(batch_size, n_train))
        if not 0 <= int(p["cursor"]) <= steps:
            raise RunError(f"{source}: the saved batch cursor {p['cursor']} is outside 0..{steps}")
        trainer.partial = EpochPosition(order, int(p["cursor"]), float(p["total"]), int(p["seen"]),
                                        int(p["skipped"]), float(p["seconds"]), float(p.get("weight", 0.0)))


def open_run(run_dir, overrides=()) -> tuple[Path, Config, RunLock]:
    """The folder, config and lock of a run to resume; only RESUME_KEYS may be overridden.

    The folder is locked before anything in it is read or cleaned: while another process
    trains in it, this is a RunError naming that process (and its temporary files stay)."""
    from ..config.load import load_config
    from ..errors import ConfigError

    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run folder not found: {path}")
    if not (path / runs.CONFIG).is_file():
        raise RunError(f"{path} is not a run folder: it has no {runs.CONFIG}")
    for text in overrides:
        key = text.partition("=")[0].strip()
        if key not in RESUME_KEYS:
            raise ConfigError(f"--set {text}: {key or text!r} cannot change when resuming (it would no longer "
                              f"be the same run); allowed: {', '.join(RESUME_KEYS)}")
    lock = RunLock(path).acquire()
    try:
        cfg = load_config(path / runs.CONFIG, overrides)
    except BaseException:
        lock.release()
        raise
    for stale in path.glob(".*.tmp-*"):  # left by a process killed inside a write
        stale.unlink(missing_ok=True)
    return path, cfg, lock


def describe(trainer: Trainer, steps: int) -> str:
    """Where a restored trainer stands, for the resume note."""
    st, pos = trainer.state, trainer.partial
    if pos is None:
        return f"end of epoch {st.epoch}, step {st.step}"
    return f"epoch {st.epoch + 1}, batch {pos.cursor} of {steps}, step {st.step}"


class Checkpointer:
    """`trainer.checkpoint`: saves state.npz into the run folder and remembers where it was."""

    def __init__(self, run_dir: Path, n_train: int, batch_size: int, base_lr: float | None = None,
                 fingerprint: str | None = None):
        self.run_dir, self.n_train, self.batch_size = Path(run_dir), n_train, batch_size
        self.fingerprint = fingerprint
        self.base_lr = base_lr  # optimizer.lr of the config: a resume --set may change it
        self.steps = -(-n_train // min(batch_size, n_train))
        self.saved: str | None = None  # describe() of the last state written
        self.identity: str | None = None  # config_identity() of the run folder

    def __call__(self, trainer: Trainer) -> None:
        if self.identity is None:  # config.yaml is written before the first step
            self.identity = config_identity(self.run_dir)
        save(self.run_dir, trainer, self.n_train, self.batch_size, self.base_lr, self.fingerprint, self.identity)
        self.saved = describe(trainer, self.steps)

    def restore(self, trainer: Trainer, arrays: dict[str, np.ndarray]) -> None:
        saved, self.identity = arrays.get("run.config"), config_identity(self.run_dir)
        if saved is not None and self.identity is not None and str(saved) != self.identity:
            raise RunError(f"{self.run_dir / STATE} is not this run's checkpoint: it was saved under another config "
                           f"than {self.run_dir / runs.CONFIG} (the model, data or training settings differ: a "
                           f"checkpoint copied from another run, or a config.yaml edited since); resume the run "
                           f"it came from, or move it away to start this run over")
        restore(trainer, arrays, str(self.run_dir / STATE), self.n_train, self.batch_size, self.fingerprint)
        saved = arrays.get("optimizer.base_lr")
        if self.base_lr is not None and saved is not None and float(saved) != self.base_lr:
            trainer.optimizer.lr = self.base_lr  # the config's lr changed (--set optimizer.lr=...)
        self.saved = describe(trainer, self.steps)
