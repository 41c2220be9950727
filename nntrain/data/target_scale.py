"""`data.scale_target`: a regression target standardized with the training split's statistics.

    scale = TargetScale.fit(y_train)                 # per output, over the training samples
    model learns scale.scale(y)  = (y - mean) / std
    predict gives scale.unscale(out) = out * std + mean   (original units)

The loss (train, val, test, eval) is that of the scaled target, the quantity training
minimizes; metrics see predictions and targets back in original units (`Unscaled`, in
nn/metrics/base.py), so an mse metric is std^2 times the mse loss. The statistics are saved in
model.npz as target.mean and target.std, beside data.mean and data.std.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYS = ("target.mean", "target.std")  # in model.npz


@dataclass
class TargetScale:
    """mean, std: float64 arrays of the output shape (one value per output)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, y: np.ndarray) -> "TargetScale":
        """The mean and population std of y (n, *output_shape) per output, in float64; an
        output that does not vary gets std 1, so it maps to 0 instead of NaN."""
        y64 = np.asarray(y, np.float64)
        mean = y64.mean(axis=0)
        std = y64.std(axis=0)
        std[std <= 10 * np.finfo(np.float32).eps * np.abs(mean)] = 1.0
        return cls(mean, std)

    def scale(self, y: np.ndarray | None) -> np.ndarray | None:
        """(y - mean) / std, computed in float64 and returned in y's dtype."""
        if y is None:
            return None
        return ((np.asarray(y, np.float64) - self.mean) / self.std).astype(y.dtype)

    def unscale(self, out: np.ndarray) -> np.ndarray:
        """Model outputs in original units: out * std + mean, in out's dtype."""
        return (np.asarray(out, np.float64) * self.std + self.mean).astype(out.dtype)

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(zip(KEYS, (self.mean, self.std)))

    @classmethod
    def from_arrays(cls, arrays) -> "TargetScale | None":
        """The scale saved in a run's model.npz, or None when the run did not scale its target."""
        if KEYS[0] not in arrays:
            return None
        return cls(np.asarray(arrays[KEYS[0]], np.float64), np.asarray(arrays[KEYS[1]], np.float64))
