"""Data bigger than memory: x read from disk by batches (data/ondisk.py) trains, validates,
standardizes and resumes exactly as the same data in memory; `nntrain data convert` writes it.
(Memory use is measured by benchmarks/mmap.py, not here.)"""
from __future__ import annotations

import gzip
import json
import signal

import numpy as np
import pytest

from nntrain import api, runs
from nntrain.config import load_config
from nntrain.data import load_splits
from nntrain.data.convert import convert_csv
from nntrain.data.ondisk import DiskArray, open_npy, open_npz_member
from nntrain.data.readers import read_csv, read_file
from nntrain.errors import DataError, Interrupted
from nntrain.train import checkpoint
from nntrain.train.trainer import Trainer

CONFIG = """\
seed: 3
data: {{train: {train}, mmap: {mmap}, validation_split: 0.2, standardize: true}}
model:
  layers:
    - {{type: dense, units: 16, activation: relu}}
    - {{type: dense, units: 3, activation: softmax}}
loss: sparse_categorical_crossentropy
optimizer: {{type: adam, lr: 0.01}}
metrics: [accuracy]
train: {{epochs: 2, batch_size: 16}}
"""


def make_xy(n=600, k=12, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, k)) * 5 + 3).astype(dtype)
    y = (x[:, 0] > 3).astype(np.int64) + (x[:, 1] > 5)
    return x, y


@pytest.fixture
def folder(tmp_path):
    """A folder of x.npy (float64: converted to float32 per batch) and y.npy."""
    x, y = make_xy()
    d = tmp_path / "arrays"
    d.mkdir()
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    return d


def fit(tmp_path, train, mmap, name, overrides=()):
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(CONFIG.format(train=train, mmap=mmap))
    api.fit(load_config(cfg, list(overrides)), run_dir=tmp_path / name)
    return runs.read_npz(tmp_path / name / runs.WEIGHTS)


def same(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def test_a_folder_of_npy_stays_on_disk(folder):
    ds = read_file(folder)
    assert isinstance(ds.x, DiskArray) and ds.x.dtype == np.float32 and ds.x.shape == (600, 12)
    # nothing of the set's size is held: no array attribute, and the map is the file itself
    assert not any(isinstance(v, np.ndarray) and v.size >= 600 for v in vars(ds.x).values())
    m = ds.x.map
    assert isinstance(m, np.memmap) and str(m.filename) == str((folder / "x.npy").resolve())
    assert np.array_equal(ds.x[:], np.load(folder / "x.npy").astype(np.float32))
    loaded = read_file(folder, mmap=False)
    assert type(loaded.x) is np.ndarray and np.array_equal(loaded.x, ds.x[:])


def test_splits_on_disk_give_the_numbers_of_memory(folder):
    class Data:
        train, validation_split, standardize = str(folder), 0.25, True

    on_disk, in_memory = Data(), Data()
    on_disk.mmap, in_memory.mmap = True, False
    a, b = load_splits(on_disk, seed=5), load_splits(in_memory, seed=5)
    assert isinstance(a.train.x, DiskArray) and isinstance(a.val.x, DiskArray)
    assert a.train.x.rows is not None and len(a.train.x) == 450 and len(a.val.x) == 150  # index views
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.std, b.std)
    for part in ("train", "val"):
        da, db = getattr(a, part), getattr(b, part)
        assert np.array_equal(da.x[:], db.x) and np.array_equal(da.y, db.y)
        idx = np.random.default_rng(1).permutation(len(db.x))[:37]
        assert np.array_equal(da.x.take(idx, axis=0), db.x[idx])  # the batch gather, in idx's order
    assert float(a.train.x.sum(dtype=np.float64)) == pytest.approx(float(b.train.x.sum(dtype=np.float64)), abs=1e-6)


def test_limit_and_reshape_are_views(folder):
    class Data:
        train, limit, mmap = str(folder), 100, True

    s = load_splits(Data(), input_shape=(3, 4))
    assert isinstance(s.train.x, DiskArray) and s.train.x.shape == (100, 3, 4)
    assert np.array_equal(s.train.x[:], np.load(folder / "x.npy")[:100].astype(np.float32).reshape(100, 3, 4))


def test_training_on_disk_is_bit_identical_to_memory(tmp_path, folder):
    same(fit(tmp_path, folder, "true", "disk"), fit(tmp_path, folder, "false", "memory"))


def test_uncompressed_npz_is_read_from_disk_compressed_is_loaded(tmp_path):
    x, y = make_xy(n=300, dtype=np.float32)
    np.savez(tmp_path / "plain.npz", y=y, x=x)  # x is not the first member: its offset is found
    np.savez_compressed(tmp_path / "packed.npz", x=x, y=y)
    member = open_npz_member(tmp_path / "plain.npz", "x")
    assert isinstance(member, DiskArray) and np.array_equal(member[:], x)
    assert open_npz_member(tmp_path / "packed.npz", "x") is None
    assert isinstance(read_file(tmp_path / "plain.npz", mmap=True).x, DiskArray)
    assert type(read_file(tmp_path / "plain.npz").x) is np.ndarray  # auto: it fits, so it is loaded
    assert type(read_file(tmp_path / "packed.npz", mmap=True).x) is np.ndarray
    same(fit(tmp_path, tmp_path / "plain.npz", "true", "disk"), fit(tmp_path, tmp_path / "packed.npz", "true", "mem"))


class StopAt(Trainer):
    n = 0

    def train_step(self, xb, yb, wb=None):
        StopAt.n -= 1
        if StopAt.n == 0:
            self.stop_signal = signal.SIGINT
        return super().train_step(xb, yb, wb)


def test_resume_mid_epoch_on_disk_is_bit_identical(tmp_path, folder, monkeypatch):
    full = fit(tmp_path, folder, "true", "full")
    monkeypatch.setattr(api, "Trainer", StopAt)
    StopAt.n = 40  # inside epoch 2 (30 steps per epoch)
    with pytest.raises(Interrupted):
        fit(tmp_path, folder, "true", "part")
    assert json.loads(str(runs.read_npz(tmp_path / "part" / checkpoint.STATE)["partial"][()]))["cursor"] == 10
    monkeypatch.setattr(api, "Trainer", Trainer)
    api.resume(tmp_path / "part")
    same(full, runs.read_npz(tmp_path / "part" / runs.WEIGHTS))


def test_eval_of_a_run_whose_test_split_is_on_disk(tmp_path, folder):
    fit(tmp_path, folder, "true", "run", ["data.test=" + str(folder)])
    on_disk = api.evaluate_run(tmp_path / "run")
    fit(tmp_path, folder, "false", "mem", ["data.test=" + str(folder)])
    assert on_disk["samples"] == 600 and on_disk["loss"] == api.evaluate_run(tmp_path / "mem")["loss"]


@pytest.mark.parametrize("bad, message", [
    ("truncated", "truncated"),
    ("object", "pickled"),
    ("nan", "features of sample 7 contain NaN or inf"),
    ("big", r"features of sample 2: 1e\+300 is too large for float32"),
    ("rows", "x has 600 samples but y has 599"),
    ("no_y", "needs x.npy and y.npy"),
])
def test_bad_arrays_are_one_data_error(tmp_path, bad, message):
    x, y = make_xy()
    d = tmp_path / "d"
    d.mkdir()
    if bad == "nan":
        x[7, 3] = np.nan
    if bad == "big":
        x[2, 0] = 1e300
    np.save(d / "x.npy", np.array([{"a": 1}] * 3, dtype=object) if bad == "object" else x)
    if bad != "no_y":
        np.save(d / "y.npy", y[:599] if bad == "rows" else y)
    if bad == "truncated":
        raw = (d / "x.npy").read_bytes()
        (d / "x.npy").write_bytes(raw[:-100])
    with pytest.raises(DataError, match=message):
        read_file(d)


def test_a_bare_npy_file_says_how_to_give_one(tmp_path, folder):
    with pytest.raises(DataError, match="put x.npy and y.npy in a folder"):
        read_file(folder / "x.npy")


def test_big_endian_and_integer_files_are_converted_per_batch(tmp_path):
    x = np.arange(60, dtype=">f8").reshape(20, 3)
    np.save(tmp_path / "be.npy", x)
    a = open_npy(tmp_path / "be.npy").astype(np.float32)
    assert np.array_equal(a.take([5, 0, 19], axis=0), x[[5, 0, 19]].astype(np.float32))
    np.save(tmp_path / "u8.npy", np.arange(40, dtype=np.uint8).reshape(10, 4))
    b = open_npy(tmp_path / "u8.npy").astype(np.float32)
    assert np.array_equal(b[2:4], np.arange(8, 16, dtype=np.float32).reshape(2, 4))


# -- nntrain data convert -----------------------------------------------------------------------
def write_csv(path, x, y, header="a,b,label,c"):
    lines = [header] + [f"{r[0]!r},{r[1]!r},{t},{r[2]!r}" for r, t in zip(x.tolist(), y.tolist())]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("chunk_rows", [1, 7, 53, 1000])  # one row, a ragged last chunk, exact, one chunk
def test_convert_round_trips_a_csv_across_chunk_boundaries(tmp_path, chunk_rows):
    rng = np.random.default_rng(chunk_rows)
    csv = write_csv(tmp_path / "t.csv", rng.normal(size=(53, 3)), rng.integers(0, 4, 53))
    got = convert_csv(csv, tmp_path / "out", target="label", chunk_rows=chunk_rows)
    assert got["samples"] == 53 and got["features"] == 3 and got["columns"] == ["a", "b", "c"]
    a, b = read_file(tmp_path / "out"), read_csv(csv, target="label")
    assert np.array_equal(a.x[:], b.x) and np.array_equal(a.y, b.y) and a.y.dtype == np.int64
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.npy", "y.npy"]


def test_convert_keeps_regression_targets_and_reads_gzip(tmp_path):
    rng = np.random.default_rng(0)
    text = write_csv(tmp_path / "r.csv", rng.normal(size=(9, 3)), rng.normal(size=9)).read_bytes()
    (tmp_path / "r.csv.gz").write_bytes(gzip.compress(text))
    convert_csv(tmp_path / "r.csv.gz", tmp_path / "out", target=2, chunk_rows=4)
    y = np.load(tmp_path / "out" / "y.npy")
    assert y.dtype == np.float64 and np.array_equal(y, read_csv(tmp_path / "r.csv", target="label", dtype="float64").y)


@pytest.mark.parametrize("body, message", [
    ("1,2,0,3\n4,x,1,5\n", "line 3, column 'b': 'x' is not a number"),
    ("1,2,0,3\n" * 8 + "4,5,1\n", "line 10: 3 fields, expected 4"),
    ("1,2,0,3\n" * 8 + "4,nan,1,5\n", "line 10, column 'b': 'nan' is NaN or inf"),
    ("", "header but no data rows"),
])
def test_convert_bad_cells_name_the_line_and_write_nothing(tmp_path, cli, body, message):
    (tmp_path / "bad.csv").write_text("a,b,label,c\n" + body)
    r = cli("data", "convert", "bad.csv", "out", "--target", "label", "--chunk-rows", "3")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert r.stderr.startswith("error: ") and not (tmp_path / "out").exists()


def test_convert_refuses_to_overwrite_unless_asked(tmp_path, cli):
    rng = np.random.default_rng(0)
    write_csv(tmp_path / "t.csv", rng.normal(size=(5, 3)), rng.integers(0, 2, 5))
    assert cli("data", "convert", "t.csv", "out", "--target", "label").exit_code == 0
    r = cli("data", "convert", "t.csv", "out")
    assert r.exit_code == 2 and "already holds x.npy and y.npy" in r.stderr
    r = cli("data", "convert", "t.csv", "out", "--target", "label", "--overwrite", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["samples"] == 5


def test_the_benchmark_script_runs(tmp_path):
    """benchmarks/on_disk.py end to end on a tiny set (it is not timed here)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "on_disk.py"
    out = subprocess.run([sys.executable, str(script), "--rows", "2000", "--dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["disk"]["samples"] == result["memory"]["samples"] == 2000
    assert result["disk"]["train_accuracy"] == result["memory"]["train_accuracy"]  # the same training
    assert result["disk"]["peak_rss_mb"] > 0 and list(tmp_path.iterdir()) == []  # the arrays are deleted


def test_reads_larger_than_one_call_are_split(tmp_path, folder, monkeypatch):
    """A whole-array read (data.mmap: false of a big x.npy) goes past what one preadv returns
    (~2 GiB on Linux): it is read in pieces, and a file cut short is still named."""
    from nntrain.data import ondisk

    monkeypatch.setattr(ondisk, "_MAX_READ", 1000)  # smaller than a row of 12 float64
    x = open_npy(folder / "x.npy")
    expected = np.load(folder / "x.npy")
    assert np.array_equal(x[:], expected) and np.array_equal(x.take([5, 2, 3]), expected[[5, 2, 3]])
    raw = (folder / "x.npy").read_bytes()
    (folder / "x.npy").write_bytes(raw[:-50])
    with pytest.raises(DataError, match="truncated"):
        x[590:600]
