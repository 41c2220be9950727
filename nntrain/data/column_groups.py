"""Several model inputs from one CSV: `data.inputs: {name: [columns]}` feeds each named model
input (`model.inputs: {name: shape}`) the encoded features of its group of columns.

    data:  {train: penguins.csv, target: species,
            inputs: {numbers: [bill_length_mm, bill_depth_mm], site: [island, sex]}}
    model: {inputs: {numbers: [2], site: [5]}, layers: [...]}     # island: 3 one-hot, sex: 2

Every column goes through the typed-column preprocessing (data/column_kinds.py, data/preprocessing.py: kinds, fills,
one-hot categories, z-scores), fitted on the training split as without groups. Then the
features are reordered so that each group's sit side by side, the groups in sorted name order
with each group's columns in the order it lists them: the packed layout that nn/graph.py
unpacks into named inputs (`packed_columns`), the one an .npz's arrays x_<name> give.

A column that no group lists is ignored (kind `ignore`), as Keras' functional API and Ludwig's
input_features take only the columns named: a CSV may carry ids, notes or other targets. The
groups are saved with the preprocessing (preprocessing.json), so predict and eval group the rows
of a new CSV the same way.
"""
from __future__ import annotations

import csv
import io
import math
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, did_you_mean

KEY = "data.inputs"


def parse(raw, key: str = KEY) -> dict[str, list[str]]:
    """{input name: [column, ...]} of `data.inputs`: a mapping whose values are non-empty lists of
    column names (a single name is a list of one); a column in two groups is an error."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"must be a mapping {{input name: [columns]}} like {{numbers: [bill_length_mm, "
                          f"body_mass_g], site: [island]}}, got {raw!r}", key)
    groups: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for name, columns in raw.items():
        k = f"{key}.{name}"
        if isinstance(columns, str):
            columns = [columns]
        if not isinstance(columns, list) or not all(isinstance(c, str) and c for c in columns):
            raise ConfigError(f"must be a list of column names like [island, sex], got {columns!r}", k)
        if not columns:
            raise ConfigError("lists no columns; an input needs at least one column of the CSV", k)
        for i, c in enumerate(columns):
            if c in owner:
                where = f"{key}.{owner[c]}" if owner[c] != name else "this group"
                raise ConfigError(f"column {c!r} is already in {where}; a column feeds one input", f"{k}.{i}")
            owner[c] = str(name)
        groups[str(name)] = list(columns)
    return groups


def check_config(cfg) -> dict[str, list[str]]:
    """data.inputs against the rest of the config: one group per model input, a CSV source, and
    (when data.train's header can be read) columns that exist and are neither the target nor the
    weight. The group widths are checked once the preprocessing is fitted (check_widths)."""
    d, inputs = cfg.data, cfg.model.inputs
    if inputs is None:
        raise ConfigError("gives the columns of several named model inputs; declare the inputs and their "
                          "shapes too: model.inputs: {name: [width], ...}", KEY)
    source = _source_problem(d)
    if source:
        raise ConfigError(source, KEY)
    groups = parse(d.inputs)
    missing = [n for n in inputs if n not in groups]
    if missing:
        raise ConfigError(f"gives no columns for model input {missing[0]!r}; each of model.inputs "
                          f"({', '.join(inputs)}) needs a group: {KEY}.{missing[0]}: [columns]", KEY)
    for name in groups:
        if name not in inputs:
            raise ConfigError(f"{name!r} is not a model input{did_you_mean(name, list(inputs))}; "
                              f"model.inputs: {', '.join(inputs)}", f"{KEY}.{name}")
    grouped = {c for cols in groups.values() for c in cols}
    for column, spec in (d.columns or {}).items():
        ignored = spec == "ignore" or (isinstance(spec, dict) and spec.get("kind") == "ignore")
        if column in grouped and ignored:
            name = next(n for n, cols in groups.items() if column in cols)
            raise ConfigError(f"column {column!r} is in {KEY}.{name} but declared ignore here; "
                              f"drop one of the two", f"data.columns.{column}")
        if column not in grouped and not ignored:
            raise ConfigError(f"column {column!r} is in no group of {KEY}, so no input reads it; add it to "
                              f"a group, or leave it out of data.columns", f"data.columns.{column}")
    header = csv_header(Path(d.train))
    if header is not None:
        check_header(groups, header, d.target, d.weight, Path(d.train))
    return groups


def _source_problem(d) -> str | None:
    """Why the data section cannot give column groups (they are columns of a CSV), or None."""
    if d.train is None:
        what = ("a built-in dataset" if d.name is not None else "image folders" if d.images is not None
                else "arrays in memory" if d.arrays else "no file")
        return f"column groups are columns of a CSV, and the data is {what}; give data.train: FILE.csv"
    for part in ("train", "test"):
        path = getattr(d, part)
        if path is not None and not path.lower().endswith((".csv", ".csv.gz")):
            also = (" (an .npz gives each input as an array x_<name>: leave data.inputs out)"
                    if path.lower().endswith(".npz") else "")
            return f"column groups are columns of a CSV, but data.{part} is {Path(path).name}{also}"
    for other in ("text", "window"):
        if getattr(d, other, None) is not None:
            return f"column groups take typed columns; data.{other} reads the CSV as sequences: give one of them"
    return None


def csv_header(path: Path) -> list[str] | None:
    """The column names of a CSV (its first non-blank row), or None when the file cannot be read
    (the reader says why when the data is loaded)."""
    from .files import _open_binary

    try:
        with io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="") as f:
            row = next((r for r in csv.reader(f) if r and any(c.strip() for c in r)), None)
    except (OSError, EOFError, ValueError, csv.Error, zlib.error):  # UnicodeDecodeError is a ValueError
        return None
    return None if row is None else [c.strip() for c in row]


def check_header(groups: dict[str, list[str]], header: list[str], target, weight, path: Path) -> None:
    """Every grouped column is a column of the file, and none is the target or the weight column."""
    from .csvfile import target_and_weight

    t, jw = target_and_weight(target, weight, header, path)
    for name, columns in groups.items():
        for i, c in enumerate(columns):
            k = f"{KEY}.{name}.{i}"
            if c not in header:
                free = [h for j, h in enumerate(header) if j not in (t, jw)]
                raise ConfigError(f"no column {c!r} in {path.name}{did_you_mean(c, header)}; its feature columns: "
                                  f"{', '.join(free)}", k)
            if c == header[t]:
                raise ConfigError(f"{c!r} is the target column (data.target), which the model predicts; "
                                  f"it cannot also be an input", k)
            if jw is not None and c == header[jw]:
                raise ConfigError(f"{c!r} is the weight column (data.weight), not a feature", k)


def others_ignored(groups: dict[str, list[str]], header: list[str], target: str, specs: dict, ignore) -> dict:
    """data.columns with every column that no group lists (nor the target) given the spec
    `ignore` (tabular's ColumnSpec(kind="ignore")): the preprocessing then neither reads nor fits it."""
    grouped = {c for cols in groups.values() for c in cols}
    out = dict(specs)
    for h in header:
        if h != target and h not in grouped:
            out[h] = ignore
    return out


def feature_order(columns, groups: dict[str, list[str]]) -> np.ndarray:
    """int64 (width,): for each packed feature, its position among the features of `columns`
    (the fitted Tabular columns, in file order); x_packed = x[:, order]."""
    at, lo = {}, 0
    for c in columns:
        n = len(c.features())
        at[c.name] = np.arange(lo, lo + n)
        lo += n
    return np.concatenate([at[c] for name in sorted(groups) for c in groups[name]]).astype(np.int64)


def group_features(prep) -> dict[str, list[str]]:
    """{input name: the names of its encoded features} of a grouped Tabular."""
    by_name = {c.name: c.features() for c in prep.columns}
    return {name: [f for c in cols for f in by_name[c]] for name, cols in sorted(prep.groups.items())}


def check_widths(prep, inputs: dict) -> None:
    """Each group encodes to as many values as its model input holds; else a ConfigError naming
    data.inputs.<name> and the shape that would fit."""
    for name, features in group_features(prep).items():
        shape = list(inputs[name])
        if math.prod(shape) != len(features):
            shown = ", ".join(features[:6]) + (", ..." if len(features) > 6 else "")
            raise ConfigError(f"the columns {', '.join(prep.groups[name])} encode to {len(features)} features "
                              f"({shown}), but model.inputs.{name} is {shape}; declare model.inputs.{name}: "
                              f"[{len(features)}]", f"{KEY}.{name}")


def saved_groups(groups, columns: list[str], source: str) -> dict[str, list[str]] | None:
    """The `groups` entry of a preprocessing.json: None, or {name: [columns]} of its fitted
    `columns`; DataError if damaged."""
    if groups is None:
        return None
    if not isinstance(groups, dict) or not all(isinstance(v, list) and v and all(c in columns for c in v)
                                               for v in groups.values()):
        raise DataError(f"{source}: not nntrain preprocessing (its 'groups' entry is damaged)")
    return {str(k): list(v) for k, v in groups.items()}
