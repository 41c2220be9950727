"""From the `data:` config section to train / validation / test Datasets, fitted to the model."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from . import column_groups, sequences, tabular
from .builtin import DATASETS
from .csvfile import NotNumeric
from .dataset import Dataset, float_dtype
from .ondisk import is_disk_array
from .preprocessing import Tabular
from .readers import read_file

# standardization works on row chunks of about this many values, so its float64
# temporaries stay small (a few MB) whatever the size of the set
_CHUNK_VALUES = 1 << 20


@dataclass
class Splits:
    """The datasets of one run and the standardization statistics fitted on `train`.

    mean, std: feature_shape arrays of the data dtype, or None when standardize is off.
    """

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    mean: np.ndarray | None
    std: np.ndarray | None
    tabular: Tabular | None = None  # a CSV read as typed columns: its fitted preprocessing
    sequence: sequences.Sequence | None = None  # data.text or data.window: the fitted vocabulary or windows


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"{shape} ({math.prod(shape)} values)"


def _reshaped(ds: Dataset, shape: tuple[int, ...], problem: str) -> Dataset:
    """ds with x viewed as (n, *shape); DataError `problem` when the sizes differ."""
    if ds.x.shape[1:] == shape:
        return ds
    if math.prod(ds.x.shape[1:]) != math.prod(shape):
        raise DataError(problem)
    return Dataset(ds.x.reshape((len(ds.x),) + shape), ds.y, ds.classes, ds.w)


def _with_dtype(ds: Dataset, dt: np.dtype) -> Dataset:
    # astype(copy=False) converts only when the dtype differs, so a float32 set stays as it is
    y = ds.y.astype(dt, copy=False) if ds.y.dtype.kind == "f" else ds.y
    return Dataset(ds.x.astype(dt, copy=False), y, ds.classes, ds.w)


def _match_targets(test: Dataset, train: Dataset, source: str) -> Dataset:
    """test with y of the same kind and trailing shape as train's y."""
    if test.y.shape[1:] != train.y.shape[1:]:
        raise DataError(
            f"test data {source} has targets of shape {test.y.shape[1:]} per sample "
            f"but the training data has {train.y.shape[1:]}"
        )
    if test.y.dtype == train.y.dtype:
        return test
    if train.y.dtype.kind == "i" and not np.all(test.y == np.round(test.y)):
        raise DataError(f"test data {source} has non-integral targets but the training targets are class labels")
    return Dataset(test.x, test.y.astype(train.y.dtype), test.classes, test.w)


def validation_indices(n: int, fraction: float, seed: int,
                       key: str = "data.validation_split") -> tuple[np.ndarray, np.ndarray | None]:
    """(train rows, held-out rows or None): round(n * fraction) held out after a shuffle seeded by `seed`."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise DataError(f"{key} must be a number in [0, 1), got {fraction!r}")
    if fraction == 0:
        return np.arange(n), None
    n_val = round(n * fraction)
    if not 1 <= n_val < n:
        raise DataError(
            f"{key} {fraction} of {n} training samples leaves "
            f"{n_val} held out and {n - n_val} for training; each needs at least 1"
        )
    perm = np.random.default_rng(seed).permutation(n)
    # sorted indices keep the file's order within each part and gather memory in sequence
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _validation_split(ds: Dataset, fraction: float, seed: int,
                      key: str = "data.validation_split") -> tuple[Dataset, Dataset | None]:
    """(train, val): round(n * fraction) samples held out after a shuffle seeded by `seed`."""
    train_idx, val_idx = validation_indices(len(ds), fraction, seed, key)
    if val_idx is None:
        return ds, None

    def take(idx: np.ndarray) -> Dataset:
        w = None if ds.w is None else np.take(ds.w, idx)
        x = ds.x.subset(idx) if is_disk_array(ds.x) else np.take(ds.x, idx, axis=0)  # on disk: an index view
        return Dataset(x, np.take(ds.y, idx, axis=0), ds.classes, w)

    return take(train_idx), take(val_idx)


def _head(x, n: int):
    """x[:n] (a view, also of a DiskArray)."""
    return x.head(n) if is_disk_array(x) else x[:n]


def _mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and population std of x (n, ...), accumulated in float64 by chunks.

    Features with (numerically) zero spread get std 1, so they map to 0 instead of NaN.
    """
    n = len(x)
    rows = max(1, _CHUNK_VALUES // max(1, math.prod(x.shape[1:])))
    total = np.zeros(x.shape[1:], np.float64)
    for i in range(0, n, rows):
        total += x[i : i + rows].sum(axis=0, dtype=np.float64)
    mean = total / n
    # two passes: sum((x - mean)^2) does not cancel catastrophically like E[x^2] - E[x]^2
    sq = np.zeros_like(total)
    for i in range(0, n, rows):
        d = x[i : i + rows] - mean
        sq += np.einsum("i...,i...->...", d, d)
    std = np.sqrt(sq / n)
    std[std <= 10 * np.finfo(np.float32).eps * np.abs(mean)] = 1.0
    return mean.astype(x.dtype), std.astype(x.dtype)


def _check_fits_once_centered(x: np.ndarray, mean: np.ndarray, dtype: np.dtype, source: str) -> None:
    """DataError when x - mean leaves the range of `dtype` for some feature.

    Only the subtraction can overflow: once centred, |x_i - mean| <= sqrt(n) * std over the data
    the statistics came from, and a spread too small to divide by was set to 1. Other data (a
    test split, predict's rows) can sit anywhere, so each array is checked against its own
    extremes, taken per feature in the data's dtype and compared in float64.
    """
    if x.size == 0 or dtype.kind != "f":
        return
    limit = float(np.finfo(dtype).max)
    with np.errstate(over="ignore", invalid="ignore"):
        far = np.maximum(x.max(axis=0).astype(np.float64) - mean, mean - x.min(axis=0).astype(np.float64))
    if np.all(far <= limit):
        return
    j = int(np.flatnonzero(~(far <= limit))[0])
    raise DataError(
        f"data.standardize: feature {j} of {source} lies {float(far.flat[j]):.4g} from the training mean, "
        f"beyond the largest {dtype.name} ({limit:.4g}) once centred; scale the data, or set model.dtype: float64"
    )


def apply_standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray, *, out: np.ndarray | None = None,
                      source: str = "the data") -> np.ndarray:
    """(x - mean) / std for x (n, ...) with mean, std of the feature shape (or its size).

    Returns a new array unless `out` is given (out=x standardizes in place). Data whose
    centred values would overflow the result's dtype is a DataError naming `source`, before
    anything is written.
    """
    mean, std = np.asarray(mean), np.asarray(std)
    feat = x.shape[1:]
    if mean.shape != feat:
        if mean.size != math.prod(feat) or std.size != mean.size:
            raise DataError(
                f"data has feature shape {_shape_text(feat)} but the standardization "
                f"statistics have shape {_shape_text(mean.shape)}"
            )
        mean, std = mean.reshape(feat), std.reshape(feat)
    dtype = out.dtype if out is not None else np.result_type(x.dtype, mean.dtype)
    _check_fits_once_centered(x, mean.astype(np.float64), dtype, source)
    if is_disk_array(x):
        return x.standardized(mean, std)
    if out is None:
        out = np.empty(x.shape, dtype)
    np.subtract(x, mean, out=out)
    np.divide(out, std, out=out)
    return out


def _numeric_files(train_path, test_path, target, dt, mmap="auto",
                   weight=None) -> tuple[Dataset, Dataset | None] | None:
    """(train, test) of files whose every cell is a number; NotNumeric when a CSV holds text or
    missing cells (read then as typed columns, from the NotNumeric's table). `weight`:
    data.weight, a CSV column that the training file must have and the test file may."""
    train = read_file(train_path, target=target, dtype=dt, mmap=mmap, weight=weight, weight_required=True)
    return train, (read_file(test_path, target=target, dtype=dt, mmap=mmap, weight=weight)
                   if test_path is not None else None)


def _tabular_splits(cfg, input_shape, seed: int, dt, table=None, inputs=None) -> Splits:
    """Splits of a CSV read as typed columns; `table`: the RawTable of data.train or data.test
    when read_csv already read its cells; `inputs`: model.inputs, whose shapes data.inputs fills."""
    train, val, test, prep = tabular.load_tabular(cfg, seed, dt, validation_indices, table)
    if prep.groups is not None and inputs is not None:
        column_groups.check_widths(prep, inputs)
    if input_shape is not None and tuple(input_shape) != (prep.width,):
        raise DataError(f"the encoded CSV has {prep.width} features ({', '.join(prep.features[:6])}"
                        f"{', ...' if prep.width > 6 else ''}) but model.input_shape is {list(input_shape)}")
    return Splits(train, val, test, None, None, prep)


def _sequence_splits(cfg, input_shape, seed: int, dt) -> Splits:
    train, val, test, seq, mean, std = sequences.load(cfg, seed, dt, validation_indices)
    if input_shape is not None and tuple(input_shape) != train.x.shape[1:]:
        raise DataError(f"data.{seq.kind} gives samples of shape {list(train.x.shape[1:])} but model.input_shape is "
                        f"{list(input_shape)}; leave model.input_shape out")
    return Splits(train, val, test, mean, std, sequence=seq)


def load_splits(cfg, *, input_shape=None, seed: int = 0, dtype: str = "float32", inputs=None) -> Splits:
    """train / val / test Datasets of the `data:` config section, shaped for the model; `inputs`:
    model.inputs {name: shape}, checked against the CSV column groups of data.inputs.

    Order: read (built-in or files) -> dtype -> limit -> reshape to input_shape -> validation
    split (seeded shuffle) -> standardize with train statistics.
    """
    dt = float_dtype(dtype)
    name, train_path = getattr(cfg, "name", None), getattr(cfg, "train", None)
    test_path, target = getattr(cfg, "test", None), getattr(cfg, "target", None)
    if name is not None and train_path is not None:
        raise DataError(
            f"data.name ({name!r}) and data.train ({train_path}) are mutually exclusive: "
            f"use a built-in dataset or a file"
        )
    if name is not None:
        if test_path is not None:
            raise DataError(
                f"data.test ({test_path}) goes with data.train; the built-in dataset {name!r} has its own test split"
            )
        train, test = DATASETS.build({DATASETS.key: name, **(getattr(cfg, "options", None) or {})})
        test_source = f"of {name!r}"
    elif getattr(cfg, "images", None) is not None:
        from .images import read_image_folders  # Pillow is imported only for image folders

        train, test = read_image_folders(cfg.images, dtype=dt)
        test_source = str(cfg.images.test)
    elif train_path is not None and sequences.wanted(cfg):  # a text column, or windows over a series
        return _sequence_splits(cfg, input_shape, seed, dt)
    elif train_path is not None:
        mmap = getattr(cfg, "mmap", "auto")
        try:
            files = None if tabular.wanted(cfg) else _numeric_files(train_path, test_path, target, dt, mmap,
                                                                     getattr(cfg, "weight", None))
        except NotNumeric as exc:  # text or missing cells: typed columns, from the cells already read
            return _tabular_splits(cfg, input_shape, seed, dt, exc.table, inputs)
        if files is None:  # data.columns or data.inputs: typed columns, fitted on the train split
            return _tabular_splits(cfg, input_shape, seed, dt, inputs=inputs)
        train, test = files
        test_source = str(test_path)
    else:
        raise DataError(
            f"data needs a built-in dataset name (valid: {', '.join(DATASETS.names())}) or a train file"
        )
    train = _with_dtype(train, dt)
    test = _with_dtype(test, dt) if test is not None else None

    limit = getattr(cfg, "limit", None)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise DataError(f"data.limit must be an integer >= 1, got {limit!r}")
        train = Dataset(_head(train.x, limit), train.y[:limit], train.classes, None if train.w is None else train.w[:limit])
        test = Dataset(_head(test.x, limit), test.y[:limit], test.classes, None if test.w is None else test.w[:limit]) if test is not None else None

    if input_shape is not None:
        shape = tuple(int(d) for d in input_shape)
        hint = ""
        if getattr(cfg, "images", None) is not None:
            from .images import shape_hint

            hint = shape_hint(cfg.images, train.x.shape[1:], shape)
        train = _reshaped(
            train, shape,
            f"data has feature shape {_shape_text(train.x.shape[1:])} but model.input_shape is "
            f"{list(shape)} ({math.prod(shape)} values){hint}",
        )
    if test is not None:
        feat = train.x.shape[1:]
        test = _reshaped(
            test, feat,
            f"test data {test_source} has feature shape {_shape_text(test.x.shape[1:])} "
            f"but the training data has {_shape_text(feat)}",
        )
        test = _match_targets(test, train, test_source)

    if getattr(cfg, "test_split", 0.0) and test is None:  # the test part of the training file
        train, test = _validation_split(train, cfg.test_split, seed, "data.test_split")
    train, val = _validation_split(train, getattr(cfg, "validation_split", 0.0) or 0.0, seed)

    mean = std = None
    if getattr(cfg, "standardize", False) is True:  # auto: only a CSV of typed columns
        mean, std = _mean_std(train.x)
        # in place is safe for arrays this function read or made, unless a built-in hands
        # out read-only or shared arrays: those get a new one
        done: list[np.ndarray] = []
        sources = (str(train_path) if train_path is not None else f"dataset {name!r}", "the validation split",
                   f"test data {test_source}")
        for ds, source in zip((train, val, test), sources):
            if ds is None:
                continue
            if is_disk_array(ds.x):  # a view standardizing each batch as it is read
                ds.x = apply_standardize(ds.x, mean, std, source=source)
                continue
            shared = not ds.x.flags.writeable or any(np.may_share_memory(ds.x, d) for d in done)
            ds.x = apply_standardize(ds.x, mean, std, out=None if shared else ds.x, source=source)
            done.append(ds.x)
    return Splits(train, val, test, mean, std)
