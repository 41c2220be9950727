"""Sequence data (issue 16): a CSV text column as token ids with a vocabulary of the training
split (sequence.json), sliding windows over a time series split by time, integer ids in an NPZ."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import nntrain
from nntrain.data.text import Vocabulary, tokenize

CLASSIFIER = ("model: {layers: [{type: flatten}, {type: dense, units: 2, activation: softmax}]}\n"
              "loss: sparse_categorical_crossentropy\nmetrics: [accuracy]\ntrain: {epochs: 1}\n")
REGRESSOR = ("model: {layers: [{type: flatten}, {type: dense, units: 1}]}\n"
             "loss: mse\ntrain: {epochs: 1, shuffle: false}\n")


def write_csv(path: Path, header, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


# -- tokens and vocabulary ----------------------------------------------------------------
def test_tokens_are_lower_case_words_or_characters():
    assert tokenize("Don't STOP, Zoë_2!", "words") == ["don", "t", "stop", "zoë_2"]
    assert tokenize("  Ab \t c!\n", "chars") == ["a", "b", " ", "c", "!"]


def test_vocabulary_orders_by_count_reserves_padding_and_unknown_pads_and_truncates():
    v = Vocabulary.fit(["b a b", "c b a", "d"], "words", max_tokens=4, sequence_length=3)
    assert v.tokens == ["", "[UNK]", "b", "a"]  # b 3 times, a twice; c and d (once) cut by max_tokens
    ids = v.encode(["a b c d", "b", "zzz"])
    assert ids.dtype == np.float32
    assert ids.tolist() == [[3, 2, 1], [2, 0, 0], [1, 0, 0]]  # first 3 tokens; 0 pads at the end
    assert Vocabulary.from_json(json.loads(json.dumps(v.to_json())), "x").tokens == v.tokens
    assert Vocabulary.fit(["x y z", "x"], "words").sequence_length == 3  # default: the longest text
    pre = Vocabulary.fit(["b a b", "c b a", "d"], "words", max_tokens=4, sequence_length=3, padding="pre")
    assert pre.encode(["a b c d", "b", ""]).tolist() == [[3, 2, 1], [0, 0, 2], [0, 0, 0]]  # padding first
    assert Vocabulary.from_json(pre.to_json(), "x").padding == "pre"


# -- a text column end to end -------------------------------------------------------------
@pytest.fixture
def texts(tmp_path):
    rows = [[f"good fine great {i}", "pos"] for i in range(20)] + [[f"bad awful poor {i}", "neg"] for i in range(20)]
    write_csv(tmp_path / "train.csv", ["review", "label"], rows)
    write_csv(tmp_path / "test.csv", ["review", "label"], [["great unseen words", "pos"], ["poor", "neg"]])
    return tmp_path


def test_text_column_fits_a_vocabulary_on_train_and_predict_reads_raw_rows(texts, write, cli):
    cfg = write("c.yaml", "data: {train: train.csv, test: test.csv, target: label, text: review, max_tokens: 50}\n"
                + CLASSIFIER.replace("epochs: 1", "epochs: 30").replace("{type: flatten}, ", ""))
    r = cli("fit", cfg, "--run-dir", "run", "--json")
    assert r.exit_code == 0, r.stderr
    seq = json.loads((texts / "run" / "sequence.json").read_text())
    assert seq["kind"] == "text" and seq["tokens"] == "words" and seq["sequence_length"] == 4
    assert "unseen" not in seq["vocabulary"] and seq["vocabulary"][:2] == ["", "[UNK]"]  # train only
    assert seq["target"]["classes"] == ["neg", "pos"]
    splits = nntrain.data.load_splits(nntrain.load_config(cfg).data)
    assert splits.test.x[0].tolist() == [seq["vocabulary"].index("great"), 1, 1, 0]  # unseen -> 1, padded
    write_csv(texts / "raw.csv", ["review"], [["great unseen words"], ["poor"]])  # test.csv without its target
    r = cli("predict", "run", "raw.csv")
    assert r.exit_code == 0, r.stderr
    expected = np.array(["neg", "pos"])[nntrain.load_model(texts / "run").predict(splits.test.x).argmax(axis=1)]
    assert r.stdout.split() == ["label", *expected]  # the raw rows got the ids the test split got
    r = cli("eval", "run", "--data", "test.csv", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["samples"] == 2


def test_characters_and_the_inferred_input_shape(texts, write, cli):
    cfg = write("c.yaml", "data: {train: train.csv, target: label, text: review, tokens: chars, "
                "sequence_length: 8, validation_split: 0.25}\n" + CLASSIFIER)
    r = cli("fit", cfg, "--run-dir", "run", "--json")
    assert r.exit_code == 0, r.stderr
    assert nntrain.load_config(texts / "run" / "config.yaml").model.input_shape == [8]
    vocab = json.loads((texts / "run" / "sequence.json").read_text())["vocabulary"]
    assert " " in vocab and "g" in vocab


@pytest.mark.parametrize("data, message", [
    ("{train: empty.csv, target: label, text: review}", "holds no tokens after cleaning"),
    ("{train: train.csv, target: label, text: revue}", "no text column 'revue'"),
    ("{train: train.csv, target: label, tokens: chars}", "data.tokens"),
    ("{train: train.csv, target: label, padding: pre}", "data.padding"),
    ("{train: train.csv, target: label, text: review, standardize: true}", "data.standardize"),
    ("{train: train.csv, target: label, text: review, window: {length: 2}}", "data.window"),
    ("{train: train.csv, target: review, text: review}", "is also the target"),
])
def test_bad_text_settings_are_one_error_line_and_nothing_written(texts, write, cli, data, message):
    write_csv(texts / "empty.csv", ["review", "label"], [["!!", "pos"], ["...", "neg"]])
    cfg = write("c.yaml", f"data: {data}\n" + CLASSIFIER)
    r = cli("fit", cfg, "--run-dir", "run")
    assert r.exit_code == 2
    assert r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
    assert not (texts / "run").exists()


# -- windows over a time series -----------------------------------------------------------
@pytest.fixture
def series(tmp_path):
    t = np.arange(40)
    rows = [[int(i), f"{v:.1f}", f"{w:.1f}"] for i, v, w in zip(t, 10 + t, 100 - t)]
    return write_csv(tmp_path / "series.csv", ["step", "a", "b"], rows)


def test_windows_hold_the_rows_before_and_the_target_horizon_rows_after(series, write):
    cfg = nntrain.load_config(write("c.yaml", "data: {train: series.csv, standardize: false, window: "
                                              "{length: 3, horizon: 2, target: a, features: [a, b]}}\n" + REGRESSOR))
    s = nntrain.data.load_splits(cfg.data)
    assert s.train.x.shape == (40 - 3 - 2 + 1, 3, 2)
    assert s.train.x[0].tolist() == [[10, 100], [11, 99], [12, 98]]
    assert s.train.y[0] == 10 + 2 + 2  # row 4: two rows after the window's last row (row 2)
    assert s.train.y[-1] == 10 + 39
    cfg.data.limit = 5  # data.limit counts windows: their rows are read, no more
    s = nntrain.data.load_splits(cfg.data)
    assert len(s.train) == 5 and s.train.y[-1] == 10 + 8


def test_windows_split_by_time_with_statistics_of_the_training_rows_only(series, write):
    cfg = nntrain.load_config(write("c.yaml", "data: {train: series.csv, test_split: 0.25, validation_split: 0.2, "
                                              "window: {length: 4, target: a, features: [a]}}\n" + REGRESSOR))
    s = nntrain.data.load_splits(cfg.data)
    n = 40 - 4 - 1 + 1
    assert (len(s.train), len(s.val), len(s.test)) == (n - 9 - 5, 5, 9)
    mean, std = float(s.mean[0, 0]), float(s.std[0, 0])
    y = lambda ds: ds.y  # noqa: E731 - targets are not standardized: raw values of column a
    assert y(s.train).max() < y(s.val).min() and y(s.val).max() < y(s.test).min()  # no shuffling across
    covered = 10 + np.arange(len(s.train) - 1 + 4)  # the rows the training windows read
    assert mean == pytest.approx(covered.mean()) and std == pytest.approx(covered.std())
    assert s.train.x[0, 0, 0] == pytest.approx((10 - mean) / std)
    # the future does not move the past: other values after the training rows change nothing
    rows = [line.split(",") for line in series.read_text().split()[1:]]
    for r in rows[30:]:
        r[1] = "1e6"
    write_csv(series, ["step", "a", "b"], rows)
    s2 = nntrain.data.load_splits(cfg.data)
    assert np.array_equal(s2.train.x, s.train.x) and np.array_equal(s2.mean, s.mean)


def test_a_forecaster_run_predicts_every_window_and_evaluates_raw_rows(series, write, cli):
    cfg = write("c.yaml", "data: {train: series.csv, test_split: 0.2, window: {length: 5, target: a, "
                          "features: [a, b]}}\n" + REGRESSOR)
    r = cli("fit", cfg, "--run-dir", "run", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads((series.parent / "run" / "sequence.json").read_text())["window"] == {
        "length": 5, "horizon": 1, "target": "a", "features": ["a", "b"]}
    assert "data.mean" in np.load(series.parent / "run" / "model.npz")
    r = cli("predict", "run", "series.csv")
    assert r.exit_code == 0, r.stderr
    assert len(r.stdout.split()) == 1 + 40 - 5 + 1  # the header, then every window (the last forecasts row 40)
    r = cli("eval", "run", "--data", "series.csv", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["samples"] == 40 - 5


@pytest.mark.parametrize("window, message", [
    ("{length: 40}", "the window is longer than the series"),
    ("{length: 3, target: c}", "no column 'c'"),
    ("{length: 3, features: [a, when]}", "line 2, column 'when': 'x' is not a number"),
])
def test_bad_windows_are_one_error_line(series, write, cli, window, message):
    rows = [line.split(",") + ["x"] for line in series.read_text().split()[1:]]
    write_csv(series, ["step", "a", "b", "when"], rows)
    cfg = write("c.yaml", f"data: {{train: series.csv, window: {window}}}\n" + REGRESSOR)
    r = cli("fit", cfg, "--run-dir", "run")
    assert r.exit_code == 2 and r.stderr.startswith("error:") and message in r.stderr, r.stderr
    assert not (series.parent / "run").exists()


# -- integer ids in an NPZ ----------------------------------------------------------------
def test_integer_ids_of_an_npz_stay_exact_and_are_not_standardized(tmp_path, write):
    x = np.array([[0, 5, 16_777_216], [3, 2, 1]], np.int64)  # 2^24: the largest float32 holds exactly
    np.savez(tmp_path / "ids.npz", x=x, y=np.array([0, 1]))
    cfg = nntrain.load_config(write("c.yaml", "data: {train: ids.npz}\n" + CLASSIFIER))
    s = nntrain.data.load_splits(cfg.data)
    assert s.mean is None and s.train.x.dtype == np.float32
    assert np.array_equal(s.train.x.astype(np.int64), x)
    np.savez(tmp_path / "ids.npz", x=x + 1, y=np.array([0, 1]))
    with pytest.raises(nntrain.errors.DataError, match="integer 16777217 is beyond 16,777,216"):
        nntrain.data.load_splits(cfg.data)


def test_an_embedding_smaller_than_max_tokens_is_a_config_error_at_its_key(texts, write, cli):
    cfg = write("c.yaml", "data: {train: train.csv, target: label, text: review, max_tokens: 50}\n"
                          "model: {layers: [{type: embedding, input_dim: 20, output_dim: 4}, {type: global_avgpool1d},\n"
                          "                 {type: dense, units: 2, activation: softmax}]}\n"
                          "loss: sparse_categorical_crossentropy\n")
    r = cli("check", cfg)
    assert r.exit_code == 2 and "model.layers.0.input_dim" in r.stderr and "at least data.max_tokens" in r.stderr


def test_export_writes_the_vocabulary_beside_the_graph_and_it_serves_raw_text(texts, write, cli):
    import onnxruntime as ort  # the test extra

    cfg = write("c.yaml", "data: {train: train.csv, target: label, text: review}\n" + CLASSIFIER)
    assert cli("fit", cfg, "--run-dir", "run").exit_code == 0
    r = cli("export", "run", "--out", "m.onnx")
    assert r.exit_code == 0, r.stderr
    d = json.loads((texts / "m.sequence.json").read_text())
    vocab = Vocabulary.from_json(d, "m.sequence.json")
    lines = ["so good", "awful, really poor"]
    session = ort.InferenceSession(str(texts / "m.onnx"))
    onnx_p = session.run(None, {session.get_inputs()[0].name: vocab.encode(lines)})[0]
    write_csv(texts / "raw.csv", ["review"], [[t] for t in lines])
    r = cli("predict", "run", "raw.csv", "--proba")
    assert r.exit_code == 0, r.stderr
    proba = np.array([[float(v) for v in row.split(",")] for row in r.stdout.split()[1:]])
    assert np.abs(onnx_p - proba).max() < 1e-4
