"""Mini-batches of a Dataset gathered into buffers allocated once, not once per step."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import DataError
from .dataset import Dataset


class BatchIterator:
    """Mini-batches of a Dataset, reusing preallocated buffers (the caller must not keep a batch past the next one).

        it = BatchIterator(ds, batch_size=32)
        for epoch in range(epochs):
            for xb, yb, wb in it.batches(it.order(rng)):   # xb (b, *feature_shape), yb (b, ...)
                ...                                        # wb (b,) sample weights, or None

    Every epoch has len(it) = ceil(n / batch_size) batches; the last one holds the n % batch_size
    remaining samples when batch_size does not divide n. A batch_size above n is one batch of n.
    Without shuffling, batches are views of the dataset's arrays (no copy at all).
    """

    def __init__(self, ds: Dataset, batch_size: int, shuffle: bool = True):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if len(ds) == 0:
            raise DataError("cannot make batches of an empty dataset")
        self.ds = ds
        self.n = len(ds)
        self.batch_size = min(int(batch_size), self.n)
        self.shuffle = shuffle
        self._full: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def order(self, rng: np.random.Generator) -> np.ndarray:
        """This epoch's sample order (n,): rng.permutation(n) if shuffle else arange(n)."""
        return rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def _buffers(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The (x, y, w) buffers for batches of `size` samples, made on first use (w None
        when the dataset has no sample weights)."""
        attr = "_full" if size == self.batch_size else "_last"
        if getattr(self, attr) is None:
            x, y, w = self.ds.x, self.ds.y, self.ds.w
            setattr(self, attr, (np.empty((size,) + x.shape[1:], x.dtype), np.empty((size,) + y.shape[1:], y.dtype),
                                 None if w is None else np.empty(size, w.dtype)))
        return getattr(self, attr)

    def batches(self, order: np.ndarray, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """(xb, yb, wb) for batches start, start + 1, ... of `order` (from `self.order`).

        xb: (b, *feature_shape), yb: (b,) or (b, k), wb: (b,) sample weights or None, with
        b = batch_size except maybe the last. The arrays are overwritten by the next batch.
        """
        order = np.asarray(order)
        if order.shape != (self.n,):
            raise ValueError(f"order must have shape ({self.n},), got {order.shape}")
        if not 0 <= start <= len(self):
            raise ValueError(f"start must be in [0, {len(self)}], got {start}")
        x, y, w, bs = self.ds.x, self.ds.y, self.ds.w, self.batch_size
        # an unshuffled epoch reads contiguous rows: slices are views, nothing to gather
        # (an ndarray only: a DiskArray reads even contiguous rows into the batch buffer)
        identity = not self.shuffle and isinstance(x, np.ndarray) and bool(np.array_equal(order, np.arange(self.n)))
        if not identity and (order.min() < 0 or order.max() >= self.n):
            raise ValueError(f"order holds indices outside [0, {self.n})")
        for i in range(start, len(self)):
            lo, hi = i * bs, min((i + 1) * bs, self.n)
            if identity:
                yield (x, y, w) if hi - lo == self.n else (x[lo:hi], y[lo:hi], None if w is None else w[lo:hi])
                continue
            xb, yb, wb = self._buffers(hi - lo)
            idx = order[lo:hi]
            # mode="clip" skips take's internal bounds-check buffer (indices were checked above);
            # the method, not np.take: ~1 us less of Python wrapping per call
            x.take(idx, axis=0, out=xb, mode="clip")
            y.take(idx, axis=0, out=yb, mode="clip")
            if w is not None:
                w.take(idx, out=wb, mode="clip")
            yield xb, yb, wb
