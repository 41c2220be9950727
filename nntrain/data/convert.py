"""A numeric CSV too big for memory turned into a folder of x.npy and y.npy, a chunk at a time.

    convert_csv("big.csv", "big/", target="label", chunk_rows=100_000)
    # data.train: big/   -> x is read from disk by batches (data/ondisk.py)

The CSV is read row by row; every `chunk_rows` rows are parsed and appended to x.npy, so memory
holds one chunk whatever the file's size. x.npy is (n, columns - 1) of `dtype` (float32 by
default); y.npy holds int64 class labels when every target value is integral and float64 values
otherwise (converted to the model's dtype when read, as read_csv does). The .npy header is
written last, into room reserved at the start, once n is known. Both files are written under
temporary names and renamed when complete: a bad cell, a full disk or Ctrl-C leaves nothing.

Cells must be numbers (the CSV reader's checks: header row, equal row lengths, no NaN or inf,
nothing beyond the dtype's range); each problem is a DataError naming the line and column.
"""
from __future__ import annotations

import csv
import io
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .csvfile import _target_index
from .dataset import float_dtype, narrowed
from .files import _open_binary, file_problem

# room for the .npy header of any (n, k): magic, version, length and the dict, padded with spaces
# to a multiple of 64 bytes so that the data starts aligned
_HEADER_BYTES = 128


def _npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """A version 1.0 .npy header of exactly _HEADER_BYTES bytes."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)})
    room = _HEADER_BYTES - 10
    if len(text) + 1 > room:
        raise DataError(f"cannot write a .npy header for shape {shape}")
    body = (text + " " * (room - len(text) - 1) + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


class _Writer:
    """Appends row chunks to x and y files under temporary names; `finish` renames them."""

    def __init__(self, out: Path, dtype: np.dtype):
        self.out, self.dtype = out, dtype
        tag = f".tmp-{os.getpid()}"
        self.x_tmp, self.y_raw, self.y_tmp = out / f".x.npy{tag}", out / f".y.raw{tag}", out / f".y.npy{tag}"
        self.n, self.k, self.integral = 0, None, True
        self.fx = open(self.x_tmp, "wb")  # noqa: SIM115 - closed in finish / discard
        self.fy = open(self.y_raw, "wb")  # noqa: SIM115
        self.fx.write(b"\0" * _HEADER_BYTES)

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        self.k = x.shape[1]
        self.fx.write(np.ascontiguousarray(x).tobytes())
        self.fy.write(y.astype(np.float64).tobytes())
        self.integral = self.integral and bool(np.all(y == np.round(y)))
        self.n += len(x)

    def finish(self) -> tuple[Path, Path, np.dtype]:
        self.fx.seek(0)
        self.fx.write(_npy_header((self.n, self.k), self.dtype))
        self.fy.close()
        ydt = np.dtype(np.int64) if self.integral else np.dtype(np.float64)
        with open(self.y_raw, "rb") as raw, open(self.y_tmp, "wb") as fy:
            fy.write(_npy_header((self.n,), ydt))
            while True:
                block = raw.read(8 << 20)
                if not block:
                    break
                fy.write(np.frombuffer(block, np.float64).astype(ydt).tobytes())
            fy.flush()
            os.fsync(fy.fileno())
        self.fx.flush()
        os.fsync(self.fx.fileno())
        self.fx.close()
        os.replace(self.x_tmp, self.out / "x.npy")
        os.replace(self.y_tmp, self.out / "y.npy")
        self.y_raw.unlink()
        return self.out / "x.npy", self.out / "y.npy", ydt

    def discard(self) -> None:
        for f in (self.fx, self.fy):
            f.close()
        for p in (self.x_tmp, self.y_raw, self.y_tmp):
            p.unlink(missing_ok=True)


def _chunk(rows: list[list[str]], lines: list[int], header: list[str], t: int, dt: np.dtype,
           src: Path) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a chunk of text rows; DataError naming the line and column of a bad cell."""
    cells = np.array(rows)
    try:
        table = cells.astype(np.float64)
    except ValueError:
        i, j = next((i, j) for i, row in enumerate(rows) for j, c in enumerate(row) if not _is_number(c))
        raise DataError(f"{src} line {lines[i]}, column {header[j]!r}: {rows[i][j]!r} is not a number") from None
    bad = ~np.isfinite(table)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(f"{src} line {lines[i]}, column {header[j]!r}: {rows[i][j]!r} is NaN or inf; "
                        f"fill or drop it before converting")
    features = [j for j in range(len(header)) if j != t]
    x = narrowed(table[:, features], dt, lambda row: f"{src} line {lines[row]}")
    return x, table[:, t]


def convert_csv(src, out, target=None, chunk_rows: int = 100_000, dtype="float32",
                overwrite: bool = False) -> dict:
    """Write OUT/x.npy and OUT/y.npy from the numeric CSV `src` (header row; .csv.gz too).

    target: the target column's name or index (default: the last column); an all-digit string
    that names no column is taken as an index. Returns what was written (paths, shapes, dtypes).
    """
    src, out = Path(src), Path(out)
    dt = float_dtype(dtype)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise DataError(f"chunk_rows must be an integer >= 1, got {chunk_rows!r}")
    problem = file_problem(src)
    if problem or src.is_dir():
        raise DataError(problem or f"{src} is a folder, not a CSV file")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; the output is a folder (it gets x.npy and y.npy)")
    there = [p.name for p in (out / "x.npy", out / "y.npy") if p.exists()]
    if there and not overwrite:
        raise DataError(f"{out} already holds {' and '.join(there)}; choose another folder or pass --overwrite")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{out}: cannot create the folder ({exc.strerror or exc})") from None
    writer = None
    try:
        writer = _Writer(out, dt)
        header, t = _stream(src, writer, target, chunk_rows, dt)
        x_path, y_path, ydt = writer.finish()
    except BaseException as exc:
        if writer is not None:
            writer.discard()
        if created:
            try:
                out.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, DataError):
            where = exc.filename or out
            raise DataError(f"{where}: cannot write ({exc.strerror or exc})") from None
        raise
    return {"source": str(src), "x": str(x_path), "y": str(y_path), "samples": writer.n,
            "features": writer.k, "x_dtype": dt.name, "y_dtype": ydt.name,
            "target": header[t], "columns": [c for i, c in enumerate(header) if i != t]}


def _target(target, header: list[str]):
    """A --target string that names no column but reads as an integer is a column index."""
    if isinstance(target, str) and target not in header and target.lstrip("-").isdigit():
        return int(target)
    return target


def _stream(src: Path, writer: _Writer, target, chunk_rows: int, dt: np.dtype) -> tuple[list[str], int]:
    """Read src row by row, handing writer chunks of chunk_rows rows; (header, target index)."""
    try:
        text = io.TextIOWrapper(_open_binary(src), encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"{src}: cannot read ({exc.strerror or exc})") from None
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    t = 0
    with text:
        reader = csv.reader(text)
        try:
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                row = [c.strip() for c in row]
                if header is None:
                    header = row
                    if all(_is_number(c) for c in header):
                        raise DataError(f"{src}: the first line ({', '.join(header[:5])}"
                                        f"{', ...' if len(header) > 5 else ''}) looks like data; "
                                        f"a CSV file needs a header row naming its columns")
                    t = _target_index(_target(target, header), header, src)
                    if len(header) < 2:
                        raise DataError(f"{src}: only the target column {header[t]!r}; no feature columns")
                    continue
                if len(row) != len(header):
                    raise DataError(f"{src} line {reader.line_num}: {len(row)} fields, expected {len(header)} "
                                    f"like the header ({', '.join(header[:8])}{', ...' if len(header) > 8 else ''})")
                rows.append(row)
                lines.append(reader.line_num)
                if len(rows) == chunk_rows:
                    writer.append(*_chunk(rows, lines, header, t, dt, src))
                    rows, lines = [], []
        except csv.Error as exc:
            raise DataError(f"{src} line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{src}: not UTF-8 text ({exc})") from None
        except (EOFError, OSError, zlib.error) as exc:
            if isinstance(exc, OSError) and exc.filename:  # a write error: reported by the caller
                raise
            raise DataError(f"{src}: cannot read ({exc})") from None
    if header is None:
        raise DataError(f"{src}: empty CSV file; expected a header row and data rows")
    if rows:
        writer.append(*_chunk(rows, lines, header, t, dt, src))
    if writer.n == 0:
        raise DataError(f"{src}: CSV file has a header but no data rows")
    return header, t

