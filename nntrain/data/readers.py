"""Readers for data files: IDX (gzip or raw), CSV with a header row, NPZ with arrays x and y
(and optional sample weights w).

Every problem a user can fix (missing file, bad header, ragged row, non-numeric cell, NaN, a
pickled array) is a `DataError` that names the file and, where there is one, the line,
column or key.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .csvfile import read_csv
from .dataset import Dataset
from .files import _check_file
from .idxfile import read_idx, read_idx_pair
from .npzfile import read_npy_folder, read_npz

__all__ = ["read_csv", "read_file", "read_idx", "read_idx_pair", "read_npy_folder", "read_npz"]


def read_file(path, target=None, dtype="float32", mmap="auto", weight=None, weight_required=False) -> Dataset:
    """A Dataset from a .csv (or .csv.gz), .npz or IDX file (name contains 'idx' or ends .idx/.gz),
    or a folder of x.npy and y.npy (read from disk by batches; see read_npy_folder and `mmap`).

    For IDX, `path` names the images; labels come from the same name with 'images-idx3'
    replaced by 'labels-idx1'. `weight` names a CSV's column of sample weights (read_csv).
    """
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return read_npy_folder(path, dtype=dtype, mmap=mmap)
    if name.endswith(".npy"):
        raise DataError(f"{path}: one .npy array holds x or y, not both; put x.npy and y.npy in a folder "
                        f"and name the folder (nntrain data convert writes one from a CSV)")
    if name.endswith((".csv", ".csv.gz")):
        return read_csv(path, target=target, dtype=dtype, weight=weight, weight_required=weight_required)
    if name.endswith(".npz"):
        return read_npz(path, dtype=dtype, mmap=mmap)
    if "idx" in name or name.endswith((".idx", ".gz")):
        _check_file(path)
        return read_idx_pair(path, dtype=dtype)
    raise DataError(
        f"{path}: unknown data format; expected .csv (header row), .npz (arrays x, y) "
        f"or IDX (e.g. train-images-idx3-ubyte.gz)"
    )
