"""Image folders, as Keras' `image_dataset_from_directory` reads them: one subfolder per class.

    digits/train/0/a.png, digits/train/1/b.png, ...  ->  x (n, h, w, c) in [0, 1], y (n,) labels

- Classes are the subfolders, in sorted order: label i is the i-th name. A test folder's
  subfolders must be training classes (it may lack some); its labels are the training ones.
- Images are the files under a class folder, at any depth, ending .bmp .gif .jpeg .jpg .png
  (any case); other files are ignored, as are names starting with a dot (.DS_Store, a
  .nntrain-cache). A class folder without an image is an error. Samples are in class order, and
  by path within a class.
- Pillow decodes (imported here only, so the core never needs it). color_mode grayscale
  converts with Pillow's ITU-R 601-2 luma, rgb repeats a grey image's channel; an alpha channel
  is dropped; a 16-bit grey image is scaled to 8 bits (Pillow's own conversion would clip it).
  image_size resizes with Pillow's bilinear filter (antialiased when shrinking); without it, the
  images must all have one size. Pixels are scaled to [0, 1] by `scale_uint8`, exactly as the
  IDX reader scales MNIST.
- The decoded uint8 array of a folder is cached in `cache_dir()`/images, as an .npz holding
  it and the fingerprint of what it was decoded from (every file's path, size and mtime, the
  options, Pillow's version). One file per folder and options, replaced (atomically) when the
  fingerprint changes; a cache that does not load or does not match is rebuilt, never trusted.
  So a fit decodes once, before training, and the next fit (or eval, resume, sweep trial) on
  the same folder decodes nothing. A cache folder that cannot be written only costs the cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset
from .idxfile import scale_uint8
from .npzfile import npz_array

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CHANNELS = {"grayscale": 1, "rgb": 3}
CACHE_VERSION = 1  # bump when what is cached, or how it is decoded, changes
_EXTENSIONS_TEXT = " ".join(IMAGE_EXTENSIONS)


def cache_dir() -> Path:
    """$NNTRAIN_CACHE_DIR, else $XDG_CACHE_HOME/nntrain, else ~/.cache/nntrain."""
    if os.environ.get("NNTRAIN_CACHE_DIR"):
        return Path(os.environ["NNTRAIN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nntrain"


def folder_problem(path: Path) -> str | None:
    """Why `path` cannot be an image folder (missing, a file), or None."""
    if path.is_dir():
        return None
    if path.exists():
        return f"{path} is not a folder; data.images names a folder with one subfolder of images per class"
    return f"folder not found: {path}"


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise DataError("reading an image folder needs Pillow, which is not installed; install the `images` "
                        "extra: pip install 'nntrain[images]'") from None
    return Image


def shape_hint(cfg, have: tuple, want: tuple) -> str:
    """The fix when decoded images of shape `have` (h, w, c) do not fit model.input_shape `want`."""
    if len(want) != 3 or len(have) != 3:
        return ""
    if have[:2] == want[:2] and have[2] != want[2] and want[2] in CHANNELS.values():
        mode = next(m for m, c in CHANNELS.items() if c == want[2])
        return f"; data.images.color_mode {cfg.color_mode} gives {have[2]} channels, {mode} gives {want[2]}"
    if have[:2] != want[:2]:
        return f"; the images are {have[0]}x{have[1]}: set data.images.image_size: {list(want[:2])} to resize them"
    return ""


# -- the listing ----------------------------------------------------------------------------
@dataclass
class Listing:
    """The images of one folder: files[i] (relative to root) has label labels[i]."""

    root: Path
    classes: list[str]
    files: list[str]
    labels: np.ndarray


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _class_images(folder: Path) -> tuple[list[str], int]:
    """(image paths relative to folder's parent, sorted; number of other files ignored)."""
    found, ignored = [], 0
    for here, dirs, names in os.walk(folder, onerror=_raise):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(here).relative_to(folder.parent)
        for name in names:
            if _is_image(name):
                found.append((rel / name).as_posix())
            elif not name.startswith("."):
                ignored += 1
    return sorted(found), ignored


def _raise(exc: OSError):
    raise DataError(f"{exc.filename}: cannot read the folder ({exc.strerror or exc})")


def list_folder(root, classes: list[str] | None = None) -> Listing:
    """The class subfolders of `root` and their images. With `classes` (a training folder's),
    the subfolders must be among them and keep their labels."""
    root = Path(root)
    problem = folder_problem(root)
    if problem:
        raise DataError(problem)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
        subdirs = [e.name for e in entries if not e.name.startswith(".") and e.is_dir()]
    except OSError as exc:
        raise DataError(f"{root}: cannot read the folder ({exc.strerror or exc})") from None
    if not subdirs:
        loose = sum(_is_image(e.name) for e in entries)
        raise DataError(f"{root}: no class subfolders; an image folder holds one subfolder of images per class "
                        f"(e.g. {root / 'cat' / '1.png'}, {root / 'dog' / '2.png'})"
                        + (f"; its {loose} images directly inside need to be put in them" if loose else ""))
    if classes is None:
        classes = subdirs
    else:
        unknown = [c for c in subdirs if c not in classes]
        if unknown:
            raise DataError(f"{root / unknown[0]}: class {unknown[0]!r} is not a training class; valid: "
                            f"{', '.join(classes)} (the test folder's subfolders must be training classes)")
    files, labels = [], []
    for name in subdirs:
        found, ignored = _class_images(root / name)
        if not found:
            raise DataError(f"{root / name}: an empty class folder: no image file ({_EXTENSIONS_TEXT})"
                            + (f", {ignored} files of other types ignored" if ignored else "")
                            + "; add images to it or remove it")
        files += found
        labels += [classes.index(name)] * len(found)
    return Listing(root, list(classes), files, np.asarray(labels, np.int64))


# -- decoding -------------------------------------------------------------------------------
def _pixels(Image, im, color_mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """The image as uint8 (h, w, c), converted to color_mode and resized to size (h, w)."""
    if im.mode.startswith("I"):  # 16-bit (or 32-bit integer) grey: convert("L") would clip at 255
        a = np.clip(np.asarray(im, dtype=np.int64), 0, 65535)
        im = Image.fromarray(((a * 255 + 32767) // 65535).astype(np.uint8))  # round(v * 255 / 65535)
    elif im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")  # what Pillow asks for (it warns otherwise); the alpha is dropped below
    im = im.convert("L" if color_mode == "grayscale" else "RGB")
    if size is not None and im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)  # Pillow sizes are (width, height)
    a = np.asarray(im, dtype=np.uint8)
    return a.reshape(a.shape[0], a.shape[1], -1)


def decode(listing: Listing, image_size=None, color_mode: str = "rgb") -> np.ndarray:
    """uint8 (n, h, w, c) of every image of the listing, decoded by Pillow."""
    from ..nn.layers.base import beyond_memory

    Image = _pillow()
    size = tuple(image_size) if image_size is not None else None
    n, c = len(listing.files), CHANNELS[color_mode]
    x = None
    for i, rel in enumerate(listing.files):
        path = listing.root / rel
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    a = _pixels(Image, im, color_mode, size)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a broken file
            raise DataError(f"{path}: cannot decode the image ({exc}); valid: a readable "
                            f"{'/'.join(e[1:] for e in IMAGE_EXTENSIONS)} file") from None
        if x is None:
            too_big = beyond_memory(n * a.size * 5)  # uint8 + the float32 copy
            if too_big:
                raise DataError(f"{listing.root}: {n} images of {a.shape[0]}x{a.shape[1]}x{c} need {too_big}; "
                                f"set data.images.image_size smaller")
            x, first = np.empty((n,) + a.shape, np.uint8), path
        elif a.shape != x.shape[1:]:
            raise DataError(f"{path}: {a.shape[0]}x{a.shape[1]} pixels (height x width) but {first} has "
                            f"{x.shape[1]}x{x.shape[2]}; the images must have one size, or set "
                            f"data.images.image_size: [height, width] to resize them all")
        x[i] = a
    return x


# -- the cache ------------------------------------------------------------------------------
def _fingerprint(listing: Listing, image_size, color_mode: str, pillow: str) -> str:
    """sha256 of what the decoded array depends on: files (path, size, mtime), options, Pillow."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, pillow, image_size, color_mode, listing.classes]).encode())
    for rel in listing.files:
        try:
            st = os.stat(listing.root / rel)
        except OSError as exc:
            raise DataError(f"{listing.root / rel}: cannot read the image ({exc.strerror or exc})") from None
        h.update(f"\0{rel}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()


def cache_path(root: Path, image_size, color_mode: str) -> Path:
    """The cache file of a folder and options (one each: a changed folder replaces it)."""
    key = json.dumps([str(Path(root).resolve()), image_size, color_mode])
    return cache_dir() / "images" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"


def _load_cache(path: Path, fingerprint: str, n: int, c: int, image_size) -> np.ndarray | None:
    """The cached array if `path` holds one for exactly this fingerprint and shape, else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if sorted(z.files) != ["fingerprint", "x"] or str(z["fingerprint"]) != fingerprint:
                return None
            x = npz_array(z, "x", path)  # the zip's CRC check catches damaged bytes
    except (OSError, ValueError, EOFError, KeyError, DataError, zipfile.BadZipFile, zlib.error):
        return None
    if x.dtype != np.uint8 or x.ndim != 4 or len(x) != n or x.shape[3] != c:
        return None
    if image_size is not None and list(x.shape[1:3]) != list(image_size):
        return None
    return x


def _save_cache(path: Path, fingerprint: str, x: np.ndarray) -> None:
    """Write the cache atomically (a temporary file renamed); a failure only skips the cache."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a name of our own, created with the umask's permissions (mkstemp's would be 0600)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            np.savez(f, fingerprint=np.array(fingerprint), x=x)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _decoded(Image, listing: Listing, image_size, color_mode: str):
    """(uint8 array, a function that caches it or None): from the cache when it matches."""
    fingerprint = _fingerprint(listing, image_size, color_mode, Image.__version__)
    path = cache_path(listing.root, image_size, color_mode)
    raw = _load_cache(path, fingerprint, len(listing.files), CHANNELS[color_mode], image_size)
    if raw is not None:
        return raw, None
    raw = decode(listing, image_size, color_mode)
    return raw, lambda: _save_cache(path, fingerprint, raw)


def _read(roots: list[Path], classes: list[str] | None, image_size, color_mode: str, dtype) -> list[Dataset]:
    """Datasets of image folders; the first one's subfolders are `classes` (or any), the others'
    must be among the first's. Every folder is listed, then decoded, before any cache is
    written, so bad input writes nothing."""
    Image = _pillow()
    listings = [list_folder(roots[0], classes)]
    listings += [list_folder(root, listings[0].classes) for root in roots[1:]]
    decoded = [_decoded(Image, listing, image_size, color_mode) for listing in listings]
    for _, save in decoded:
        if save is not None:
            save()
    return [Dataset(scale_uint8(raw, dtype), listing.labels, listing.classes)
            for listing, (raw, _) in zip(listings, decoded)]


def read_image_folder(root, *, image_size=None, color_mode: str = "rgb", classes: list[str] | None = None,
                      dtype="float32") -> Dataset:
    """A Dataset of an image folder: x (n, h, w, c) in [0, 1], y (n,) labels, classes their names.
    With `classes` (a training folder's), the subfolders must be among them and keep their labels."""
    return _read([Path(root)], classes, image_size, color_mode, dtype)[0]


def list_images(root) -> list[str]:
    """Every image under `root`, at any depth: a flat folder of images, or class subfolders
    (whose names are not used); paths relative to root, in path order (folder by folder, so
    class subfolders come in class order). What `nntrain predict RUN folder/` reads."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder of images" if root.exists() else f"folder not found: {root}")
    found = []
    for here, dirs, names in os.walk(root, onerror=_raise):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(here).relative_to(root)
        found += [(rel / name).as_posix() for name in names if _is_image(name)]
    if not found:
        raise DataError(f"{root}: no image file ({_EXTENSIONS_TEXT}) in the folder or its subfolders")
    return sorted(found, key=lambda f: f.split("/"))


def read_image_files(root, *, image_size=None, color_mode: str = "rgb", dtype="float32") -> tuple[np.ndarray, list[str]]:
    """(x (n, h, w, c) in [0, 1], their paths relative to root) of every image under `root`
    (list_images), decoded as a training folder's images are; not cached: predict reads them once."""
    files = list_images(root)
    raw = decode(Listing(Path(root), [], files, np.zeros(len(files), np.int64)), image_size, color_mode)
    return scale_uint8(raw, dtype), files


def check_model_shape(x: np.ndarray, shape: tuple, root, image_size) -> None:
    """DataError unless images x (n, h, w, c) of `root` are exactly the model's input `shape`
    (no reshape: 14x56 images are not 28x28 ones), for predict and eval on a folder."""
    if tuple(x.shape[1:]) != tuple(shape):
        fix = "" if image_size is not None else " (the run has no data.images.image_size, so images must have the training size)"
        raise DataError(f"{root}: the images are {'x'.join(map(str, x.shape[1:]))} (height x width x channels) but the "
                        f"model takes {'x'.join(map(str, shape))}{fix}")


def read_image_folders(cfg, dtype="float32") -> tuple[Dataset, Dataset | None]:
    """(train, test) of a `data.images` section (train, test, image_size, color_mode)."""
    roots = [Path(cfg.train)] + ([Path(cfg.test)] if cfg.test is not None else [])
    out = _read(roots, None, cfg.image_size, cfg.color_mode, dtype)
    return out[0], out[1] if len(out) > 1 else None
