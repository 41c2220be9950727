"""Data sources (built-in, CSV, NPZ, IDX), splits, standardization and the mini-batch iterator.

    splits = load_splits(cfg.data, input_shape=(784,), seed=cfg.seed)
    it = BatchIterator(splits.train, batch_size=32)
    for xb, yb, wb in it.batches(it.order(rng)): ...   # wb: sample weights or None

Importing this package registers the built-in datasets in `DATASETS` (data/builtin.py).
"""
from __future__ import annotations

from .batches import BatchIterator
from .builtin import DATASETS, mnist, sine, spirals, xor
from .dataset import Dataset
from .readers import read_csv, read_file, read_idx, read_npz
from .splits import Splits, apply_standardize, load_splits

__all__ = [
    "BatchIterator",
    "DATASETS",
    "Dataset",
    "Splits",
    "apply_standardize",
    "load_splits",
    "mnist",
    "read_csv",
    "read_file",
    "read_idx",
    "read_npz",
    "sine",
    "spirals",
    "xor",
]
