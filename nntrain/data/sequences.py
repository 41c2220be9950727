"""Sequence data from a CSV: a text column as token ids (data.text, data/text.py) or sliding
windows over a time series (data.window, data/windows.py); the config checks, the splits, and
sequence.json, the file of the run folder that lets eval and predict read raw rows again.

    train, val, test, seq, mean, std = load(cfg.data, seed, "float32", validation_indices)
    x = seq.inputs(read_table("new.csv"), "float32")     # what predict feeds the model
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .csvfile import RawTable
from .dataset import Dataset, float_dtype
from .files import read_versioned_json
from .text import Vocabulary
from .windows import Windows

FILE = "sequence.json"  # in the run folder
FORMAT, VERSION = "nntrain-sequence", 1
CSV = (".csv", ".csv.gz")


@dataclass
class Sequence:
    """The fitted sequence preprocessing of a run: a text column's vocabulary, or windows."""

    kind: str  # text or window
    vocabulary: Vocabulary | None = None
    column: str | None = None  # the text column
    target: object = None  # a text run's Target (preprocessing.Target): kind and class names
    windows: Windows | None = None

    def inputs(self, table: RawTable, dtype="float32") -> np.ndarray:
        """The model's input for raw rows, before standardization (fit_input does that): a text
        column's ids (n, sequence_length), or every window (T - length + 1, length, F)."""
        if self.kind == "text":
            return self.vocabulary.encode(_text_column(table, self.column), dtype)
        return self.windows.inputs(table, dtype)

    def dataset(self, table: RawTable, dtype="float32", classes=None) -> Dataset:
        """x and y of raw rows that hold the target (eval --data)."""
        if self.kind == "text":
            from .preprocessing import Tabular

            y = Tabular(self.target, [], []).targets(table, dtype, " the run was trained on")
            return Dataset(self.inputs(table, dtype), y, classes)
        return Dataset(self.windows.inputs(table, dtype, with_targets=True), self.windows.targets(table, dtype))

    def to_json(self) -> dict:
        from dataclasses import asdict

        out = {"format": FORMAT, "version": VERSION, "kind": self.kind}
        if self.kind == "text":
            out.update(column=self.column, target=asdict(self.target), **self.vocabulary.to_json())
        else:
            out["window"] = self.windows.to_json()
        return out


def read(path) -> Sequence:
    """The Sequence of a run's sequence.json; DataError when it is damaged."""
    from .preprocessing import Target

    d = read_versioned_json(path, FORMAT, VERSION, "sequence preprocessing")
    if d.get("kind") == "text":
        try:
            target = Target(**d["target"])
        except (KeyError, TypeError) as exc:
            raise DataError(f"{path}: its target is damaged ({exc})") from None
        return Sequence("text", Vocabulary.from_json(d, str(path)), str(d.get("column")), target)
    if d.get("kind") == "window":
        return Sequence("window", windows=Windows.from_json(d.get("window") or {}, str(path)))
    raise DataError(f"{path}: unknown sequence kind {d.get('kind')!r} (text or window)")


# -- config ---------------------------------------------------------------------------------
def wanted(d) -> bool:
    return getattr(d, "text", None) is not None or getattr(d, "window", None) is not None


def check_config(cfg) -> None:
    """ConfigError at its key for data.text / data.window settings that cannot go together."""
    d = cfg.data
    text, window = d.text, d.window
    for key in ("tokens", "max_tokens", "sequence_length", "padding"):
        default = {"tokens": "words", "padding": "post"}.get(key)
        if getattr(d, key) != default and text is None:
            raise ConfigError("goes with data.text (a CSV column of text); give data.text: COLUMN", f"data.{key}")
    if text is None and window is None:
        return
    key = "data.text" if text is not None else "data.window"
    if text is not None and window is not None:
        raise ConfigError("data.text (a text column) and data.window (windows over a time series) are two kinds of "
                          "data; give one", "data.window")
    for path, part in ((d.train, "train"), (d.test, "test")):
        if part == "train" and path is None:
            raise ConfigError("reads a CSV file: give data.train: FILE.csv", key)
        if path is not None and not str(path).lower().endswith(CSV):
            raise ConfigError(f"reads a CSV file, but data.{part} is {path}", key)
    if d.columns:
        raise ConfigError(f"does not go with {key}, which reads its own columns", "data.columns")
    if window is not None and d.weight is not None:
        raise ConfigError("sample weights do not go with data.window (a window is not a row)", "data.weight")
    if cfg.model.inputs is not None:
        raise ConfigError(f"several model inputs are read from an .npz, not from {key}", "model.inputs")
    if text is not None:
        if d.standardize is True:
            raise ConfigError("would z-score token ids, which must stay whole numbers for an embedding; leave "
                              "data.standardize out (auto is off for text)", "data.standardize")
        first = cfg.model.layers[0] if cfg.model.layers else {}
        if first.get("type") == "embedding" and d.max_tokens is not None and \
                isinstance(first.get("input_dim"), int) and first["input_dim"] < d.max_tokens:
            raise ConfigError(f"is {first['input_dim']}, but data.max_tokens {d.max_tokens} gives ids up to "
                              f"{d.max_tokens - 1}; set input_dim to at least data.max_tokens", "model.layers.0.input_dim")


# -- splits ---------------------------------------------------------------------------------
def _text_column(table: RawTable, column: str) -> list[str]:
    from ..errors import did_you_mean

    if column not in table.header:
        raise DataError(f"{table.path}: no text column {column!r} (data.text){did_you_mean(column, table.header)}; "
                        f"columns: {', '.join(table.header)}")
    return table.cells[:, table.header.index(column)].tolist()


def _read(path, limit) -> RawTable:
    from .csvfile import read_table

    t = read_table(path)
    return t.take(slice(0, limit)) if limit is not None else t


def load(d, seed: int, dtype, split) -> tuple:
    """(train, val, test, Sequence, mean, std) of a data.text or data.window section; mean and
    std: the windows' standardization statistics (already applied), None for text."""
    dt = float_dtype(dtype)
    rows = d.limit
    if d.window is not None and rows is not None:  # data.limit counts windows: the rows of the first `limit`
        rows += d.window.length + d.window.horizon - 1
    train_t = _read(d.train, rows)
    test_t = _read(d.test, rows) if d.test is not None else None
    if d.text is not None:
        return _load_text(d, train_t, test_t, seed, dt, split) + (None, None)
    return _load_windows(d, train_t, test_t, dt)


def _load_text(d, train_t: RawTable, test_t: RawTable | None, seed: int, dt, split) -> tuple:
    from .column_kinds import NA_VALUES, infer_kinds, target_index
    from .preprocessing import Tabular, fit_target
    from .tabular import take_weights

    na = list(d.na_values or NA_VALUES)
    _text_column(train_t, d.text)
    train_t, w_all = take_weights(train_t, d.weight, na, required=True)
    test_t, w_test = take_weights(test_t, d.weight, na)
    name = train_t.header[target_index(train_t, d.target)]
    if name == d.text:
        raise DataError(f"{train_t.path}: the text column {name!r} (data.text) is also the target; name the "
                        f"target column with data.target")
    j = train_t.header.index(name)
    only = RawTable(train_t.path, [name], train_t.cells[:, [j]], train_t.lines)
    target = fit_target(train_t, name, infer_kinds(only, name, {}, na)[name], na)
    if d.test_split and test_t is None:
        rest, held = split(len(train_t), d.test_split, seed, "data.test_split")
        test_t, w_test = train_t.take(held), None if w_all is None else w_all[held]
        train_t, w_all = train_t.take(rest), None if w_all is None else w_all[rest]
    train_idx, val_idx = split(len(train_t), d.validation_split or 0.0, seed)
    texts = _text_column(train_t, d.text)
    vocab = Vocabulary.fit([texts[i] for i in train_idx], d.tokens, d.max_tokens, d.sequence_length,
                           f"{train_t.path}: column {d.text!r} (data.text)", d.padding)
    seq = Sequence("text", vocab, d.text, target)
    labels = Tabular(target, [], na)

    def encode(table, idx, w, where=""):
        if table is None or idx is None:
            return None
        part = table.take(idx)
        return Dataset(vocab.encode(_text_column(part, d.text), dt), labels.targets(part, dt, where),
                       target.classes, None if w is None else w[idx])

    test = encode(test_t, np.arange(len(test_t)) if test_t is not None else None, w_test,
                  f" ({Path(d.train).name})" if d.test is not None else "")
    return encode(train_t, train_idx, w_all), encode(train_t, val_idx, w_all), test, seq


def _load_windows(d, train_t: RawTable, test_t: RawTable | None, dt) -> tuple:
    from .column_kinds import target_index

    wc = d.window
    target = train_t.header[target_index(train_t, wc.target)]
    features = list(wc.features) if wc.features is not None else list(train_t.header)
    win = Windows(wc.length, wc.horizon, target, features)
    x, y = win.inputs(train_t, np.float64, with_targets=True), win.targets(train_t, np.float64)
    n_train, n_val = win.split(len(x), d.test_split, d.validation_split, test_t is not None)
    mean = std = None
    if d.standardize in (True, "auto"):
        mean, std = win.statistics(train_t, n_train)

    def part(xs, ys):
        if len(xs) == 0:
            return None
        if mean is not None:  # float64 windows of finite values: (x - mean) / std cannot overflow
            xs = (xs - mean) / std
        return Dataset(np.ascontiguousarray(xs, dt), ys.astype(dt))

    cut = n_train + n_val
    train = part(x[:n_train], y[:n_train])
    val = part(x[n_train:cut], y[n_train:cut])
    if test_t is not None:
        test = part(win.inputs(test_t, np.float64, with_targets=True), win.targets(test_t, np.float64))
    else:
        test = part(x[cut:], y[cut:])
    if mean is not None:
        mean, std = mean.astype(dt), std.astype(dt)
    return train, val, test, Sequence("window", windows=win), mean, std
