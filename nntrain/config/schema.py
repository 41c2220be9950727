"""The config schema: typed sections (dataclasses) with defaults and value checks.

Each field's metadata holds a `check(value, key) -> value` that converts or raises ConfigError
naming the dotted key; `parse_section` walks a mapping against a dataclass, rejecting unknown
keys with did-you-mean. To add a config key, add a field here: validation, defaults, the saved
resolved config and the README reference all follow from it.
"""
from __future__ import annotations

import math
import re
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable

from ..errors import ConfigError, did_you_mean

Check = Callable[[Any, str], Any]
_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def option(default: Any = MISSING, check: Check | None = None, doc: str = "", factory=MISSING):
    """A schema field: its default (MISSING = required), its check, and one line of doc."""
    meta = {"check": check or (lambda v, k: v), "doc": doc}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def number_from(value: Any) -> Any:
    """YAML 1.1 reads 1e-3 (no dot) as a string; take it as the number it means."""
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        return float(value)
    return value


# -- checks -------------------------------------------------------------------------------
def integer(low: int | None = None) -> Check:
    def check(v, key):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"must be an integer{'' if low is None else f' >= {low}'}, got {v!r} ({type_name(v)})", key)
        if low is not None and v < low:
            raise ConfigError(f"must be an integer >= {low}, got {v}", key)
        return v
    return check


def number(low: float | None = None, high: float | None = None, low_open=False, high_open=False) -> Check:
    def describe():
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        return "a number" + (" " + " and ".join(parts) if parts else "")

    def check(v, key):
        v = number_from(v)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"must be {describe()}, got {v!r}", key)
        if low is not None and (v < low or (low_open and v == low)):
            raise ConfigError(f"must be {describe()}, got {v:g}", key)
        if high is not None and (v > high or (high_open and v == high)):
            raise ConfigError(f"must be {describe()}, got {v:g}", key)
        return float(v)
    return check


def boolean(v, key):
    if not isinstance(v, bool):
        raise ConfigError(f"must be true or false, got {v!r}", key)
    return v


def boolean_or(*words: str) -> Check:
    """true, false, or one of `words` (e.g. auto)."""
    def check(v, key):
        if not isinstance(v, bool) and v not in words:
            raise ConfigError(f"must be true, false or {' or '.join(words)}, got {v!r}", key)
        return v
    return check


def string(v, key):
    if not isinstance(v, str) or not v:
        raise ConfigError(f"must be a non-empty string, got {v!r} ({type_name(v)})", key)
    return v


def choice(*values: str) -> Check:
    def check(v, key):
        if v not in values:
            raise ConfigError(f"must be one of {', '.join(map(str, values))}, got {v!r}{did_you_mean(str(v), values)}", key)
        return v
    return check


def choice_list(*values: str) -> Check:
    """A list of distinct names, each one of `values`."""
    def check(v, key):
        if not isinstance(v, list):
            raise ConfigError(f"must be a list of {', '.join(values)}, got {v!r} ({type_name(v)})", key)
        for x in v:
            choice(*values)(x, key)
        if len(set(v)) != len(v):
            raise ConfigError(f"lists a name twice: {v!r}", key)
        return list(v)
    return check


def optional(inner: Check) -> Check:
    return lambda v, key: None if v is None else inner(v, key)


def shape(v, key):
    if not isinstance(v, list) or not v or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v):
        raise ConfigError(f"must be a list of positive integers like [784] or [28, 28, 1], got {v!r}", key)
    return list(v)


def string_list(v, key):
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"must be a list of strings (quote them: ['', 'NA', '?']), got {v!r}", key)
    return list(v)


def mapping(v, key):
    if not isinstance(v, dict):
        raise ConfigError(f"must be a mapping, got {v!r} ({type_name(v)})", key)
    return dict(v)


def spec(v, key):
    """A registry entry: a name or a mapping with a 'type' key."""
    if isinstance(v, str) and v:
        return {"type": v}
    if isinstance(v, dict):
        if "type" not in v:
            raise ConfigError("needs a 'type' key", key)
        return {k: number_from(x) for k, x in v.items()}
    raise ConfigError(f"must be a name or a mapping with a 'type' key, got {v!r} ({type_name(v)})", key)


def spec_list(v, key):
    if not isinstance(v, list):
        raise ConfigError(f"must be a list, got {v!r} ({type_name(v)})", key)
    return [spec(item, f"{key}.{i}") for i, item in enumerate(v)]


def batch_size(v, key):
    if v == "full":
        return v
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"must be a positive integer or 'full' (the whole training set), got {v!r}", key)
    return v


def class_weight(v, key):
    """null, 'balanced', or {class label or name: weight >= 0}; the classes are checked against
    the data when it is loaded (data/weights.py)."""
    if v is None or v == "balanced":
        return v
    if not isinstance(v, dict) or not v:
        raise ConfigError(f"must be 'balanced' or a mapping {{class: weight}} like {{0: 1.0, 1: 5.0}}, got {v!r}", key)
    out = {}
    for k, weight in v.items():
        if isinstance(k, bool) or not isinstance(k, (int, str)):
            raise ConfigError(f"a class is a label (0, 1, ...) or a class name, got {k!r} ({type_name(k)})", key)
        out[k] = number(0.0)(weight, f"{key}.{k}")
    return out


def section(cls) -> Check:
    return lambda v, key: parse_section(cls, v, key)


def parse_section(cls, raw: Any, prefix: str):
    """An instance of dataclass `cls` from a mapping; unknown keys, bad values -> ConfigError."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"must be a mapping, got {raw!r} ({type_name(raw)})", prefix or None)
    names = [f.name for f in fields(cls)]
    for k in raw:
        if k not in names:
            raise ConfigError(
                f"unknown key {k!r}{did_you_mean(str(k), names)}; valid keys: {', '.join(names)}",
                f"{prefix}.{k}" if prefix else str(k),
            )
    kwargs = {}
    for f in fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in raw:
            kwargs[f.name] = f.metadata["check"](raw[f.name], key)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError("is required", key)
    return cls(**kwargs)


# -- the sections -------------------------------------------------------------------------
def image_size(v, key):
    if not isinstance(v, list) or len(v) != 2 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v):
        raise ConfigError(f"must be [height, width] in pixels, like [28, 28], got {v!r}", key)
    return list(v)


@dataclass
class ImagesConfig:
    train: str = option(check=string, doc="folder with one subfolder of images per class (sorted names = labels)")
    test: str | None = option(None, optional(string), "test folder: the same class subfolders (or some of them)")
    image_size: list | None = option(None, optional(image_size),
                                     "[height, width] to resize to (Pillow bilinear); default: the images' own size, one for all")
    color_mode: str = option("rgb", choice("grayscale", "rgb"), "grayscale (1 channel) or rgb (3), as Keras")


def images(v, key):
    """An image folder section; a bare path (`images: digits/`) means {train: digits/}."""
    return parse_section(ImagesConfig, {"train": v} if isinstance(v, str) else v, key)


@dataclass
class WindowConfig:
    length: int = option(check=integer(1), doc="rows of the series in one window: x is (length, features)")
    horizon: int = option(1, integer(1), "y is the target this many rows after the window's last row")
    target: Any = option(None, None, "the target column: name or index (default: the last column)")
    features: list | None = option(None, optional(string_list), "the columns read into each window "
                                   "(default: every column; the target is one unless left out here)")


@dataclass
class DataConfig:
    name: str | None = option(None, optional(string), "a built-in dataset (see `nntrain list datasets`)")
    options: dict = option(check=mapping, factory=dict, doc="keyword arguments of the built-in dataset")
    train: str | None = option(None, optional(string), "training file: .csv (header row), .npz (x, y), IDX, "
                               "or a folder of x.npy and y.npy")
    test: str | None = option(None, optional(string), "test file, same formats")
    target: Any = option(None, None, "CSV target column: name or index (default: the last column)")
    test_split: float = option(0.0, number(0.0, 1.0, high_open=True),
                               "fraction of the train file held out as the test split (seeded, before validation_split) "
                               "when there is no data.test")
    validation_split: float = option(0.0, number(0.0, 1.0, high_open=True), "fraction of train held out for validation")
    standardize: Any = option("auto", boolean_or("auto"),
                              "z-score features with the training statistics; auto: true for the numeric columns "
                              "of a CSV read as typed columns, false otherwise (see README, Tabular CSVs)")
    columns: dict | None = option(None, optional(mapping), "per-column kind and missing-value fill of a CSV, e.g. "
                                  "{sex: category, age: {kind: numeric, fill: median, indicator: true}, id: ignore}")
    inputs: dict | None = option(None, optional(mapping), "several model inputs from a CSV: {input name: [columns]}, "
                                 "each group encoded as typed columns into the model input of that name "
                                 "(model.inputs); a column no group lists is ignored (see README, Graphs)")
    na_values: list = option(check=string_list, factory=lambda: ["", "NA", "N/A", "NaN", "null", "?"],
                             doc="CSV cells that mean a missing value")
    max_categories: int = option(50, integer(2), "a category column with more values keeps the most frequent "
                                 "max_categories - 1 and folds the rest into 'other'")
    fold_rare: bool = option(True, boolean, "false: a category column with more than max_categories values is an error")
    limit: int | None = option(None, optional(integer(1)), "use only the first N training (and test) samples")
    scale_target: bool = option(False, boolean, "standardize a regression target with the training split's mean "
                                "and std: the model learns the scaled target and the loss is of it; metrics, eval "
                                "and predict are in the original units (see README, Tabular CSVs)")
    weight: str | None = option(None, optional(string), "CSV column of sample weights (finite, >= 0; the loss is "
                                "their weighted mean); an .npz gives them as an array w")
    mmap: Any = option("auto", boolean_or("auto"), "read x from disk by batches instead of loading it (data bigger "
                       "than memory): auto = a folder of .npy files yes, an uncompressed .npz only when it does not fit")
    images: ImagesConfig | None = option(None, optional(images), "image folders instead of files (see README, Image folders)")
    text: str | None = option(None, optional(string), "CSV column of text, read as token ids of a vocabulary fitted "
                              "on the training split (see README, Sequence data)")
    tokens: str = option("words", choice("words", "chars"), "how data.text splits into tokens: lower-case words "
                         "(runs of letters and digits) or lower-case characters")
    max_tokens: int | None = option(None, optional(integer(3)), "vocabulary size, padding (id 0) and out-of-vocabulary "
                                    "(id 1) included; default: every token of the training split")
    sequence_length: int | None = option(None, optional(integer(1)), "ids per text, truncated or padded with 0 at the "
                                         "end; default: the longest training text")
    padding: str = option("post", choice("post", "pre"), "where a short text's padding ids go: post (after the text, "
                          "as Keras' TextVectorization) or pre (before it, so a recurrent layer ends on the text)")
    window: WindowConfig | None = option(None, optional(section(WindowConfig)), "sliding windows over a time series "
                                         "{length, horizon, target, features}, split by time (see README, Sequence data)")
    arrays: bool = option(False, boolean, "set by nntrain.fit(cfg, x=..., y=...): the data were arrays in memory, "
                          "so eval takes --data and resume takes the arrays again (see README, Notebooks)")


def input_shapes(v, key):
    """{name: shape} of a model's named inputs."""
    if not isinstance(v, dict) or not v:
        raise ConfigError(f"must be a mapping {{name: shape}} like {{pixels: [28, 28, 1], meta: [3]}}, got {v!r}", key)
    out = {}
    for name, s in v.items():
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ConfigError(f"an input name is letters, digits and _, not starting with a digit, got {name!r}", key)
        out[name] = shape(s, f"{key}.{name}")
    return out


@dataclass
class ModelConfig:
    layers: list = option(check=spec_list, doc="the layers in order (see `nntrain list layers`)")
    input_shape: list | None = option(None, optional(shape), "shape of one sample, e.g. [784]; default: from the data")
    dtype: str = option("float32", choice("float32", "float64"), "dtype of parameters and activations")
    inputs: dict | None = option(None, optional(input_shapes), "several named inputs {name: shape}, read from an "
                                 ".npz's arrays x_<name> or a CSV's column groups (data.inputs); layers list them "
                                 "in inputs: (see README, Graphs)")


monitor_mode = choice("auto", "min", "max")


@dataclass
class EarlyStoppingConfig:
    monitor: str = option("val_loss", string, "metrics column to watch: loss, val_loss, val_accuracy, ...")
    patience: int = option(3, integer(1), "epochs without improvement before stopping")
    min_delta: float = option(0.0, number(0.0), "smallest change that counts as an improvement")
    mode: str = option("auto", monitor_mode, "min, max, or auto (max for accuracy-like metrics)")
    restore_best: bool = option(False, boolean, "on stopping, put back the weights of the best epoch")


@dataclass
class CheckpointConfig:
    monitor: str = option("val_loss", string, "metrics column to watch; best.npz holds the best epoch's weights")
    mode: str = option("auto", monitor_mode, "min, max, or auto (max for accuracy-like metrics)")
    min_delta: float = option(0.0, number(0.0), "smallest change that counts as an improvement")


@dataclass
class TrainConfig:
    epochs: int = option(1, integer(1), "passes over the training set")
    batch_size: Any = option(32, batch_size, "samples per step: N, 1 (pure SGD) or full (batch gradient descent)")
    flush_denormals: Any = option("auto", boolean_or("auto"),
                                  "x86 flush-to-zero while training, as TensorFlow does: values below 1.2e-38 "
                                  "become 0, Adam is faster; auto = on where available (see README, Performance)")
    shuffle: bool = option(True, boolean, "reshuffle the training set every epoch")
    checkpoint_every_steps: int | None = option(None, optional(integer(1)),
                                                "also checkpoint every N steps inside an epoch (default: per epoch only)")
    on_nonfinite: str = option("stop", choice("stop", "skip_batch"),
                               "a NaN/inf loss: stop (exit 1, last good checkpoint kept) or skip that batch")
    class_weight: Any = option(None, class_weight,
                               "classification: balanced (n / (classes * count), as scikit-learn) or {class label "
                               "or name: weight}; multiplies the data.weight column (see README, Imbalance)")
    early_stopping: EarlyStoppingConfig | None = option(
        None, optional(section(EarlyStoppingConfig)), "stop when a monitored metric stops improving")
    checkpoint: CheckpointConfig | None = option(
        None, optional(section(CheckpointConfig)), "keep the best epoch's weights in best.npz")
    log: list = option(check=choice_list("tensorboard", "mlflow"), factory=list,
                       doc="experiment tracking: [tensorboard, mlflow] (optional extras; see README, Experiment tracking)")
    log_every_steps: int | None = option(None, optional(integer(1)),
                                         "tracking: also log the batch loss and lr every N steps (default: per epoch only)")
    log_histograms: bool = option(False, boolean, "tracking: weight and gradient histograms per epoch (TensorBoard)")


@dataclass
class Config:
    model: ModelConfig = option(check=section(ModelConfig), doc="the network")
    loss: dict = option(check=spec, doc="the loss (see `nntrain list losses`)")
    data: DataConfig = option(check=section(DataConfig), factory=DataConfig, doc="where the data comes from")
    optimizer: dict = option(check=spec, factory=lambda: {"type": "adam"}, doc="the optimizer and its lr")
    metrics: list = option(check=spec_list, factory=list, doc="metrics reported per epoch")
    train: TrainConfig = option(check=section(TrainConfig), factory=TrainConfig, doc="the training loop")
    seed: int = option(0, integer(0), "seed of all randomness (init, shuffling, dropout, splits)")
    plugins: list = option(check=string_list, factory=list,
                           doc="Python files (relative to the config) or importable modules that register layers, "
                               "losses, ... before the config is checked; code that runs (see README, Plugins)")
