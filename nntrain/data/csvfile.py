"""CSV files with a header row: numbers by numpy's C parser where it can, the csv module
where it cannot (and then says which line and cell), and the raw table the tabular and
sequence pipelines encode."""
from __future__ import annotations

import csv
import gzip
import io
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, did_you_mean
from .dataset import Dataset, first_nonfinite_row, float_dtype, narrowed
from .files import _check_file, _is_gzip, _open_binary
from .weights import check_weights

# numpy's C parser (np.loadtxt, numpy >= 1.23) reads a clean CSV 20-50x faster than the csv
# module; the csv module (_read_csv_rows) still reads whatever it refuses, and says why.
_LOADTXT = dict(delimiter=",", comments=None, quotechar='"', ndmin=2)
_SAMPLE_BYTES = 1 << 16  # the first bytes, whose longest cell sizes the text cells
_strings = getattr(np, "strings", np.char)  # numpy >= 2: string ufuncs in C
# the ASCII bytes str.strip() removes that can sit inside a line, and a quote (whose cells may
# hold any of them); non-ASCII bytes may be Unicode spaces
_STRIP_BYTES = (b" ", b"\t", b'"', b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x1f")


@dataclass
class _Scan:
    lines: int  # physical lines
    widest: int  # the longest comma-separated cell of the first 64 kB, in bytes
    may_strip: bool  # a byte of _STRIP_BYTES or a non-ASCII one somewhere (looked for when asked)


def _scan(path: Path, strip: bool) -> _Scan:
    lines, last, sample, may_strip = 0, b"\n", None, False
    with _open_binary(path) as f:
        while chunk := f.read(1 << 24):
            if sample is None:
                sample = chunk[:_SAMPLE_BYTES]
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            if strip and not may_strip:
                may_strip = not chunk.isascii() or any(b in chunk for b in _STRIP_BYTES)
    widest = max((len(c) for line in (sample or b"").splitlines() for c in line.split(b",")), default=1)
    return _Scan(lines + (last != b"\n"), widest, may_strip)


def _loadtxt_rows(path: Path, dtype, count_lines: bool = True) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """(header, cells (n, m) of `dtype`, file line of each row) from numpy's C parser, or None
    when the careful reader must decide: whatever loadtxt refuses (a cell that is no number of a
    float dtype, a ragged row, bytes that are not UTF-8, an empty file), and a blank line or a
    line break inside quotes, after which the line numbers of the rows would be wrong.
    count_lines=False saves the pass that checks that (for a float `dtype` only): then a row's
    line is right only when no blank line precedes it.

    A str `dtype` reads stripped text cells (np.str_ as wide as the longest), dropping rows of
    blank cells as _read_csv_rows does."""
    text = np.dtype(dtype).kind == "U"
    try:
        scan = _scan(path, strip=text) if text or count_lines else None
        width = scan.widest + 1 if text else 0
        while True:
            with io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                header = next((r for r in reader if r and any(c.strip() for c in r)), None)
                if header is None:
                    return None
                first = reader.line_num  # the header's line
                # given a file name, loadtxt reads blocks; given a file, one Python str per line
                by_name = not _is_gzip(path) or path.name.lower().endswith(".gz")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "input contained no data"
                    cells = np.loadtxt(str(path) if by_name else f, dtype=f"U{width}" if text else dtype,
                                       skiprows=first if by_name else 0, encoding="utf-8-sig", **_LOADTXT)
            # a text cell that fills the width may have been cut short: read again, wider
            if not text or cells.size == 0 or not cells.view(np.uint32).reshape(cells.shape + (width,))[..., -1].any():
                break
            width *= 4
    except (ValueError, OSError, EOFError, zlib.error, csv.Error):  # UnicodeDecodeError is a ValueError
        return None
    header = [c.strip() for c in header]
    if len(cells) == 0 or cells.shape[1] != len(header) or (scan and first + len(cells) != scan.lines):
        return None
    lines = np.arange(first + 1, first + 1 + len(cells), dtype=np.int64)
    if text:
        if scan.may_strip:
            cells = _strings.strip(cells)
        empty = cells.view(np.uint32).reshape(cells.shape + (-1,))[:, :, 0] == 0  # no first character
        if empty[:, 0].any():
            blank = empty.all(axis=1)
            if blank.any():  # a row of blank cells is skipped, as a blank line is
                cells, lines = cells[~blank], lines[~blank]
                if len(cells) == 0:
                    return None
    return header, cells, lines


def _read_csv_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, data rows, file line number of each row); blank lines are skipped."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            row = [c.strip() for c in row]
            if header is None:
                header = row
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path} line {reader.line_num}: {len(row)} fields, expected {len(header)} "
                    f"like the header ({', '.join(header)})"
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{path} line {reader.line_num}: {exc}") from None
    if header is None:
        raise DataError(f"{path}: empty CSV file; expected a header row and data rows")
    if not rows:
        raise DataError(f"{path}: CSV file has a header but no data rows")
    return header, rows, lines


def _is_number(cell: str) -> bool:
    try:
        np.array([cell]).astype(np.float64)
    except ValueError:
        return False
    return True


def _target_index(target, header: list[str], path: Path) -> int:
    """Column index of `target`: a name, an index (negatives count from the end), or None = last."""
    if target is None:
        return len(header) - 1
    if isinstance(target, bool) or not isinstance(target, (int, str)):
        raise DataError(f"{path}: target must be a column name or index, got {target!r}")
    if isinstance(target, int):
        if not -len(header) <= target < len(header):
            raise DataError(
                f"{path}: target column index {target} is out of range for {len(header)} columns "
                f"(valid: {-len(header)} to {len(header) - 1})"
            )
        return target % len(header)
    matches = [i for i, name in enumerate(header) if name == target]
    if not matches:
        raise DataError(
            f"{path}: no column {target!r}{did_you_mean(target, header)}; columns: {', '.join(header)}"
        )
    if len(matches) > 1:
        raise DataError(f"{path}: target {target!r} names {len(matches)} columns; use an index")
    return matches[0]


def target_and_weight(target, weight, header: list[str], path: Path,
                      weight_required: bool = True) -> tuple[int, int | None]:
    """(target column, weight column or None) of a CSV header. `weight` (data.weight) names the
    column of sample weights; the target defaults to the last column other than it. A file
    without the weight column is an error when `weight_required` (the training file), else its
    samples are unweighted (a test file, rows to predict)."""
    jw = None
    if weight is not None:
        if weight in header:
            jw = header.index(weight)
        elif weight_required:
            raise DataError(f"{path}: no weight column {weight!r} (data.weight){did_you_mean(str(weight), header)}; "
                            f"columns: {', '.join(header)}")
    if target is None and jw is not None and jw == len(header) - 1 and len(header) > 1:
        t = len(header) - 2
    else:
        t = _target_index(target, header, path)
    if t == jw:
        raise DataError(f"{path}: column {weight!r} is both the target and the weight column (data.weight)")
    return t, jw


def read_csv(path, target=None, dtype="float32", weight=None, weight_required=False) -> Dataset:
    """A CSV file with a header row: x (n, n_columns - 1) of `dtype`, y (n,) from `target`.

    y is int64 when every target value is integral (class labels), else `dtype`. `weight` names
    a column of sample weights (data.weight; see target_and_weight), left out of x and given as w.
    """
    path = Path(path)
    _check_file(path)
    fast = _loadtxt_rows(path, np.float64, count_lines=False)  # every cell a number: numpy's C parser
    if fast is not None:
        try:
            return _numeric_dataset(path, *fast, target, dtype, weight, weight_required)
        except DataError:
            pass  # said again below with its line: loadtxt skips blank lines, so its rows may not be lines
    raw = read_table(path)  # text, gaps, blank lines...: the cells as text, then as numbers
    return _numeric_dataset(path, raw.header, raw, raw.lines, target, dtype, weight, weight_required)


def _numeric_dataset(path: Path, header: list[str], table: "np.ndarray | RawTable", lines: np.ndarray, target,
                     dtype, weight, weight_required) -> Dataset:
    """read_csv's Dataset of a file's float64 cells (n, m), or of its RawTable, turned into numbers
    once the header is known good; lines: the file line of each row."""
    dt = float_dtype(dtype)
    _check_header(header, path)
    t, jw = target_and_weight(target, weight, header, path, weight_required)
    if len(header) < 2 + (jw is not None):
        raise DataError(f"{path}: only the target column {header[t]!r}; no feature columns")
    if isinstance(table, RawTable):
        table = _numbers(table)
    features = [j for j in range(len(header)) if j not in (t, jw)]
    if features == list(range(features[0], features[-1] + 1)):
        features = slice(features[0], features[-1] + 1)  # a view: one copy less of the table
    x = narrowed(table[:, features], dt, lambda row: f"{path} line {lines[row]}")
    y = table[:, t]
    for what, a in (("features", x), (f"target {header[t]!r}", y)):
        row = first_nonfinite_row(a)
        if row is not None:
            raise DataError(f"{path} line {lines[row]}: {what} contain NaN or inf")
    y = y.astype(np.int64) if np.all(y == np.round(y)) else y.astype(dt)
    w = None if jw is None else check_weights(table[:, jw], str(path), lambda i: f"line {lines[i]}")
    return Dataset(x, y, w=w)


_NUMBER_ROWS = 1 << 14  # rows parsed at a time, so the first odd cell is found without parsing the rest


def floats(cells: np.ndarray) -> np.ndarray:
    """Text cells (n,) as float64, as cells.astype(np.float64) (which calls float() on each) in a
    third of its time; ValueError at a cell that is not a number, found within the first
    _NUMBER_ROWS of a column of text."""
    out = np.empty(len(cells), np.float64)
    for start in range(0, len(cells), _NUMBER_ROWS):
        out[start:start + _NUMBER_ROWS] = np.fromiter(map(float, cells[start:start + _NUMBER_ROWS].tolist()),
                                                      np.float64)
    return out


class NotNumeric(DataError):
    """A CSV cell that is not a number where read_csv needs one (a category, a missing value):
    load_splits then reads the file as a table of typed columns (data/tabular.py), from
    `table`, the file's cells already read."""

    def __init__(self, message: str, table: "RawTable | None" = None):
        super().__init__(message)
        self.table = table


def _numbers(raw: "RawTable") -> np.ndarray:
    """raw's cells as float64 (n, m); NotNumeric naming the earliest cell that is not a number."""
    cells = raw.cells
    table = np.empty(cells.shape, np.float64)
    for start in range(0, len(cells), _NUMBER_ROWS):
        block = cells[start:start + _NUMBER_ROWS]
        try:
            table[start:start + len(block)] = floats(block.reshape(-1)).reshape(block.shape)
        except ValueError:
            # the earliest offending cell: the first bad row of each bad column, then the minimum
            bad = []
            for j in range(block.shape[1]):
                try:
                    block[:, j].astype(np.float64)
                except ValueError:
                    bad.append((next(i for i, c in enumerate(block[:, j]) if not _is_number(c)), j))
            i, j = min(bad)
            raise NotNumeric(f"{raw.path} line {raw.lines[start + i]}, column {raw.header[j]!r}: "
                             f"{str(block[i, j])!r} is not a number", raw) from None
    return table


@dataclass
class RawTable:
    """A CSV file's cells as text: header (m,), cells (n, m) stripped strings, and the file line
    number of each row (for messages)."""

    path: Path
    header: list[str]
    cells: np.ndarray
    lines: np.ndarray
    # per (column, na_values): (missing cells, float64 values with NaN where missing, or None
    # when a present cell is not a number), worked out once and carried over by take()
    _columns: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.cells)

    def take(self, idx) -> "RawTable":
        if isinstance(idx, np.ndarray) and len(idx) == len(self) and np.array_equal(idx, np.arange(len(self))):
            return self  # every row in order (no validation split): no copy of the cells
        cols = {k: (m[idx], None if v is None else v[idx]) for k, (m, v) in self._columns.items()}
        return RawTable(self.path, self.header, self.cells[idx], self.lines[idx], cols)

    def _column(self, j: int, na_values) -> tuple[np.ndarray, np.ndarray | None]:
        key = (j, tuple(na_values))
        if key not in self._columns:
            cells = self.cells[:, j]
            missing = np.isin(cells, list(na_values))
            values = np.full(len(cells), np.nan)
            try:
                values[~missing] = floats(cells[~missing])
            except ValueError:
                values = None
            self._columns[key] = (missing, values)
        return self._columns[key]

    def missing(self, j: int, na_values) -> np.ndarray:
        """bool (n,): the cells of column j that are in na_values."""
        return self._column(j, na_values)[0]

    def numbers(self, j: int, na_values) -> np.ndarray | None:
        """Column j as float64 (n,) with NaN where missing (read-only: a view of what is kept),
        or None when a cell that is not missing is not a number."""
        values = self._column(j, na_values)[1]
        if values is not None:
            values = values.view()
            values.flags.writeable = False
        return values


def read_table(path) -> RawTable:
    """A CSV file with a header row as text cells, with read_csv's checks of the file and header."""
    path = Path(path)
    _check_file(path)
    fast = _loadtxt_rows(path, str)
    if fast is not None:
        header, cells, lines = fast
        _check_header(header, path)
        return RawTable(path, header, cells, lines)
    header, rows, lines = _read_csv_rows(path)
    _check_header(header, path)
    return RawTable(path, header, np.array(rows, dtype=str).reshape(len(rows), len(header)),
                    np.array(lines, dtype=np.int64))


def _check_header(header: list[str], path: Path) -> None:
    other = next((d for d in (";", "\t", "|") if len(header) == 1 and d in header[0]), None)
    if other is not None:  # one column whose name holds another separator: a European or TSV export
        shown = {";": "';'", "\t": "tabs", "|": "'|'"}[other]
        raise DataError(f"{path}: the columns are separated by {shown}, not commas; nntrain reads comma-separated "
                        f"CSV (the header reads {header[0]!r}): save it with ',' as the separator")
    if all(_is_number(c) for c in header):
        raise DataError(
            f"{path}: the first line ({', '.join(header[:5])}{', ...' if len(header) > 5 else ''}) "
            f"looks like data; a CSV file needs a header row naming its columns"
        )
