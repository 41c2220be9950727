"""The library behind the CLI: fit a config into a run folder, load a run, evaluate it.

    cfg = load_config("configs/mnist_mlp.yaml", overrides=["train.epochs=1"])
    result = fit(cfg, run_dir="runs/try")
    model = load_model("runs/try")
"""
from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import runs
from .callbacks import BestCheckpoint, EarlyStopping, build_callbacks
from .config import dump_config, load_config
from .data import Splits, apply_standardize, load_splits, read_file
from .errors import DataError, NntrainError, RunError
from .losses import Loss, build_loss
from .metrics import Metric, build_metric
from .metrics_more import ConfusionMatrix
from .model import Sequential
from .optimizers import build_optimizer
from .progress import Progress, make_progress
from .schema import Config
from .trainer import Callback, Trainer, TrainState, evaluate


@dataclass
class Setup:
    """Everything built from a config: data, model, loss, optimizer, metrics."""

    cfg: Config
    splits: Splits
    model: Sequential
    loss: Loss
    metrics: list[Metric]
    y_train: np.ndarray
    y_val: np.ndarray | None
    y_test: np.ndarray | None


def build_metrics(cfg: Config, loss: Loss) -> list[Metric]:
    metrics = [build_metric(spec) for spec in cfg.metrics]
    for m in metrics:
        m.from_logits = loss.from_logits
    return metrics


def setup(cfg: Config) -> Setup:
    """Load the data and build the model, loss and metrics of a config."""
    dtype = cfg.model.dtype
    splits = load_splits(cfg.data, input_shape=cfg.model.input_shape and tuple(cfg.model.input_shape),
                         seed=cfg.seed, dtype=dtype)
    input_shape = cfg.model.input_shape or list(splits.train.x.shape[1:])
    model = Sequential.from_specs(cfg.model.layers, input_shape, dtype=dtype, seed=cfg.seed)
    loss = build_loss(cfg.loss)

    def targets(ds):
        return None if ds is None else loss.prepare_target(ds.y, model.output_shape, dtype)

    return Setup(cfg, splits, model, loss, build_metrics(cfg, loss),
                 targets(splits.train), targets(splits.val), targets(splits.test))


def _versions() -> dict:
    import numpy

    from . import __version__

    return {"nntrain": __version__, "numpy": numpy.__version__, "python": platform.python_version()}


class RunWriter(Callback):
    """Writes the run folder after every epoch: weights, metrics.csv, summary.json."""

    def __init__(self, run_dir: Path, s: Setup):
        self.run_dir, self.s = run_dir, s
        self.started = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.extra = {}
        if s.splits.mean is not None:
            self.extra = {"data.mean": s.splits.mean, "data.std": s.splits.std}

    def on_epoch_end(self, trainer: Trainer, st: TrainState) -> None:
        runs.write_npz(self.run_dir / runs.WEIGHTS, {**self.s.model.state_dict(), **self.extra})
        runs.write_metrics_csv(self.run_dir / runs.METRICS, st.history)
        self.summary(st, "running")

    def summary(self, st: TrainState, status: str, **more) -> dict:
        last = st.history[-1] if st.history else {}
        split = {"train": {}, "val": {}}
        for k, v in last.items():
            if k in ("epoch", "lr", "seconds"):
                continue
            split["val" if k.startswith("val_") else "train"][k.removeprefix("val_")] = v
        out = {
            "status": status,
            "run_dir": str(self.run_dir),
            "config": self.s.cfg.path,
            "epochs": st.epoch,
            "steps": st.step,
            "seconds": round(st.seconds, 3),
            "train": split["train"],
            "val": split["val"] or None,
            "parameters": self.s.model.count_params(),
            "started": self.started,
            "command": " ".join(sys.argv),
            "versions": _versions(),
            **more,
        }
        runs.write_json(self.run_dir / runs.SUMMARY, out)
        return out


def fit(cfg: Config | str | Path, run_dir: str | Path | None = None, progress: Progress | str = "none",
        runs_root: str | Path = "runs", name: str | None = None) -> dict:
    """Train a config; write the run folder; return the summary (what `fit --json` prints)."""
    if not isinstance(cfg, Config):
        cfg = load_config(cfg)
    if isinstance(progress, str):
        progress = make_progress(progress)
    s = setup(cfg)
    train_cfg = cfg.train
    batch_size = len(s.splits.train) if train_cfg.batch_size == "full" else train_cfg.batch_size
    path = runs.prepare_run_dir(run_dir) if run_dir else runs.new_run_dir(cfg.name, runs_root, name)
    runs.write_text(path / runs.CONFIG, dump_config(cfg))
    writer = RunWriter(path, s)
    optimizer = build_optimizer(cfg.optimizer)
    extra = build_callbacks(cfg, path, writer.extra)  # schedule, early stopping, best checkpoint
    trainer = Trainer(s.model, s.loss, optimizer, s.metrics, progress, callbacks=[*extra, writer])
    progress.note(f"run folder: {path}")
    val = (s.splits.val.x, s.y_val) if s.splits.val is not None else None
    try:
        st = trainer.fit(s.splits.train.x, s.y_train, train_cfg.epochs, batch_size,
                         shuffle=train_cfg.shuffle, val=val)
    except KeyboardInterrupt:
        writer.summary(trainer.state, "interrupted")
        raise
    except NntrainError as exc:
        writer.summary(trainer.state, "diverged" if exc.exit_code == 1 else "failed", error=str(exc))
        raise
    reports = {}
    for cb in extra:
        if isinstance(cb, EarlyStopping):
            reports["early_stopping"] = cb.report()
            if cb.restored:  # model.npz holds the model that fit returns: the best epoch's
                runs.write_npz(path / runs.WEIGHTS, {**s.model.state_dict(), **writer.extra})
        elif isinstance(cb, BestCheckpoint):
            reports["checkpoint"] = cb.report()
    test = None
    if s.splits.test is not None:
        test = evaluate(s.model, s.loss, s.metrics, s.splits.test.x, s.y_test)
    return writer.summary(st, "done", test=test, **reports)


# -- loading a run back -------------------------------------------------------------------
@dataclass
class LoadedRun:
    cfg: Config
    model: Sequential
    mean: np.ndarray | None
    std: np.ndarray | None


def load_run(run_dir: str | Path) -> LoadedRun:
    """The config and trained model of a run folder (weights checked against the config)."""
    path = runs.check_run_dir(run_dir)
    try:
        cfg = load_config(path / runs.CONFIG)
    except NntrainError as exc:
        raise RunError(f"{path}: its config.yaml is invalid: {exc}") from None
    arrays = runs.read_npz(path / runs.WEIGHTS)
    if cfg.model.input_shape is None:
        raise RunError(f"{path / runs.CONFIG} has no model.input_shape")
    model = Sequential.from_specs(cfg.model.layers, cfg.model.input_shape, cfg.model.dtype, cfg.seed)
    model.load_state_dict(arrays, source=str(path / runs.WEIGHTS))
    return LoadedRun(cfg, model, arrays.get("data.mean"), arrays.get("data.std"))


def load_model(run_dir: str | Path) -> Sequential:
    """The trained Sequential of a run folder; `model.predict(x)`."""
    return load_run(run_dir).model


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict:
    """Loss and metrics of a run on its test split, or on a data file (`--data`)."""
    run = load_run(run_dir)
    cfg = run.cfg
    loss = build_loss(cfg.loss)
    if data is None:
        splits = load_splits(cfg.data, input_shape=tuple(cfg.model.input_shape), seed=cfg.seed,
                             dtype=cfg.model.dtype)
        ds, source = splits.test, "test split"
        if ds is None:
            raise RunError(f"{run_dir}: the config has no test split; pass --data FILE")
        x = ds.x  # load_splits already standardized it with the training statistics
    else:
        ds, source = read_file(data, target=cfg.data.target, dtype=cfg.model.dtype), str(data)
        x = _fit_input(ds.x, run, source)
    y = loss.prepare_target(ds.y, run.model.output_shape, cfg.model.dtype)
    metrics = build_metrics(cfg, loss)
    if loss.classification:  # rows: true class, columns: predicted class
        cm = ConfusionMatrix()
        cm.from_logits = loss.from_logits
        metrics.append(cm)
    result = evaluate(run.model, loss, metrics, x, y)
    return {"run_dir": str(run_dir), "data": source, "samples": len(x), **result}


def _fit_input(x: np.ndarray, run: LoadedRun, source: str) -> np.ndarray:
    shape = tuple(run.model.input_shape)
    if x.shape[1:] != shape:
        if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
            raise DataError(f"{source} has feature shape {x.shape[1:]} but the model expects {shape}")
        x = x.reshape((len(x),) + shape)
    if run.mean is not None:
        x = apply_standardize(x, run.mean, run.std)
    return x
