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
from ..data import apply_standardize, load_splits, sequences, tabular
from ..data.tabular import Tabular
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


def load_run(run_dir: str | Path) -> LoadedRun:
    """The config and trained model of a run folder (weights checked against the config)."""
    path = runs.check_run_dir(run_dir)
    try:
        cfg = load_config(path / runs.CONFIG)
    except NntrainError as exc:
        raise RunError(f"{path}: its config.yaml is invalid: {exc}") from None
    arrays = runs.read_npz(path / runs.WEIGHTS)
    if cfg.model.input_shape is None:  # a run from before the inferred shape was saved
        cfg.model.input_shape = data_input_shape(cfg, path)
    model = build_model(cfg.model.layers, cfg.model.input_shape, cfg.model.dtype, cfg.seed, training=False,
                        inputs=cfg.model.inputs)
    model.load_state_dict(arrays, source=str(path / runs.WEIGHTS))
    prep = classes = None
    if (path / tabular.FILE).is_file():
        try:
            prep, classes = tabular.read_preprocessing(path / tabular.FILE)
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


def load_model(run_dir: str | Path) -> Model:
    """The trained model (a Sequential, or a Graph) of a run folder; `model.predict(x)`."""
    return load_run(run_dir).model


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
