"""Checks of a parsed Config, before any data is read or training starts: every registry spec
(loss, optimizer and its schedule, metrics) built once and returned with its defaults filled in,
the metric names that early stopping, checkpoints and reduce_on_plateau watch, the data section
(one source; a built-in dataset's options; files and image folders; data.columns, data.text and
data.window; several model inputs) and the model's wiring and shapes.

    validate(cfg)   # ConfigError naming the key; config/load.py locates it at file:line:column
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, did_you_mean
from ..nn.registry import LOSSES, METRICS, OPTIMIZERS
from .schema import Config, number_from


def _check_spec(registry, spec: dict, key: str, skip: tuple[str, ...] = ()) -> dict:
    """Validate a registry spec by building it; return it with every default filled in."""
    kwargs = {k: v for k, v in spec.items() if k not in skip}
    try:
        registry.build(kwargs)
    except ConfigError as exc:
        raise ConfigError(exc.message, exc.key or key) from None
    full = {"type": spec["type"]}
    for p in registry.params(spec["type"]):
        if p.name in spec:
            full[p.name] = spec[p.name]
        elif not p.required:
            full[p.name] = p.default
    full.update({k: spec[k] for k in skip if k in spec})
    return full


def _check_optimizer(spec: dict) -> dict:
    """The optimizer spec with defaults filled in; its options (clipnorm, clipvalue,
    weight_decay) and its schedule checked here and kept beside the registry arguments."""
    from ..nn.optimizers.base import COMMON_OPTIONS, SCHEDULE_KEY, build_optimizer, split_optimizer_spec
    from ..nn.registry import SCHEDULES

    _, common, schedule = split_optimizer_spec(spec)
    skip = tuple(common) + ((SCHEDULE_KEY,) if SCHEDULE_KEY in spec else ())
    full = _check_spec(OPTIMIZERS, spec, "optimizer", skip=skip)
    for k, v in common.items():
        full[k] = number_from(v)
    try:
        build_optimizer(full)
    except ConfigError as exc:
        bad = next((k for k in COMMON_OPTIONS if k in exc.message), None)
        raise ConfigError(exc.message, f"optimizer.{bad}" if bad else "optimizer") from None
    if schedule is not None:
        from ..nn.optimizers.schedules import TIMING_OPTIONS, build_schedule
        from .schema import spec as as_spec

        key = f"optimizer.{SCHEDULE_KEY}"
        full[SCHEDULE_KEY] = _check_spec(SCHEDULES, as_spec(schedule, key), key, skip=TIMING_OPTIONS)
        try:  # schedule_unit, warmup_epochs, warmup_steps
            build_schedule(full[SCHEDULE_KEY])
        except ConfigError as exc:
            named = [k for k in TIMING_OPTIONS if k in exc.message]
            bad = min(named, key=exc.message.index) if named else None  # the option the message is about
            raise ConfigError(exc.message, f"{key}.{bad}" if bad else key) from None
    return full


def _check_monitors(cfg: Config) -> None:
    """Metrics columns watched by early stopping, checkpoints and reduce_on_plateau exist."""
    from ..nn.metrics.base import metric_name
    from ..nn.metrics.monitor import check_monitor

    names = []
    for m in cfg.metrics:
        names.append(metric_name(METRICS.build(m)))
    has_val = cfg.data.validation_split > 0
    t = cfg.train
    for section_name, sec in (("early_stopping", t.early_stopping), ("checkpoint", t.checkpoint)):
        if sec is not None:
            check_monitor(sec.monitor, names, has_val, f"train.{section_name}.monitor")
    schedule = cfg.optimizer.get("schedule")
    if schedule and "monitor" in schedule:
        check_monitor(schedule["monitor"], names, has_val, "optimizer.schedule.monitor")


def validate(cfg: Config) -> None:
    """Registry names and arguments, data sources, and the model's shapes."""
    from ..data.files import file_problem
    from ..nn.graph import build_model, check_wiring  # numpy-heavy; keep `nntrain --help` fast
    from .catalogue import DATASETS  # its import fills every registry

    cfg.loss = _check_spec(LOSSES, cfg.loss, "loss")
    cfg.optimizer = _check_optimizer(cfg.optimizer)
    cfg.metrics = [_check_spec(METRICS, m, f"metrics.{i}") for i, m in enumerate(cfg.metrics)]
    _check_monitors(cfg)
    if cfg.data.scale_target and LOSSES.build(cfg.loss).classification:
        raise ConfigError(f"standardizes a regression target, but {cfg.loss['type']} is a classification loss "
                          f"(its targets are classes); leave data.scale_target out", "data.scale_target")
    if cfg.train.class_weight is not None:  # its classes are checked against the data at setup
        from ..data.weights import check_loss

        check_loss(LOSSES.build(cfg.loss))
    if not cfg.model.layers:
        raise ConfigError("needs at least one layer", "model.layers")
    d = cfg.data
    if d.arrays:  # nntrain.fit(cfg, x=..., y=...): no file to read
        if (d.name, d.train, d.images, d.test) != (None, None, None, None):
            raise ConfigError("data.arrays: the data are the arrays given to nntrain.fit, so data.name, "
                              "data.train, data.test and data.images stay out", "data")
    elif (d.name is None) + (d.train is None) + (d.images is None) != 2:
        raise ConfigError("give one of data.name (a built-in dataset), data.train (a file) or data.images "
                          "(an image folder), not several or none", "data")
    if d.images is not None:
        from ..data.images import folder_problem

        for key, value in (("test", d.test), ("target", d.target)):
            if value is not None:
                raise ConfigError("goes with data.train, not data.images (an image folder's test set is "
                                  "data.images.test, its labels are its subfolders)", f"data.{key}")
        for name in ("train", "test"):
            p = getattr(d.images, name)
            problem = folder_problem(Path(p)) if p is not None else None
            if problem:
                raise ConfigError(problem, f"data.images.{name}")
    if d.name is not None:
        DATASETS.get(d.name)
        try:
            DATASETS.check_kwargs(d.name, d.options)
        except ConfigError as exc:
            raise ConfigError(exc.message, "data.options") from None
        validate = getattr(DATASETS.get(d.name), "validate", None)
        if validate is not None:  # the option values, checked without drawing the data
            try:
                validate(**d.options)
            except ValueError as exc:
                raise ConfigError(f"dataset {d.name!r}: {exc}", "data.options") from None
    for name in ("train", "test"):
        p = getattr(d, name)
        problem = file_problem(Path(p)) if p is not None else None
        if problem:
            raise ConfigError(problem, f"data.{name}")
    if d.test_split and d.test is not None:
        raise ConfigError(f"holds a fraction of data.train out as the test split, but data.test ({d.test}) "
                          f"is the test split; give one of them", "data.test_split")
    if d.columns:
        from ..data.column_kinds import column_specs

        if d.train is None or not d.train.lower().endswith((".csv", ".csv.gz")):
            raise ConfigError("describes the columns of a CSV file; give data.train: FILE.csv", "data.columns")
        column_specs(d.columns)
    from ..data.sequences import check_config as check_sequences

    check_sequences(cfg)  # data.text, data.window
    check_wiring(cfg.model.layers, cfg.model.inputs)  # a graph's names and inputs, before any shape is known
    if cfg.model.inputs is not None or d.inputs is not None:
        _check_inputs(cfg)
    if cfg.model.input_shape is not None:
        build_model(cfg.model.layers, cfg.model.input_shape, cfg.model.dtype, cfg.seed, inputs=cfg.model.inputs)


def _check_inputs(cfg: Config) -> None:
    """Several model inputs: the data is an .npz holding an array x_<name> for each (packed side
    by side into one x by the reader), or a CSV whose column groups data.inputs names
    (data/column_groups.py); model.input_shape is the packed width."""
    import math
    import zipfile

    import numpy as np

    d = cfg.data
    if d.inputs is not None:
        from ..data.column_groups import check_config

        check_config(cfg)
    inputs = cfg.model.inputs
    width = [sum(math.prod(s) for s in inputs.values())]
    if cfg.model.input_shape is None:
        cfg.model.input_shape = width
    elif cfg.model.input_shape != width:
        raise ConfigError(f"with model.inputs the input is their values side by side, {width}; leave "
                          f"model.input_shape out", "model.input_shape")
    if d.inputs is not None:  # CSV column groups: their widths are checked once the data is encoded
        return
    if d.train is None:
        raise ConfigError("several inputs are read from an .npz file with an array x_<name> per input: "
                          "give data.train: FILE.npz (or a CSV, with data.inputs: {name: [columns]})", "model.inputs")
    for part in ("train", "test"):
        path = getattr(d, part)
        if path is None:
            continue
        if path.lower().endswith((".csv", ".csv.gz")):
            raise ConfigError(f"data.{part} is a CSV: give each input its columns, data.inputs: "
                              f"{{{', '.join(f'{n}: [columns]' for n in inputs)}}}", "model.inputs")
        if not path.lower().endswith(".npz"):
            raise ConfigError(f"several inputs are read from an .npz file with an array x_<name> per input, "
                              f"but data.{part} is {path}", "model.inputs")
        try:
            with zipfile.ZipFile(path) as z:
                arrays = [n.removesuffix(".npy") for n in z.namelist()]
                given = sorted(a[2:] for a in arrays if a.startswith("x_"))
                for name in inputs:
                    if name not in given:
                        raise ConfigError(f"data.{part} {path} has no array x_{name} for this input (arrays: "
                                          f"{', '.join(arrays)}){did_you_mean(name, given)}", f"model.inputs.{name}")
                    with z.open(f"x_{name}.npy") as f:  # the .npy header only: its shape
                        fmt = np.lib.format
                        read = fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0
                        sample = list(read(f)[0][1:])
                    if sample != inputs[name]:
                        raise ConfigError(f"data.{part} {path} holds x_{name} of shape {sample} per sample, "
                                          f"not {inputs[name]}", f"model.inputs.{name}")
        except (OSError, ValueError, zipfile.BadZipFile):
            continue  # the reader says what is wrong with the file
        extra = [name for name in given if name not in inputs]
        if extra:
            raise ConfigError(f"data.{part} {path} also holds x_{extra[0]}, an input the model does not declare",
                              "model.inputs")
