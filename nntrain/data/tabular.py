"""Tabular CSVs with typed columns: kinds inferred or declared, missing values filled, categories
one-hot encoded, numbers standardized; fitted on the training split, saved as JSON.

    table = read_table("penguins.csv")
    kinds = infer_kinds(table, "species", specs, na_values)     # numeric / category / boolean / ignore
    prep = fit(table.take(train_rows), kinds, "species", ...)   # statistics of the train split only
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
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, did_you_mean
from . import column_groups
from .csvfile import RawTable
from .dataset import float_dtype
from .weights import check_weights

KINDS = ("numeric", "category", "boolean", "ignore")
FILLS = ("median", "mean", "most_frequent", "constant")
NA_VALUES = ("", "NA", "N/A", "NaN", "null", "?")
MAX_CATEGORIES = 50
TRUE_WORDS, FALSE_WORDS = ("true", "yes"), ("false", "no")
FILE = "preprocessing.json"  # in the run folder
FORMAT, VERSION = "nntrain-preprocessing", 1
_SPEC_KEYS = ("kind", "fill", "value", "indicator", "max_categories", "fold_rare")


# -- data.columns -------------------------------------------------------------------------
@dataclass
class ColumnSpec:
    """One entry of `data.columns`: `sex: category` or `age: {kind: numeric, fill: median, ...}`."""

    kind: str | None = None  # None: inferred
    fill: str | None = None  # None: median for numbers, most_frequent otherwise
    value: Any = None  # the fill value of fill: constant
    indicator: bool = False
    max_categories: int | None = None  # None: data.max_categories
    fold_rare: bool | None = None  # None: data.fold_rare


def column_specs(raw: Any, key: str = "data.columns") -> dict[str, ColumnSpec]:
    """`data.columns` as ColumnSpecs; ConfigError naming the key of a bad entry."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"must be a mapping of column name -> kind or settings, got {raw!r}", key)
    specs = {}
    for name, value in raw.items():
        k = f"{key}.{name}"
        if isinstance(value, str):
            value = {"kind": value}
        if not isinstance(value, dict):
            raise ConfigError(f"must be a kind ({', '.join(KINDS)}) or a mapping like "
                              f"{{kind: numeric, fill: median, indicator: true}}, got {value!r}", k)
        for sub in value:
            if sub not in _SPEC_KEYS:
                raise ConfigError(f"unknown key {sub!r}{did_you_mean(str(sub), _SPEC_KEYS)}; "
                                  f"valid keys: {', '.join(_SPEC_KEYS)}", f"{k}.{sub}")
        spec = ColumnSpec(**value)
        if spec.kind is not None and spec.kind not in KINDS:
            raise ConfigError(f"unknown kind {spec.kind!r}{did_you_mean(str(spec.kind), KINDS)}; "
                              f"valid: {', '.join(KINDS)}", f"{k}.kind" if "kind" in raw[name] else k)
        if spec.fill is not None and spec.fill not in FILLS:
            raise ConfigError(f"unknown fill {spec.fill!r}{did_you_mean(str(spec.fill), FILLS)}; "
                              f"valid: {', '.join(FILLS)}", f"{k}.fill")
        if spec.fill in ("median", "mean") and spec.kind in ("category", "boolean"):
            raise ConfigError(f"fill {spec.fill} needs numbers; a {spec.kind} column takes most_frequent or "
                              f"constant", f"{k}.fill")
        if spec.value is not None and spec.fill != "constant":
            raise ConfigError("value is the fill value of fill: constant; add fill: constant", f"{k}.value")
        if not isinstance(spec.indicator, bool):
            raise ConfigError(f"must be true or false, got {spec.indicator!r}", f"{k}.indicator")
        if spec.max_categories is not None and (isinstance(spec.max_categories, bool)
                                                or not isinstance(spec.max_categories, int)
                                                or spec.max_categories < 2):
            raise ConfigError(f"must be an integer >= 2, got {spec.max_categories!r}", f"{k}.max_categories")
        if spec.fold_rare is not None and not isinstance(spec.fold_rare, bool):
            raise ConfigError(f"must be true or false, got {spec.fold_rare!r}", f"{k}.fold_rare")
        specs[str(name)] = spec
    return specs


# -- reading cells ------------------------------------------------------------------------
def _column(table: RawTable, name: str) -> int:
    matches = [j for j, h in enumerate(table.header) if h == name]
    if not matches:
        raise DataError(f"{table.path}: no column {name!r}{did_you_mean(name, table.header)}; "
                        f"columns: {', '.join(table.header)}")
    return matches[0]


def _numbers(table: RawTable, j: int, na_values) -> tuple[np.ndarray | None, int | None]:
    """(float64 values of column j with NaN where missing, read-only; None) or (None, index of
    the first cell that is neither missing nor a number). Parsed once per table (RawTable.numbers)."""
    values = table.numbers(j, na_values)
    if values is not None:
        return values, None
    missing = table.missing(j, na_values)
    return None, next(i for i, c in enumerate(table.cells[:, j].tolist()) if not missing[i] and not _parses(c))


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


def _is_boolean(values: np.ndarray) -> bool:
    return len(values) > 0 and all(c.lower() in TRUE_WORDS + FALSE_WORDS for c in set(values.tolist()))


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


def _cell(table: RawTable, i: int, name: str) -> str:
    return f"{table.path} line {table.lines[i]}, column {name!r}"


# -- inference ----------------------------------------------------------------------------
def target_index(table: RawTable, target) -> int:
    """The target's column: a name, an index, or None = the last column (as read_csv)."""
    from .csvfile import _target_index

    t = _target_index(target, table.header, table.path)
    if len(table.header) < 2:
        raise DataError(f"{table.path}: only the target column {table.header[t]!r}; no feature columns")
    dup = sorted({h for h in table.header if table.header.count(h) > 1})
    if dup:
        raise DataError(f"{table.path}: column names must be unique to read typed columns; "
                        f"{', '.join(map(repr, dup))} appear more than once")
    return t


def infer_kinds(table: RawTable, target: str, specs: dict[str, ColumnSpec], na_values) -> dict[str, str]:
    """Every column's kind, declared (data.columns) or inferred from its non-missing cells:
    numbers -> numeric, true/false or yes/no -> boolean, text -> category. A column that mixes
    numbers and text is an error naming the first odd cell (a typo, or a missing-value marker
    to add to data.na_values), unless data.columns declares it."""
    for name in specs:
        if name not in table.header:
            raise DataError(f"data.columns.{name}: no column {name!r} in {table.path}"
                            f"{did_you_mean(name, table.header)}; columns: {', '.join(table.header)}")
    kinds = {}
    for j, name in enumerate(table.header):
        spec = specs.get(name, ColumnSpec())
        cells = table.cells[:, j]
        missing = table.missing(j, na_values)
        if spec.kind is not None:
            kinds[name] = spec.kind
            continue
        present = cells[~missing]
        if len(present) == 0:
            if name == target:
                raise DataError(f"{table.path}: the target column {name!r} has no values: all {len(cells)} "
                                f"cells are missing ({_na_text(na_values)})")
            raise DataError(f"{table.path}: column {name!r} has no values (all {len(cells)} cells are missing); "
                            f"leave it out with data.columns: {{{name}: ignore}}")
        values, bad = _numbers(table, j, na_values)
        if values is not None:
            kinds[name] = "numeric"
            nonfinite = np.flatnonzero(~np.isfinite(values) & ~missing)
            if len(nonfinite):
                i = nonfinite[0]
                raise DataError(f"{_cell(table, i, name)}: {str(cells[i])!r} is NaN or inf; if it marks a missing "
                                f"value, add it to data.na_values")
        elif _is_boolean(present):
            kinds[name] = "boolean"
        elif name != target and any(_parses(c) for c in set(present.tolist())):
            raise DataError(f"{_cell(table, bad, name)}: {str(cells[bad])!r} is not a number, though the column "
                            f"holds numbers; if {str(cells[bad])!r} marks a missing value add it to "
                            f"data.na_values, if the column is a category declare it: "
                            f"data.columns: {{{name}: category}}")
        else:
            kinds[name] = "category"
    if kinds[target] == "ignore":
        raise DataError(f"data.columns.{target}: the target column cannot be ignored")
    return kinds


def _parses(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _na_text(na_values) -> str:
    return "data.na_values: " + ", ".join(repr(v) for v in na_values)


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
            values, bad = _numbers(table, j, na_values)
            if values is None:
                raise DataError(f"{_cell(table, bad, self.name)}: {str(cells[bad])!r} is not a number, but the column is "
                                f"numeric in the training data{where}")
            odd = np.flatnonzero(~np.isfinite(values) & ~missing)
            if len(odd):
                raise DataError(f"{_cell(table, odd[0], self.name)}: {str(cells[odd[0]])!r} is NaN or inf; if it marks "
                                f"a missing value, add it to data.na_values")
            values = np.where(missing, self.fill_value, values)
            if self.mean is not None:
                values = (values - self.mean) / self.std
            out[:, 0] = values
        elif self.kind == "boolean":
            low = _lower(cells)
            bad = np.flatnonzero(~missing & ~np.isin(low, TRUE_WORDS + FALSE_WORDS))
            if len(bad):
                raise DataError(f"{_cell(table, bad[0], self.name)}: {str(cells[bad[0]])!r} is not true/false or yes/no, "
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
            raise DataError(f"{_cell(table, i, t.name)}: the target is missing ({str(cells[i])!r}); every row "
                            f"needs a target: remove the row or give its value")
        if t.kind == "category":
            y = _positions(cells, t.classes)
            if (y < 0).any():
                i = int(np.argmax(y < 0))
                raise DataError(f"{_cell(table, i, t.name)}: class {str(cells[i])!r} never occurs in the training data"
                                f"{where}; its classes: {', '.join(t.classes)}")
            return y
        values, bad = _numbers(table, j, self.na_values)
        if values is None:
            raise DataError(f"{_cell(table, bad, t.name)}: {str(cells[bad])!r} is not a number, but the target is "
                            f"numeric in the training data{where}")
        if not np.isfinite(values).all():
            i = int(np.argmax(~np.isfinite(values)))
            raise DataError(f"{_cell(table, i, t.name)}: the target {str(cells[i])!r} is NaN or inf")
        if t.kind == "labels":
            if not np.all(values == np.round(values)):
                i = int(np.argmax(values != np.round(values)))
                raise DataError(f"{_cell(table, i, t.name)}: {str(cells[i])!r} is not an integer, but the target "
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
                        f"({_na_text(na_values)})")
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(f"{_cell(table, i, name)}: the target is missing ({str(cells[i])!r}); every row needs a "
                        f"target: remove the row or give its value")
    if kind in ("category", "boolean"):
        values, _ = _numbers(table, j, na_values)
        if values is not None:  # integers declared a category: order the names as numbers
            classes = [str(c) for c in sorted(set(cells.tolist()), key=lambda c: (float(c), c))]
        else:
            classes = sorted(set(cells.tolist()))
        return Target(name, "category", classes)
    values, _ = _numbers(table, j, na_values)
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
            values, bad = _numbers(table, j, na)
            if values is None:
                raise DataError(f"{_cell(table, bad, name)}: {str(cells[bad])!r} is not a number, but data.columns "
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
                raise DataError(f"{_cell(table, i, name)}: {str(cells[i])!r} is not true/false or yes/no, but data.columns "
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


def source_note(path) -> str:
    return f" ({Path(path).name})" if path else ""


def wanted(cfg) -> bool:
    """Whether the `data:` section asks for typed columns whatever the cells hold."""
    return bool(getattr(cfg, "columns", None) or getattr(cfg, "inputs", None))


def raw_tables(cfg, seed: int, split, table: RawTable | None = None) -> tuple[RawTable, RawTable | None]:
    """(train rows, test rows or None) of a `data:` section as text cells: data.test, or the
    data.test_split part of data.train; after data.limit. `table`: one of the files, already read."""
    from .csvfile import read_table

    def read(path):
        return table if table is not None and table.path == Path(path) else read_table(path)

    train_t = read(cfg.train)
    test_t = read(cfg.test) if cfg.test is not None else None
    if cfg.limit is not None:
        train_t = train_t.take(slice(0, cfg.limit))
        test_t = test_t.take(slice(0, cfg.limit)) if test_t is not None else None
    if getattr(cfg, "test_split", 0.0) and test_t is None:
        rest, held = split(len(train_t), cfg.test_split, seed, "data.test_split")
        train_t, test_t = train_t.take(rest), train_t.take(held)
    return train_t, test_t


def take_weights(table: RawTable | None, name: str | None, na_values,
                 required: bool = False) -> tuple[RawTable | None, np.ndarray | None]:
    """(table without the weight column `name` (data.weight), its (n,) sample weights or None).
    A missing cell, a non-number, a negative, NaN or infinite weight is an error naming its line;
    a table without the column is unweighted, or an error when `required` (the training file)."""
    if table is None or name is None:
        return table, None
    if name not in table.header:
        if required:
            raise DataError(f"{table.path}: no weight column {name!r} (data.weight){did_you_mean(name, table.header)}; "
                            f"columns: {', '.join(table.header)}")
        return table, None
    j = table.header.index(name)
    cells = table.cells[:, j]
    missing = table.missing(j, na_values)
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(f"{_cell(table, i, name)}: the sample weight is missing ({str(cells[i])!r}); every row "
                        f"needs a weight (a number >= 0; 0 leaves the row out)")
    values, bad = _numbers(table, j, na_values)
    if values is None:
        raise DataError(f"{_cell(table, bad, name)}: {str(cells[bad])!r} is not a number; sample weights are "
                        f"numbers >= 0")
    w = check_weights(np.array(values), str(table.path), lambda i: f"line {table.lines[i]}")
    keep = [k for k in range(len(table.header)) if k != j]
    return RawTable(table.path, [table.header[k] for k in keep], table.cells[:, keep], table.lines), w


def load_tabular(cfg, seed: int, dtype, split, table: RawTable | None = None) -> tuple:
    """(train, val, test, Tabular) of a CSV `data:` section read as typed columns.

    Order, as for numeric files: read -> limit -> validation split (the same seeded shuffle) ->
    fit on the train part -> encode train, val and test with what it learned. `split(n, fraction,
    seed)` gives the (train, validation or None) row indices (splits.validation_indices);
    `table`: data.train or data.test already read (raw_tables)."""
    from .dataset import Dataset

    dt = float_dtype(dtype)
    na = list(getattr(cfg, "na_values", None) or NA_VALUES)
    specs = column_specs(getattr(cfg, "columns", None))
    for path in (cfg.train, cfg.test):
        if path is not None and not str(path).lower().endswith((".csv", ".csv.gz")):
            raise DataError(f"{path}: typed columns (data.columns) need a .csv file")
    train_t, test_t = raw_tables(cfg, seed, split, table)
    weight = getattr(cfg, "weight", None)
    if weight is not None and weight in specs:
        raise DataError(f"data.columns.{weight}: {weight!r} is the weight column (data.weight), not a feature")
    from .csvfile import target_and_weight

    target = cfg.target
    if weight is not None:  # the target by name, as the file numbers its columns
        target = train_t.header[target_and_weight(cfg.target, weight, train_t.header, train_t.path)[0]]
    train_t, w_all = take_weights(train_t, weight, na, required=True)
    test_t, w_test = take_weights(test_t, weight, na)
    name = train_t.header[target_index(train_t, target)]
    groups = column_groups.parse(cfg.inputs) if getattr(cfg, "inputs", None) else None
    if groups:  # data.inputs: a column that no group lists is ignored
        column_groups.check_header(groups, train_t.header, name, None, train_t.path)
        specs = column_groups.others_ignored(groups, train_t.header, name, specs, ColumnSpec(kind="ignore"))
    kinds = infer_kinds(train_t, name, specs, na)
    target = fit_target(train_t, name, kinds[name], na)
    train_idx, val_idx = split(len(train_t), getattr(cfg, "validation_split", 0.0) or 0.0, seed)
    standardize = getattr(cfg, "standardize", "auto")
    prep = fit(train_t.take(train_idx), kinds, target, specs, na, standardize=standardize in (True, "auto"),
               max_categories=getattr(cfg, "max_categories", MAX_CATEGORIES) or MAX_CATEGORIES,
               fold_rare=getattr(cfg, "fold_rare", True))
    prep.groups, classes = groups, prep.target.classes

    def encode(table, w, where=""):
        if table is None:
            return None
        return Dataset(prep.transform(table, dt, where), prep.targets(table, dt, where), classes, w)

    def part(w, idx):
        return None if w is None else w[idx]

    train = encode(train_t.take(train_idx), part(w_all, train_idx))
    val = encode(train_t.take(val_idx), part(w_all, val_idx)) if val_idx is not None else None
    where = source_note(cfg.train) if cfg.test is not None else ""
    return train, val, encode(test_t, w_test, where), prep


def preprocessing_json(prep: Tabular | None, classes: list[str] | None) -> dict:
    """What preprocessing.json holds: the class names and the fitted column preprocessing."""
    return {"format": FORMAT, "version": VERSION, "classes": None if classes is None else list(classes),
            "tabular": None if prep is None else prep.to_json()}


def read_preprocessing(path) -> tuple[Tabular | None, list[str] | None]:
    """(Tabular or None, class names or None) from a preprocessing.json; DataError when damaged."""
    import json

    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the run's preprocessing ({exc})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise DataError(f"{path}: not nntrain preprocessing (no \"format\": \"{FORMAT}\")")
    if d.get("version") != VERSION:
        raise DataError(f"{path}: preprocessing version {d.get('version')!r}; this nntrain reads version {VERSION}")
    classes = d.get("classes")
    if classes is not None and (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)):
        raise DataError(f"{path}: \"classes\" must be a list of names")
    prep = Tabular.from_json(d["tabular"], str(path)) if d.get("tabular") is not None else None
    return prep, classes


def data_report(splits, header: list[str] | None = None, target: str | None = None,
                weight: str | None = None) -> dict:
    """What `nntrain check` shows of the data: one row per column (kind, missing cells in the
    training split, categories, fill value), the target's class balance and the input width.
    `header`: the columns of a CSV read as plain numbers (no typed columns), else None;
    `weight`: data.weight, shown as a column of kind weight when it gave the samples weights."""
    train, prep = splits.train, splits.tabular
    rows = []
    if prep is not None:
        for c in prep.columns:
            fill = c.fill if c.fill_value is None else f"{c.fill} ({_shown(c.fill_value)})"
            rows.append({"column": c.name, "kind": c.kind + (" + indicator" if c.indicator else ""),
                         "missing": c.missing, "categories": None if c.categories is None else
                         len(c.categories) + (1 if c.other else 0), "fill": fill,
                         "features": len(c.features()), "scaled": c.mean is not None})
        rows += [{"column": name, "kind": "ignore", "missing": None, "categories": None, "fill": None,
                  "features": 0, "scaled": False} for name in prep.ignored]
        target = prep.target.name
    elif header is not None:
        rows = [{"column": name, "kind": "numeric", "missing": 0, "categories": None, "fill": None,
                 "features": 1, "scaled": splits.mean is not None} for name in header]
    if weight is not None and train.w is not None:
        rows.append({"column": weight, "kind": "weight", "missing": 0, "categories": None, "fill": None,
                     "features": 0, "scaled": False})
    y = train.y
    balance = None
    if y.dtype.kind in "iu" and y.ndim == 1:
        labels, counts = np.unique(y, return_counts=True)
        names = train.classes
        balance = {(names[i] if names is not None and i < len(names) else str(int(i))): int(k)
                   for i, k in zip(labels, counts)}
    return {"columns": rows, "target": target, "class_balance": balance, "samples": len(train),
            "width": int(np.prod(train.x.shape[1:])), "input_shape": list(train.x.shape[1:])}


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).lower() if isinstance(value, bool) else repr(value)
