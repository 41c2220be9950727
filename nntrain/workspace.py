"""Reusable work arrays, so the training loop does not allocate per step."""
from __future__ import annotations

import numpy as np


class Workspace:
    """Arrays by name, reallocated only when the requested shape or dtype changes."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, key: str, shape, dtype) -> np.ndarray:
        arr = self._arrays.get(key)
        shape = tuple(shape)
        if arr is None or arr.shape != shape or arr.dtype != dtype:
            arr = np.empty(shape, dtype=dtype)
            self._arrays[key] = arr
        return arr

    def arange(self, n: int) -> np.ndarray:
        """0..n-1 as int64 (row indices for picking one column per row)."""
        arr = self._arrays.get("__arange")
        if arr is None or arr.shape[0] != n:
            arr = np.arange(n)
            self._arrays["__arange"] = arr
        return arr

    def ones(self, n: int, dtype) -> np.ndarray:
        """n ones of `dtype` (the vector of a GEMV that sums over the batch: 1^T g)."""
        key = ("__ones", n, np.dtype(dtype))
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = np.ones(n, dtype=dtype)
        return arr
