"""Arrays bigger than memory: the rows of an .npy file (or of a stored member of an .npz) read from
disk on demand, never loaded whole.

    x = open_npy("big/x.npy")                 # DiskArray (n, 784) float32; nothing read yet
    x.take(idx, axis=0, out=buf)              # rows idx, in idx's order, into buf (the batch gather)
    x[0:1024]                                 # a chunk, as a new ndarray (evaluation, statistics)
    x.subset(train_idx).astype("float32").standardized(mean, std)   # views: nothing is copied

A DiskArray is what load_splits hands the trainer in place of an ndarray when `data.mmap` says so:
it has the shape, dtype, len, take, slicing, reshape, astype and the reductions (sum, min, max
over axis 0 or all) that the data, training and evaluation code use. Validation splits, limits,
dtype conversion and standardization are views (an index array, a target dtype, mean and std)
applied to each batch as it is read, so the values that reach the model are bit for bit those of
the same file loaded into memory.

Why pread and not the map itself. The file is mapped (np.memmap, `.map`) but batches are read
with one os.preadv per run of consecutive rows. Pages of a file mapping that a process touches
count in its resident set, and on Linux 6.x one touched row maps its whole page-cache folio
(measured: ~512 KiB per random row on ext4), so gathering shuffled batches from the map grows
RSS to the size of the file within an epoch. Dropping the pages again (madvise MADV_DONTNEED)
makes every later touch a fault that maps the folio again (5-11 us per row); pread costs ~3 us
per row and leaves the page cache to the kernel, outside the process's RSS.
(benchmarks/mmap.py measures it; the README gives the numbers.)
"""
from __future__ import annotations

import copy
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import first_nonfinite_row, narrowed

# chunked passes (statistics, checks, evaluation slices) read about this many bytes at a time
CHUNK_BYTES = 4 << 20
_HAS_PREADV = hasattr(os, "preadv")
_MAX_READ = 1 << 30  # bytes per read call


class DiskArray:
    """Rows `rows` of the C-ordered array (n_file, *file_features) of `file_dtype` stored at byte
    `offset` of `path`, seen as (len(rows), *feature_shape) of `dtype`, standardized with (mean,
    std) when they are set. rows None means the first `n` rows of the file."""

    def __init__(self, path, offset: int, shape: tuple[int, ...], file_dtype):
        self.path = Path(path)
        self.offset = int(offset)
        self.file_shape = tuple(int(d) for d in shape)
        self.file_dtype = np.dtype(file_dtype)
        self.row_bytes = math.prod(self.file_shape[1:]) * self.file_dtype.itemsize
        self.n = self.file_shape[0]
        self.rows: np.ndarray | None = None
        self.dtype = self.file_dtype.newbyteorder("=") if self.file_dtype.kind in "biuf" else self.file_dtype
        self.feature_shape = self.file_shape[1:]
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self._file = None
        self._scratch: dict[int, np.ndarray] = {}

    # -- what an ndarray has ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n,) + self.feature_shape

    @property
    def ndim(self) -> int:
        return 1 + len(self.feature_shape)

    @property
    def size(self) -> int:
        return self.n * math.prod(self.feature_shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        views = [w for w, on in (("subset", self.rows is not None), ("standardized", self.mean is not None)) if on]
        return f"DiskArray({str(self.path)!r}, shape={self.shape}, dtype={self.dtype.name}{''.join(', ' + v for v in views)})"

    def __getstate__(self) -> dict:  # a worker process opens the file again
        return {**self.__dict__, "_file": None, "_scratch": {}}

    @property
    def map(self) -> np.memmap:
        """The file's whole array as a read-only np.memmap (no copy; pages are read when touched)."""
        return np.memmap(self.path, dtype=self.file_dtype, mode="r", offset=self.offset, shape=self.file_shape)

    def take(self, indices, axis: int = 0, out: np.ndarray | None = None, mode: str = "raise") -> np.ndarray:
        """Rows `indices` (in that order) as (len(indices), *feature_shape), into `out` when given."""
        if axis != 0:
            raise ValueError("a DiskArray gathers rows only (axis=0)")
        idx = np.asarray(indices, dtype=np.intp)
        if mode == "raise" and idx.size and (idx.min() < -self.n or idx.max() >= self.n):
            raise IndexError(f"index out of range for {self.n} rows")
        if mode == "raise" and idx.size and idx.min() < 0:
            idx = idx % self.n
        if out is None:
            out = np.empty(idx.shape + self.feature_shape, self.dtype)
        self._read(idx if self.rows is None else self.rows[idx], out)
        return out

    def __getitem__(self, key):
        if isinstance(key, slice):
            lo, hi, step = key.indices(self.n)
            if step != 1:
                return self.take(np.arange(lo, hi, step), mode="clip")
            hi = max(lo, hi)
            out = np.empty((hi - lo,) + self.feature_shape, self.dtype)
            self._read(np.arange(lo, hi) if self.rows is None else self.rows[lo:hi], out)
            return out
        if isinstance(key, (int, np.integer)):
            return self.take([key])[0]
        if isinstance(key, np.ndarray) and key.dtype.kind in "iu" or isinstance(key, list):
            return self.take(key)
        raise TypeError(f"a DiskArray is indexed by a slice, an integer or an index array, not {key!r}")

    def __array__(self, dtype=None, copy=None):
        """The whole array read into memory (what np.asarray gets; the lazy paths avoid it)."""
        a = self[:]
        return a if dtype is None else a.astype(dtype, copy=False)

    def reshape(self, *shape) -> "DiskArray":
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)
        if shape[:1] != (self.n,) or math.prod(shape[1:]) != math.prod(self.feature_shape):
            raise ValueError(f"cannot reshape a DiskArray of shape {self.shape} into {shape}")
        return self._view(feature_shape=tuple(int(d) for d in shape[1:]))

    def astype(self, dtype, copy: bool = True) -> "DiskArray":
        """A view whose batches are converted to `dtype` as they are read (copy is ignored: nothing is copied)."""
        return self if np.dtype(dtype) == self.dtype else self._view(dtype=np.dtype(dtype))

    def sum(self, axis=None, dtype=None):
        return self._reduce(lambda c: c.sum(axis=axis, dtype=dtype or self.dtype), np.add, axis)

    def max(self, axis=None):
        return self._reduce(lambda c: c.max(axis=axis), np.maximum, axis)

    def min(self, axis=None):
        return self._reduce(lambda c: c.min(axis=axis), np.minimum, axis)

    # -- views --------------------------------------------------------------------------------
    def subset(self, idx) -> "DiskArray":
        """Rows idx of this array (an index array is kept; no row is read)."""
        idx = np.asarray(idx, dtype=np.int64)
        rows = idx if self.rows is None else self.rows[idx]
        return self._view(rows=rows, n=len(rows))

    def head(self, n: int) -> "DiskArray":
        """The first n rows (x[:n] of an ndarray, as a view)."""
        n = min(int(n), self.n)
        return self._view(n=n) if self.rows is None else self._view(rows=self.rows[:n], n=n)

    def standardized(self, mean: np.ndarray, std: np.ndarray) -> "DiskArray":
        """A view whose batches are (x - mean) / std, computed as each is read (mean, std: feature shape)."""
        if self.mean is not None:
            raise ValueError("this DiskArray is standardized already")
        mean = np.asarray(mean).reshape(self.feature_shape)
        std = np.asarray(std).reshape(self.feature_shape)
        return self._view(mean=mean, std=std, dtype=np.result_type(self.dtype, mean.dtype))

    def chunks(self, nbytes: int = CHUNK_BYTES):
        """(start, rows start.. as a new ndarray) over the whole array, about nbytes at a time."""
        step = max(1, nbytes // max(1, math.prod(self.feature_shape) * max(self.dtype.itemsize, self.file_dtype.itemsize)))
        for lo in range(0, self.n, step):
            yield lo, self[lo:lo + step]

    def _view(self, **changes) -> "DiskArray":
        v = copy.copy(self)
        v._scratch = {}
        v.__dict__.update(changes)
        return v

    def _reduce(self, part, combine, axis):
        if axis not in (None, 0):
            raise ValueError("a DiskArray reduces over axis 0 or all axes only")
        total = None
        for _, chunk in self.chunks():
            r = part(chunk)
            total = r if total is None else combine(total, r)
        if total is None:
            raise ValueError("zero-size DiskArray has nothing to reduce")
        return total

    # -- reading ------------------------------------------------------------------------------
    def _fd(self) -> int:
        if self._file is None:
            try:
                self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115 - kept open for the reads
            except OSError as exc:
                raise DataError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        return self._file.fileno()

    def _read(self, file_rows: np.ndarray, out: np.ndarray) -> None:
        """File rows file_rows into out (len(file_rows), *feature_shape) of self.dtype: raw bytes
        straight into out when the file holds that dtype, else through a scratch buffer."""
        b = len(file_rows)
        if b == 0:
            return
        direct = self.file_dtype == out.dtype
        if direct:
            dest = out
        else:
            dest = self._scratch.get(b)
            if dest is None:
                dest = self._scratch[b] = np.empty((b,) + self.file_shape[1:], self.file_dtype)
        raw = dest.reshape(b, -1).view(np.uint8).reshape(-1)
        if _HAS_PREADV:
            self._pread(file_rows, raw)
        else:  # no preadv (Windows): gather from the map
            np.take(self.map.reshape(self.file_shape[0], -1), file_rows, axis=0,
                    out=dest.reshape(b, -1), mode="clip")
        if not direct:
            np.copyto(out.reshape(b, -1), dest.reshape(b, -1), casting="unsafe")
        if self.mean is not None:
            np.subtract(out, self.mean, out=out)
            np.divide(out, self.std, out=out)

    def _pread(self, file_rows: np.ndarray, raw: np.ndarray) -> None:
        """One preadv per run of consecutive rows (a shuffled batch: one per row) into raw bytes."""
        fd, rb, base = self._fd(), self.row_bytes, self.offset
        mv = memoryview(raw)
        b = len(file_rows)
        try:
            if b > 1 and file_rows[-1] - file_rows[0] == b - 1 and bool((np.diff(file_rows) == 1).all()):
                self._read_block(fd, mv, base + int(file_rows[0]) * rb)  # one contiguous block
                return
            breaks = np.flatnonzero(file_rows[1:] != file_rows[:-1] + 1) + 1
            if len(breaks) == b - 1 and rb <= _MAX_READ:  # every row on its own (a shuffled batch)
                preadv, got = os.preadv, 0
                for i, off in enumerate((file_rows * rb + base).tolist()):
                    got += preadv(fd, (mv[i * rb:(i + 1) * rb],), off)
                if got == len(raw):
                    return
            starts = [0, *breaks.tolist()]
            ends = [*starts[1:], b]
            for s, e, off in zip(starts, ends, (file_rows[starts] * rb + base).tolist()):
                self._read_block(fd, mv[s * rb:e * rb], off)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot read ({exc.strerror or exc})") from None

    def _read_block(self, fd: int, mv: memoryview, off: int) -> None:
        """All of mv from byte off, in reads of at most _MAX_READ (Linux returns at most ~2 GiB
        per call); DataError when the file ends first."""
        done = 0
        while done < len(mv):
            n = os.preadv(fd, (mv[done:done + _MAX_READ],), off + done)
            if n == 0:
                raise DataError(f"{self.path}: truncated: the file ended {len(mv) - done} bytes short of the rows "
                                f"read (was it changed or cut short after it was opened?)")
            done += n


# -- opening ------------------------------------------------------------------------------------
def _npy_header(fp, source: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of the .npy header at fp's position; fp is left at the data."""
    try:
        version = np.lib.format.read_magic(fp)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        return read(fp)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{source}: not a valid .npy array ({exc})") from None


def _disk_array(path: Path, offset: int, shape, fortran: bool, dtype: np.dtype, end: int, source: str) -> DiskArray | None:
    """The DiskArray at `offset`, or None when its layout cannot be read by rows (Fortran order)."""
    if dtype.hasobject or dtype.kind not in "biuf":
        what = "pickled (object) data, which nntrain refuses to load" if dtype.hasobject else f"dtype {dtype}"
        raise DataError(f"{source}: holds {what}; save plain numeric arrays")
    if len(shape) == 0:
        raise DataError(f"{source}: x must have a sample axis, got a scalar")
    need = math.prod(shape) * dtype.itemsize
    if offset + need > end:
        raise DataError(f"{source}: truncated: shape {tuple(shape)} of {dtype} needs {need} bytes of data, "
                        f"the file holds {max(0, end - offset)}")
    if fortran and len(shape) > 1 and math.prod(shape[1:]) > 1:
        return None
    return DiskArray(path, offset, tuple(shape), dtype)


def open_npy(path) -> DiskArray | None:
    """The array of an .npy file, read from disk by rows; None for a Fortran-ordered one (load it)."""
    path = Path(path)
    try:
        with open(path, "rb") as fp:
            shape, fortran, dtype = _npy_header(fp, str(path))
            offset = fp.tell()
        end = path.stat().st_size
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _disk_array(path, offset, shape, fortran, dtype, end, str(path))


def open_npz_member(path, key: str) -> DiskArray | None:
    """Array `key` of an .npz archive read from disk by rows, when the archive stores it
    uncompressed (np.savez); None when it is deflated (np.savez_compressed), Fortran-ordered or
    not numeric (loading it then refuses it).

    np.load ignores mmap_mode for .npz, so the member's data is located here: the local file
    header (30 bytes + name + extra field) starts at the member's header_offset, the .npy header
    follows, then the array's bytes.
    """
    path = Path(path)
    source = f"{path} (array {key})"
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(f"{key}.npy")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            return None
        with open(path, "rb") as fp:
            fp.seek(info.header_offset)
            local = fp.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise DataError(f"{source}: damaged .npz (no local header for {key}.npy)")
            name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
            start = info.header_offset + 30 + name_len + extra_len
            fp.seek(start)
            shape, fortran, dtype = _npy_header(fp, source)
            offset = fp.tell()
        if dtype.hasobject or dtype.kind not in "biuf":  # np.load refuses it, with the reader's message
            return None
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"{source}: cannot read NPZ file ({exc})") from None
    return _disk_array(path, offset, shape, fortran, dtype, start + info.file_size, source)


def checked_features(x: DiskArray, dtype, source: str) -> DiskArray:
    """x as features of `dtype`, in one chunked pass: what readers' _as_features and check_finite
    do for an in-memory x (a 1-D x becomes (n, 1); a value too large for dtype, NaN or inf is a
    DataError naming the sample)."""
    if x.ndim == 1:
        x = x.reshape(len(x), 1)
    if 0 in x.shape[1:]:
        raise DataError(f"{source}: x has no features: its shape is {x.shape}; each sample needs at least one value")
    raw = x.astype(x.file_dtype.newbyteorder("="))
    for lo, chunk in raw.chunks():
        converted = narrowed(chunk, dtype, lambda row: f"{source}: features of sample {lo + row}")
        row = first_nonfinite_row(converted)
        if row is not None:
            raise DataError(f"{source}: features of sample {lo + row} contain NaN or inf")
    return x.astype(dtype)


def is_disk_array(x) -> bool:
    return isinstance(x, DiskArray)
