"""Tabular CSVs (issue 14): column kinds inferred or declared, missing values filled from the
training split, categories one-hot, string targets with class names, preprocessing.json."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import nntrain
from nntrain.data import preprocessing
from nntrain.data.csvfile import read_table

from conftest import CONFIGS, REPO

MODEL = ("model: {layers: [{type: dense, units: 16, activation: relu}, {type: dense, units: 3, activation: softmax}]}\n"
         "loss: sparse_categorical_crossentropy\nmetrics: [accuracy]\n"
         "optimizer: {type: adam, lr: 0.01}\ntrain: {epochs: 30, batch_size: 16}\n")


def mixed_rows(n: int, seed: int = 0) -> list[list[str]]:
    """Rows of a Titanic-like table: a number with gaps, a text category with gaps, a yes/no
    column, an id, and a string target that depends on them."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        size = rng.normal(10, 3)
        colour = ["red", "green", "blue"][rng.integers(3)]
        flag = rng.random() < 0.5
        kind = "big" if size > 10 else "small"
        if colour == "blue" and flag:
            kind = "odd"
        rows.append([f"{size:.3f}" if rng.random() > 0.1 else "", colour if rng.random() > 0.1 else "NA",
                     "yes" if flag else "no", str(1000 + i), kind])
    return rows


def write_csv(path: Path, rows, header=("size", "colour", "flag", "id", "kind")) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def mixed(tmp_path, write):
    write_csv(tmp_path / "train.csv", mixed_rows(240))
    write_csv(tmp_path / "test.csv", mixed_rows(60, seed=1))
    return write("c.yaml", "data: {train: train.csv, test: test.csv, target: kind,\n"
                           "       columns: {id: ignore}}\n" + MODEL)


def test_raw_mixed_csv_trains_with_only_the_target_and_predicts_class_names(tmp_path, write, cli):
    write_csv(tmp_path / "train.csv", mixed_rows(240))
    cfg = write("c.yaml", "data: {train: train.csv, target: kind, test_split: 0.25}\n" + MODEL)
    r = cli("fit", cfg, "--run-dir", "run", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["test"]["accuracy"] > 0.7
    run = tmp_path / "run"
    saved = json.loads((run / "preprocessing.json").read_text())
    assert saved["classes"] == ["big", "odd", "small"]
    kinds = {c["name"]: c["kind"] for c in saved["tabular"]["columns"]}
    assert kinds == {"size": "numeric", "colour": "category", "flag": "boolean", "id": "numeric"}
    # raw rows, with gaps and without the target column, give class names
    raw = [row[:4] for row in mixed_rows(5, seed=2)] + [["", "NA", "no", "7"]]
    write_csv(tmp_path / "new.csv", raw, header=("size", "colour", "flag", "id"))
    r = cli("predict", run, "new.csv")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "label" and len(lines) == 7 and set(lines[1:]) <= {"big", "odd", "small"}
    r = cli("predict", run, "new.csv", "--proba")
    assert r.stdout.splitlines()[0] == "p_big,p_odd,p_small"
    r = cli("eval", run, "--json")
    out = json.loads(r.stdout)
    assert out["classes"] == ["big", "odd", "small"] and len(out["confusion_matrix"]) == 3


def test_preprocessing_json_round_trips_and_transforms_the_same(mixed, tmp_path, cli):
    assert cli("fit", mixed, "--run-dir", "run", "-q").exit_code == 0
    prep, classes = preprocessing.read_preprocessing(tmp_path / "run" / "preprocessing.json")
    again = preprocessing.Tabular.from_json(json.loads(json.dumps(prep.to_json())), "x")
    assert again == prep and classes == prep.target.classes
    table = read_table(tmp_path / "test.csv")
    np.testing.assert_array_equal(again.transform(table), prep.transform(table))
    assert prep.ignored == ["id"] and prep.width == 1 + 3 + 1  # size, colour=blue/green/red, flag
    # the Python API gets the same inputs as predict
    from nntrain.runs.load import load_run
    from nntrain.runs.predict import predict_run, run_inputs

    run = load_run(tmp_path / "run")
    x = run_inputs(run, tmp_path / "test.csv")
    np.testing.assert_array_equal(x, prep.transform(table))
    labels = run.model.predict(x).argmax(axis=1)
    assert list(predict_run(tmp_path / "run", tmp_path / "test.csv").values) == [classes[i] for i in labels]


def test_statistics_come_from_the_train_split_only(tmp_path, write):
    # the validation rows hold huge values: the fill value and the mean must not see them
    rows = [[str(float(i)), "", "a" if i % 2 else "b"] for i in range(20)]
    write_csv(tmp_path / "d.csv", rows, header=("v", "w", "t"))
    (tmp_path / "d.csv").write_text((tmp_path / "d.csv").read_text().replace(",,", ",1,", 18))
    from nntrain.data import load_splits
    from nntrain.data.splits import validation_indices

    cfg = nntrain.load_config(write("c.yaml", "data: {train: d.csv, target: t, validation_split: 0.25}\n" + MODEL))
    splits = load_splits(cfg.data, seed=cfg.seed)
    train_rows, _ = validation_indices(20, 0.25, cfg.seed)
    v = train_rows.astype(float)
    col = splits.tabular.columns[0]
    assert col.mean == pytest.approx(v.mean()) and col.std == pytest.approx(v.std())
    assert splits.tabular.columns[1].fill_value == 1.0  # median of the filled cells of the train split
    np.testing.assert_allclose(splits.train.x[:, 0], (v - v.mean()) / v.std(), rtol=1e-6)


def test_declared_kinds_fills_indicator_and_integers_as_categories(tmp_path, write):
    rows = [["1", "3", "", "x"], ["2", "", "5", "y"], ["3", "1", "7", "x"], ["1", "2", "NA", "y"]]
    write_csv(tmp_path / "d.csv", rows, header=("grade", "n", "m", "t"))
    cfg = nntrain.load_config(write("c.yaml", "data: {train: d.csv, target: t, columns: {grade: category, "
                                              "n: {kind: numeric, fill: mean, indicator: true}, "
                                              "m: {fill: constant, value: -1}}, standardize: false}\n" + MODEL))
    from nntrain.data import load_splits

    splits = load_splits(cfg.data, seed=0)
    prep = splits.tabular
    assert prep.features == ["grade=1", "grade=2", "grade=3", "n", "n_missing", "m"]
    np.testing.assert_array_equal(splits.train.x, [[1, 0, 0, 3, 0, -1], [0, 1, 0, 2, 1, 5],
                                                   [0, 0, 1, 1, 0, 7], [1, 0, 0, 2, 0, -1]])


def test_rare_categories_fold_into_other_and_unseen_ones_encode_as_zeros(tmp_path, write):
    rows = [[c, "0"] for c in "aaaabbbccd"] + [["e", "1"]]
    write_csv(tmp_path / "d.csv", rows, header=("c", "t"))
    cfg = nntrain.load_config(write("c.yaml", "data: {train: d.csv, target: t, max_categories: 3, "
                                              "columns: {c: category}}\n" + MODEL))
    from nntrain.data import load_splits

    prep = load_splits(cfg.data, seed=0).tabular
    assert prep.features == ["c=a", "c=b", "c=other"]
    write_csv(tmp_path / "n.csv", [["b"], ["d"], ["zzz"]], header=("c",))
    np.testing.assert_array_equal(prep.transform(read_table(tmp_path / "n.csv")), [[0, 1, 0], [0, 0, 1], [0, 0, 1]])
    # without an "other" bucket a category never seen in training is all zeros
    cfg = nntrain.load_config(write("c2.yaml", "data: {train: d.csv, target: t, columns: {c: category}}\n" + MODEL))
    prep = load_splits(cfg.data, seed=0).tabular
    assert prep.transform(read_table(tmp_path / "n.csv"))[2].tolist() == [0, 0, 0, 0, 0]


def test_a_numeric_csv_reads_as_before(tmp_path, write, cli):
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.normal(size=(30, 2)), rng.integers(0, 3, 30)])
    np.savetxt(tmp_path / "d.csv", data, fmt="%.5g", delimiter=",", header="a,b,y", comments="")
    cfg = write("c.yaml", "data: {train: d.csv}\n" + MODEL.replace("epochs: 30", "epochs: 1"))
    assert cli("fit", cfg, "--run-dir", "run", "-q").exit_code == 0
    assert not (tmp_path / "run" / "preprocessing.json").exists()
    with np.load(tmp_path / "run" / "model.npz") as z:
        assert "data.mean" not in z.files  # standardize: auto is off for plain numbers, as before


def test_check_shows_the_columns_the_balance_and_the_width(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    r = cli("check", CONFIGS / "penguins.yaml")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    for text in ("island", "category", "sex", "most_frequent ('", "bill_length_mm", "numeric, scaled",
                 "median (", "target species: Adelie", "Chinstrap", "encoded input width: 10", "input shape [10]"):
        assert text in out, text


def test_penguins_config_trains_on_the_raw_file(cli, tmp_path):
    r = cli("fit", CONFIGS / "penguins.yaml", "--set", "train.epochs=20", "--run-dir", "run", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["test"]["accuracy"] > 0.9
    rows = (REPO / "datasets" / "penguins.csv").read_text().splitlines()
    (tmp_path / "some.csv").write_text("\n".join([rows[0]] + rows[1:4] + rows[-2:]) + "\n")
    r = cli("predict", "run", "some.csv")
    assert r.stdout.splitlines() == ["label", "Adelie", "Adelie", "Adelie", "Chinstrap", "Chinstrap"]
    r = cli("export", "run", "--out", tmp_path / "p.onnx")
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "p.preprocessing.json").read_text())["classes"] == ["Adelie", "Chinstrap", "Gentoo"]


BAD = [
    ("target-not-a-column", "a,b,t\n1,x,u\n", None, "target: nope", "no column 'nope'"),
    ("target-all-missing", "a,b,t\n1,x,NA\n2,y,\n", None, "target: t", "the target column 't' has no values"),
    ("numeric-in-train-text-in-test", "a,b,t\n1,x,u\n2,y,v\n", "a,b,t\n1,x,u\nlots,y,v\n", "target: t",
     "test.csv line 3, column 'a': 'lots' is not a number, but the column is numeric in the training data"),
    ("too-many-categories", "a,b,t\n1,x,u\n2,y,v\n3,z,u\n", None, "target: t, max_categories: 2, fold_rare: false",
     "column 'b' has 3 categories in the training split, more than max_categories (2)"),
    ("class-unseen-in-train", "a,b,t\n1,x,u\n2,y,v\n", "a,b,t\n1,x,w\n", "target: t",
     "test.csv line 2, column 't': class 'w' never occurs in the training data"),
    ("unknown-kind", "a,b,t\n1,x,u\n", None, "target: t, columns: {b: categry}",
     "data.columns.b: unknown kind 'categry' (did you mean 'category'?)"),
    ("column-not-in-file", "a,b,t\n1,x,u\n", None, "target: t, columns: {c: category}",
     "data.columns.c: no column 'c' in"),
    ("mixed-column", "a,b,t\n1,x,u\n?,y,v\n", None, "target: t, na_values: ['']",
     "line 3, column 'a': '?' is not a number, though the column holds numbers; if '?' marks a missing value"),
    ("target-missing-in-a-row", "a,b,t\n1,x,u\n2,y,\n", None, "target: t", "line 3, column 't': the target is missing"),
]


@pytest.mark.parametrize("train, test, data, message", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_tabular_input_is_one_error_line_and_nothing_written(tmp_path, write, cli, train, test, data, message):
    write("train.csv", train)
    if test:
        write("test.csv", test)
    cfg = write("c.yaml", f"data: {{train: train.csv{', test: test.csv' if test else ''}, {data}}}\n" + MODEL)
    for command in (("fit", cfg, "--run-dir", "run"), ("check", cfg)):
        r = cli(*command)
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.output
        assert message in lines[0], lines[0]
        assert not (tmp_path / "run").exists()


def test_predict_rows_without_a_trained_column_are_an_error(mixed, tmp_path, cli):
    assert cli("fit", mixed, "--run-dir", "run", "-q").exit_code == 0
    write_csv(tmp_path / "new.csv", [["1.5", "yes"]], header=("size", "flag"))
    r = cli("predict", "run", "new.csv", "--out", "p.csv")
    assert r.exit_code == 2 and "no column 'colour'; the run was trained on columns size, colour, flag" in r.stderr
    assert not (tmp_path / "p.csv").exists()
