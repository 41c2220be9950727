"""Image folders (`data.images`): real PNGs written from the shipped MNIST, decoded by Pillow.

The folder trains exactly as the same digits do from IDX files, the decoded arrays are cached
so a second fit opens no image, and every bad folder is one error line.
"""
from __future__ import annotations

import json
import struct
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import CONFIGS, REPO
from nntrain.data.images import cache_dir, read_image_folder
from nntrain.data.idxfile import read_idx, scale_uint8
from nntrain.errors import DataError

MNIST = REPO / "datasets" / "mnist"
PER_CLASS = {"train": 10, "test": 3}


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("NNTRAIN_CACHE_DIR", str(tmp_path / "cache"))


def _write_idx(path, a: np.ndarray) -> None:
    """An IDX file of uint8 array a: magic 0 0 8 ndim, big-endian dims, the bytes."""
    path.write_bytes(bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes())


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """digits/{train,test}/<0-9>/<mnist index>.png, and the same images in folder order (class
    by class, by name within a class) as IDX files: digits/idx/{train,t10k}-*-idx*-ubyte."""
    root = tmp_path_factory.mktemp("digits")
    (root / "idx").mkdir()
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(MNIST / f"{prefix}-images-idx3-ubyte.gz")
        y = read_idx(MNIST / f"{prefix}-labels-idx1-ubyte.gz")
        order = np.concatenate([np.flatnonzero(y == k)[:PER_CLASS[split]] for k in range(10)])
        for i in order:
            folder = root / split / str(y[i])
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(x[i]).save(folder / f"{i:05d}.png")
        _write_idx(root / "idx" / f"{prefix}-images-idx3-ubyte", x[order])
        _write_idx(root / "idx" / f"{prefix}-labels-idx1-ubyte", y[order])
    return root


def _config(write, data: dict, name="cfg.yaml", epochs=1, model=None) -> str:
    """A config with configs/mnist_cnn.yaml's model (unchanged) or `model`, and `data`."""
    cnn = yaml.safe_load((CONFIGS / "mnist_cnn.yaml").read_text())
    cfg = {"seed": 0, "data": data, "model": model or cnn["model"], "loss": cnn["loss"],
           "optimizer": {"type": "adam", "lr": 0.003}, "metrics": ["accuracy"],
           "train": {"epochs": epochs, "batch_size": 32}}
    return str(write(name, yaml.safe_dump(cfg)))


SMALL = {"input_shape": [28, 28, 1], "layers": [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]}


def _weights(run) -> dict:
    with np.load(run / "model.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _same_weights(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_a_folder_of_mnist_pngs_trains_the_mnist_cnn_exactly_as_the_same_digits_from_idx(cli, write, tmp_path, digits):
    folder = _config(write, {"images": {"train": str(digits / "train"), "test": str(digits / "test"),
                                        "color_mode": "grayscale"}}, "folder.yaml")
    idx = _config(write, {"train": str(digits / "idx" / "train-images-idx3-ubyte"),
                          "test": str(digits / "idx" / "t10k-images-idx3-ubyte")}, "idx.yaml")
    for cfg, run in ((folder, "from_folder"), (idx, "from_idx")):
        r = cli("fit", cfg, "--run-dir", run, "--json")
        assert r.exit_code == 0, r.output
    a, b = (json.loads((tmp_path / run / "summary.json").read_text()) for run in ("from_folder", "from_idx"))
    assert a["test"] == b["test"] and a["train"] == b["train"]
    assert a["test"]["accuracy"] > 0.2  # it learned (chance is 0.1): 100 digits, one epoch
    assert _same_weights(tmp_path / "from_folder", tmp_path / "from_idx")
    # the run reads its folders again for eval (from the cache): the same test numbers
    r = cli("eval", "from_folder", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["accuracy"] == a["test"]["accuracy"]
    saved = yaml.safe_load((tmp_path / "from_folder" / "config.yaml").read_text())["data"]["images"]
    assert saved == {"train": str(digits / "train"), "test": str(digits / "test"), "image_size": None,
                     "color_mode": "grayscale"}


def test_pixels_are_scaled_exactly_as_the_idx_reader_scales_them(digits):
    ds = read_image_folder(digits / "train", color_mode="grayscale")
    raw = read_idx(digits / "idx" / "train-images-idx3-ubyte")
    assert ds.x.shape == (100, 28, 28, 1) and ds.x.dtype == np.float32
    assert np.array_equal(ds.x[..., 0], scale_uint8(raw))
    assert np.array_equal(ds.y, read_idx(digits / "idx" / "train-labels-idx1-ubyte"))
    assert ds.classes == [str(k) for k in range(10)]


@pytest.fixture
def opens(monkeypatch):
    """The number of images Pillow opened so far (the real Image.open, counted)."""
    real, count = Image.open, [0]

    def counting(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(Image, "open", counting)
    return count


def test_a_fit_decodes_once_and_the_next_fit_decodes_nothing_until_the_folder_changes(cli, write, tmp_path, digits, opens):
    import shutil

    shutil.copytree(digits / "train", tmp_path / "train")
    cfg = _config(write, {"images": {"train": "train", "test": str(digits / "test"), "color_mode": "grayscale"}},
                  epochs=3, model=SMALL)
    assert cli("fit", cfg, "--run-dir", "first").exit_code == 0
    assert opens[0] == 130  # each image once, before training, not once per epoch
    assert cli("fit", cfg, "--run-dir", "second").exit_code == 0
    assert opens[0] == 130  # from the cache
    assert _same_weights(tmp_path / "first", tmp_path / "second")

    # a changed image: that folder is decoded again, the other still comes from its cache
    img = tmp_path / "train" / "3" / sorted(p.name for p in (tmp_path / "train" / "3").iterdir())[0]
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(img)
    assert cli("fit", cfg, "--run-dir", "changed").exit_code == 0
    assert opens[0] == 230
    assert not _same_weights(tmp_path / "first", tmp_path / "changed")

    # damaged caches (cut short, or garbage) are rebuilt, not trusted
    caches = sorted((cache_dir() / "images").glob("*.npz"))
    assert len(caches) == 2  # one per folder: the stale one was replaced
    caches[0].write_bytes(caches[0].read_bytes()[:1000])
    caches[1].write_bytes(b"not an npz")
    assert cli("fit", cfg, "--run-dir", "rebuilt").exit_code == 0
    assert opens[0] == 360
    assert _same_weights(tmp_path / "changed", tmp_path / "rebuilt")
    assert not list((cache_dir() / "images").glob("*.tmp"))


def test_a_cache_folder_that_cannot_be_written_only_costs_the_cache(cli, write, tmp_path, digits, monkeypatch, opens):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("NNTRAIN_CACHE_DIR", str(tmp_path / "a_file" / "cache"))
    cfg = _config(write, {"images": {"train": str(digits / "train"), "color_mode": "grayscale"}}, model=SMALL)
    for run in ("one", "two"):
        r = cli("fit", cfg, "--run-dir", run)
        assert r.exit_code == 0, r.output
    assert opens[0] == 200


def _png(path, size=(4, 6), mode="RGB", value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[0], size[1], 3) if mode == "RGB" else size
    Image.fromarray(np.full(shape, value, np.uint8 if mode != "I;16" else np.uint16)).save(path)


def test_image_size_color_mode_and_what_counts_as_an_image(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    tmp_path = tmp_path / "imgs"  # the cache is in the test's tmp_path, not among the classes
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    Image.fromarray(rgb).save(tmp_path / "a" / "x.PNG")
    Image.fromarray(rgb).save(tmp_path / "b" / "deeper" / "y.jpg", quality=95)
    Image.fromarray(rgb).convert("P").save(tmp_path / "b" / "z.gif")
    # 16-bit grey: scaled to 8 bits (Pillow's own conversion clips at 255)
    (tmp_path / "c").mkdir()
    Image.fromarray(np.array([[0, 32896], [65535, 257]], np.uint16)).save(tmp_path / "c" / "w.png")
    for ignored in ("a/notes.txt", "a/.hidden.png", ".cache/q.png", "top.png"):
        (tmp_path / ignored).parent.mkdir(exist_ok=True)
        (tmp_path / ignored).write_text("not read")

    ds = read_image_folder(tmp_path, image_size=[3, 4], color_mode="rgb")
    assert ds.classes == ["a", "b", "c"] and list(ds.y) == [0, 1, 1, 2]
    assert ds.x.shape == (4, 3, 4, 3)
    want = np.asarray(Image.fromarray(rgb).resize((4, 3), Image.Resampling.BILINEAR))
    assert np.array_equal(ds.x[0], scale_uint8(want))

    ds = read_image_folder(tmp_path, image_size=[2, 2], color_mode="grayscale")
    assert ds.x.shape == (4, 2, 2, 1)
    assert np.array_equal(ds.x[3, ..., 0], scale_uint8(np.array([[0, 128], [255, 1]], np.uint8)))
    small = np.asarray(Image.fromarray(rgb).convert("L").resize((2, 2), Image.Resampling.BILINEAR))
    assert np.array_equal(ds.x[0, ..., 0], scale_uint8(small))


def _one_error_line(r) -> str:
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def _bad_folder(tmp_path, case: str):
    """(images section, text the error names) of one kind of bad image folder."""
    root = tmp_path / "imgs"
    for k in ("cat", "dog"):
        for i in range(2):
            _png(root / k / f"{i}.png", value=40 * i)
    if case == "undecodable":
        (root / "dog" / "2.png").write_text("not a png")
        return {"train": str(root)}, [str(root / "dog" / "2.png"), "cannot decode"]
    if case == "truncated":
        noise = np.random.default_rng(0).integers(0, 256, (4, 6, 3), dtype=np.uint8)
        Image.fromarray(noise).save(root / "dog" / "2.png")
        data = (root / "dog" / "2.png").read_bytes()
        (root / "dog" / "2.png").write_bytes(data[:len(data) - 30])  # cut inside the pixel data
        return {"train": str(root)}, [str(root / "dog" / "2.png"), "cannot decode"]
    if case == "empty class":
        (root / "emu").mkdir()
        (root / "emu" / "README.txt").write_text("photos to come")
        return {"train": str(root)}, [str(root / "emu"), "empty class folder", "1 files of other types ignored"]
    if case == "no subfolders":
        flat = tmp_path / "flat"
        for i in range(3):
            _png(flat / f"{i}.png")
        return {"train": str(flat)}, [str(flat), "no class subfolders", "3 images directly inside"]
    if case == "sizes differ":
        _png(root / "dog" / "2.png", size=(5, 6))
        return ({"train": str(root)},
                [str(root / "dog" / "2.png"), "5x6", str(root / "cat" / "0.png"), "4x6", "image_size"])
    if case == "unknown test class":
        _png(tmp_path / "test" / "cow" / "0.png")
        return {"train": str(root), "test": str(tmp_path / "test")}, ["'cow' is not a training class", "cat, dog"]
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["undecodable", "truncated", "empty class", "no subfolders", "sizes differ",
                                  "unknown test class"])
def test_a_bad_image_folder_is_one_error_line_naming_it_and_nothing_is_written(cli, write, tmp_path, case):
    images, names = _bad_folder(tmp_path, case)
    model = {"input_shape": [4, 6, 3], "layers": [{"type": "flatten"}, {"type": "dense", "units": 2, "activation": "softmax"}]}
    cfg = _config(write, {"images": images}, model=model)
    line = _one_error_line(cli("fit", cfg, "--run-dir", "run"))
    for name in names:
        assert name in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


def test_without_pillow_the_error_names_the_extra(cli, write, tmp_path, digits, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # what `import PIL` meets when it is not installed
    cfg = _config(write, {"images": str(digits / "train")})
    line = _one_error_line(cli("fit", cfg, "--run-dir", "run"))
    assert "Pillow" in line and "pip install 'nntrain[images]'" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("data, where, message", [
    ({"images": "missing"}, "data.images.train", "folder not found"),
    ({"images": "cfg.yaml"}, "data.images.train", "is not a folder"),
    ({"images": {"train": ".", "image_size": [28]}}, "data.images.image_size", "[height, width]"),
    ({"images": {"train": ".", "color_mode": "rbg"}}, "data.images.color_mode", "did you mean 'rgb'"),
    ({"images": ".", "test": "t.csv"}, "data.test", "data.images.test"),
    ({"images": ".", "name": "mnist"}, "data", "give one of data.name"),
])
def test_a_bad_images_section_is_a_config_error(cli, write, data, where, message):
    cfg = _config(write, data, model=SMALL)
    line = _one_error_line(cli("check", cfg))
    assert where in line and message in line


def test_a_bare_path_is_the_training_folder(cli, write, tmp_path, digits):
    cfg = _config(write, {"images": str(digits / "train"), "validation_split": 0.1},
                  model={**SMALL, "input_shape": [28, 28, 3]})  # rgb, Keras' default: grey repeated 3 times
    r = cli("fit", cfg, "--run-dir", "run", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["val"]["accuracy"] >= 0


def test_a_test_folder_keeps_the_training_labels_and_may_lack_classes(tmp_path, digits):
    import shutil

    shutil.copytree(digits / "test" / "7", tmp_path / "test" / "7")
    ds = read_image_folder(tmp_path / "test", classes=[str(k) for k in range(10)])
    assert set(ds.y) == {7} and len(ds.classes) == 10
    with pytest.raises(DataError, match="'7' is not a training class"):
        read_image_folder(tmp_path / "test", classes=["0", "1"])


@pytest.mark.parametrize("sets, message", [
    ([], "data.images.color_mode rgb gives 3 channels, grayscale gives 1"),
    (["data.images.color_mode=grayscale", "data.images.image_size=[14, 14]"],
     "the images are 14x14: set data.images.image_size: [28, 28] to resize them"),
])
def test_images_that_do_not_fit_the_model_say_which_option_fits_them(cli, write, tmp_path, digits, sets, message):
    cfg = _config(write, {"images": str(digits / "test")}, model=SMALL)  # a bare path, then --set its keys
    args = [a for s in sets for a in ("--set", s)]
    line = _one_error_line(cli("fit", cfg, *args, "--run-dir", "run"))
    assert message in line
    assert not (tmp_path / "run").exists()
    if sets:
        r = cli("fit", cfg, "--set", sets[0], "--run-dir", "run")
        assert r.exit_code == 0, r.output


def test_labels_the_model_cannot_output_name_the_image_folder(cli, write, tmp_path, digits):
    model = {**SMALL, "layers": [{"type": "flatten"}, {"type": "dense", "units": 5, "activation": "softmax"}]}
    cfg = _config(write, {"images": {"train": str(digits / "train"), "color_mode": "grayscale"}}, model=model)
    line = _one_error_line(cli("fit", cfg, "--run-dir", "run"))
    assert f"training targets of {digits / 'train'}: label 9 is outside the model's 5 outputs" in line




def test_an_image_folder_run_predicts_class_names(cli, write, tmp_path, digits):
    import shutil

    for digit, name in (("0", "zero"), ("1", "one")):
        shutil.copytree(digits / "train" / digit, tmp_path / "imgs" / name)
    cfg = _config(write, {"images": {"train": "imgs", "color_mode": "grayscale"}}, epochs=3,
                  model={**SMALL, "layers": [{"type": "flatten"}, {"type": "dense", "units": 2, "activation": "softmax"}]})
    assert cli("fit", cfg, "--run-dir", "run").exit_code == 0
    ds = read_image_folder(tmp_path / "imgs", color_mode="grayscale")  # classes: one, zero
    np.savez(tmp_path / "x.npz", x=ds.x, y=ds.y)
    r = cli("predict", "run", "x.npz")
    assert r.exit_code == 0, r.output
    labels = r.stdout.split()
    assert labels[0] == "label" and set(labels[1:]) <= {"one", "zero"}
    import nntrain

    want = np.array(ds.classes)[nntrain.load_model(tmp_path / "run").predict(ds.x).argmax(axis=1)]
    assert labels[1:] == list(want)
    r = cli("predict", "run", "x.npz", "--proba")
    assert r.stdout.splitlines()[0] == "p_one,p_zero"
    # the folder itself, with its class subfolders or flat: a `file` column names each image
    flat = tmp_path / "flat"
    flat.mkdir()
    for rel in sorted(p.relative_to(tmp_path / "imgs") for p in (tmp_path / "imgs").rglob("*.png")):
        shutil.copy(tmp_path / "imgs" / rel, flat / f"{rel.parent.name}-{rel.name}")
    for folder, names in (("imgs", lambda f: f), ("flat", lambda f: f.replace("/", "-"))):
        r = cli("predict", "run", folder)
        assert r.exit_code == 0, r.output
        rows = [line.split(",") for line in r.stdout.splitlines()]
        assert rows[0] == ["file", "label"] and [label for _, label in rows[1:]] == list(want)
        assert [f for f, _ in rows[1:]] == [names(f) for f in sorted(f"{p.parent.name}/{p.name}" for p in
                                                                     (tmp_path / "imgs").rglob("*.png"))]
    r = cli("predict", "run", "imgs", "--proba")
    assert r.stdout.splitlines()[0] == "file,p_one,p_zero"
    assert cli("predict", "run", "flat", "--out", "p.npz").exit_code == 0
    with np.load(tmp_path / "p.npz") as z:
        assert list(z["label"]) == list(want) and z["files"][0] == "one-" + sorted(
            p.name for p in (tmp_path / "imgs" / "one").iterdir())[0]


def test_eval_and_predict_take_image_folders_with_the_runs_options(cli, write, tmp_path, digits):
    cfg = _config(write, {"images": {"train": str(digits / "train"), "test": str(digits / "test"),
                                     "color_mode": "grayscale"}}, epochs=2, model=SMALL)
    assert cli("fit", cfg, "--run-dir", "run").exit_code == 0
    split = json.loads(cli("eval", "run", "--json").stdout)
    r = cli("eval", "run", "--data", digits / "test", "--json")
    assert r.exit_code == 0, r.output
    folder = json.loads(r.stdout)
    assert folder["samples"] == 30 and folder["loss"] == split["loss"] and folder["accuracy"] == split["accuracy"]
    assert folder["classes"] == [str(k) for k in range(10)]
    # a folder with some of the classes keeps their training labels
    import shutil

    shutil.copytree(digits / "test" / "7", tmp_path / "some" / "7")
    r = cli("eval", "run", "--data", "some", "--json")
    assert r.exit_code == 0, r.output
    cm = json.loads(r.stdout)["confusion_matrix"]
    assert [sum(row) for row in cm] == [0] * 7 + [3] + [0] * 2  # its 3 sevens are label 7
    # the predictions of the folder are those of its images one by one
    r = cli("predict", "run", digits / "test")
    assert r.exit_code == 0, r.output
    rows = r.stdout.splitlines()[1:]
    assert len(rows) == 30 and rows[0].startswith("0/") and rows[-1].startswith("9/")


@pytest.mark.parametrize("case, message", [
    ("unknown class", "class 'cat' is not a training class; valid: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"),
    ("flat for eval", "no class subfolders"),
    ("other size", "the images are 4x6x1 (height x width x channels) but the model takes 28x28x1 (the run has no "
                   "data.images.image_size, so images must have the training size)"),
    ("no images", "no image file (.bmp .gif .jpeg .jpg .png) in the folder or its subfolders"),
    ("not an image run", "is a folder, not a data file"),
])
def test_a_bad_folder_for_eval_or_predict_is_one_error_line(cli, write, tmp_path, digits, case, message):
    cfg = _config(write, {"images": {"train": str(digits / "train"), "color_mode": "grayscale"}}, model=SMALL)
    assert cli("fit", cfg, "--run-dir", "run").exit_code == 0
    (tmp_path / "bad").mkdir()
    command = ("predict", "run", "bad")
    if case == "unknown class":
        _png(tmp_path / "bad" / "cat" / "a.png", size=(28, 28), mode="L")
        command = ("eval", "run", "--data", "bad")
    elif case == "flat for eval":
        _png(tmp_path / "bad" / "a.png", size=(28, 28), mode="L")
        command = ("eval", "run", "--data", "bad")
    elif case == "other size":
        _png(tmp_path / "bad" / "a.png", size=(4, 6), mode="L")
    elif case == "no images":
        (tmp_path / "bad" / "notes.txt").write_text("x")
    else:
        np.savez(tmp_path / "d.npz", x=np.zeros((4, 2)), y=np.arange(4) % 2)
        cfg = write("n.yaml", "data: {train: d.npz}\nmodel: {layers: [{type: dense, units: 2, activation: softmax}]}\n"
                              "loss: sparse_categorical_crossentropy\ntrain: {epochs: 1}\n")
        assert cli("fit", cfg, "--run-dir", "plain").exit_code == 0
        _png(tmp_path / "bad" / "a.png", size=(28, 28), mode="L")
        command = ("predict", "plain", "bad")
    r = cli(*command, "--out", "p.csv") if command[0] == "predict" else cli(*command)
    line = _one_error_line(r)
    assert message in line, line
    assert not (tmp_path / "p.csv").exists()
