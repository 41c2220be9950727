"""The `Dataset` pair and the checks every reader shares."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError


@dataclass
class Dataset:
    """Features and targets of n samples.

    x: (n, *feature_shape), float32 by default.
    y: (n,) int64 class labels, or (n,) / (n, k) float targets for regression.
    classes: the name of each class label (label i is classes[i]) when the data named them
        (a string target column, an image folder's subfolders); None for bare integer labels.
    w: (n,) non-negative sample weights (a weight column), or None: every sample counts 1.
    """

    x: np.ndarray
    y: np.ndarray
    classes: list[str] | None = field(default=None, compare=False)
    w: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise DataError(f"x has {len(self.x)} samples but y has {len(self.y)}")
        if self.w is not None and self.w.shape != (len(self.x),):
            raise DataError(f"x has {len(self.x)} samples but the sample weights have shape {self.w.shape}")

    def __len__(self) -> int:
        return len(self.x)


def float_dtype(dtype) -> np.dtype:
    """np.dtype(dtype), which must be a float type (float32 or float64)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DataError(f"unknown dtype {dtype!r}; valid: float32, float64") from None
    if dt.kind != "f":
        raise DataError(f"data dtype must be a float type (float32, float64), got {dt.name}")
    return dt


def first_nonfinite_row(a: np.ndarray) -> int | None:
    """Index of the first sample of `a` (n, ...) holding NaN or inf, or None if all are finite."""
    if a.dtype.kind not in "fc" or a.size == 0:
        return None
    # A float64 running sum is finite iff every element is (NaN/inf propagate; float32 values
    # cannot overflow it), and it avoids a full-size boolean temporary in the common case.
    if a.dtype.itemsize <= 4 and np.isfinite(a.sum(dtype=np.float64)):
        return None
    bad = ~np.isfinite(a.reshape(len(a), -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def narrowed(a: np.ndarray, dtype, where) -> np.ndarray:
    """a as `dtype`; DataError when a finite value is too large for it (1e308 in float32 would
    become inf, and then be reported as "NaN or inf", which the file does not hold). `where(row)`
    names the sample for the message."""
    dtype = np.dtype(dtype)
    if a.dtype.kind in "iu" and dtype.kind == "f" and a.size:
        # integer ids (an embedding's input) travel as floats, exact up to 2^24 in float32
        exact = 2 ** (np.finfo(dtype).nmant + 1)
        big = np.abs(a.reshape(len(a), -1).astype(np.float64)).max(axis=1) > exact
        if big.any():
            row = int(np.argmax(big))
            value = a[row].flat[np.argmax(np.abs(a[row].astype(np.float64)))]
            raise DataError(f"{where(row)}: the integer {value} is beyond {exact:,}, the largest that {dtype.name} "
                            f"holds exactly (integer ids reach the model as {dtype.name}); set model.dtype: float64 "
                            f"or use smaller ids")
    with np.errstate(over="ignore"):  # reported below, with the value, instead of a RuntimeWarning
        out = a.astype(dtype, copy=False)
    if a.dtype.kind == "f" and dtype.kind == "f" and a.dtype.itemsize > dtype.itemsize:
        row = first_nonfinite_row(out)
        if row is not None and np.isfinite(a[row]).all():
            big = a[row].flat[np.argmax(np.abs(a[row]))]
            raise DataError(f"{where(row)}: {big:g} is too large for {dtype.name} (the largest is "
                            f"{np.finfo(dtype).max:.4g}); scale the data, or set model.dtype: float64")
    return out


def check_finite(ds: Dataset, source: str) -> None:
    """DataError naming `source` and the sample when x or a float y holds NaN or inf."""
    for name, a in (("features", ds.x), ("targets", ds.y)):
        row = first_nonfinite_row(a)
        if row is not None:
            raise DataError(f"{source}: {name} of sample {row} contain NaN or inf")
