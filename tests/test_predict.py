"""`nntrain predict` agrees with `nntrain eval` on the same data, in every output form."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nntrain import api, runs
from nntrain.data import apply_standardize


def table(text: str) -> tuple[list[str], np.ndarray]:
    header, _, body = text.partition("\n")
    return header.split(","), np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3)) * [5.0, 0.5, 2.0] + [3.0, -1.0, 0.0]  # standardizing matters
    y = (x[:, 0] / 5 + x[:, 1] * 2 > 0.2).astype(int) + (x[:, 2] > 1)
    rows = "".join(f"{a:.17g},{b:.17g},{c:.17g},{t}\n" for (a, b, c), t in zip(x, y))
    (tmp_path / "train.csv").write_text("a,b,c,label\n" + rows)
    (tmp_path / "new.csv").write_text("a,b,c\n" + "".join(r.rsplit(",", 1)[0] + "\n" for r in rows.splitlines()))
    return x, y


@pytest.fixture
def classifier(data, write, cli, tmp_path):
    cfg = write("c.yaml", "data: {train: train.csv, standardize: true}\n"
                          "model: {input_shape: [3], layers: [{type: dense, units: 8, activation: relu},\n"
                          "        {type: dense, units: 3, activation: softmax}]}\n"
                          "loss: sparse_categorical_crossentropy\nmetrics: [accuracy]\n"
                          "optimizer: {type: adam, lr: 0.02}\ntrain: {epochs: 5, batch_size: 16}\n")
    assert cli("fit", cfg, "--run-dir", "clf", "-q").exit_code == 0
    return tmp_path / "clf"


def test_predict_labels_score_exactly_what_eval_reports(classifier, data, cli):
    _, y = data
    r = cli("predict", classifier, "train.csv")
    assert r.exit_code == 0, r.output
    header, labels = table(r.stdout)
    assert header == ["label"] and labels.shape == (90, 1)
    ev = json.loads(cli("eval", classifier, "--data", "train.csv", "--json").stdout)
    assert np.mean(labels[:, 0] == y) == ev["accuracy"]
    assert 0.5 < ev["accuracy"] < 1.0  # a trained but imperfect model: the comparison has teeth


def test_predict_probabilities_are_the_model_outputs_on_standardized_inputs(classifier, data, cli):
    x, _ = data
    run = api.load_run(classifier)
    expected = run.model.predict(apply_standardize(x.astype(np.float32), run.mean, run.std))
    header, p = table(cli("predict", classifier, "new.csv", "--proba").stdout)
    assert header == ["p_0", "p_1", "p_2"]
    assert np.array_equal(p.astype(np.float32), expected)  # %.9g round-trips float32 exactly
    # the same from the file with its target column, and as NPZ
    assert cli("predict", classifier, "train.csv", "--proba", "--out", "p.npz").exit_code == 0
    assert np.array_equal(runs.read_npz("p.npz")["proba"], expected)
    assert cli("predict", classifier, "new.csv", "--out", "l.csv").exit_code == 0
    _, labels = table(open("l.csv").read())
    assert np.array_equal(labels[:, 0], expected.argmax(axis=1))


def test_predict_reads_npz_and_refuses_pickles(classifier, data, cli):
    x, _ = data
    np.savez("x.npz", x=x)
    header, labels = table(cli("predict", classifier, "x.npz").stdout)
    _, ref = table(cli("predict", classifier, "new.csv").stdout)
    assert np.array_equal(labels, ref)
    np.savez("evil.npz", x=np.array([{"a": 1}], dtype=object))
    r = cli("predict", classifier, "evil.npz")
    assert r.exit_code == 2 and "pickled" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n", "has 2 columns but the model takes 3 features"),
    ("a,b,c\n1,x,2\n", "line 2, column 'b': 'x' is not a number"),
    ("a,b,c\n1,nan,2\n", "line 2: features contain NaN or inf"),
    ("", "empty CSV file"),
])
def test_predict_bad_inputs_are_errors(classifier, cli, write, content, message):
    write("bad.csv", content)
    r = cli("predict", classifier, "bad.csv", "--out", "out.csv")
    assert r.exit_code == 2 and message in r.stderr, r.output
    assert not (classifier.parent / "out.csv").exists()


def test_predict_regression_values_and_proba_refused(write, cli, tmp_path):
    cfg = write("r.yaml", "data: {name: sine, options: {n_samples: 32}}\nmodel: {input_shape: [1], layers: "
                          "[{type: dense, units: 1}]}\nloss: mse\ntrain: {epochs: 1}\n")
    assert cli("fit", cfg, "--run-dir", "reg", "-q").exit_code == 0
    write("x.csv", "x\n0.5\n-1.25\n")
    header, y = table(cli("predict", "reg", "x.csv").stdout)
    model = api.load_model(tmp_path / "reg")
    assert header == ["y"]
    assert np.array_equal(y.astype(np.float32), model.predict(np.array([[0.5], [-1.25]], np.float32)))
    r = cli("predict", "reg", "x.csv", "--proba")
    assert r.exit_code == 2 and "--proba needs a classifier" in r.stderr


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    (root / "t.csv").write_text("a,b,y\n" + "".join(f"{i / 7:.3f},{i % 3},{i % 2}\n" for i in range(12)))
    (root / "c.yaml").write_text("data: {train: t.csv, standardize: true}\nmodel: {input_shape: [2], layers: "
                                 "[{type: dense, units: 2, activation: softmax}]}\nloss: sparse_categorical_crossentropy\n")
    api.fit(api.load_config(root / "c.yaml"), run_dir=root / "run")
    return root / "run"


cell = st.one_of(st.integers(-5, 5).map(str), st.sampled_from(["", "x", "nan", "1e400", "0.5", "-inf", "3"]))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(header=st.lists(st.sampled_from(["a", "b", "y", "c", ""]), max_size=4),
       rows=st.lists(st.lists(cell, min_size=0, max_size=4), max_size=5),
       out=st.sampled_from([None, "p.csv", "p.npz", "nodir/p.csv"]), proba=st.booleans())
def test_random_predict_inputs_exit_0_or_2(small_run, tmp_path_factory, header, rows, out, proba):
    from typer.testing import CliRunner

    from nntrain.cli import app

    tmp = tmp_path_factory.mktemp("in")
    (tmp / "x.csv").write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    args = ["predict", str(small_run), str(tmp / "x.csv")] + (["--out", str(tmp / out)] if out else [])
    r = CliRunner().invoke(app, args + (["--proba"] if proba else []))
    assert r.exit_code in (0, 2), (r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    written = [p.name for p in tmp.rglob("*") if p.name != "x.csv"]
    if r.exit_code == 2:
        assert r.stderr.startswith("error: ") and not written, (r.stderr, written)
    elif out:
        assert written == [Path(out).name]
