"""Data files, whatever their format: whether a path can be read, gzip or not, and arrays x
and y checked into a Dataset (numeric, finite, as many samples in each)."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset, check_finite, first_nonfinite_row, float_dtype, narrowed
from .ondisk import checked_features, is_disk_array
from .weights import check_weights


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a data file (missing, a folder, a FIFO or device), or None."""
    if path.is_file():
        return None
    if path.is_dir():
        if (path / "x.npy").is_file():  # arrays x.npy and y.npy (nntrain data convert writes them)
            return None
        return f"{path} is a folder, not a data file; name a .csv, .npz or IDX file, or a folder of x.npy and y.npy"
    if path.exists():
        return f"{path} is not a regular file (a FIFO, socket or device); name a .csv, .npz or IDX file"
    return f"file not found: {path}"


def _check_file(path: Path) -> int:
    """The file's size in bytes; DataError if it is not a readable data file."""
    problem = file_problem(path)
    if problem:
        raise DataError(problem)
    return path.stat().st_size


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open_binary(path: Path):
    """The file opened for reading bytes, decompressed when its content is gzip."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _as_features(x: np.ndarray, dtype, source: str) -> np.ndarray:
    """Numeric x (n, ...) as `dtype`; a 1-D x becomes one feature per sample, (n, 1)."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: x must be numeric, got dtype {x.dtype}")
    if x.ndim == 0:
        raise DataError(f"{source}: x must have a sample axis, got a scalar")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if 0 in x.shape[1:]:  # it would train a (0, units) weight matrix to `done`
        raise DataError(f"{source}: x has no features: its shape is {x.shape}; each sample needs at least one value")
    return narrowed(x, float_dtype(dtype), lambda row: f"{source}: features of sample {row}")


def _as_targets(y: np.ndarray, dtype, source: str) -> np.ndarray:
    """Integer y -> int64 labels (n,); float y -> `dtype` regression targets (n,) or (n, k)."""
    if y.ndim == 0:
        raise DataError(f"{source}: y must have a sample axis, got a scalar")
    if y.dtype.kind in "biu":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        if y.ndim != 1:
            raise DataError(f"{source}: integer labels y must have shape (n,), got {y.shape}")
        return y.astype(np.int64, copy=False)
    if y.dtype.kind == "f":
        return y.astype(float_dtype(dtype), copy=False)
    raise DataError(f"{source}: y must be numeric, got dtype {y.dtype}")


def _xy_dataset(x, y: np.ndarray, dtype, src: str, w: np.ndarray | None = None) -> Dataset:
    """Dataset of checked features x (an ndarray, or a DiskArray checked by chunks) and targets y."""
    if is_disk_array(x):
        if len(x) != len(y):  # before the pass over x
            raise DataError(f"{src}: x has {len(x)} samples but y has {len(y)}")
        x = checked_features(x, float_dtype(dtype), src)
    else:
        x = _as_features(x, dtype, src)
    y = _as_targets(y, dtype, src)
    if len(x) != len(y):
        raise DataError(f"{src}: x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{src}: x and y hold no samples")
    if w is not None:
        w = check_weights(w, src)
        if len(w) != len(x):
            raise DataError(f"{src}: x has {len(x)} samples but the sample weights w have {len(w)}")
    ds = Dataset(x, y, w=w)
    if is_disk_array(x):  # its features were checked by chunks above
        row = first_nonfinite_row(y)
        if row is not None:
            raise DataError(f"{src}: targets of sample {row} contain NaN or inf")
    else:
        check_finite(ds, src)
    return ds


def read_versioned_json(path, fmt: str, version: int, what: str) -> dict:
    """The object of a JSON file a run keeps, {"format": fmt, "version": version, ...}; a
    DataError naming the file and `what` it holds when it is unreadable, of another format or
    of another version (preprocessing.json, sequence.json)."""
    import json

    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the run's {what} ({exc})") from None
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise DataError(f"{path}: not nntrain {what} (no \"format\": \"{fmt}\")")
    if d.get("version") != version:
        raise DataError(f"{path}: {what} version {d.get('version')!r}; this nntrain reads version {version}")
    return d
