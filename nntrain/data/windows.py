"""Sliding windows over a numeric time series (the rows of a CSV, in time order), for forecasting.

For a series of T rows with feature columns X (T, F) and a target column z (T,), window i is

    x_i = X[i : i + length]                   (length, F)
    y_i = z[i + length - 1 + horizon]         the target `horizon` rows after the window's last row

so there are T - length - horizon + 1 windows with a target, and T - length + 1 windows in all
(the last horizon - 1 ... 0 of them forecast beyond the file: what predict gives).

Splits are by time, never shuffled across a boundary: windows are ordered by their target's row,
the last round(W * test_split) of them are the test split, the round(W' * validation_split)
before those the validation split, the rest (the earliest) train. A validation or test window's
inputs may reach back into the rows before its split (they are in the past when it forecasts);
no training window sees a row at or after the first validation or test target, and the
standardization statistics come from the rows the training windows cover only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError, did_you_mean
from .column_kinds import parses_as_number
from .csvfile import RawTable


@dataclass
class Windows:
    """How the rows of a CSV become windows: which columns, how long, how far ahead."""

    length: int
    horizon: int
    target: str
    features: list[str]

    def _columns(self, table: RawTable, names: list[str], role: str) -> np.ndarray:
        """float64 (T, len(names)) of the named columns; every cell must be a finite number."""
        out = np.empty((len(table), len(names)), np.float64)
        for k, name in enumerate(names):
            if name not in table.header:
                raise DataError(f"{table.path}: no column {name!r} ({role}){did_you_mean(name, table.header)}; "
                                f"columns: {', '.join(table.header)}")
            j = table.header.index(name)
            try:
                values = table.cells[:, j].astype(np.float64)
            except ValueError:
                cells = table.cells[:, j].tolist()
                i = next(i for i, c in enumerate(cells) if not parses_as_number(c))
                raise DataError(f"{table.path} line {table.lines[i]}, column {name!r}: {cells[i]!r} is not a number; "
                                f"a window reads numbers only: list the numeric columns in data.window.features")
            bad = np.flatnonzero(~np.isfinite(values))
            if len(bad):
                i = int(bad[0])
                raise DataError(f"{table.path} line {table.lines[i]}, column {name!r}: {table.cells[i, j]!r} is NaN "
                                f"or inf; a time series needs every value (fill the gap in the file)")
            out[:, k] = values
        return out

    def count(self, rows: int, with_targets: bool = True) -> int:
        return rows - self.length - (self.horizon if with_targets else 0) + 1

    def _check_rows(self, table: RawTable, with_targets: bool) -> None:
        if self.count(len(table), with_targets) < 1:
            need = self.length + (self.horizon if with_targets else 0)
            also = f" + data.window.horizon {self.horizon}" if with_targets else ""
            raise DataError(f"data.window.length: a window of {self.length} rows{also} needs {need} rows, but "
                            f"{table.path} has {len(table)}: the window is longer than the series")

    def inputs(self, table: RawTable, dtype="float32", with_targets: bool = False) -> np.ndarray:
        """x (W, length, F) of every window of the rows (W = T - length + 1), or only those with a
        target (W = T - length - horizon + 1) when with_targets."""
        self._check_rows(table, with_targets)
        series = self._columns(table, self.features, "data.window.features")
        w = self.count(len(table), with_targets)
        view = np.lib.stride_tricks.sliding_window_view(series, self.length, axis=0)[:w]  # (W, F, length)
        return np.ascontiguousarray(view.transpose(0, 2, 1)).astype(dtype)

    def targets(self, table: RawTable, dtype="float32") -> np.ndarray:
        """y (W,) of the windows with a target: the target `horizon` rows after each window's end."""
        self._check_rows(table, True)
        z = self._columns(table, [self.target], "data.window.target")[:, 0]
        start = self.length - 1 + self.horizon
        return z[start:start + self.count(len(table))].astype(dtype)

    def split(self, n: int, test_split: float, validation_split: float, has_test: bool) -> tuple[int, int]:
        """(training windows, validation windows) of n in time order; the rest are the test split."""
        n_test = round(n * test_split) if test_split and not has_test else 0
        n_val = round((n - n_test) * validation_split) if validation_split else 0
        for key, frac, k in (("data.test_split", test_split, n_test), ("data.validation_split", validation_split, n_val)):
            if frac and not (has_test and key == "data.test_split") and k < 1:
                raise DataError(f"{key} {frac} of {n} windows holds out none; each split needs at least one window")
        if n - n_test - n_val < 1:
            raise DataError(f"data.test_split and data.validation_split leave no training window of {n}")
        return n - n_test - n_val, n_val

    def statistics(self, table: RawTable, train_windows: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature mean and std (std 1 where it is zero) of the rows the first `train_windows`
        windows cover, as (length, F) arrays (the standardization statistics of a window)."""
        series = self._columns(table, self.features, "data.window.features")[:train_windows - 1 + self.length]
        mean, std = series.mean(axis=0), series.std(axis=0)
        std[std <= 10 * np.finfo(np.float32).eps * np.abs(mean)] = 1.0
        return np.tile(mean, (self.length, 1)), np.tile(std, (self.length, 1))

    def to_json(self) -> dict:
        return {"length": self.length, "horizon": self.horizon, "target": self.target, "features": list(self.features)}

    @classmethod
    def from_json(cls, d: dict, source: str) -> "Windows":
        try:
            w = cls(int(d["length"]), int(d["horizon"]), str(d["target"]), [str(f) for f in d["features"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source}: its window settings are damaged ({exc})") from None
        if w.length < 1 or w.horizon < 1 or not w.features:
            raise DataError(f"{source}: its window settings are damaged ({d})")
        return w
