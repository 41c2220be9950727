"""The fitted preprocessing of a tabular CSV (Tabular): fill values, categories and the statistics
of standardization, fitted on the training split; how it encodes raw rows into features and
targets; and preprocessing.json, the file the run folder keeps it in.

    prep = fit(table.take(train_rows), kinds, fit_target(table, "species", ...), specs, na_values)
    x, y = prep.transform(table, "float32"), prep.targets(table)
    Tabular.from_json(prep.to_json())                           # what the run folder keeps

Encoded features, column by column in file order: a numeric column is one feature (filled, then
z-scored when standardized); a boolean one is one 0/1 feature (true/yes = 1); a category is one
0/1 feature per category kept (sorted by name), plus "other" when rare ones were folded. A
category the training split never had encodes as all zeros (or as "other" when the column has
that bucket). `indicator: true` adds a 0/1 "<name>_missing" feature after the column's. With
data.inputs the features are then reordered by model input (data/column_groups.py).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError
from . import column_groups
from .column_kinds import FALSE_WORDS, MAX_CATEGORIES, TRUE_WORDS, ColumnSpec, cell_location, column_numbers, na_text
from .csvfile import RawTable
from .dataset import float_dtype
from .files import read_versioned_json

FILE = "preprocessing.json"  # in the run folder
FORMAT, VERSION = "nntrain-preprocessing", 1


# -- encoding cells -----------------------------------------------------------------------
def _lower(cells: np.ndarray) -> np.ndarray:
    """cells in lower case: str.lower once per distinct value when there are few (a boolean
    column), else np.char.lower on every cell."""
    distinct = set(cells.tolist())
    if len(distinct) > 16:
        return np.char.lower(cells)
    low = {c: c.lower() for c in distinct}
    out = np.empty(len(cells), f"U{max(map(len, low.values()), default=1)}")
    for c, lc in low.items():
        out[cells == c] = lc
    return out


def _counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_counts=True) of text, by hashing instead of sorting every cell."""
    from collections import Counter

    counted = sorted(Counter(values.tolist()).items())
    return np.array([v for v, _ in counted], dtype=values.dtype), np.array([k for _, k in counted], np.int64)


def _positions(values: np.ndarray, names: list[str]) -> np.ndarray:
    """int64 (n,): the index of each value in `names`, or -1 for a value not in it."""
    if not names:
        return np.full(len(values), -1, np.int64)
    order = np.argsort(np.array(names))
    ranked = np.array(names)[order]
    at = np.minimum(np.searchsorted(ranked, values), len(names) - 1)
    return np.where(ranked[at] == values, order[at], -1)


# -- fitted columns -----------------------------------------------------------------------
@dataclass
class Column:
    """A feature column fitted on the training split; `missing` counts its missing cells there."""

    name: str
    kind: str  # numeric, category, boolean
    fill: str
    fill_value: Any  # float for numeric, str for category, bool for boolean
    indicator: bool = False
    categories: list[str] | None = None
    other: bool = False  # rare categories folded into an "other" feature
    mean: float | None = None  # numeric, standardized: (x - mean) / std
    std: float | None = None
    missing: int = 0

    def features(self) -> list[str]:
        if self.kind == "category":
            names = [f"{self.name}={c}" for c in self.categories] + ([f"{self.name}=other"] if self.other else [])
        else:
            names = [self.name]
        return names + ([f"{self.name}_missing"] if self.indicator else [])

    def encode(self, table: RawTable, j: int, na_values, out: np.ndarray, where: str) -> None:
        """Write this column's features for every row of table (column j) into out (n, width)."""
        cells = table.cells[:, j]
        missing = table.missing(j, na_values)
        k = len(self.features()) - (1 if self.indicator else 0)
        if self.kind == "numeric":
            values, bad = column_numbers(table, j, na_values)
            if values is None:
                raise DataError(f"{cell_location(table, bad, self.name)}: {str(cells[bad])!r} is not a number, but the column is "
                                f"numeric in the training data{where}")
            odd = np.flatnonzero(~np.isfinite(values) & ~missing)
            if len(odd):
                raise DataError(f"{cell_location(table, odd[0], self.name)}: {str(cells[odd[0]])!r} is NaN or inf; if it marks "
                                f"a missing value, add it to data.na_values")
            values = np.where(missing, self.fill_value, values)
            if self.mean is not None:
                values = (values - self.mean) / self.std
            out[:, 0] = values
        elif self.kind == "boolean":
            low = _lower(cells)
            bad = np.flatnonzero(~missing & ~np.isin(low, TRUE_WORDS + FALSE_WORDS))
            if len(bad):
                raise DataError(f"{cell_location(table, bad[0], self.name)}: {str(cells[bad[0]])!r} is not true/false or yes/no, "
                                f"but the column is boolean in the training data{where}")
            out[:, 0] = np.where(missing, float(self.fill_value), np.isin(low, TRUE_WORDS))
        else:
            col = _positions(np.where(missing, self.fill_value, cells), self.categories)
            if self.other:
                col[col < 0] = len(self.categories)
            rows = np.flatnonzero(col >= 0)
            out[rows, col[rows]] = 1.0
        if self.indicator:
            out[:, k] = missing


@dataclass
class Target:
    name: str
    kind: str  # category (classes), labels (integer class labels), numeric (regression)
    classes: list[str] | None = None


@dataclass
class Tabular:
    """The fitted preprocessing of a tabular CSV: how raw rows become the model's input."""

    target: Target
    columns: list[Column]
    na_values: list[str]
    ignored: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] | None = None  # data.inputs {input: [columns]}: packed by input (column_groups)

    @property
    def features(self) -> list[str]:
        names = [f for c in self.columns for f in c.features()]
        if self.groups is None:
            return names
        return [names[i] for i in column_groups.feature_order(self.columns, self.groups)]

    @property
    def width(self) -> int:
        return len(self.features)

    def transform(self, table: RawTable, dtype="float32", where: str = "") -> np.ndarray:
        """Features (n, width) of raw rows; the target column may be present or not."""
        dt = float_dtype(dtype)
        missing_cols = [c.name for c in self.columns if c.name not in table.header]
        if missing_cols:
            raise DataError(f"{table.path}: no column {', '.join(map(repr, missing_cols))}; the run was trained on "
                            f"columns {', '.join(c.name for c in self.columns)} (and target {self.target.name!r})")
        x = np.zeros((len(table), self.width), np.float64)
        at = 0
        for c in self.columns:
            j = table.header.index(c.name)
            w = len(c.features())
            c.encode(table, j, self.na_values, x[:, at:at + w], where)
            at += w
        return (x if self.groups is None else x[:, column_groups.feature_order(self.columns, self.groups)]).astype(dt)

    def targets(self, table: RawTable, dtype="float32", where: str = "") -> np.ndarray:
        """y (n,) of raw rows: int64 labels (classes or integers) or floats."""
        t = self.target
        if t.name not in table.header:
            raise DataError(f"{table.path}: no target column {t.name!r}; columns: {', '.join(table.header)}")
        j = table.header.index(t.name)
        cells = table.cells[:, j]
        missing = table.missing(j, self.na_values)
        if missing.any():
            i = int(np.argmax(missing))
            raise DataError(f"{cell_location(table, i, t.name)}: the target is missing ({str(cells[i])!r}); every row "
                            f"needs a target: remove the row or give its value")
        if t.kind == "category":
            y = _positions(cells, t.classes)
            if (y < 0).any():
                i = int(np.argmax(y < 0))
                raise DataError(f"{cell_location(table, i, t.name)}: class {str(cells[i])!r} never occurs in the training data"
                                f"{where}; its classes: {', '.join(t.classes)}")
            return y
        values, bad = column_numbers(table, j, self.na_values)
        if values is None:
            raise DataError(f"{cell_location(table, bad, t.name)}: {str(cells[bad])!r} is not a number, but the target is "
                            f"numeric in the training data{where}")
        if not np.isfinite(values).all():
            i = int(np.argmax(~np.isfinite(values)))
            raise DataError(f"{cell_location(table, i, t.name)}: the target {str(cells[i])!r} is NaN or inf")
        if t.kind == "labels":
            if not np.all(values == np.round(values)):
                i = int(np.argmax(values != np.round(values)))
                raise DataError(f"{cell_location(table, i, t.name)}: {str(cells[i])!r} is not an integer, but the target "
                                f"holds class labels in the training data{where}")
            return values.astype(np.int64)
        return values.astype(float_dtype(dtype))

    def to_json(self) -> dict:
        return {"target": asdict(self.target), "na_values": list(self.na_values), "ignored": list(self.ignored),
                "width": self.width, "features": self.features, "columns": [asdict(c) for c in self.columns],
                **({} if self.groups is None else {"groups": self.groups})}

    @classmethod
    def from_json(cls, d: dict, source: str) -> "Tabular":
        try:
            # files of runs before data.scale_target moved to model.npz hold target mean/std: null
            target = {k: v for k, v in d["target"].items() if k not in ("mean", "std") or v is not None}
            columns = [Column(**c) for c in d["columns"]]
            return cls(Target(**target), columns, list(d["na_values"]), list(d.get("ignored", [])),
                       column_groups.saved_groups(d.get("groups"), [c.name for c in columns], source))
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{source}: not nntrain preprocessing (its 'tabular' entry is damaged: {exc})") from None


# -- fitting ------------------------------------------------------------------------------
def fit_target(table: RawTable, name: str, kind: str, na_values) -> Target:
    """The target's kind and classes, from the whole training file (a class only in the
    validation part is still a class)."""
    j = table.header.index(name)
    cells = table.cells[:, j]
    missing = table.missing(j, na_values)
    if missing.all():
        raise DataError(f"{table.path}: the target column {name!r} has no values: all {len(cells)} cells are missing "
                        f"({na_text(na_values)})")
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(f"{cell_location(table, i, name)}: the target is missing ({str(cells[i])!r}); every row needs a "
                        f"target: remove the row or give its value")
    if kind in ("category", "boolean"):
        values, _ = column_numbers(table, j, na_values)
        if values is not None:  # integers declared a category: order the names as numbers
            classes = [str(c) for c in sorted(set(cells.tolist()), key=lambda c: (float(c), c))]
        else:
            classes = sorted(set(cells.tolist()))
        return Target(name, "category", classes)
    values, _ = column_numbers(table, j, na_values)
    if np.all(values == np.round(values)):
        return Target(name, "labels")
    return Target(name, "numeric")


def fit(table: RawTable, kinds: dict[str, str], target: Target, specs: dict[str, ColumnSpec], na_values,
        standardize: bool = True, max_categories: int = MAX_CATEGORIES, fold_rare: bool = True) -> Tabular:
    """The preprocessing fitted on `table`, the training split: fill values, categories and the
    statistics of standardization (of the filled values, as scikit-learn's imputer + scaler)."""
    na = list(na_values)
    columns, ignored = [], []
    for j, name in enumerate(table.header):
        if name == target.name:
            continue
        kind = kinds[name]
        if kind == "ignore":
            ignored.append(name)
            continue
        spec = specs.get(name, ColumnSpec())
        cells = table.cells[:, j]
        missing = table.missing(j, na)
        present = cells[~missing]
        fill = spec.fill or ("median" if kind == "numeric" else "most_frequent")
        col = Column(name, kind, fill, None, spec.indicator, missing=int(missing.sum()))
        if kind == "numeric":
            values, bad = column_numbers(table, j, na)
            if values is None:
                raise DataError(f"{cell_location(table, bad, name)}: {str(cells[bad])!r} is not a number, but data.columns "
                                f"declares {name!r} numeric")
            known = values[~missing]
            if fill == "constant":
                col.fill_value = _constant(spec.value, 0.0, float, name)
            elif len(known) == 0:
                raise DataError(f"{table.path}: column {name!r} has no values in the training split to take its "
                                f"{fill} from; give data.columns: {{{name}: {{fill: constant, value: 0}}}} or ignore it")
            elif fill == "median":
                col.fill_value = float(np.median(known))
            elif fill == "mean":
                col.fill_value = float(np.mean(known))
            else:
                vals, counts = np.unique(known, return_counts=True)
                col.fill_value = float(vals[np.argmax(counts)])
            if standardize:
                filled = np.where(missing, col.fill_value, values)
                mean, std = float(filled.mean()), float(filled.std())
                col.mean, col.std = mean, (std if std > 10 * np.finfo(np.float32).eps * max(abs(mean), 1e-30) else 1.0)
        elif kind == "boolean":
            low = _lower(present)
            if not np.isin(low, TRUE_WORDS + FALSE_WORDS).all():
                i = int(np.flatnonzero(~missing)[np.argmax(~np.isin(low, TRUE_WORDS + FALSE_WORDS))])
                raise DataError(f"{cell_location(table, i, name)}: {str(cells[i])!r} is not true/false or yes/no, but data.columns "
                                f"declares {name!r} boolean")
            if fill == "constant":
                col.fill_value = _constant(spec.value, False, bool, name)
            else:
                ones = int(np.isin(low, TRUE_WORDS).sum())
                col.fill_value = ones > len(low) - ones
        else:
            if fill == "constant":
                col.fill_value = _constant(spec.value, "missing", str, name)
                values = np.where(missing, col.fill_value, cells)
            else:
                if len(present) == 0:
                    raise DataError(f"{table.path}: column {name!r} has no values in the training split; give "
                                    f"data.columns: {{{name}: {{fill: constant, value: missing}}}} or ignore it")
                vals, counts = _counts(present)
                col.fill_value = str(vals[np.argmax(counts)])  # the most frequent; ties: the first by name
                values = np.where(missing, col.fill_value, cells)
            vals, counts = _counts(values)
            limit = spec.max_categories or max_categories
            fold = fold_rare if spec.fold_rare is None else spec.fold_rare
            if len(vals) > limit:
                if not fold:
                    raise DataError(f"{table.path}: column {name!r} has {len(vals)} categories in the training split, "
                                    f"more than max_categories ({limit}), and folding rare ones is off; raise "
                                    f"max_categories, set fold_rare: true, or ignore the column")
                order = sorted(range(len(vals)), key=lambda i: (-counts[i], vals[i]))
                col.categories, col.other = sorted(str(vals[i]) for i in order[:limit - 1]), True
            else:
                col.categories = [str(v) for v in vals]
        columns.append(col)
    if not columns:
        raise DataError(f"{table.path}: no feature columns left (all but the target {target.name!r} are ignored)")
    return Tabular(Target(**asdict(target)), columns, na, ignored)


def _constant(value, default, kind, name):
    if value is None:
        return default
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DataError(f"data.columns.{name}.value: the fill value of a numeric column must be a number, got {value!r}")
        return float(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise DataError(f"data.columns.{name}.value: the fill value of a boolean column must be true or false, got {value!r}")
        return value
    return str(value)


# -- preprocessing.json -------------------------------------------------------------------
def preprocessing_json(prep: Tabular | None, classes: list[str] | None) -> dict:
    """What preprocessing.json holds: the class names and the fitted column preprocessing."""
    return {"format": FORMAT, "version": VERSION, "classes": None if classes is None else list(classes),
            "tabular": None if prep is None else prep.to_json()}


def read_preprocessing(path) -> tuple[Tabular | None, list[str] | None]:
    """(Tabular or None, class names or None) from a preprocessing.json; DataError when damaged."""

    d = read_versioned_json(path, FORMAT, VERSION, "preprocessing")
    classes = d.get("classes")
    if classes is not None and (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)):
        raise DataError(f"{path}: \"classes\" must be a list of names")
    prep = Tabular.from_json(d["tabular"], str(path)) if d.get("tabular") is not None else None
    return prep, classes
