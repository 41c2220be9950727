"""Several model inputs from one CSV: data.inputs {name: [columns]} (data/column_groups.py).

Each group's columns are preprocessed as typed columns and packed, by input, in the layout a
graph unpacks; predict, eval and export of such a run group new rows the same way."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from nntrain import api
from nntrain.errors import ConfigError, DataError
from nntrain.nn.graph import packed_columns

from conftest import CONFIGS, REPO

PENGUINS = REPO / "datasets" / "penguins.csv"
SMALL = """\
id,a,cat,b,note,y
1,1.0,red,10,x,0
2,2.0,blue,20,7,1
3,3.0,red,,why?,0
4,4.0,green,40,,1
5,5.0,blue,50,8,1
6,6.0,red,60,z,0
"""
# z lists its columns out of file order; m sorts before z, so it is packed first
SMALL_CONFIG = """\
data: {train: small.csv, target: y, inputs: {z: [b, a], m: [cat]}}
model:
  inputs: {z: [2], m: [3]}
  layers:
    - {type: dense, units: 2, inputs: [z], name: dz}
    - {type: concatenate, inputs: [dz, m]}
    - {type: dense, units: 2, activation: softmax}
loss: sparse_categorical_crossentropy
train: {epochs: 1, batch_size: 2}
"""


@pytest.fixture
def small(tmp_path, write):
    (tmp_path / "small.csv").write_text(SMALL)
    return write("small.yaml", SMALL_CONFIG)


@pytest.fixture
def penguins(tmp_path):
    """configs/penguins_two_inputs.yaml beside a copy of the data, as a user's project holds them."""
    (tmp_path / "datasets").mkdir()
    shutil.copy(PENGUINS, tmp_path / "datasets" / "penguins.csv")
    (tmp_path / "configs").mkdir()
    cfg = tmp_path / "configs" / "two.yaml"
    shutil.copy(CONFIGS / "penguins_two_inputs.yaml", cfg)
    return cfg


def nntrain(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nntrain", *map(str, args)], capture_output=True, text=True,
                          check=False, cwd=cwd, timeout=120)


# -- the layout ----------------------------------------------------------------------------
def test_each_group_is_its_columns_encoded_and_packed_by_input(small):
    """x = [m: cat one-hot (blue, green, red)] + [z: b, a], each number z-scored with the training
    statistics and the gap in b filled with its median; 'note' and 'id' are in no group: ignored,
    so the text and numbers mixed in 'note' are never read."""
    cfg = api.load_config(small)
    splits = api.load_splits(cfg.data, input_shape=(5,), seed=0, inputs=cfg.model.inputs)
    prep = splits.tabular
    assert prep.groups == {"z": ["b", "a"], "m": ["cat"]} and sorted(prep.ignored) == ["id", "note"]
    assert prep.features == ["cat=blue", "cat=green", "cat=red", "b", "a"]
    a = np.arange(1.0, 7.0)
    b = np.array([10, 20, 40, 40, 50, 60.0])  # the gap filled with the median of 10, 20, 40, 50, 60
    expected = np.column_stack([[0, 1, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0], [1, 0, 1, 0, 0, 1],
                                (b - b.mean()) / b.std(), (a - a.mean()) / a.std()])
    np.testing.assert_allclose(splits.train.x, expected, rtol=1e-6)
    cols = packed_columns(cfg.model.inputs)
    assert cols == {"m": (0, 3), "z": (3, 5)}  # the layout the graph unpacks


def test_a_width_that_differs_per_group_is_refused_even_when_the_total_agrees(small):
    """model.inputs {z: [3], m: [2]} has the same 5 values in all: without the per-group check
    the graph would read a one-hot column as a number."""
    cfg = api.load_config(small, ["model.inputs.z=[3]", "model.inputs.m=[2]"])
    with pytest.raises(ConfigError) as e:
        api.load_splits(cfg.data, input_shape=(5,), seed=0, inputs=cfg.model.inputs)
    assert e.value.key == "data.inputs.m"
    assert "the columns cat encode to 3 features (cat=blue, cat=green, cat=red), but model.inputs.m is [2]; " \
           "declare model.inputs.m: [3]" in e.value.message


def test_the_groups_are_saved_and_a_damaged_entry_is_refused(small, cli, tmp_path):
    assert cli("fit", small, "--run-dir", tmp_path / "run", "--quiet").exit_code == 0
    path = tmp_path / "run" / "preprocessing.json"
    saved = json.loads(path.read_text())
    assert saved["tabular"]["groups"] == {"z": ["b", "a"], "m": ["cat"]}
    saved["tabular"]["groups"] = {"z": ["b", "nope"], "m": ["cat"]}
    path.write_text(json.dumps(saved))
    r = cli("predict", tmp_path / "run", tmp_path / "small.csv")
    assert r.exit_code == 2 and "its 'groups' entry is damaged" in r.stderr, r.output


def test_predict_reads_rows_without_the_ignored_columns_and_says_which_grouped_column_is_missing(small, cli, tmp_path):
    assert cli("fit", small, "--run-dir", tmp_path / "run", "--quiet").exit_code == 0
    (tmp_path / "new.csv").write_text("cat,a,b\nred,2.5,30\nblue,1,\n")  # no id, note nor target; any order
    r = cli("predict", tmp_path / "run", tmp_path / "new.csv", "--proba", "--out", tmp_path / "p.npz")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "p.npz") as f:
        proba = f["proba"]
    # the same rows by hand: the model fed {z: [b, a], m: one-hot cat} as named inputs
    from nntrain.runs.load import load_run

    run = load_run(tmp_path / "run")
    za = (np.array([2.5, 1.0]) - 3.5) / np.arange(1.0, 7.0).std()
    b = np.array([10, 20, 40, 40, 50, 60.0])
    zb = (np.array([30.0, 40.0]) - b.mean()) / b.std()
    by_hand = run.model.predict({"z": np.column_stack([zb, za]), "m": np.array([[0, 0, 1], [1, 0, 0.0]])})
    np.testing.assert_allclose(proba, by_hand, rtol=1e-5)
    (tmp_path / "short.csv").write_text("a,b\n1,2\n")
    r = cli("predict", tmp_path / "run", tmp_path / "short.csv")
    assert r.exit_code == 2 and "no column 'cat'" in r.stderr, r.output


# -- the user's path, as a user runs it -------------------------------------------------------
def test_fit_predict_eval_and_export_of_the_shipped_example(penguins, tmp_path):
    """The example's own file, run as a user would: fit (few epochs), then predict a CSV of new
    rows (no target, no year), eval, and the ONNX export fed each group under its input's name
    agrees with predict --proba."""
    root = tmp_path
    r = nntrain("fit", penguins, "--set", "train.epochs=20", "--run-dir", "run", "--json", cwd=root)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["test"]["accuracy"] > 0.9, out
    rows = PENGUINS.read_text().splitlines()
    new = [",".join(line.split(",")[1:7]) for line in rows[:11]]  # drop species and year
    (root / "new.csv").write_text("\n".join(new) + "\n")
    r = nntrain("predict", "run", "new.csv", "--proba", "--out", "p.npz", cwd=root)
    assert r.returncode == 0 and r.stderr.strip() == "10 predictions written to p.npz", r.stderr
    from typer.testing import CliRunner

    from nntrain.cli import app

    runner = CliRunner()
    labels = runner.invoke(app, ["predict", str(root / "run"), str(root / "new.csv")])
    assert labels.exit_code == 0 and labels.stdout.splitlines()[0] == "label", labels.output
    assert labels.stdout.splitlines()[1:].count("Adelie") >= 8  # the file's first rows are Adelie penguins
    ev = runner.invoke(app, ["eval", str(root / "run"), "--json"])
    assert ev.exit_code == 0 and json.loads(ev.stdout)["accuracy"] == pytest.approx(out["test"]["accuracy"])
    ex = runner.invoke(app, ["export", str(root / "run"), "--out", str(root / "m.onnx")])
    assert ex.exit_code == 0, ex.output
    from nntrain.runs.load import load_run
    from nntrain.runs.predict import run_inputs

    x = run_inputs(load_run(root / "run"), root / "new.csv")
    cols = packed_columns({"measures": [4], "site": [5]})
    import onnxruntime as ort

    sess = ort.InferenceSession((root / "m.onnx").read_bytes(), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["measures", "site"]
    got = sess.run(None, {k: np.ascontiguousarray(x[:, a:b], np.float32) for k, (a, b) in cols.items()})[0]
    with np.load(root / "p.npz") as f:
        assert np.abs(got - f["proba"]).max() < 1e-4


# -- bad input -----------------------------------------------------------------------------------
BAD = [
    ("unknown-column", ["data.inputs.site=[island, sexx]"], "data.inputs.site.1",
     "no column 'sexx' in penguins.csv (did you mean 'sex'?); its feature columns: island, bill_length_mm"),
    ("column-in-two-groups", ["data.inputs.site=[island, bill_depth_mm]"], "data.inputs.site.1",
     "column 'bill_depth_mm' is already in data.inputs.measures; a column feeds one input"),
    ("target-in-a-group", ["data.inputs.site=[island, species]"], "data.inputs.site.1",
     "'species' is the target column (data.target), which the model predicts; it cannot also be an input"),
    ("weight-in-a-group", ["data.weight=year", "data.inputs.site=[island, year]"], "data.inputs.site.1",
     "'year' is the weight column (data.weight), not a feature"),
    ("empty-group", ["data.inputs.site=[]"], "data.inputs.site", "lists no columns"),
    ("group-not-a-list", ["data.inputs.site=3"], "data.inputs.site", "must be a list of column names like [island, sex]"),
    ("extra-group", ["data.inputs.sites=[year]"], "data.inputs.sites",
     "'sites' is not a model input (did you mean 'site'?); model.inputs: measures, site"),
    ("npz-source", ["data.train=two.npz"], "data.inputs",
     "column groups are columns of a CSV, but data.train is two.npz (an .npz gives each input as an array x_<name>"),
    ("built-in-source", ["data.train=", "data.name=spirals"], "data.inputs",
     "column groups are columns of a CSV, and the data is a built-in dataset"),
    ("group-too-narrow", ["model.inputs.site=[4]"], "data.inputs.site",
     "the columns island, sex encode to 5 features (island=Biscoe, island=Dream, island=Torgersen, sex=female, "
     "sex=male), but model.inputs.site is [4]; declare model.inputs.site: [5]"),
    ("declared-ignore", ["data.columns.sex=ignore"], "data.columns.sex",
     "column 'sex' is in data.inputs.site but declared ignore here"),
    ("declared-but-in-no-group", ["data.columns.year=numeric"], "data.columns.year",
     "column 'year' is in no group of data.inputs, so no input reads it"),
]


@pytest.mark.parametrize("sets, key, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_column_groups_are_one_error_line(penguins, cli, tmp_path, sets, key, message):
    np.savez(tmp_path / "configs" / "two.npz", x_measures=np.zeros((4, 4)), x_site=np.zeros((4, 5)), y=np.arange(4) % 2)
    r = cli("check", penguins, *[a for s in sets for a in ("--set", s)])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert f"{key}: {message}" in lines[0], lines[0]


GROUPS = ("  inputs:\n    measures: [bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g]\n"
          "    site: [island, sex]         # island: 3 one-hot features, sex: 2\n")


@pytest.mark.parametrize("replacement, key, message", [
    (GROUPS.split("    site")[0], "data.inputs", "gives no columns for model input 'site'; each of model.inputs "
     "(measures, site) needs a group: data.inputs.site: [columns]"),
    ("", "model.inputs",
     "data.train is a CSV: give each input its columns, data.inputs: {measures: [columns], site: [columns]}"),
], ids=["a-group-missing", "no-data-inputs"])
def test_a_missing_group_is_located_in_the_file(penguins, cli, replacement, key, message):
    text = penguins.read_text()
    assert GROUPS in text
    penguins.write_text(text.replace(GROUPS, replacement))
    r = cli("check", penguins)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
    assert "two.yaml:" in r.stderr and f": {key}: {message}" in r.stderr, r.stderr


def test_data_inputs_without_model_inputs(tmp_path, write, cli):
    (tmp_path / "small.csv").write_text(SMALL)
    cfg = write("c.yaml", "data: {train: small.csv, target: y, inputs: {a: [a]}}\n"
                          "model: {layers: [{type: dense, units: 2, activation: softmax}]}\n"
                          "loss: sparse_categorical_crossentropy\n")
    r = cli("check", cfg)
    assert r.exit_code == 2 and "c.yaml:1:" in r.stderr and "data.inputs: gives the columns of several named model " \
        "inputs; declare the inputs and their shapes too: model.inputs: {name: [width], ...}" in r.stderr, r.stderr


def test_unreadable_saved_groups_are_a_data_error():
    from nntrain.data.column_groups import saved_groups

    assert saved_groups({"a": ["x"]}, ["x", "y"], "p.json") == {"a": ["x"]}
    for bad in ({"a": []}, {"a": "x"}, ["x"], {"a": [1]}):
        with pytest.raises(DataError, match="'groups' entry is damaged"):
            saved_groups(bad, ["x"], "p.json")
