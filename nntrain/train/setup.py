"""A training setup built from a config: the data split and its targets (prepared for the
loss, scaled with data.scale_target, weighted), the model, the loss and the metrics, each
checked against the others before any training (`setup`). `nntrain.api.setup` is this one."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config.schema import Config
from ..data import Splits, load_splits
from ..data.target_scale import TargetScale
from ..data.weights import split_weights
from ..errors import DataError, RunError
from ..nn.graph import build_model
from ..nn.losses import Loss, build_loss
from ..nn.metrics.base import Metric, Unscaled, build_metric
from ..nn.model import Model


@dataclass
class Setup:
    """Everything built from a config: data, model, loss, optimizer, metrics."""

    cfg: Config
    splits: Splits
    model: Model
    loss: Loss
    metrics: list[Metric]
    y_train: np.ndarray
    y_val: np.ndarray | None
    y_test: np.ndarray | None
    # sample weights (weight column x train.class_weight), None when unweighted (data/weights.py)
    w_train: np.ndarray | None = None
    w_val: np.ndarray | None = None
    w_test: np.ndarray | None = None
    # data.scale_target: the targets above are scaled with it, the metrics see original units
    target_scale: TargetScale | None = None


def build_metrics(cfg: Config, loss: Loss, scale: TargetScale | None = None) -> list[Metric]:
    metrics = [build_metric(spec) for spec in cfg.metrics]
    for m in metrics:
        m.from_logits = loss.from_logits
    if scale is not None:  # the model outputs the scaled target; metrics are in original units
        metrics = [Unscaled(m, scale.mean, scale.std) for m in metrics]
    return metrics


def setup(cfg: Config, arrays: tuple | None = None) -> Setup:
    """Load the data and build the model, loss and metrics of a config; `arrays`: (x, y,
    validation_data) in memory instead of the config's data source (nntrain.fit(cfg, x=, y=))."""
    dtype = cfg.model.dtype
    shape = cfg.model.input_shape and tuple(cfg.model.input_shape)
    if arrays is not None:
        from ..data.arrays import array_splits

        splits = array_splits(cfg.data, *arrays, input_shape=shape, seed=cfg.seed, dtype=dtype)
    elif cfg.data.arrays:
        raise RunError("this run was trained on arrays in memory (nntrain.fit(cfg, x=..., y=...)); "
                       "give them again: nntrain.resume(run_dir, x=..., y=...)")
    else:
        splits = load_splits(cfg.data, input_shape=shape, seed=cfg.seed, dtype=dtype, inputs=cfg.model.inputs)
    if cfg.model.input_shape is None:  # inferred from the data: saved in the run's config.yaml,
        cfg.model.input_shape = list(splits.train.x.shape[1:])  # so eval/predict/export can build the model
    model = build_model(cfg.model.layers, cfg.model.input_shape, dtype=dtype, seed=cfg.seed, inputs=cfg.model.inputs)
    _check_ids(cfg, model, splits)
    loss = build_loss(cfg.loss)

    def targets(ds, part):
        if ds is None:
            return None
        try:
            return loss.prepare_target(ds.y, model.output_shape, dtype)
        except DataError as exc:  # name the data the targets came from
            where = cfg.data.name and f"dataset {cfg.data.name!r}" or (cfg.data.test if part == "test" else cfg.data.train)
            if cfg.data.images is not None:  # an image folder's labels: its subfolders
                where = cfg.data.images.test if part == "test" else cfg.data.images.train
            raise DataError(f"{part} targets of {where}: {exc}") from None

    y_train = targets(splits.train, "training")
    # data.scale_target: statistics of the training split only (validate() refused classification)
    scale = TargetScale.fit(y_train) if cfg.data.scale_target else None
    if scale is not None:
        y_train = scale.scale(y_train)
    metrics = build_metrics(cfg, loss, scale)
    _check_metrics(metrics, cfg, model, y_train)
    y_val, y_test = targets(splits.val, "validation"), targets(splits.test, "test")
    if scale is not None:
        y_val, y_test = scale.scale(y_val), scale.scale(y_test)
    weights = split_weights(cfg.train.class_weight, loss, model.output_shape,
                            [(splits.train, y_train), (splits.val, y_val), (splits.test, y_test)],
                            dtype, getattr(cfg, "where", None), cfg.data.weight)
    return Setup(cfg, splits, model, loss, metrics, y_train, y_val, y_test, *weights, scale)


def _check_ids(cfg: Config, model: Model, splits) -> None:
    """An embedding on the model input given data that is not its ids (features, or ids of a
    larger vocabulary) is a config error at the layer, before training, not a failure in epoch 1."""
    from ..errors import ConfigError
    from ..nn.layers.embedding import check_id_data

    for part, ds in (("training", splits.train), ("validation", splits.val), ("test", splits.test)):
        bad = check_id_data(model, ds.x) if ds is not None else None
        if bad is not None:
            k, message = bad
            exc = ConfigError(f"the {part} data: {message}", f"model.layers.{model.config_index[k]}")
            where = getattr(cfg, "where", None)
            exc.where = where(exc.key) if where else None
            raise exc


def _check_metrics(metrics: list[Metric], cfg: Config, model: Model, y: np.ndarray) -> None:
    """Each metric tried on two samples, so a metric that cannot compare the model's outputs
    with these targets (mse on class labels) is a config error before training, not a crash."""
    from ..errors import ConfigError

    pred = np.zeros((min(2, len(y)),) + tuple(model.output_shape), model.dtype)
    where = getattr(cfg, "where", None)
    for i, m in enumerate(metrics):
        try:
            m.check_outputs(tuple(model.output_shape))
        except ValueError as err:
            exc = ConfigError(str(err), f"metrics.{i}")
            exc.where = where(exc.key) if where else None
            raise exc from None
        try:
            m.update(pred, y[:len(pred)])
        except (ValueError, IndexError, TypeError):
            exc = ConfigError(f"metric {m.registry_name!r} cannot compare the model's outputs {list(model.output_shape)} "
                              f"with the {cfg.loss['type']} targets of shape {list(y.shape[1:])}", f"metrics.{i}")
            exc.where = where(exc.key) if where else None  # file:line:column of the metric
            raise exc from None
        m.reset()
