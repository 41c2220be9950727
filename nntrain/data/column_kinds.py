"""The kinds of a tabular CSV's columns: `data.columns` read into ColumnSpecs, a column's cells
read as numbers, and each column's kind declared or inferred (numeric, category, boolean, ignore).

    kinds = infer_kinds(table, "species", column_specs(cfg.columns), na_values)

What a kind becomes once fitted on the training split is data/preprocessing.py; the pipeline from
a raw table to splits is data/tabular.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, did_you_mean
from .csvfile import RawTable

KINDS = ("numeric", "category", "boolean", "ignore")
FILLS = ("median", "mean", "most_frequent", "constant")
NA_VALUES = ("", "NA", "N/A", "NaN", "null", "?")
MAX_CATEGORIES = 50
TRUE_WORDS, FALSE_WORDS = ("true", "yes"), ("false", "no")
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


def column_numbers(table: RawTable, j: int, na_values) -> tuple[np.ndarray | None, int | None]:
    """(float64 values of column j with NaN where missing, read-only; None) or (None, index of
    the first cell that is neither missing nor a number). Parsed once per table (RawTable.numbers)."""
    values = table.numbers(j, na_values)
    if values is not None:
        return values, None
    missing = table.missing(j, na_values)
    return None, next(i for i, c in enumerate(table.cells[:, j].tolist()) if not missing[i] and not parses_as_number(c))


def _is_boolean(values: np.ndarray) -> bool:
    return len(values) > 0 and all(c.lower() in TRUE_WORDS + FALSE_WORDS for c in set(values.tolist()))


def cell_location(table: RawTable, i: int, name: str) -> str:
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
                                f"cells are missing ({na_text(na_values)})")
            raise DataError(f"{table.path}: column {name!r} has no values (all {len(cells)} cells are missing); "
                            f"leave it out with data.columns: {{{name}: ignore}}")
        values, bad = column_numbers(table, j, na_values)
        if values is not None:
            kinds[name] = "numeric"
            nonfinite = np.flatnonzero(~np.isfinite(values) & ~missing)
            if len(nonfinite):
                i = nonfinite[0]
                raise DataError(f"{cell_location(table, i, name)}: {str(cells[i])!r} is NaN or inf; if it marks a missing "
                                f"value, add it to data.na_values")
        elif _is_boolean(present):
            kinds[name] = "boolean"
        elif name != target and any(parses_as_number(c) for c in set(present.tolist())):
            raise DataError(f"{cell_location(table, bad, name)}: {str(cells[bad])!r} is not a number, though the column "
                            f"holds numbers; if {str(cells[bad])!r} marks a missing value add it to "
                            f"data.na_values, if the column is a category declare it: "
                            f"data.columns: {{{name}: category}}")
        else:
            kinds[name] = "category"
    if kinds[target] == "ignore":
        raise DataError(f"data.columns.{target}: the target column cannot be ignored")
    return kinds


def parses_as_number(cell: str) -> bool:
    """Whether float() reads the cell (a CSV's cells are numbers or text)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def na_text(na_values) -> str:
    return "data.na_values: " + ", ".join(repr(v) for v in na_values)
