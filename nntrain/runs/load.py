"""A run folder read back: its config and its trained model, with the standardization statistics
saved beside the weights.

    run = load_run("runs/mnist_mlp/20261126-141500")
    run.model.predict(fit_input(x, run, "new.csv"))
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config.load import load_config
from ..config.schema import Config
from ..data import apply_standardize, load_splits, preprocessing, sequences
from ..data.preprocessing import Tabular
from ..data.target_scale import TargetScale
from ..errors import DataError, NntrainError, RunError
from ..nn.graph import build_model
from ..nn.model import Model
from . import folder as runs


@dataclass
class LoadedRun:
    cfg: Config
    model: Model
    mean: np.ndarray | None
    std: np.ndarray | None
    tabular: Tabular | None = None  # preprocessing.json: how raw CSV rows become the model's input
    classes: list[str] | None = None  # the name of each class label
    target_scale: TargetScale | None = None  # data.scale_target: outputs * std + mean are original units
    sequence: sequences.Sequence | None = None  # sequence.json: a text column's vocabulary, or windows


WEIGHTS = ("last", "best")  # which weights of a run: model.npz (the last epoch's) or best.npz


def weights_file(path: Path, weights: str = "last") -> Path:
    """The weights file of a run folder: model.npz for "last", best.npz (the best epoch of
    train.checkpoint) for "best"."""
    if weights not in WEIGHTS:
        raise NntrainError(f"weights must be best or last, got {weights!r}")
    if weights == "last":
        return path / runs.WEIGHTS
    if not (path / runs.BEST).is_file():
        raise RunError(f"{path} has no {runs.BEST}: only a run trained with train.checkpoint keeps the weights of "
                       f"its best epoch (use the last weights, or train with train.checkpoint: {{monitor: val_loss}})")
    return path / runs.BEST


def load_run(run_dir: str | Path, weights: str = "last") -> LoadedRun:
    """The config and trained model of a run folder (weights checked against the config);
    weights="best" loads the best epoch's (best.npz, see train.checkpoint) instead of the last."""
    path = runs.check_run_dir(run_dir)
    try:
        cfg = load_config(path / runs.CONFIG)
    except NntrainError as exc:
        raise RunError(f"{path}: its config.yaml is invalid: {exc}") from None
    file = weights_file(path, weights)
    arrays = runs.read_npz(file)
    if cfg.model.input_shape is None:  # a run from before the inferred shape was saved
        cfg.model.input_shape = data_input_shape(cfg, path)
    model = build_model(cfg.model.layers, cfg.model.input_shape, cfg.model.dtype, cfg.seed, training=False,
                        inputs=cfg.model.inputs)
    model.load_state_dict(arrays, source=str(file))
    prep = classes = None
    if (path / preprocessing.FILE).is_file():
        try:
            prep, classes = preprocessing.read_preprocessing(path / preprocessing.FILE)
        except DataError as exc:
            raise RunError(str(exc)) from None
    seq = None
    if (path / sequences.FILE).is_file():
        try:
            seq = sequences.read(path / sequences.FILE)
        except DataError as exc:
            raise RunError(str(exc)) from None
    return LoadedRun(cfg, model, arrays.get("data.mean"), arrays.get("data.std"), prep, classes,
                     TargetScale.from_arrays(arrays), seq)


def data_input_shape(cfg: Config, path: Path) -> list[int]:
    """The feature shape of a run's training data: what fit inferred for a config without
    model.input_shape (runs written before fit saved it in config.yaml)."""
    try:
        splits = load_splits(cfg.data, seed=cfg.seed, dtype=cfg.model.dtype)
    except NntrainError as exc:
        raise RunError(f"{path / runs.CONFIG} has no model.input_shape, and its training data cannot "
                       f"tell it: {exc}") from None
    return list(splits.train.x.shape[1:])


def load_model(run_dir: str | Path, weights: str = "last") -> Model:
    """The trained model (a Sequential, or a Graph) of a run folder: `model.predict(x)`,
    `model.evaluate(x, y)` with the run's loss and metrics, `print(model.summary())`.

    x is the model's input: a run that standardized its data (data.standardize) takes x
    standardized with its statistics (`fit_input(x, load_run(run), "x")` does it)."""
    from ..nn.losses import build_loss
    from ..nn.metrics.base import Unscaled, build_metric

    run = load_run(run_dir, weights)
    loss = build_loss(run.cfg.loss)
    metrics = [build_metric(spec) for spec in run.cfg.metrics]
    for m in metrics:
        m.from_logits = loss.from_logits
    if run.target_scale is not None:
        metrics = [Unscaled(m, run.target_scale.mean, run.target_scale.std) for m in metrics]
    run.model.compile(loss, metrics, run.target_scale)
    return run.model


def fit_input(x: np.ndarray, run: LoadedRun, source: str) -> np.ndarray:
    """x in the shape the model takes (rows reshaped when the sizes agree), standardized with the
    statistics saved with the run: what eval --data and predict feed the model."""
    shape = tuple(run.model.input_shape)
    if x.shape[1:] != shape:
        if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
            raise DataError(f"{source} has feature shape {x.shape[1:]} but the model expects {shape}")
        x = x.reshape((len(x),) + shape)
    if run.mean is not None:
        x = apply_standardize(x, run.mean, run.std, source=source)
    return x
