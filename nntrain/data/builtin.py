"""Built-in datasets, registered in `DATASETS`; each returns (train, test) Datasets.

`nntrain list datasets` shows the first docstring line and the `Args:` block of each.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..nn.registry import Registry
from .dataset import Dataset
from .idxfile import read_idx, scale_uint8

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DATASETS = Registry("dataset", key="name")

# the folder holding `nntrain/`: a source checkout ships datasets/ next to it
REPO_ROOT = Path(__file__).resolve().parents[2]


def _mnist_candidates() -> list[Path]:
    out = []
    env = os.environ.get("NNTRAIN_DATASETS")
    if env:
        out.append(Path(env) / "mnist")
    out += [REPO_ROOT / "datasets" / "mnist", Path.cwd() / "datasets" / "mnist"]
    return out


def _find_file(root: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def _mnist_split(root: Path, images: str, labels: str) -> Dataset:
    paths = [_find_file(root, stem) for stem in (images, labels)]
    missing = [stem + ".gz" for stem, p in zip((images, labels), paths) if p is None]
    if missing:
        raise DataError(f"MNIST folder {root} lacks {', '.join(missing)}")
    raw, labels_raw = read_idx(paths[0]), read_idx(paths[1])
    if raw.dtype != np.uint8 or raw.ndim != 3 or raw.shape[1:] != (28, 28):
        raise DataError(f"{paths[0]}: expected uint8 images (n, 28, 28), got {raw.dtype} {raw.shape}")
    if labels_raw.shape != (len(raw),) or labels_raw.dtype != np.uint8 or labels_raw.max(initial=0) > 9:
        raise DataError(f"{paths[1]}: expected {len(raw)} uint8 labels 0-9, got {labels_raw.dtype} {labels_raw.shape}")
    return Dataset(scale_uint8(raw), labels_raw.astype(np.int64))


@DATASETS.register("mnist")
def mnist(root: str | None = None) -> tuple[Dataset, Dataset]:
    """Handwritten digits 0-9: 60,000 train and 10,000 test 28x28 grey images in [0, 1].

    x: (n, 28, 28) float32, y: (n,) int64. Read from gzipped IDX files; the repository ships
    them in datasets/mnist.

    Args:
        root: folder with the four IDX files, or its parent (default: $NNTRAIN_DATASETS/mnist, then the
            repository's datasets/mnist, then ./datasets/mnist)
    """
    if root is not None:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise DataError(f"MNIST folder {folder} not found")
        if _find_file(folder, MNIST_FILES["train"][0]) is None and (folder / "mnist").is_dir():
            folder = folder / "mnist"  # root named the datasets folder, like $NNTRAIN_DATASETS
    else:
        candidates = _mnist_candidates()
        folder = next((c for c in candidates if c.is_dir()), None)
        if folder is None:
            raise DataError(
                "MNIST files not found; looked in " + ", ".join(map(str, candidates))
                + " (set NNTRAIN_DATASETS or data.options.root to a folder holding mnist/)"
            )
    return tuple(_mnist_split(folder, *MNIST_FILES[s]) for s in ("train", "test"))


def validated_by(check):
    """Attach `check(**options)` (raises ValueError) to a dataset as `.validate`: config loading
    calls it, so `nntrain check` refuses a bad option at its file:line without drawing any data."""

    def attach(dataset):
        dataset.validate = check
        return dataset

    return attach


def _xy(x: np.ndarray, y: np.ndarray) -> Dataset:
    return Dataset(np.ascontiguousarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64))


def _xor_options(repeat: int = 1) -> None:
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be an integer >= 1, got {repeat!r}")
    _check_memory(4 * repeat, 3, f"repeat={repeat}")


@DATASETS.register("xor")
@validated_by(_xor_options)
def xor(repeat: int = 1) -> tuple[Dataset, Dataset]:
    """The XOR truth table: 2 binary features, label 1 when exactly one is 1.

    Args:
        repeat: how many copies of the 4 points form the training set (the test set is the 4 points)
    """
    _xor_options(repeat)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    return _xy(np.tile(x, (repeat, 1)), np.tile(y, repeat)), _xy(x.copy(), y)


def _check_memory(n: int, values: int, option: str) -> None:
    """ValueError when n samples of `values` numbers (drawn in float64, then the float32 copy)
    would not fit in this machine's memory: an absurd option would die in MemoryError."""
    from ..nn.layers.base import beyond_memory

    too_big = beyond_memory(n * values * (8 + 4))
    if too_big:
        raise ValueError(f"{option} makes {n:,} samples, about {too_big}")


def _spiral_draw(n: int, classes: int, noise: float, rng: np.random.Generator) -> Dataset:
    # CS231n (cs231n.github.io/neural-networks-case-study): arm j has radius 0..1 and angle
    # 4j..4(j+1) plus Gaussian noise; a remainder goes to the first arms
    counts = [n // classes + (j < n % classes) for j in range(classes)]
    xs, ys = [], []
    for j, m in enumerate(counts):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * j, 4.0 * (j + 1), m) + rng.standard_normal(m) * noise
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, j))
    return _xy(np.concatenate(xs), np.concatenate(ys))


def _sampling_options(n_samples: int = 512, noise: float = 0.05, seed: int = 0) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 4:
        raise ValueError(f"n_samples must be an integer >= 4, got {n_samples!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < float("inf"):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    # numpy seeds are non-negative integers; the test draw uses seed + 1
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    _check_memory(n_samples, 3, f"n_samples={n_samples}")


def _spirals_options(n_samples: int = 600, classes: int = 3, noise: float = 0.2, seed: int = 0) -> None:
    _sampling_options(n_samples, noise, seed)
    if isinstance(classes, bool) or not isinstance(classes, int) or not 2 <= classes <= n_samples // 4:
        raise ValueError(f"classes must be an integer from 2 to n_samples // 4, got {classes!r}")


@DATASETS.register("spirals")
@validated_by(_spirals_options)
def spirals(n_samples: int = 600, classes: int = 3, noise: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Interleaved spiral arms in 2-D (CS231n), one class per arm: not linearly separable.

    x: (n, 2) float32, y: (n,) int64. The test set is a separate draw of n_samples // 4.

    Args:
        n_samples: training points, split evenly over the arms
        classes: number of arms (classes)
        noise: standard deviation of the angle noise (radians)
        seed: seed of the training draw (the test draw uses seed + 1)
    """
    _spirals_options(n_samples, classes, noise, seed)
    train = _spiral_draw(n_samples, classes, noise, np.random.default_rng(seed))
    test = _spiral_draw(n_samples // 4, classes, noise, np.random.default_rng(seed + 1))
    return train, test


def _sine_draw(n: int, noise: float, rng: np.random.Generator) -> Dataset:
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    y = np.sin(x) + noise * rng.standard_normal((n, 1))
    return Dataset(x.astype(np.float32), y.astype(np.float32))


@DATASETS.register("sine")
@validated_by(_sampling_options)
def sine(n_samples: int = 512, noise: float = 0.05, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Regression of y = sin(x) + Gaussian noise for x uniform in [-pi, pi].

    x: (n, 1) float32, y: (n, 1) float32. The test set is a separate draw of n_samples // 4.

    Args:
        n_samples: training points
        noise: standard deviation of the noise added to sin(x)
        seed: seed of the training draw (the test draw uses seed + 1)
    """
    _sampling_options(n_samples, noise, seed)
    return (
        _sine_draw(n_samples, noise, np.random.default_rng(seed)),
        _sine_draw(n_samples // 4, noise, np.random.default_rng(seed + 1)),
    )
