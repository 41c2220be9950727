"""Tabular CSVs with typed columns, from a raw table to splits: read -> limit -> validation split
-> fit on the train part -> encode train, validation and test; and what `nntrain check` shows of it.

    train, val, test, prep = load_tabular(cfg.data, seed, "float32", validation_indices)

The column kinds are data/column_kinds.py; the fitted preprocessing and preprocessing.json are
data/preprocessing.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError, did_you_mean
from . import column_groups
from .column_kinds import (
    MAX_CATEGORIES,
    NA_VALUES,
    ColumnSpec,
    cell_location,
    column_numbers,
    column_specs,
    infer_kinds,
    target_index,
)
from .csvfile import RawTable
from .dataset import float_dtype
from .preprocessing import fit, fit_target
from .weights import check_weights


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
        raise DataError(f"{cell_location(table, i, name)}: the sample weight is missing ({str(cells[i])!r}); every row "
                        f"needs a weight (a number >= 0; 0 leaves the row out)")
    values, bad = column_numbers(table, j, na_values)
    if values is None:
        raise DataError(f"{cell_location(table, bad, name)}: {str(cells[bad])!r} is not a number; sample weights are "
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
