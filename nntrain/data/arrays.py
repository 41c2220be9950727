"""Splits from arrays in memory (`nntrain.fit(cfg, x=..., y=...)`), fitted to the model as
`load_splits` fits a file: dtype -> limit -> reshape -> validation split -> standardize."""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .dataset import Dataset, check_finite, float_dtype
from .splits import Splits, _mean_std, _reshaped, _validation_split, apply_standardize


def as_dataset(x, y, dt: np.dtype, source: str, classes: list[str] | None = None) -> Dataset:
    """A Dataset of arrays: x as `dt`, y as int labels (integers, or strings and other labels
    named by `classes`, sorted as np.unique sorts them) or float targets."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 2:
        raise DataError(f"{source}: x must have shape (n_samples, n_features...), got {x.shape}")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: x must be numbers, got dtype {x.dtype}")
    if y.dtype.kind in "OUSb":  # labels that are not numbers: classes named by their sorted values
        if classes is None:
            classes = [str(c) for c in np.unique(y)]
        index = {c: i for i, c in enumerate(classes)}
        try:
            y = np.array([index[str(v)] for v in y.ravel()], np.int64)
        except KeyError as exc:
            raise DataError(f"{source}: label {exc.args[0]!r} is not one of the training labels {classes}") from None
    elif y.dtype.kind in "iu":
        y = y.astype(np.int64)
    elif y.dtype.kind == "f":
        y = y.astype(dt)
    else:
        raise DataError(f"{source}: y must be numbers or labels, got dtype {y.dtype}")
    ds = Dataset(x.astype(dt, copy=True), y, classes)  # a copy: standardizing in place leaves the caller's x alone
    check_finite(ds, source)
    return ds


def array_splits(data, x, y, validation_data=None, *, input_shape=None, seed: int = 0,
                 dtype: str = "float32") -> Splits:
    """train / val Datasets of arrays (no test split), with the `data:` options that apply to
    arrays: limit, validation_split (when validation_data is None) and standardize."""
    dt = float_dtype(dtype)
    train = as_dataset(x, y, dt, "x, y")
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise DataError("validation_data must be a pair (x_val, y_val)")
        val = as_dataset(*validation_data, dt, "validation_data", train.classes)
    if data.limit is not None:
        train = Dataset(train.x[:data.limit], train.y[:data.limit], train.classes)
    if input_shape is not None:
        shape = tuple(int(d) for d in input_shape)
        train = _reshaped(train, shape, f"x has feature shape {train.x.shape[1:]} but model.input_shape is {list(shape)}")
    if val is not None:
        val = _reshaped(val, train.x.shape[1:], f"validation_data has feature shape {val.x.shape[1:]} "
                                                 f"but x has {train.x.shape[1:]}")
        if val.y.shape[1:] != train.y.shape[1:]:
            raise DataError(f"validation_data has targets of shape {val.y.shape[1:]} per sample, y has {train.y.shape[1:]}")
    else:
        train, val = _validation_split(train, data.validation_split, seed)
    mean = std = None
    if data.standardize is True:  # auto: arrays are taken as they are
        mean, std = _mean_std(train.x)
        for ds, source in ((train, "x"), (val, "the validation data")):
            if ds is not None:
                ds.x = apply_standardize(ds.x, mean, std, source=source)
    return Splits(train, val, None, mean, std)
