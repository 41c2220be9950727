"""IDX files (the MNIST format, gzip or raw): a magic number, big-endian dims, then the values."""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset, check_finite, float_dtype
from .files import _as_features, _as_targets, _check_file, _is_gzip, _open_binary

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
