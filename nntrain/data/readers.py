"""Readers for data files: IDX (gzip or raw), CSV with a header row, NPZ with arrays x and y
(and optional sample weights w).

Every problem a user can fix (missing file, bad header, ragged row, non-numeric cell, NaN, a
pickled array) is a `DataError` that names the file and, where there is one, the line,
column or key.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, did_you_mean
from .dataset import Dataset, check_finite, first_nonfinite_row, float_dtype, narrowed
from .ondisk import checked_features, is_disk_array, open_npy, open_npz_member
from .weights import check_weights

# IDX type codes (third byte of the magic number); multi-byte values are big-endian.
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# deflate cannot compress better than ~1032:1, so a gzip file of m bytes holds < 1100 m bytes;
# a header claiming more is corrupt, and is refused before allocating its array.
_MAX_DEFLATE_RATIO = 1100


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a data file (missing, a folder, a FIFO or device), or None."""
    if path.is_file():
        return None
    if path.is_dir():
        if (path / "x.npy").is_file():  # arrays x.npy and y.npy (nntrain data convert writes them)
            return None
        return f"{path} is a folder, not a data file; name a .csv, .npz or IDX file, or a folder of x.npy and y.npy"
    if path.exists():
        return f"{path} is not a regular file (a FIFO, socket or device); name a .csv, .npz or IDX file"
    return f"file not found: {path}"


def _check_file(path: Path) -> int:
    """The file's size in bytes; DataError if it is not a readable data file."""
    problem = file_problem(path)
    if problem:
        raise DataError(problem)
    return path.stat().st_size


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open_binary(path: Path):
    """The file opened for reading bytes, decompressed when its content is gzip."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def scale_uint8(raw: np.ndarray, dtype="float32") -> np.ndarray:
    """uint8 pixels -> floats in [0, 1], one multiply straight from uint8 (no float64 copy)."""
    dt = float_dtype(dtype)
    out = np.empty(raw.shape, dtype=dt)
    # float32(1/255) * 255 rounds to exactly 1.0, so the range stays within [0, 1]
    np.multiply(raw, dt.type(1.0 / 255.0), out=out, dtype=dt)
    return out


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (gzip or raw), shape = the dims of its header.

    Format: magic 0x00 0x00 <type code> <ndim>, ndim big-endian uint32 dims, then the values
    (big-endian) in C order, nothing after them. Returned in native byte order.
    """
    path = Path(path)
    size = _check_file(path)
    try:
        gz = _is_gzip(path)
        with _open_binary(path) as f:
            magic = f.read(4)
            if len(magic) < 4:
                raise DataError(f"{path}: not an IDX file: {len(magic)} bytes, the header needs 4")
            if magic[0] or magic[1]:
                raise DataError(
                    f"{path}: not an IDX file: magic number 0x{magic.hex()} must start with 0x0000"
                )
            code, ndim = magic[2], magic[3]
            if code not in IDX_TYPES:
                valid = ", ".join(f"0x{c:02X} ({t.name})" for c, t in IDX_TYPES.items())
                raise DataError(f"{path}: unknown IDX type code 0x{code:02X}; valid: {valid}")
            if ndim == 0:
                raise DataError(f"{path}: IDX header declares 0 dimensions")
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise DataError(f"{path}: truncated IDX header: {ndim} dims need {4 * ndim} bytes")
            dims = struct.unpack(f">{ndim}I", raw_dims)
            dtype = IDX_TYPES[code]
            nbytes = math.prod(dims) * dtype.itemsize
            available = size * _MAX_DEFLATE_RATIO if gz else size - 4 - 4 * ndim
            if nbytes > available:
                raise DataError(
                    f"{path}: truncated IDX file: dims {dims} need {nbytes} bytes of data "
                    f"but the file holds {'at most ' if gz else ''}{available}"
                )
            # a gzip file may declare up to ~1000x its size: check the array and the float32
            # copy that training makes of it against memory before allocating either
            from ..nn.layers.base import beyond_memory

            too_big = beyond_memory(nbytes + math.prod(dims) * 4)
            if too_big:
                raise DataError(f"{path}: IDX header declares dims {dims} of {dtype.name}, which with "
                                f"their float32 copy need {too_big}")
            arr = np.empty(dims, dtype=dtype)
            view = memoryview(arr.reshape(-1).view(np.uint8))
            got = 0
            while got < nbytes:
                n = f.readinto(view[got:])
                if not n:
                    break
                got += n
            if got < nbytes:
                raise DataError(
                    f"{path}: truncated IDX file: dims {dims} need {nbytes} bytes of data, found {got}"
                )
            # reading past the end also makes gzip verify its CRC
            if f.read(1):
                raise DataError(f"{path}: IDX file has bytes after the {nbytes} its dims {dims} describe")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    if not dtype.isnative:
        arr = arr.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return arr


def _as_features(x: np.ndarray, dtype, source: str) -> np.ndarray:
    """Numeric x (n, ...) as `dtype`; a 1-D x becomes one feature per sample, (n, 1)."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: x must be numeric, got dtype {x.dtype}")
    if x.ndim == 0:
        raise DataError(f"{source}: x must have a sample axis, got a scalar")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if 0 in x.shape[1:]:  # it would train a (0, units) weight matrix to `done`
        raise DataError(f"{source}: x has no features: its shape is {x.shape}; each sample needs at least one value")
    return narrowed(x, float_dtype(dtype), lambda row: f"{source}: features of sample {row}")


def _as_targets(y: np.ndarray, dtype, source: str) -> np.ndarray:
    """Integer y -> int64 labels (n,); float y -> `dtype` regression targets (n,) or (n, k)."""
    if y.ndim == 0:
        raise DataError(f"{source}: y must have a sample axis, got a scalar")
    if y.dtype.kind in "biu":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        if y.ndim != 1:
            raise DataError(f"{source}: integer labels y must have shape (n,), got {y.shape}")
        return y.astype(np.int64, copy=False)
    if y.dtype.kind == "f":
        return y.astype(float_dtype(dtype), copy=False)
    raise DataError(f"{source}: y must be numeric, got dtype {y.dtype}")


def _labels_path(images: Path) -> Path:
    """The labels file next to an IDX images file: 'images-idx3' -> 'labels-idx1' in its name."""
    if "images-idx3" not in images.name:
        raise DataError(
            f"{images}: cannot find the labels of an IDX file whose name lacks 'images-idx3' "
            f"(labels are read from the same name with 'labels-idx1')"
        )
    expected = images.with_name(images.name.replace("images-idx3", "labels-idx1"))
    stem = expected.name[:-3] if expected.name.endswith(".gz") else expected.name
    for cand in (expected, expected.with_name(stem), expected.with_name(stem + ".gz")):
        if cand.is_file():
            return cand
    raise DataError(f"{images}: IDX labels file {expected} not found")


def read_idx_pair(images, labels=None, dtype="float32") -> Dataset:
    """Images (n, ...) and labels (n,) IDX files as a Dataset; uint8 images scaled to [0, 1]."""
    images = Path(images)
    labels = _labels_path(images) if labels is None else Path(labels)
    raw = read_idx(images)
    x = scale_uint8(raw, dtype) if raw.dtype == np.uint8 else _as_features(raw, dtype, str(images))
    y = _as_targets(read_idx(labels), dtype, str(labels))
    if len(x) != len(y):
        raise DataError(f"{images} has {len(x)} samples but {labels} has {len(y)} labels")
    ds = Dataset(x, y)
    check_finite(ds, str(images))
    return ds


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


def npz_array(z, key: str, path: Path) -> np.ndarray:
    """z[key], once its header's declared size is known to fit in this machine's memory: a
    578-byte .npz may declare shape (10**6, 10**6), and reading it would die in MemoryError."""
    from ..nn.layers.base import beyond_memory

    try:
        with z.zip.open(f"{key}.npy") as fp:
            version = np.lib.format.read_magic(fp)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fp)
    except Exception:  # noqa: BLE001 - an unreadable header: np.load below reports it
        return z[key]
    too_big = beyond_memory(math.prod(shape) * max(dtype.itemsize, 1))
    if too_big:
        raise DataError(f"{path}: array {key} declares shape {tuple(shape)} of {dtype}, {too_big}")
    return z[key]


def read_npz(path, dtype="float32", mmap="auto") -> Dataset:
    """An .npz archive with arrays x (n, ...) and y (n,) or (n, k); pickled data is refused.

    x stays on disk (a DiskArray read by batches) when the archive stores it uncompressed and
    `mmap` is true, or auto and x would not fit in memory; otherwise it is loaded.
    """
    path = Path(path)
    _check_file(path)
    with open(path, "rb") as f:
        magic = f.read(6)
    # np.load takes anything that is neither a zip nor an .npy for a pickle, so a text file
    # named .npz would be "pickled data"; say what it is instead
    if not magic.startswith((b"PK", b"\x93NUMPY", b"\x80")):
        raise DataError(f"{path}: not an .npz archive (an .npz is a zip file; this one starts with "
                        f"{magic!r}); save one with numpy.savez({path.name!r}, x=..., y=...)")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: a single .npy array, not an .npz archive with arrays x and y")
        with z:
            keys = list(z.keys())
            named = sorted(k for k in keys if k.startswith("x_"))  # several model inputs: x_<name> each
            missing = [k for k in ("x", "y") if k not in keys and not (k == "x" and named)]
            if missing:
                raise DataError(
                    f"{path}: no array {' or '.join(map(repr, missing))}; "
                    f"arrays present: {', '.join(keys) or '(none)'}; expected x and y"
                )
            from ..nn.layers.base import beyond_memory

            disk = open_npz_member(path, "x") if mmap is not False and "x" in keys else None
            if disk is not None and (mmap is True or beyond_memory(disk.nbytes)):
                x = disk
            elif "x" not in keys:  # packed side by side as a graph model unpacks them (nn/graph.py)
                from ..nn.graph import pack_inputs

                x = pack_inputs({k[2:]: npz_array(z, k, path) for k in named})
            else:
                x = npz_array(z, "x", path)
            y = npz_array(z, "y", path)
            w = npz_array(z, "w", path) if "w" in keys else None  # optional sample weights (n,)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(
                f"{path}: holds pickled (object) data, which nntrain refuses to load; "
                f"save plain numeric arrays x and y"
            ) from None
        raise DataError(f"{path}: cannot read NPZ file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path}: cannot read NPZ file ({exc})") from None
    return _xy_dataset(x, y, dtype, str(path), w)


def _xy_dataset(x, y: np.ndarray, dtype, src: str, w: np.ndarray | None = None) -> Dataset:
    """Dataset of checked features x (an ndarray, or a DiskArray checked by chunks) and targets y."""
    if is_disk_array(x):
        if len(x) != len(y):  # before the pass over x
            raise DataError(f"{src}: x has {len(x)} samples but y has {len(y)}")
        x = checked_features(x, float_dtype(dtype), src)
    else:
        x = _as_features(x, dtype, src)
    y = _as_targets(y, dtype, src)
    if len(x) != len(y):
        raise DataError(f"{src}: x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{src}: x and y hold no samples")
    if w is not None:
        w = check_weights(w, src)
        if len(w) != len(x):
            raise DataError(f"{src}: x has {len(x)} samples but the sample weights w have {len(w)}")
    ds = Dataset(x, y, w=w)
    if is_disk_array(x):  # its features were checked by chunks above
        row = first_nonfinite_row(y)
        if row is not None:
            raise DataError(f"{src}: targets of sample {row} contain NaN or inf")
    else:
        check_finite(ds, src)
    return ds


def _load_npy(path: Path) -> np.ndarray:
    """A whole .npy array in memory, once its header's declared size is known to fit."""
    from ..nn.layers.base import beyond_memory

    disk = open_npy(path)
    nbytes = disk.nbytes if disk is not None else np.load(path, mmap_mode="r", allow_pickle=False).nbytes
    too_big = beyond_memory(nbytes)
    if too_big:
        raise DataError(f"{path}: the array needs {too_big}; with data.mmap: auto or true, x.npy is read "
                        f"from disk by batches instead")
    return disk[:] if disk is not None else np.load(path, allow_pickle=False)


def read_npy_folder(path, dtype="float32", mmap="auto") -> Dataset:
    """A folder holding x.npy (n, ...) and y.npy (n,) or (n, k), as `nntrain data convert` writes.

    x stays on disk, read by batches (a DiskArray), unless `mmap` is false or x.npy is
    Fortran-ordered; y is loaded.
    """
    path = Path(path)
    xp, yp = path / "x.npy", path / "y.npy"
    for p in (xp, yp):
        problem = file_problem(p)
        if problem:
            raise DataError(f"{path}: a folder of arrays needs x.npy and y.npy; {problem}")
    x = open_npy(xp) if mmap is not False else None
    return _xy_dataset(x if x is not None else _load_npy(xp), _load_npy(yp), dtype, str(path))


def read_file(path, target=None, dtype="float32", mmap="auto", weight=None, weight_required=False) -> Dataset:
    """A Dataset from a .csv (or .csv.gz), .npz or IDX file (name contains 'idx' or ends .idx/.gz),
    or a folder of x.npy and y.npy (read from disk by batches; see read_npy_folder and `mmap`).

    For IDX, `path` names the images; labels come from the same name with 'images-idx3'
    replaced by 'labels-idx1'. `weight` names a CSV's column of sample weights (read_csv).
    """
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return read_npy_folder(path, dtype=dtype, mmap=mmap)
    if name.endswith(".npy"):
        raise DataError(f"{path}: one .npy array holds x or y, not both; put x.npy and y.npy in a folder "
                        f"and name the folder (nntrain data convert writes one from a CSV)")
    if name.endswith((".csv", ".csv.gz")):
        return read_csv(path, target=target, dtype=dtype, weight=weight, weight_required=weight_required)
    if name.endswith(".npz"):
        return read_npz(path, dtype=dtype, mmap=mmap)
    if "idx" in name or name.endswith((".idx", ".gz")):
        _check_file(path)
        return read_idx_pair(path, dtype=dtype)
    raise DataError(
        f"{path}: unknown data format; expected .csv (header row), .npz (arrays x, y) "
        f"or IDX (e.g. train-images-idx3-ubyte.gz)"
    )
