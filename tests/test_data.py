"""nntrain.data: readers, built-in datasets, splits, standardization and the batch iterator."""
from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntrain.data import (
    DATASETS,
    BatchIterator,
    Dataset,
    apply_standardize,
    builtin,
    load_splits,
    mnist,
    read_csv,
    read_file,
    read_idx,
    read_npz,
    sine,
    spirals,
    xor,
)
from nntrain.errors import ConfigError, DataError

IDX_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def idx_bytes(arr: np.ndarray, dtype: str = "u1") -> bytes:
    """An IDX file's bytes, built by hand from the format description."""
    header = bytes([0, 0, IDX_CODES[dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=dtype).tobytes()


def write_idx(path, arr, dtype="u1", gz=None):
    data = idx_bytes(arr, dtype)
    gz = str(path).endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@dataclass
class DataCfg:
    """Stands in for the dataclass config.py makes from the `data:` section."""

    name: str | None = None
    options: dict = field(default_factory=dict)
    train: str | None = None
    test: str | None = None
    target: str | int | None = None
    validation_split: float = 0.0
    standardize: bool = False
    limit: int | None = None


# ---------------------------------------------------------------- IDX


@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("name", ["a-idx3-ubyte.gz", "a-idx3-ubyte"])
def test_read_idx_round_trip(tmp_path, dtype, name):
    arr = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4)
    if dtype == "u1":
        arr = arr + 5
    out = read_idx(write_idx(tmp_path / name, arr, dtype))
    assert out.shape == (2, 3, 4)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    assert out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_read_idx_detects_gzip_by_content(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(7))))
    np.testing.assert_array_equal(read_idx(path), np.arange(7))


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "not an IDX file.*0 bytes"),
        (b"\x00\x00", "not an IDX file"),
        (b"\x1f\x00\x08\x01" + struct.pack(">I", 3) + b"abc", "magic number 0x1f000801"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 3) + b"abc", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 3), "truncated IDX header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"abc", "truncated IDX file.*need 5 bytes"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"abc", "bytes after"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_refuses_bad_files(tmp_path, data, match, gz):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_refuses_truncated_gzip_and_huge_dims(tmp_path):
    path = tmp_path / "t-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 28, 28))))[:-200])
    with pytest.raises(DataError, match="t-idx3-ubyte.gz"):
        read_idx(path)
    # a header claiming 4 GB in a tiny file is refused before anything is allocated
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x02" + struct.pack(">II", 65536, 65536)))
    with pytest.raises(DataError, match="truncated IDX file"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found: .*nope.idx"):
        read_idx(tmp_path / "nope.idx")


def test_read_file_idx_pair_scales_uint8(tmp_path):
    images = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2) * 21
    write_idx(tmp_path / "s-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "s-labels-idx1-ubyte", np.array([2, 0, 1]))  # raw labels next to gz images
    ds = read_file(tmp_path / "s-images-idx3-ubyte.gz")
    assert ds.x.dtype == np.float32 and ds.x.shape == (3, 2, 2)
    np.testing.assert_allclose(ds.x, images / 255.0, rtol=1e-6)
    assert ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, [2, 0, 1])


def test_read_file_idx_labels_missing(tmp_path):
    write_idx(tmp_path / "s-images-idx3-ubyte.gz", np.zeros((3, 2, 2)))
    with pytest.raises(DataError, match="labels file .*s-labels-idx1-ubyte.gz not found"):
        read_file(tmp_path / "s-images-idx3-ubyte.gz")
    write_idx(tmp_path / "other.idx", np.zeros((3, 2, 2)))
    with pytest.raises(DataError, match="'images-idx3'"):
        read_file(tmp_path / "other.idx")


def test_read_file_idx_length_mismatch_and_nan(tmp_path):
    write_idx(tmp_path / "s-images-idx3-ubyte", np.zeros((3, 2)))
    write_idx(tmp_path / "s-labels-idx1-ubyte", np.zeros(4))
    with pytest.raises(DataError, match="3 samples but .* 4 labels"):
        read_file(tmp_path / "s-images-idx3-ubyte")
    x = np.zeros((4, 2))
    x[2, 1] = np.nan
    write_idx(tmp_path / "s-images-idx3-ubyte", x, ">f4")
    with pytest.raises(DataError, match="s-images-idx3-ubyte: features of sample 2 contain NaN"):
        read_file(tmp_path / "s-images-idx3-ubyte")


def test_read_file_unknown_format(tmp_path):
    (tmp_path / "data.parquet").write_bytes(b"x")
    with pytest.raises(DataError, match="data.parquet: unknown data format"):
        read_file(tmp_path / "data.parquet")


# ---------------------------------------------------------------- CSV


def write_text(path, text):
    path.write_text(text)
    return path


def test_read_csv_round_trip(tmp_path):
    path = write_text(tmp_path / "d.csv", "a, b ,label\n1,2.5,0\n\n-3,4e1,1\n5,6,2\n")
    ds = read_csv(path)
    assert ds.x.dtype == np.float32 and ds.x.shape == (3, 2)
    np.testing.assert_array_equal(ds.x, [[1, 2.5], [-3, 40], [5, 6]])
    assert ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, [0, 1, 2])
    assert len(ds) == 3


@pytest.mark.parametrize("target, col", [("a", 0), (0, 0), ("b", 1), (-2, 1), (None, 2), (2, 2)])
def test_read_csv_target_column(tmp_path, target, col):
    table = np.array([[1, 2.5, 3], [4, 5.5, 6]])
    path = write_text(tmp_path / "d.csv", "a,b,c\n1,2.5,3\n4,5.5,6\n")
    ds = read_csv(path, target=target)
    np.testing.assert_array_equal(ds.y, table[:, col])
    np.testing.assert_array_equal(ds.x, np.delete(table, col, axis=1))
    assert ds.y.dtype == (np.float32 if col == 1 else np.int64)


def test_read_csv_float64_and_gzip(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b"x,y\n0.1,0.5\n0.2,1.5\n"))
    ds = read_file(path, dtype="float64")
    assert ds.x.dtype == np.float64 and ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.x[:, 0], [0.1, 0.2])


@pytest.mark.parametrize(
    "text, kwargs, match",
    [
        ("", {}, "d.csv: empty CSV file"),
        ("\n\n", {}, "d.csv: empty CSV file"),
        ("a,b\n", {}, "d.csv: CSV file has a header but no data rows"),
        ("a,b\n1,2\n3\n", {}, "d.csv line 3: 1 fields, expected 2"),
        ("a,b\n1,2\n\n3,4,5\n", {}, "d.csv line 4: 3 fields"),
        ("a,b,c\n1,2,3\n4,five,6\n", {}, "d.csv line 3, column 'b': 'five' is not a number"),
        ("a,b,c\n1,,3\n", {}, "d.csv line 2, column 'b': '' is not a number"),
        ("age,income,label\n1,2,3\n", {"target": "lable"}, "no column 'lable' .did you mean 'label'.*columns: age"),
        ("a,b\n1,2\n", {"target": 2}, "index 2 is out of range for 2 columns"),
        ("a,b\n1,2\n", {"target": -3}, "index -3 is out of range"),
        ("a,b,c\n1,2,3\n4,nan,6\n", {}, "d.csv line 3: features contain NaN or inf"),
        ("a,b,c\n1,2,3\n4,5,inf\n", {}, "d.csv line 3: target 'c' contain NaN or inf"),
        ("1,2,3\n4,5,6\n", {}, "d.csv: the first line .* looks like data; .* header row"),
        ("label\n1\n", {}, "no feature columns"),
    ],
)
def test_read_csv_errors(tmp_path, text, kwargs, match):
    path = write_text(tmp_path / "d.csv", text)
    with pytest.raises(DataError, match=match):
        read_csv(path, **kwargs)


def test_read_csv_names_the_earliest_bad_cell(tmp_path):
    path = write_text(tmp_path / "d.csv", "a,b,c\n1,2,3\n4,x,6\ny,5,6\n")
    with pytest.raises(DataError, match="line 3, column 'b': 'x'"):
        read_csv(path)


def test_read_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found: .*missing.csv"):
        read_file(tmp_path / "missing.csv")


# ---------------------------------------------------------------- NPZ


def test_read_npz_round_trip(tmp_path):
    x = np.arange(24, dtype=np.float64).reshape(4, 2, 3)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([1, 0, 1, 1], dtype=np.uint8), extra=np.zeros(2))
    ds = read_file(tmp_path / "d.npz")
    assert ds.x.dtype == np.float32 and ds.x.shape == (4, 2, 3)
    np.testing.assert_array_equal(ds.x, x)
    assert ds.y.dtype == np.int64
    np.savez(tmp_path / "r.npz", x=np.arange(3.0), y=np.ones((3, 2)))
    ds = read_npz(tmp_path / "r.npz")
    assert ds.x.shape == (3, 1) and ds.y.shape == (3, 2) and ds.y.dtype == np.float32


def test_read_npz_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object), y=np.zeros(2))
    with pytest.raises(DataError, match="evil.npz: holds pickled"):
        read_npz(path)
    npy = tmp_path / "evil.npy"
    npy.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(DataError, match="evil.npy: holds pickled"):
        read_npz(npy)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"features": np.zeros((2, 2)), "y": np.zeros(2)}, "no array 'x'; arrays present: features, y"),
        ({"a": np.zeros(2)}, "no array 'x' or 'y'; arrays present: a"),
        ({"x": np.zeros((3, 2)), "y": np.zeros(2)}, "x has 3 samples but y has 2"),
        ({"x": np.array([[1.0, np.inf]]), "y": np.zeros(1)}, "features of sample 0 contain NaN or inf"),
        ({"x": np.array(["a", "b"]), "y": np.zeros(2)}, "x must be numeric"),
    ],
)
def test_read_npz_errors(tmp_path, arrays, match):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=match) as info:
        read_npz(path)
    assert str(path) in str(info.value)


def test_read_npz_not_an_archive(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(DataError, match="a.npy: a single .npy array"):
        read_npz(tmp_path / "a.npy")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="junk.npz: cannot read NPZ"):
        read_npz(tmp_path / "junk.npz")


# ---------------------------------------------------------------- built-in datasets


@pytest.fixture(scope="module")
def mnist_sets():
    return mnist()


def test_mnist_shapes_dtypes_range(mnist_sets):
    train, test = mnist_sets
    assert train.x.shape == (60000, 28, 28) and test.x.shape == (10000, 28, 28)
    assert train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert train.x.min() == 0.0 and train.x.max() == 1.0
    assert set(np.unique(train.y)) == set(range(10)) and set(np.unique(test.y)) == set(range(10))
    np.testing.assert_array_equal(train.y[:5], [5, 0, 4, 1, 9])  # the well-known first labels


def fake_mnist(folder, n=5):
    folder.mkdir(parents=True)
    for split, m in (("train", n), ("t10k", 2)):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", np.full((m, 28, 28), 255))
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(m) % 10)


def test_mnist_root_search(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "env" / "mnist")
    monkeypatch.setenv("NNTRAIN_DATASETS", str(tmp_path / "env"))
    train, test = mnist()
    assert train.x.shape == (5, 28, 28) and len(test) == 2 and train.x.max() == 1.0

    monkeypatch.setenv("NNTRAIN_DATASETS", str(tmp_path / "nowhere"))
    monkeypatch.setattr(builtin, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="MNIST files not found; looked in .*nowhere/mnist, .*repo/datasets/mnist"):
        mnist()
    with pytest.raises(DataError, match="MNIST folder .*nowhere not found"):
        mnist(root=str(tmp_path / "nowhere"))
    assert len(mnist(root=str(tmp_path / "env"))[0]) == 5  # the parent of mnist/ works too
    (tmp_path / "half").mkdir()
    write_idx(tmp_path / "half" / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28)))
    with pytest.raises(DataError, match="lacks train-labels-idx1-ubyte.gz"):
        mnist(root=str(tmp_path / "half"))


def test_xor():
    train, test = xor(repeat=3)
    assert train.x.shape == (12, 2) and train.x.dtype == np.float32 and train.y.dtype == np.int64
    np.testing.assert_array_equal(test.x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(test.y, [0, 1, 1, 0])
    np.testing.assert_array_equal(train.y, np.tile(test.y, 3))
    with pytest.raises(ValueError, match="repeat"):
        xor(repeat=0)


def test_spirals():
    train, test = spirals(n_samples=301, classes=3, seed=4)
    assert train.x.shape == (301, 2) and train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert np.bincount(train.y).tolist() == [101, 100, 100]
    assert len(test) == 75
    assert np.abs(train.x).max() <= 1.0
    again, _ = spirals(n_samples=301, classes=3, seed=4)
    np.testing.assert_array_equal(train.x, again.x)
    assert not np.array_equal(spirals(seed=0)[0].x, spirals(seed=1)[0].x)


def test_sine():
    train, test = sine(n_samples=400, noise=0.0)
    assert train.x.shape == (400, 1) and train.y.shape == (400, 1) and len(test) == 100
    assert train.x.dtype == np.float32 and train.y.dtype == np.float32
    assert np.abs(train.x).max() <= np.pi
    np.testing.assert_allclose(train.y, np.sin(train.x), atol=1e-6)


@pytest.mark.parametrize("name", ["mnist", "xor", "spirals", "sine"])
def test_builtins_documented(name):
    assert DATASETS.summary(name)
    assert all(p.doc for p in DATASETS.params(name))


# ---------------------------------------------------------------- load_splits


def indexed_npz(path, n=50, features=3):
    """x[i] = [i, i, ...] so that every sample says which one it is."""
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None], features, axis=1)
    np.savez(path, x=x, y=np.arange(n) % 2)
    return str(path)


def test_validation_split_seeded_disjoint_covering(tmp_path):
    cfg = DataCfg(train=indexed_npz(tmp_path / "d.npz"), validation_split=0.2)
    a = load_splits(cfg, seed=3)
    assert len(a.train) == 40 and len(a.val) == 10 and a.test is None
    ids_train, ids_val = a.train.x[:, 0], a.val.x[:, 0]
    assert not set(ids_train) & set(ids_val)
    assert sorted(np.concatenate([ids_train, ids_val])) == list(range(50))
    np.testing.assert_array_equal(a.val.y, ids_val.astype(int) % 2)  # x and y stay paired
    b = load_splits(cfg, seed=3)
    np.testing.assert_array_equal(a.val.x, b.val.x)
    c = load_splits(cfg, seed=4)
    assert not np.array_equal(a.val.x, c.val.x)
    assert load_splits(DataCfg(train=cfg.train)).val is None


def test_validation_split_too_small(tmp_path):
    cfg = DataCfg(train=indexed_npz(tmp_path / "d.npz", n=3), validation_split=0.1)
    with pytest.raises(DataError, match="validation_split 0.1 of 3 training samples"):
        load_splits(cfg)


def test_limit(tmp_path):
    cfg = DataCfg(train=indexed_npz(tmp_path / "a.npz"), test=indexed_npz(tmp_path / "b.npz", n=20), limit=7)
    s = load_splits(cfg)
    assert len(s.train) == 7 and len(s.test) == 7
    np.testing.assert_array_equal(s.train.x[:, 0], np.arange(7))
    s = load_splits(DataCfg(name="xor", options={"repeat": 10}, limit=30, validation_split=0.1))
    assert len(s.train) + len(s.val) == 30 and len(s.test) == 4


def test_standardize_uses_train_stats_only(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tr.npz", x=rng.normal(5, 2, (200, 3)).astype(np.float32), y=np.zeros(200, int))
    np.savez(tmp_path / "te.npz", x=rng.normal(-5, 9, (50, 3)).astype(np.float32), y=np.zeros(50, int))
    raw_test = read_npz(tmp_path / "te.npz").x
    cfg = DataCfg(train=str(tmp_path / "tr.npz"), test=str(tmp_path / "te.npz"), validation_split=0.25, standardize=True)
    s = load_splits(cfg, seed=1)
    raw_train = load_splits(DataCfg(train=cfg.train, validation_split=0.25), seed=1).train.x
    np.testing.assert_allclose(s.mean, raw_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(s.std, raw_train.std(axis=0), rtol=1e-5)
    assert s.mean.dtype == np.float32 and s.train.x.dtype == np.float32
    np.testing.assert_allclose(s.train.x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(s.train.x.std(axis=0), 1, rtol=1e-4)
    assert abs(s.val.x.mean()) > 0 and abs(s.val.x.mean()) < 0.5
    np.testing.assert_allclose(s.test.x, (raw_test - s.mean) / s.std, rtol=1e-5)
    np.testing.assert_allclose(apply_standardize(raw_test, s.mean, s.std), s.test.x)
    assert load_splits(DataCfg(train=cfg.train)).mean is None


def test_standardize_constant_feature_and_reshaped_stats():
    x = np.array([[1.0, 2.0], [1.0, 4.0]], dtype=np.float32)
    out = apply_standardize(x, np.array([[1.0, 3.0]]), np.array([[1.0, 1.0]]))
    np.testing.assert_array_equal(out, [[0, -1], [0, 1]])
    assert out is not x and x[0, 1] == 2.0
    with pytest.raises(DataError, match="feature shape"):
        apply_standardize(x, np.zeros(3), np.ones(3))
    s = load_splits(DataCfg(name="xor", standardize=True, options={"repeat": 2}))
    assert np.isfinite(s.train.x).all()


def test_input_shape_reshape_and_mismatch(tmp_path):
    x = np.zeros((4, 28, 28), np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros(4, int))
    np.savez(tmp_path / "t.npz", x=np.zeros((2, 784), np.float32), y=np.zeros(2, int))
    s = load_splits(DataCfg(train=str(tmp_path / "d.npz"), test=str(tmp_path / "t.npz")), input_shape=[784])
    assert s.train.x.shape == (4, 784) and s.test.x.shape == (2, 784)
    with pytest.raises(DataError, match=r"data has feature shape \(28, 28\) \(784 values\) but model.input_shape is \[100\] \(100 values\)"):
        load_splits(DataCfg(train=str(tmp_path / "d.npz")), input_shape=(100,))
    np.savez(tmp_path / "t.npz", x=np.zeros((2, 5)), y=np.zeros(2, int))
    with pytest.raises(DataError, match=r"test data .*t.npz has feature shape \(5,\) .* training data has \(784,\)"):
        load_splits(DataCfg(train=str(tmp_path / "d.npz"), test=str(tmp_path / "t.npz")), input_shape=[784])


def test_reshape_is_a_view():
    s = load_splits(DataCfg(name="spirals", options={"n_samples": 40}), input_shape=(2, 1))
    assert s.train.x.shape == (40, 2, 1) and s.train.x.base is not None


def test_load_splits_csv_and_dtype(tmp_path):
    write_text(tmp_path / "tr.csv", "f,t\n0.5,1.5\n1,2\n")
    write_text(tmp_path / "te.csv", "f,t\n3,4\n")
    s = load_splits(DataCfg(train=str(tmp_path / "tr.csv"), test=str(tmp_path / "te.csv"), target="t"), dtype="float64")
    assert s.train.x.dtype == np.float64 and s.train.y.dtype == np.float64
    assert s.test.y.dtype == np.float64  # integral test targets follow the regression train targets
    s = load_splits(DataCfg(name="sine"))
    assert s.train.x.dtype == np.float32 and s.train.y.dtype == np.float32


def test_load_splits_config_errors(tmp_path):
    with pytest.raises(DataError, match="mutually exclusive"):
        load_splits(DataCfg(name="xor", train=str(tmp_path / "a.csv")))
    with pytest.raises(DataError, match="built-in dataset name .*mnist.* or a train file"):
        load_splits(DataCfg())
    with pytest.raises(ConfigError, match="has no parameter 'repaet'.*did you mean 'repeat'"):
        load_splits(DataCfg(name="xor", options={"repaet": 2}))
    with pytest.raises(ConfigError, match="unknown dataset 'mnsit'.*did you mean 'mnist'"):
        load_splits(DataCfg(name="mnsit"))
    with pytest.raises(ConfigError, match="repeat must be"):
        load_splits(DataCfg(name="xor", options={"repeat": -1}))
    with pytest.raises(DataError, match="limit must be"):
        load_splits(DataCfg(name="xor", limit=0))


# ---------------------------------------------------------------- BatchIterator


def counting_set(n, features=(3,)):
    x = np.broadcast_to(np.arange(n, dtype=np.float32).reshape((n,) + (1,) * len(features)), (n,) + features).copy()
    return Dataset(x, np.arange(n, dtype=np.int64))


def test_batches_cover_each_sample_once_with_partial_last():
    it = BatchIterator(counting_set(10), batch_size=4)
    assert len(it) == 3
    seen, sizes = [], []
    for xb, yb, _ in it.batches(it.order(np.random.default_rng(0))):
        np.testing.assert_array_equal(xb[:, 0], yb)  # rows stay paired
        seen += yb.tolist()
        sizes.append(len(xb))
    assert sizes == [4, 4, 2] and sorted(seen) == list(range(10))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), shuffle=st.booleans(), seed=st.integers(0, 9))
def test_batches_property(n, batch_size, shuffle, seed):
    it = BatchIterator(counting_set(n, (2, 2)), batch_size=batch_size, shuffle=shuffle)
    order = it.order(np.random.default_rng(seed))
    got = [yb.copy() for _, yb, _ in it.batches(order)]
    assert len(got) == len(it) == -(-n // min(batch_size, n))
    np.testing.assert_array_equal(np.concatenate(got), order)
    assert sorted(np.concatenate(got).tolist()) == list(range(n))


def test_same_seed_same_order_and_start_skips():
    it = BatchIterator(counting_set(20), batch_size=6)
    a = [yb.copy() for _, yb, _ in it.batches(it.order(np.random.default_rng(7)))]
    b = [yb.copy() for _, yb, _ in it.batches(it.order(np.random.default_rng(7)))]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    rest = [yb.copy() for _, yb, _ in it.batches(it.order(np.random.default_rng(7)), start=2)]
    assert len(rest) == 2
    np.testing.assert_array_equal(rest[0], a[2])
    np.testing.assert_array_equal(rest[1], a[3])
    assert list(it.batches(it.order(np.random.default_rng(7)), start=len(it))) == []


def test_buffers_are_reused():
    it = BatchIterator(counting_set(10), batch_size=4)
    ids = [(id(xb), id(yb)) for xb, yb, _ in it.batches(it.order(np.random.default_rng(0)))]
    assert ids[0] == ids[1] and ids[2] != ids[0]  # one full-size pair, one partial pair
    again = [(id(xb), id(yb)) for xb, yb, _ in it.batches(it.order(np.random.default_rng(1)))]
    assert again == ids


def test_unshuffled_batches_are_views():
    ds = counting_set(10)
    it = BatchIterator(ds, batch_size=10, shuffle=False)
    ((xb, yb, wb),) = it.batches(it.order(np.random.default_rng(0)))
    assert xb is ds.x and yb is ds.y and wb is None
    it = BatchIterator(ds, batch_size=50, shuffle=False)
    assert len(it) == 1
    it = BatchIterator(ds, batch_size=3, shuffle=False)
    xb, _, _ = next(it.batches(it.order(np.random.default_rng(0))))
    assert np.shares_memory(xb, ds.x)


def test_sample_weights_are_gathered_with_their_rows():
    ds = counting_set(10)
    ds = Dataset(ds.x, ds.y, w=np.arange(10, dtype=np.float32) * 0.5)
    for shuffle in (True, False):
        it = BatchIterator(ds, batch_size=4, shuffle=shuffle)
        ids = []
        for _ in range(2):
            for xb, yb, wb in it.batches(it.order(np.random.default_rng(3))):
                np.testing.assert_array_equal(wb, yb * 0.5)  # rows stay paired
                ids.append(id(wb))
        if shuffle:  # gathered into one full-size buffer and one partial one, reused
            assert ids[:3] == ids[3:] and ids[0] == ids[1] != ids[2]


def test_batch_iterator_errors():
    with pytest.raises(DataError, match="batch_size"):
        BatchIterator(counting_set(3), batch_size=0)
    it = BatchIterator(counting_set(3), batch_size=2)
    with pytest.raises(ValueError, match="order"):
        next(it.batches(np.arange(4)))
    with pytest.raises(ValueError, match="outside"):
        next(it.batches(np.array([0, 1, 3])))


def test_an_idx_header_declaring_more_than_memory_is_refused_before_allocating(tmp_path):
    """A gzip IDX file may declare ~1000x its size; one whose images (with the float32 copy that
    training makes) exceed this machine's memory is a DataError with the numbers, read from the
    header alone. The file is sized from the machine's memory so that the check, not the
    truncation check, is what stops it."""
    import gzip
    import os
    import struct

    from nntrain.nn.layers.base import machine_memory

    n = machine_memory() // 4 // 784 + 1  # uint8 28x28 images: array + float32 copy = 1.25x memory
    with gzip.open(tmp_path / "big-images-idx3-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(b"\x00\x00\x08\x03" + struct.pack(">3I", n, 28, 28) + os.urandom(n * 784 // 1000 + 1))
    with pytest.raises(DataError, match=rf"IDX header declares dims \({n}, 28, 28\) of uint8, which with their "
                                        r"float32 copy need [\d,.]+ GiB, more than this machine's"):
        read_idx(tmp_path / "big-images-idx3-ubyte.gz")
