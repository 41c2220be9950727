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


def groups_config(groups: str, inputs: str = "{n: [2], c: [2]}", train: str = "groups.csv") -> str:
    """A two-input model whose data.inputs are column groups of a CSV (data/column_groups.py)."""
    return (f"model:\n  inputs: {inputs}\n  layers:\n    - {{type: dense, units: 3, inputs: [n], name: d}}\n"
            f"    - {{type: concatenate, inputs: [d, c]}}\n    - {{type: dense, units: 2, activation: softmax}}\n"
            f"loss: sparse_categorical_crossentropy\ndata: {{train: {train}, target: y, inputs: {groups}}}\n")


def idx(path: Path, magic: bytes, dims: tuple, body: bytes) -> None:
    path.write_bytes(magic + struct.pack(f">{len(dims)}I", *dims) + body)


def declares_too_much(path: Path, compression: int = zipfile.ZIP_DEFLATED) -> None:
    """A 500-byte .npz whose x.npy header declares shape (10**6, 10**6) float64 and holds no data.
    Deflated (np.savez_compressed), only the header tells the size; stored, the member's size
    shows it truncated."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    labels = io.BytesIO()
    np.save(labels, np.array([0, 1]))
    with zipfile.ZipFile(path, "w", compression=compression) as z:
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
    (tmp / "groups.csv").write_text("a,b,cat,d,y\n1,2,red,5,0\n2,3,blue,6,1\n3,4,red,7,0\n4,5,blue,8,1\n")
    np.savez(tmp / "groups.npz", x_n=np.zeros((4, 2)), x_c=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    idx(tmp / "magic-images-idx3-ubyte", b"\x00\x01\x08\x03", (2, 2, 2), bytes(8))
    idx(tmp / "magic-labels-idx1-ubyte", b"\x00\x00\x08\x01", (2,), bytes(2))
    idx(tmp / "short-images-idx3-ubyte", b"\x00\x00\x08\x03", (2, 2, 2), bytes(5))
    idx(tmp / "short-labels-idx1-ubyte", b"\x00\x00\x08\x01", (2,), bytes(2))
    np.savez(tmp / "pickled.npz", x=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    (tmp / "text.npz").write_text("x,y\n1,0\n")
    np.savez(tmp / "no-features.npz", x=np.zeros((4, 0)), y=np.array([0, 1, 0, 1]))
    declares_too_much(tmp / "declares-1e12.npz")
    declares_too_much(tmp / "stored-1e12.npz", zipfile.ZIP_STORED)
    (tmp / "huge.csv").write_text("a,b,y\n1,2,0\n1e308,3,1\n")
    np.savez(tmp / "huge.npz", x=np.array([[1.0, 2.0], [3.0, -1e300]]), y=np.array([0, 1]))
    np.savez(tmp / "centred-overflow.npz", x=np.array([[3.3e38, 1], [-3.3e38, 2], [-3.3e38, 3], [-3.3e38, 4]], np.float32),
             y=np.array([0, 1, 0, 1]))
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
    ("npz-stored-member-truncated", csv_config("stored-1e12.npz"), [],
     "stored-1e12.npz (array x): truncated: shape (1000000, 1000000) of float64 needs 8000000000000 bytes of data, "
     "the file holds 0"),
    ("npz-without-features", csv_config("no-features.npz"), [], "no-features.npz: x has no features: its shape is (4, 0)"),
    ("activation-names-a-layer", BASE.replace("activation: softmax", "activation: {type: dense, units: 3}"), [],
     "model.layers.0.activation: 'dense' is not an activation; valid: elu,"),
    ("dataset-seed-negative", BASE.replace("data: {name: xor}", "data: {name: spirals, options: {seed: -1}}"), [],
     "c.yaml:3:23: data.options: dataset 'spirals': seed must be an integer >= 0, got -1"),
    ("dataset-repeat-zero", BASE.replace("data: {name: xor}", "data: {name: xor, options: {repeat: 0}}"), [],
     "data.options: dataset 'xor': repeat must be an integer >= 1, got 0"),
    ("standardize-overflows-float32", csv_config("centred-overflow.npz").replace("}", ", standardize: true}", 1), [],
     "data.standardize: feature 0 of"),
    ("top-k-covers-every-class", csv_config("ok.csv") + "metrics: [{type: top_k_accuracy, k: 3}]\n", [],
     "metrics.0: top_k_accuracy with k=3 counts every sample right: the model has only 3 classes"),
    ("csv-group-unknown-column", groups_config("{n: [a, bb], c: [cat]}"), [],
     "data.inputs.n.1: no column 'bb' in groups.csv (did you mean 'b'?); its feature columns: a, b, cat, d"),
    ("csv-group-column-twice", groups_config("{n: [a, b], c: [cat, a]}"), [],
     "data.inputs.c.1: column 'a' is already in data.inputs.n; a column feeds one input"),
    ("csv-group-holds-the-target", groups_config("{n: [a, y], c: [cat]}"), [],
     "data.inputs.n.1: 'y' is the target column (data.target), which the model predicts"),
    ("csv-group-empty", groups_config("{n: [a, b], c: []}"), [],
     "data.inputs.c: lists no columns; an input needs at least one column of the CSV"),
    ("csv-group-missing", groups_config("{n: [a, b]}"), [],
     "data.inputs: gives no columns for model input 'c'; each of model.inputs (n, c) needs a group"),
    ("csv-group-not-a-model-input", groups_config("{n: [a, b], c: [cat], k: [d]}"), [],
     "data.inputs.k: 'k' is not a model input; model.inputs: n, c"),
    ("csv-groups-of-an-npz", groups_config("{n: [a, b], c: [cat]}", train="groups.npz"), [],
     "data.inputs: column groups are columns of a CSV, but data.train is groups.npz"),
    ("csv-group-wider-than-its-input", groups_config("{n: [a, b], c: [cat]}", inputs="{n: [2], c: [3]}"), [],
     "data.inputs.c: the columns cat encode to 2 features (cat=blue, cat=red), but model.inputs.c is [3]; "
     "declare model.inputs.c: [2]"),
    ("csv-groups-without-model-inputs", groups_config("{n: [a, b]}").replace("  inputs: {n: [2], c: [2]}\n", "")
     .replace("inputs: [n], ", "").replace("concatenate, inputs: [d, c]", "dense, units: 2"), [],
     "data.inputs: gives the columns of several named model inputs; declare the inputs and their shapes too"),
]
EXTRA = {"label-out-of-range": "label 7 is outside the model's 3 outputs (valid labels: 0..2)",
         "standardize-overflows-float32": "centred-overflow.npz lies 4.95e+38 from the training mean, beyond the "
                                          "largest float32 (3.403e+38) once centred; scale the data, or set model.dtype: float64",
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


# -- the other commands: bad flags, bad files, damaged run folders ---------------------------
# Every case runs one command in a folder holding a finished xor run (`run`), a run of another
# model (`other`) and the files `make_command_files` writes, then asserts: exit 2, one `error:`
# line holding the message, no traceback, and every file in the folder byte-identical to before
# (nothing written, nothing clobbered, no temporary file left behind).
XOR = ("data: {name: xor}\nmodel: {input_shape: [2], layers: [{type: dense, units: 4, activation: tanh}, "
       "{type: dense, units: 2, activation: softmax}]}\nloss: sparse_categorical_crossentropy\n"
       "metrics: [accuracy]\ntrain: {epochs: 2, batch_size: 2}\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished xor run, and a run of a wider model on the same data."""
    from nntrain import api
    from nntrain.config import load_config

    root = tmp_path_factory.mktemp("trained")
    (root / "x.yaml").write_text(XOR)
    api.fit(load_config(root / "x.yaml"), run_dir=root / "run")
    api.fit(load_config(root / "x.yaml", ["model.layers.0.units=5"]), run_dir=root / "other")
    return root


def damaged(name: str, how):
    """A copy of `run` called `name`, then `how(folder)` damages it."""
    def prepare(tmp: Path) -> None:
        import shutil

        shutil.copytree(tmp / "run", tmp / name)
        how(tmp / name)
    return prepare


def put(file: str, content: str | bytes):
    def how(run: Path) -> None:
        (run / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    return how


def truncate(file: str, size: int = 300):
    return lambda run: (run / file).write_bytes((run / file).read_bytes()[:size])


def remove(file: str):
    return lambda run: (run / file).unlink()


def from_other(file: str):
    return lambda run: (run / file).write_bytes((run.parent / "other" / file).read_bytes())


def metrics_rows(edit):
    def how(run: Path) -> None:
        lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
        (run / "metrics.csv").write_text("".join(edit(lines)))
    return how


def make_command_files(tmp: Path) -> None:
    (tmp / "empty").mkdir()
    (tmp / "notes").mkdir()
    (tmp / "notes" / "mine.txt").write_text("a user's file\n")
    (tmp / "a-file").write_text("not a folder\n")
    (tmp / "five.csv").write_text("a,b,c,d,e\n1,2,3,4,5\n")
    (tmp / "four.csv").write_text("a,b,c,d\n1,2,3,4\n")
    (tmp / "three.csv").write_text("a,b,y\n1,2,3\n")
    (tmp / "nan.csv").write_text("a,b,y\n1,nan,1\n")
    (tmp / "empty.csv").write_text("")
    (tmp / "binary.yaml").write_bytes(bytes(range(128, 256)))
    (tmp / "list-spec.yaml").write_text("[1, 2]\n")


RUN_TABLE = "a run folder"
COMMAND_CASES = [
    # (id, prepare or None, argv, what the error line must say)
    ("eval-missing-run", None, ["eval", "nope"], "run folder not found: nope"),
    ("eval-empty-folder", None, ["eval", "empty"], "empty is not a complete run: config.yaml is missing"),
    ("eval-a-file", None, ["eval", "x.yaml"], "run folder not found: x.yaml"),
    ("eval-config-invalid-yaml", damaged("r", put("config.yaml", "model: [\n")), ["eval", "r"],
     "r: its config.yaml is invalid: r/config.yaml:2:1: invalid YAML"),
    ("eval-config-missing", damaged("r", remove("config.yaml")), ["eval", "r"], "r is not a complete run: config.yaml is missing"),
    ("eval-weights-missing", damaged("r", remove("model.npz")), ["eval", "r"], "r is not a complete run: model.npz is missing"),
    ("eval-weights-truncated", damaged("r", truncate("model.npz")), ["eval", "r"],
     "r/model.npz is damaged: it is not an .npz archive"),
    ("eval-weights-text", damaged("r", put("model.npz", "hello\n")), ["eval", "r"], "r/model.npz is damaged: it is not an .npz archive"),
    ("eval-weights-of-another-model", damaged("r", from_other("model.npz")), ["eval", "r"],
     "r/model.npz: layer 0 (dense) W has shape [2, 5] but the config builds [2, 4]"),
    ("eval-data-missing", None, ["eval", "run", "--data", "nope.csv"], "file not found: nope.csv"),
    ("eval-data-empty-folder", None, ["eval", "run", "--data", "empty"], "empty: a folder of arrays needs x.npy and y.npy"),
    ("eval-data-label-out-of-range", None, ["eval", "run", "--data", "three.csv"],
     "label 3 is outside the model's 2 outputs (valid labels: 0..1)"),
    ("eval-data-feature-count", None, ["eval", "run", "--data", "five.csv"], "five.csv has feature shape (4,) but the model expects (2,)"),
    ("eval-data-nan", None, ["eval", "run", "--data", "nan.csv"], "nan.csv line 2: features contain NaN or inf"),
    ("predict-missing-input", None, ["predict", "run", "nope.csv"], "file not found: nope.csv"),
    ("predict-input-folder", None, ["predict", "run", "empty"], "empty is a folder, not a data file"),
    ("predict-input-feature-count", None, ["predict", "run", "five.csv"], "five.csv has 5 columns but the model takes 2 features"),
    ("predict-input-nan", None, ["predict", "run", "nan.csv"], "nan.csv line 2: features contain NaN or inf"),
    ("predict-input-empty-csv", None, ["predict", "run", "empty.csv"], "empty.csv: empty CSV file"),
    ("predict-weights-of-another-model", damaged("r", from_other("model.npz")), ["predict", "r", "four.csv"],
     "r/model.npz: layer 0 (dense) W has shape [2, 5]"),
    ("predict-missing-run", None, ["predict", "nope", "four.csv"], "run folder not found: nope"),
    ("export-bad-format", None, ["export", "run", "--format", "bogus", "--out", "m.onnx"], "--format must be one of onnx, npz, got 'bogus'"),
    ("export-weights-text", damaged("r", put("model.npz", "hello\n")), ["export", "r", "--out", "m.npz"],
     "r/model.npz is damaged: it is not an .npz archive"),
    ("export-missing-run", None, ["export", "nope", "--out", "m.npz"], "run folder not found: nope"),
    ("plot-missing-run", None, ["plot", "nope"], "run folder not found: nope"),
    ("plot-unknown-metric", None, ["plot", "run", "--metric", "nope"], "--metric 'nope' is in no run's metrics.csv; valid: loss, accuracy"),
    ("plot-too-narrow", None, ["plot", "run", "--width", "5"], "the chart needs --width >= 10 and --height >= 3, got 5x12"),
    ("plot-height-not-a-number", None, ["plot", "run", "--height", "abc"], "Invalid value for '--height'"),
    ("plot-metrics-binary", damaged("r", put("metrics.csv", bytes(range(128, 256)))), ["plot", "r"],
     "r/metrics.csv is damaged: it is not UTF-8 text"),
    ("plot-metrics-no-loss-column", damaged("r", put("metrics.csv", "epoch\n1\n2\n")), ["plot", "r"],
     "r/metrics.csv line 1: no 'loss' column (the header has epoch)"),
    ("plot-metrics-epochs-backwards", damaged("r", metrics_rows(lambda lines: [lines[0], lines[2], lines[1]])), ["plot", "r"],
     "r/metrics.csv line 3: epoch '1' must be an integer above the previous line's 2"),
    ("plot-metrics-epoch-not-a-number", damaged("r", metrics_rows(lambda lines: [lines[0], "one" + lines[1][1:]])), ["plot", "r"],
     "r/metrics.csv line 2: epoch 'one' must be an integer above the previous line's 0"),
    ("plot-metrics-extra-field", damaged("r", metrics_rows(lambda lines: [lines[0], lines[1].rstrip("\n") + ",9\n"])), ["plot", "r"],
     "r/metrics.csv line 2:"),
    ("plot-metrics-nul-bytes", damaged("r", put("metrics.csv", "epoch,loss\n1,\0\n")), ["plot", "r"], "r/metrics.csv is damaged: it holds NUL bytes"),
    ("runs-unknown-sort-key", damaged("runs/x/a", lambda run: None), ["runs", "--sort", "bogus"],
     "--sort 'bogus' is not a run field or SPLIT.METRIC; valid: name, config, date"),
    ("runs-root-is-a-file", None, ["runs", "x.yaml"], "no runs folder x.yaml"),
    ("time-batch-size-zero", None, ["time", "x.yaml", "--batch-size", "0"], "--batch-size must be an integer >= 1, got 0"),
    ("time-steps-zero", None, ["time", "x.yaml", "--steps", "0"], "--steps must be an integer >= 1, got 0"),
    ("gradcheck-samples-zero", None, ["gradcheck", "x.yaml", "--samples", "0"], "Invalid value for '--samples'"),
    ("gradcheck-entries-zero", None, ["gradcheck", "x.yaml", "--entries", "0"], "Invalid value for '--entries'"),
    ("list-unknown-kind", None, ["list", "bogus"], "unknown kind 'bogus'; valid: layers, losses, optimizers"),
    ("resume-missing-run", None, ["fit", "--resume", "nope"], "run folder not found: nope"),
    ("resume-empty-folder", None, ["fit", "--resume", "empty"], "empty is not a run folder: it has no config.yaml"),
    ("resume-state-truncated", damaged("r", truncate("state.npz")), ["fit", "--resume", "r", "--set", "train.epochs=3"],
     "r/state.npz is damaged: it is not an .npz archive"),
    ("resume-summary-null", damaged("r", put("summary.json", "null\n")), ["fit", "--resume", "r"],
     "r/summary.json holds null, not a JSON object"),
    ("resume-summary-a-list", damaged("r", put("summary.json", "[1, 2, 3]\n")), ["fit", "--resume", "r"],
     "r/summary.json holds a list, not a JSON object"),
    ("resume-changes-the-model", None, ["fit", "--resume", "run", "--set", "model.layers.0.units=3"],
     "'model.layers.0.units' cannot change when resuming (it would no longer be the same run); allowed: train.epochs"),
    ("resume-state-of-another-model", damaged("r", from_other("state.npz")), ["fit", "--resume", "r", "--set", "train.epochs=3"],
     "r/state.npz is not this run's checkpoint: it was saved under another config than r/config.yaml"),
    ("fit-name-leaves-the-root", None, ["fit", "x.yaml", "--name", "../../x"], "--name '../../x' must be a single folder name"),
    ("fit-name-absolute", None, ["fit", "x.yaml", "--name", "/abs/x"], "--name '/abs/x' must be a single folder name"),
    ("fit-name-too-long", None, ["fit", "x.yaml", "--name", "a" * 300], "File name too long"),
    ("fit-bad-progress", None, ["fit", "x.yaml", "--progress", "bogus"], "--progress must be one of auto, rich, plain, none, got 'bogus'"),
    ("fit-missing-config", None, ["fit", "nope.yaml"], "config file not found: nope.yaml"),
    ("fit-config-is-a-folder", None, ["fit", "empty"], "empty is a folder, not a config file"),
    ("fit-config-not-utf8", None, ["fit", "binary.yaml"], "binary.yaml is not UTF-8 text"),
    ("fit-no-config", None, ["fit"], "give a CONFIG to train (e.g. nntrain fit configs/mnist_mlp.yaml) or --resume RUN_DIR"),
    ("fit-run-dir-holds-user-files", None, ["fit", "x.yaml", "--run-dir", "notes"],
     "--run-dir notes is not empty and is not an nntrain run folder (it holds mine.txt)"),
    ("fit-run-dir-holds-a-finished-run", None, ["fit", "x.yaml", "--run-dir", "run"],
     "--run-dir run already holds a run (status: done); continue it with nntrain fit --resume run"),
    ("fit-run-dir-under-a-file", None, ["fit", "x.yaml", "--run-dir", "a-file/run"], "cannot create run folder a-file/run: Not a directory"),
    ("fit-unknown-option", None, ["fit", "x.yaml", "--bogus"], "No such option: --bogus"),
    ("unknown-command", None, ["bogus"], "No such command 'bogus'"),
    ("sweep-grid-without-values", None, ["sweep", "x.yaml", "--grid", "optimizer.lr="], "--grid optimizer.lr=: no values"),
    ("sweep-random-zero", None, ["sweep", "x.yaml", "--random", "0", "--space", "optimizer.lr=loguniform(1e-4,1e-1)"],
     "--random must be an integer >= 1, got 0"),
    ("sweep-unknown-distribution", None, ["sweep", "x.yaml", "--random", "2", "--space", "optimizer.lr=lognormal(1,2)"],
     "unknown distribution 'lognormal' (did you mean 'loguniform'?)"),
    ("sweep-trial-without-out", None, ["sweep", "x.yaml", "--grid", "optimizer.lr=0.1,0.2", "--trial", "1"], "--trial K needs --out DIR"),
    ("sweep-bad-metric", None, ["sweep", "x.yaml", "--grid", "optimizer.lr=0.1,0.2", "--metric", "nope"],
     "--metric names a split and a metric, e.g. val.loss"),
    ("sweep-unknown-key", None, ["sweep", "x.yaml", "--grid", "optimizer.lrr=0.1,0.2"], "has no parameter 'lrr' (did you mean 'lr'?)"),
    ("sweep-random-beyond-memory", None,
     ["sweep", "x.yaml", "--random", "100000000000", "--space", "optimizer.lr=loguniform(1e-4,1e-1)"],
     "--random 100,000,000,000 draws make 100,000,000,000 trials, whose list alone needs about"),
    ("sweep-spec-is-a-list", None, ["sweep", "x.yaml", "--spec", "list-spec.yaml"], "list-spec.yaml: a sweep file is a mapping"),
    ("sweep-spec-missing", None, ["sweep", "x.yaml", "--spec", "nope.yaml"], "sweep file not found: nope.yaml"),
    ("sweep-report-not-a-sweep", None, ["sweep", "report", "empty"], "empty is not a sweep folder"),
]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("prepare, argv, message", [c[1:] for c in COMMAND_CASES], ids=[c[0] for c in COMMAND_CASES])
def test_hostile_commands_are_one_error_line_exit_2_and_nothing_written(trained, cli, tmp_path, prepare, argv, message):
    import shutil

    for name in ("x.yaml", "run", "other"):
        (shutil.copytree if (trained / name).is_dir() else shutil.copy)(trained / name, tmp_path / name)
    make_command_files(tmp_path)
    if prepare is not None:
        prepare(tmp_path)
    before = snapshot(tmp_path)
    r = cli(*argv)
    assert r.exit_code == 2, (argv, r.output)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert message in lines[0], lines[0]
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert snapshot(tmp_path) == before  # nothing written, nothing clobbered, no temporary file


def test_the_hostile_tables_hold_at_least_100_cases():
    assert len(CASES) + len(COMMAND_CASES) >= 100
