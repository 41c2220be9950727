"""NPZ archives (arrays x and y, optional w, or x_<name> per model input) and folders of
x.npy and y.npy (`nntrain data convert`); pickled arrays are refused."""
from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset
from .files import _check_file, _xy_dataset, file_problem
from .ondisk import open_npy, open_npz_member


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
