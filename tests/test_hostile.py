"""Hostile input: every case is one `error:` line naming the problem, exit 2, no traceback, and
nothing written. The README's hostile-input table lists the same cases."""
from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MODEL = "model: {input_shape: [2], layers: [{type: dense, units: 3, activation: softmax}]}\n"
BASE = MODEL + "loss: sparse_categorical_crossentropy\ndata: {name: xor}\n"
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh"))


def csv_config(train: str, test: str | None = None, units: int = 3) -> str:
    test_line = f", test: {test}" if test else ""
    return (f"data: {{train: {train}{test_line}}}\nmodel: {{layers: [{{type: dense, units: {units}, "
            f"activation: softmax}}]}}\nloss: sparse_categorical_crossentropy\n")


def idx(path: Path, magic: bytes, dims: tuple, body: bytes) -> None:
    path.write_bytes(magic + struct.pack(f">{len(dims)}I", *dims) + body)


def declares_too_much(path: Path) -> None:
    """A 500-byte .npz whose x.npy header declares shape (10**6, 10**6) float64 and holds no data."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    labels = io.BytesIO()
    np.save(labels, np.array([0, 1]))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", header.getvalue())
        z.writestr("y.npy", labels.getvalue())


def make_files(tmp: Path) -> None:
    (tmp / "empty.csv").write_text("")
    (tmp / "ragged.csv").write_text("a,b,y\n1,2,0\n1,2\n")
    (tmp / "text.csv").write_text("a,b,y\n1,2,0\n1,x,1\n")
    (tmp / "nan.csv").write_text("a,b,y\n1,2,0\n1,nan,1\n")
    (tmp / "inf.csv").write_text("a,b,y\n1,2,0\n-inf,2,1\n")
    (tmp / "labels.csv").write_text("a,b,y\n1,2,0\n1,3,7\n")
    (tmp / "ok.csv").write_text("a,b,y\n1,2,0\n1,3,1\n")
    (tmp / "semicolons.csv").write_text("a;b;y\n1;2;0\n1;3;1\n")
    (tmp / "three.csv").write_text("a,b,c,y\n1,2,3,0\n")
    idx(tmp / "magic-images-idx3-ubyte", b"\x00\x01\x08\x03", (2, 2, 2), bytes(8))
    idx(tmp / "magic-labels-idx1-ubyte", b"\x00\x00\x08\x01", (2,), bytes(2))
    idx(tmp / "short-images-idx3-ubyte", b"\x00\x00\x08\x03", (2, 2, 2), bytes(5))
    idx(tmp / "short-labels-idx1-ubyte", b"\x00\x00\x08\x01", (2,), bytes(2))
    np.savez(tmp / "pickled.npz", x=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    (tmp / "text.npz").write_text("x,y\n1,0\n")
    np.savez(tmp / "no-features.npz", x=np.zeros((4, 0)), y=np.array([0, 1, 0, 1]))
    declares_too_much(tmp / "declares-1e12.npz")
    (tmp / "huge.csv").write_text("a,b,y\n1,2,0\n1e308,3,1\n")
    np.savez(tmp / "huge.npz", x=np.array([[1.0, 2.0], [3.0, -1e300]]), y=np.array([0, 1]))
    (tmp / "a-folder.csv").mkdir()
    os.mkfifo(tmp / "fifo.csv")  # opening it would block: it must be refused before that


# (id, config text, --set overrides, what the error line must say)
CASES = [
    ("yaml-syntax", "model: {input_shape: [2]\nloss: [a, b\n", [], "c.yaml:2:1: invalid YAML: expected ','"),
    ("yaml-alias-bomb", BOMB, [], "expands to more than 100,000 values (recursive or exponential YAML aliases?)"),
    ("yaml-nested-too-deeply", "a: " + "[" * 500 + "]" * 500 + "\n", [], "nested too deeply (hundreds of levels)"),
    ("yaml-nested-100-levels", "a: " + "[" * 150 + "]" * 150 + "\n", [], "nested too deeply (more than 100 levels)"),
    ("yaml-recursive-alias", "a: &a [*a]\n", [], "a YAML alias refers to a collection that contains it"),
    ("config-is-a-list", "- model\n- loss\n", [], "the config must be a mapping of sections"),
    ("config-empty", "", [], "the config is empty; it needs at least model: and loss:"),
    ("unknown-top-key", BASE + "trian: {epochs: 2}\n", [], "c.yaml:4:1: trian: unknown key 'trian' (did you mean 'train'?)"),
    ("unknown-nested-key", BASE + "train: {epoch: 2}\n", [], "train.epoch: unknown key 'epoch' (did you mean 'epochs'?)"),
    ("unknown-layer-arg", BASE.replace("units: 3", "unitz: 3"), [],
     "model.layers.0: layer 'dense' has no parameter 'unitz' (did you mean 'units'?)"),
    ("unknown-name", BASE + "optimizer: adamm\n", [], "unknown optimizer 'adamm' (did you mean 'adam'"),
    ("wrong-type", BASE + "train: {epochs: two}\n", [], "train.epochs: must be an integer >= 1, got 'two' (a string)"),
    ("lr-zero", BASE + "optimizer: {type: sgd, lr: 0}\n", [], "optimizer 'sgd': lr must be > 0, got 0"),
    ("lr-negative", BASE + "optimizer: {type: adam, lr: -1e-3}\n", [], "optimizer 'adam': lr must be > 0"),
    ("batch-size-zero", BASE + "train: {batch_size: 0}\n", [], "train.batch_size: must be a positive integer or 'full'"),
    ("dropout-rate-1.5", BASE.replace("layers: [", "layers: [{type: dropout, rate: 1.5}, "), [],
     "model.layers.0: layer 'dropout': rate must be a number in [0, 1), got 1.5"),
    ("units-negative", BASE.replace("units: 3", "units: -3"), [], "layer 'dense': units must be a positive integer, got -3"),
    ("units-beyond-memory", BASE.replace("units: 3", "units: 100000000000"), [],
     "model.layers.0: dense with input shape [2]: its W of shape [2, 100000000000] alone needs about 3725.3 GiB to train"),
    ("shapes-do-not-chain", BASE.replace("[2]", "[4, 4]"), [],
     "model.layers.0: dense with input shape [4, 4]: dense expects flat input"),
    ("set-unknown-path", BASE, ["train.nope=3"], "--set train.nope=3: train.nope: unknown key 'nope'"),
    ("set-bad-index", BASE, ["model.layers.5.units=3"], "model.layers.5 is out of range, the list has 1 items"),
    ("set-no-equals", BASE, ["train.epochs"], "--set expects KEY=VALUE with a dotted key"),
    ("set-empty-key", BASE, ["=3"], "--set expects KEY=VALUE with a dotted key"),
    ("set-bad-yaml", BASE, ["train.epochs=[1"], "the value is not valid YAML"),
    ("missing-file", csv_config("nope.csv"), [], "data.train: file not found"),
    ("empty-csv", csv_config("empty.csv"), [], "empty.csv: empty CSV file"),
    ("ragged-rows", csv_config("ragged.csv"), [], "ragged.csv line 3: 2 fields, expected 3 like the header"),
    ("non-numeric-cell", csv_config("text.csv"), [], "text.csv line 3, column 'b': 'x' is not a number"),
    ("nan-feature", csv_config("nan.csv"), [], "nan.csv line 3: features contain NaN or inf"),
    ("inf-feature", csv_config("inf.csv"), [], "inf.csv line 3: features contain NaN or inf"),
    ("label-out-of-range", csv_config("labels.csv"), [],
     "training targets of", ),
    ("idx-bad-magic", csv_config("magic-images-idx3-ubyte"), [], "not an IDX file: magic number 0x00010803"),
    ("idx-truncated", csv_config("short-images-idx3-ubyte"), [], "truncated IDX file: dims (2, 2, 2) need 8 bytes"),
    ("npz-pickled", csv_config("pickled.npz"), [], "pickled.npz: holds pickled (object) data, which nntrain refuses"),
    ("metric-cannot-read-targets", csv_config("ok.csv") + "metrics: [mse]\n", [],
     "c.yaml:4:11: metrics.0: metric 'mse' cannot compare the model's outputs [3]"),
    ("test-feature-count", csv_config("ok.csv", test="three.csv"), [],
     "test data", ),
    ("csv-with-semicolons", csv_config("semicolons.csv"), [],
     "semicolons.csv: the columns are separated by ';', not commas; nntrain reads comma-separated CSV"),
    ("data-path-is-a-folder", csv_config("a-folder.csv"), [], "a-folder.csv is a folder, not a data file"),
    ("data-path-is-a-fifo", csv_config("fifo.csv"), [], "fifo.csv is not a regular file (a FIFO, socket or device)"),
    ("npz-not-a-zip", csv_config("text.npz"), [], "text.npz: not an .npz archive (an .npz is a zip file"),
    ("finite-but-too-large-csv", csv_config("huge.csv"), [],
     "huge.csv line 3: 1e+308 is too large for float32 (the largest is 3.403e+38); scale the data, or set model.dtype"),
    ("finite-but-too-large-npz", csv_config("huge.npz"), [], "huge.npz: features of sample 1: -1e+300 is too large for float32"),
    ("xor-repeat-beyond-memory", "data: {name: xor, options: {repeat: 100000000000}}\n" + BASE.replace("data: {name: xor}\n", ""),
     [], "dataset 'xor': repeat=100000000000 makes 400,000,000,000 samples, about 13,411.0 GiB, more than"),
    ("npz-declares-more-than-memory", csv_config("declares-1e12.npz"), [],
     "declares-1e12.npz: array x declares shape (1000000, 1000000) of float64, 7,450.6 GiB, more than this machine's"),
    ("npz-without-features", csv_config("no-features.npz"), [], "no-features.npz: x has no features: its shape is (4, 0)"),
    ("activation-names-a-layer", BASE.replace("activation: softmax", "activation: {type: dense, units: 3}"), [],
     "model.layers.0.activation: 'dense' is not an activation; valid: elu,"),
    ("top-k-covers-every-class", csv_config("ok.csv") + "metrics: [{type: top_k_accuracy, k: 3}]\n", [],
     "metrics.0: top_k_accuracy with k=3 counts every sample right: the model has only 3 classes"),
]
EXTRA = {"label-out-of-range": "label 7 is outside the model's 3 outputs (valid labels: 0..2)",
         "test-feature-count": "three.csv has feature shape (3,) (3 values) but the training data has (2,)"}


def leftovers(root: Path) -> list[str]:
    """Files written by nntrain under root (run folders, temporary files)."""
    return [str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and (p.name.startswith(".") or "runs" in p.parts or "run" in p.parts)]


@pytest.mark.parametrize("config, sets, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_error_line_exit_2_and_nothing_written(cli, write, tmp_path, config, sets, message):
    make_files(tmp_path)
    path = write("c.yaml", config)
    args = [a for s in sets for a in ("--set", s)]
    data_case = config.startswith("data:")  # `check` reads no data nor draws a dataset: these fail at fit only
    commands = [("fit", path, "--run-dir", "run"), ("fit", path) if data_case else ("check", path)]
    for command in commands[:1] if "&a" in config else commands:  # the alias bomb is slow to refuse
        r = cli(*command, *args)
        assert r.exit_code == 2, (command, r.output)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
        assert message in lines[0]
        key = next((c[0] for c in CASES if c[1] == config and c[2] == sets), None)
        if key in EXTRA:
            assert EXTRA[key] in lines[0]
        assert r.exception is None or isinstance(r.exception, SystemExit)
        assert not leftovers(tmp_path), leftovers(tmp_path)


# -- property: random configs and small CSVs never crash and never leave half a file -------
VALID = {
    "data": {"train": "d.csv", "validation_split": 0.0},
    "model": {"input_shape": [2], "layers": [{"type": "dense", "units": 4, "activation": "relu"},
                                             {"type": "dense", "units": 3, "activation": "softmax"}]},
    "loss": "sparse_categorical_crossentropy",
    "optimizer": {"type": "sgd", "lr": 0.1},
    "metrics": ["accuracy"],
    "train": {"epochs": 2, "batch_size": 2},
}
junk = st.one_of(st.integers(-2, 3), st.floats(-1, 2), st.just(float("nan")), st.text(max_size=4), st.none(),
                 st.booleans(), st.lists(st.integers(-1, 3), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                                        st.none(), max_size=1))
layer = st.fixed_dictionaries({"type": st.sampled_from(["dense", "relu", "dropout", "flatten", "dens", 3])},
                              optional={"units": st.one_of(st.integers(-2, 4), junk),
                                        "rate": st.one_of(st.floats(-0.5, 1.5), junk),
                                        "activation": st.sampled_from(["relu", "softmax", "nope", None])})
# what may replace each entry of VALID (a path ending in an int indexes a list)
HOSTILE = {
    ("data", "train"): st.one_of(st.sampled_from(["missing.csv", "c.yaml", "."]), junk),
    ("data", "name"): st.sampled_from(["xor", "mnistt"]),
    ("data", "validation_split"): st.one_of(st.floats(-0.5, 1.5), junk),
    ("data", "standardize"): st.one_of(st.booleans(), junk),
    ("data", "target"): st.one_of(st.sampled_from(["y", "a", "zz", -1, 7]), junk),
    ("data", "limit"): st.one_of(st.integers(-1, 3), junk),
    ("model", "input_shape"): st.one_of(st.lists(st.integers(-1, 3), max_size=3), junk),
    ("model", "layers"): st.one_of(st.lists(layer, max_size=3), junk),
    ("model", "layers", 0): st.one_of(layer, junk),
    ("model", "layers", 1, "units"): st.one_of(st.integers(-2, 5), junk),
    ("model", "dtype"): st.one_of(st.just("float64"), junk),
    ("loss",): st.one_of(st.sampled_from(["mse", "binary_crossentropy", "categorical_crossentropy", "msee"]), junk),
    ("optimizer",): st.one_of(st.sampled_from(["adam", "rmsprop"]), junk),
    ("optimizer", "lr"): st.one_of(st.floats(-1, 1e30), junk),
    ("optimizer", "momentum"): junk,
    ("metrics",): st.one_of(st.lists(st.sampled_from(["accuracy", "mse", "acc"]), max_size=2), junk),
    ("train", "epochs"): junk,
    ("train", "batch_size"): st.one_of(st.just("full"), junk),
    ("train", "on_nonfinite"): st.one_of(st.sampled_from(["skip_batch", "ignore"]), junk),
    ("train", "checkpoint_every_steps"): junk,
    ("train", "shuffle"): junk,
    ("seed",): junk,
    ("extra",): junk,
}


@st.composite
def configs(draw):
    """VALID with up to three entries replaced by hostile values (often none: those must fit)."""
    import copy

    cfg = copy.deepcopy(VALID)
    for path in draw(st.lists(st.sampled_from(sorted(HOSTILE, key=str)), max_size=3, unique=True)):
        node = cfg
        for k in path[:-1]:
            ok = isinstance(node, dict) and k in node or isinstance(node, list) and isinstance(k, int) and k < len(node)
            node = node[k] if ok else None
        if isinstance(node, dict) or isinstance(node, list) and path[-1] < len(node):
            node[path[-1]] = draw(HOSTILE[path])
    return cfg


number = st.one_of(st.integers(-3, 5).map(str), st.floats(-1e3, 1e3).map(lambda v: f"{v:.3g}"))
cells = st.one_of(number, st.sampled_from(["", "nan", "inf", "x", "1e400", " 2 ", "0x10", "3"]))
good_rows = st.lists(st.tuples(number, number, st.sampled_from(["0", "1", "2"])).map(list), min_size=1, max_size=8)
bad_rows = st.lists(st.lists(cells, min_size=1, max_size=4), max_size=6)
header = st.one_of(st.just(["a", "b", "y"]), st.lists(st.sampled_from(["a", "b", "y", "", "1"]), max_size=4))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(cfg=configs(), header=header, rows=st.one_of(good_rows, bad_rows),
       garbage=st.sampled_from(["", "", "", "", ":\n  - ]", "*x"]))
def test_random_configs_and_csvs_exit_0_or_2_and_never_half_write(tmp_path_factory, cfg, header, rows, garbage):
    import yaml
    from typer.testing import CliRunner

    from nntrain import runs
    from nntrain.cli import app

    tmp = tmp_path_factory.mktemp("prop")
    (tmp / "d.csv").write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    (tmp / "c.yaml").write_text(yaml.safe_dump(cfg) + garbage)
    runner = CliRunner()
    for args in (["check", str(tmp / "c.yaml")], ["fit", str(tmp / "c.yaml"), "--run-dir", str(tmp / "run"), "-q"]):
        r = runner.invoke(app, args)
        assert r.exit_code in (0, 2), (args, r.output, r.exception)
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        assert "Traceback" not in r.output
        if r.exit_code == 2:
            assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not list(tmp.rglob(".*.tmp-*"))  # no half-written file anywhere
    run = tmp / "run"
    if r.exit_code == 2:
        assert not run.exists() or not any(run.iterdir())
    else:  # a finished run folder is complete and loads back
        assert runs.read_summary(run)["status"] == "done"
        for name in (runs.WEIGHTS, "state.npz"):
            runs.read_npz(run / name)


keys = st.sampled_from(["train.epochs", "optimizer.lr", "model.layers.0.units", "model.layers.9.units",
                        "model.layers.x", "loss.type", "data", "seed.x", "", ".", "a..b", "train.epochs.x"])
set_texts = st.one_of(st.text(max_size=12), st.builds(lambda k, v: f"{k}={v}", keys, st.text(max_size=8)),
                      st.builds(lambda k, v: f"{k}={v}", keys, st.sampled_from(["3", "-1", "1e-3", "[1", "{a: 1}",
                                                                              "null", "&a [*a]", "!!python/object:os.system x"])))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(sets=st.lists(set_texts, min_size=1, max_size=3))
def test_random_set_overrides_exit_0_or_2(tmp_path_factory, sets):
    from typer.testing import CliRunner

    from nntrain.cli import app

    path = tmp_path_factory.mktemp("set") / "c.yaml"
    path.write_text(BASE)
    r = CliRunner().invoke(app, ["check", str(path), *[a for s in sets for a in ("--set", s)]])
    assert r.exit_code in (0, 2), (sets, r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    if r.exit_code == 2:  # one line (a control character the user typed is echoed as it is)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
