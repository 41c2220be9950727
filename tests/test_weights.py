"""Sample weights and class weights (issue 14, imbalance): the numbers, training with them, and
the bad input, through the library and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nntrain import api, build_loss, runs
from nntrain.config import load_config
from nntrain.data import Dataset
from nntrain.data.weights import class_weight_vector, split_weights
from nntrain.errors import ConfigError, Interrupted
from nntrain.train import checkpoint
from nntrain.train.trainer import Trainer

SPARSE = build_loss("sparse_categorical_crossentropy")


def test_balanced_class_weights_by_hand():
    # 4 samples, classes 0, 0, 0, 1: n / (k count_c) = 4 / (2 * 3) and 4 / (2 * 1)
    y = np.array([0, 0, 0, 1])
    assert np.allclose(class_weight_vector("balanced", SPARSE, (2,), y), [2 / 3, 2.0], rtol=1e-15)
    # a third output no training sample has: k = 2 classes present, the absent one counts 1
    assert np.allclose(class_weight_vector("balanced", SPARSE, (3,), y), [2 / 3, 2.0, 1.0], rtol=1e-15)
    # the same from one-hot targets, and from a single sigmoid output (classes 0 and 1)
    cce = build_loss("categorical_crossentropy")
    assert np.allclose(class_weight_vector("balanced", cce, (2,), np.eye(2)[y]), [2 / 3, 2.0], rtol=1e-15)
    bce = build_loss("binary_crossentropy")
    assert np.allclose(class_weight_vector("balanced", bce, (1,), np.array([[1.0], [1.0], [1.0], [0.0]])),
                       [2.0, 2 / 3], rtol=1e-15)
    # per sample, in a run: class 1's single sample weighs 3 times each class-0 sample
    (w,) = split_weights("balanced", SPARSE, (2,), [(Dataset(np.zeros((4, 1)), y), y)], "float64")
    assert np.allclose(w, [2 / 3, 2 / 3, 2 / 3, 2.0], rtol=1e-15)
    # 6 samples, counts 3, 2, 1: 6 / (3 * count) = 2/3, 1, 2
    y6 = np.array([2, 0, 1, 0, 1, 0])
    assert np.allclose(class_weight_vector("balanced", SPARSE, (3,), y6), [2 / 3, 1.0, 2.0], rtol=1e-15)


def test_class_weight_mapping_by_label_and_by_name():
    y = np.array([0, 1, 1, 0])
    ds = Dataset(np.zeros((4, 1)), y, classes=["cat", "dog"])
    assert list(class_weight_vector({1: 3.0}, SPARSE, (2,), y)) == [1.0, 3.0]  # classes left out count 1
    assert list(class_weight_vector({"dog": 3.0, 0: 0.5}, SPARSE, (2,), y, ds.classes)) == [0.5, 3.0]
    assert list(class_weight_vector({"1": 4.0}, SPARSE, (2,), y)) == [1.0, 4.0]  # `--set ...class_weight.1=4`
    # it multiplies the weight column
    ds.w = np.array([1.0, 2.0, 0.5, 0.0])
    (w,) = split_weights({"dog": 3.0}, SPARSE, (2,), [(ds, y)], "float64")
    assert list(w) == [1.0, 6.0, 1.5, 0.0]
    with pytest.raises(ConfigError, match=r"no class 'dgo' \(did you mean 'dog'\?\); valid: the class names 'cat', 'dog' or labels 0..1"):
        class_weight_vector({"dgo": 2.0}, SPARSE, (2,), y, ds.classes)
    with pytest.raises(ConfigError, match=r"no class 5; valid: labels 0..2") as info:
        class_weight_vector({5: 2.0}, SPARSE, (3,), y)
    assert info.value.key == "train.class_weight.5"
    with pytest.raises(ConfigError, match="class 1 is given twice, as 'dog' and as 1"):
        class_weight_vector({"dog": 2.0, 1: 3.0}, SPARSE, (2,), y, ds.classes)
    with pytest.raises(ConfigError, match="multi-label"):
        class_weight_vector("balanced", build_loss("binary_crossentropy"), (3,), np.zeros((4, 3)))


def test_constant_weights_are_no_weights():
    """L divides by the sum of the weights: equal weights are the plain mean, so they are dropped
    and the run takes the unweighted path (bit-identical, below)."""
    y = np.array([0, 1, 1, 0])
    ds = Dataset(np.zeros((4, 1)), y, w=np.full(4, 2.5))
    assert split_weights(None, SPARSE, (2,), [(ds, y)], "float32") == [None]
    assert split_weights({0: 3.0, 1: 3.0}, SPARSE, (2,), [(Dataset(ds.x, y), y)], "float32") == [None]
    (w,) = split_weights({1: 3.0}, SPARSE, (2,), [(ds, y)], "float32")
    assert w.dtype == np.float32 and list(w) == [2.5, 7.5, 7.5, 2.5]


# ---------------------------------------------------------------- training with weights
MLP = """\
seed: 3
data: {{train: {train}, validation_split: {val}}}
model:
  input_shape: [3]
  dtype: {dtype}
  layers:
    - {{type: dense, units: 6, activation: tanh}}
    - {{type: dense, units: 3, activation: softmax}}
loss: sparse_categorical_crossentropy
optimizer: {{type: sgd, lr: 0.1}}
metrics: [accuracy]
train: {{epochs: {epochs}, batch_size: {batch}, shuffle: {shuffle}}}
"""


def blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 3)) + y[:, None]
    return x, y


def mlp(write, tmp_path, name, *, x, y, w=None, val=0.0, dtype="float32", epochs=3, batch=8, shuffle="true"):
    arrays = {"x": x, "y": y} if w is None else {"x": x, "y": y, "w": w}
    np.savez(tmp_path / f"{name}.npz", **arrays)
    return write(f"{name}.yaml", MLP.format(train=f"{name}.npz", val=val, dtype=dtype, epochs=epochs,
                                            batch=batch, shuffle=shuffle))


def history(run_dir):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in runs.read_metrics_csv(run_dir / runs.METRICS)]


def same_arrays(a, b):
    return sorted(a) == sorted(b) and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def test_weights_of_one_train_bit_identically_to_no_weights(write, tmp_path):
    x, y = blobs()
    plain = mlp(write, tmp_path, "plain", x=x, y=y, val=0.25)
    ones = mlp(write, tmp_path, "ones", x=x, y=y, w=np.ones(len(y)), val=0.25)
    a = api.fit(load_config(plain), run_dir=tmp_path / "a")
    b = api.fit(load_config(ones), run_dir=tmp_path / "b")
    assert same_arrays(runs.read_npz(tmp_path / "a" / runs.WEIGHTS), runs.read_npz(tmp_path / "b" / runs.WEIGHTS))
    assert history(tmp_path / "a") == history(tmp_path / "b")
    assert a["train"] == b["train"] and a["val"] == b["val"]


def test_weight_two_trains_like_the_sample_listed_twice(write, tmp_path):
    """Full-batch gradient descent in float64: the loss divides by the sum of the weights, so
    weight 2 on a sample is the same objective and gradient as the sample twice, every step."""
    x, y = blobs(n=12)
    w = np.ones(12)
    w[[2, 7]] = 2.0
    twice = np.r_[np.arange(12), 2, 7]
    common = dict(dtype="float64", epochs=8, batch="full", shuffle="false")
    weighted = mlp(write, tmp_path, "weighted", x=x, y=y, w=w, **common)
    listed = mlp(write, tmp_path, "listed", x=x[twice], y=y[twice], **common)
    a = api.fit(load_config(weighted), run_dir=tmp_path / "a")
    b = api.fit(load_config(listed), run_dir=tmp_path / "b")
    wa, wb = runs.read_npz(tmp_path / "a" / runs.WEIGHTS), runs.read_npz(tmp_path / "b" / runs.WEIGHTS)
    for k in wa:
        assert np.allclose(wa[k], wb[k], rtol=1e-12, atol=1e-14), k
    assert abs(a["train"]["loss"] - b["train"]["loss"]) < 1e-12
    # and it is not the unweighted run
    plain = mlp(write, tmp_path, "plain", x=x, y=y, **common)
    api.fit(load_config(plain), run_dir=tmp_path / "c")
    assert not np.allclose(runs.read_npz(tmp_path / "c" / runs.WEIGHTS)["0.W"], wa["0.W"], rtol=1e-6)


def test_logged_losses_are_weighted_means_and_accuracy_is_not(write, tmp_path):
    x, y = blobs(n=30)
    w = np.random.default_rng(1).uniform(0.0, 3.0, 30)
    cfg = load_config(mlp(write, tmp_path, "w", x=x, y=y, w=w, val=0.2, epochs=1))
    s = api.setup(cfg)
    assert s.w_train is not None and s.w_train.dtype == np.float32 and len(s.w_val) == 6
    result = api.fit(cfg, run_dir=tmp_path / "run")
    model = api.load_model(tmp_path / "run")
    p = model.predict(s.splits.val.x).astype(np.float64)
    picked = -np.log(np.clip(p[np.arange(6), s.y_val], 1e-7, 1 - 1e-7))
    assert np.isclose(result["val"]["loss"], np.sum(s.w_val * picked) / np.sum(s.w_val), rtol=1e-5)
    assert result["val"]["accuracy"] == np.mean(p.argmax(axis=1) == s.y_val)  # every sample counts 1


SPIRALS_CW = """\
seed: 1
data: {name: spirals, options: {n_samples: 240}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 12, activation: relu}
    - {type: dropout, rate: 0.25}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, lr: 0.01}
metrics: [accuracy]
train: {epochs: 3, batch_size: 16, class_weight: {0: 0.5, 2: 3.0}}
"""


class StopAt(Trainer):
    n = 0

    def train_step(self, xb, yb, wb=None):
        StopAt.n -= 1
        if StopAt.n == 0:
            self.stop_signal = 2
        return super().train_step(xb, yb, wb)


def test_weighted_resume_is_bit_identical_and_saves_nothing_new(write, tmp_path, monkeypatch):
    cfg = write("cw.yaml", SPIRALS_CW)
    full = api.fit(load_config(cfg), run_dir=tmp_path / "full")
    plain = api.fit(load_config(cfg, ["train.class_weight=null"]), run_dir=tmp_path / "plain")
    assert full["train"]["loss"] != plain["train"]["loss"]  # the class weights are in use
    monkeypatch.setattr(api, "Trainer", StopAt)
    StopAt.n = 17  # inside epoch 2 (12 batches per epoch)
    with pytest.raises(Interrupted):
        api.fit(load_config(cfg), run_dir=tmp_path / "part")
    partial = json.loads(str(runs.read_npz(tmp_path / "part" / checkpoint.STATE)["partial"][()]))
    assert partial["cursor"] == 5 and partial["weight"] > 0  # the weight of the 5 batches done
    monkeypatch.setattr(api, "Trainer", Trainer)
    api.resume(tmp_path / "part")
    assert same_arrays(runs.read_npz(tmp_path / "full" / runs.WEIGHTS), runs.read_npz(tmp_path / "part" / runs.WEIGHTS))
    assert history(tmp_path / "full") == history(tmp_path / "part")
    # the state holds what an unweighted run's holds: the weights come from the data and config
    assert sorted(runs.read_npz(tmp_path / "full" / checkpoint.STATE)) == \
        sorted(runs.read_npz(tmp_path / "plain" / checkpoint.STATE))


def test_eval_reports_the_weighted_loss_of_the_run(write, tmp_path, cli):
    x, y = blobs(n=30)
    np.savez(tmp_path / "test.npz", x=x[:10], y=y[:10], w=np.r_[np.zeros(5), np.ones(5)])
    cfg = mlp(write, tmp_path, "train", x=x, y=y, epochs=2)
    result = api.fit(load_config(cfg, ["data.test=test.npz", "train.class_weight=balanced"]), run_dir=tmp_path / "run")
    again = api.evaluate_run(tmp_path / "run")
    assert again["loss"] == result["test"]["loss"]
    r = cli("eval", tmp_path / "run", "--data", tmp_path / "test.npz", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["loss"] == result["test"]["loss"]
    np.savez(tmp_path / "plain.npz", x=x[:10], y=y[:10])  # no weight column: the class weights alone
    assert api.evaluate_run(tmp_path / "run", str(tmp_path / "plain.npz"))["loss"] != result["test"]["loss"]


# ---------------------------------------------------------------- bad input, through the CLI
def refused(cli, tmp_path, config, *sets):
    r = cli("fit", config, "--run-dir", tmp_path / "out", *sum((["--set", s] for s in sets), []))
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()  # nothing written
    return lines[0]


@pytest.mark.parametrize("bad, shown", [(-1.0, "-1"), (np.nan, "nan"), (np.inf, "inf")])
def test_a_bad_weight_names_the_file_and_sample(write, tmp_path, cli, bad, shown):
    x, y = blobs(n=10)
    w = np.ones(10)
    w[4], w[7] = bad, -5.0
    cfg = mlp(write, tmp_path, "bad", x=x, y=y, w=w)
    line = refused(cli, tmp_path, cfg)
    assert f"bad.npz: the weight of sample 4 is {shown}; sample weights must be finite numbers >= 0" in line


def test_all_zero_weights_are_refused(write, tmp_path, cli):
    x, y = blobs(n=10)
    cfg = mlp(write, tmp_path, "zero", x=x, y=y, w=np.zeros(10))
    assert "zero.npz: every sample weight is 0" in refused(cli, tmp_path, cfg)
    cfg = mlp(write, tmp_path, "ok", x=x, y=y)
    line = refused(cli, tmp_path, cfg, "train.class_weight={0: 0, 1: 0, 2: 0}")
    assert "train.class_weight: gives every training sample a weight of 0" in line


def test_bad_class_weights_are_refused(write, tmp_path, cli):
    x, y = blobs(n=10)
    cfg = mlp(write, tmp_path, "d", x=x, y=y)
    line = refused(cli, tmp_path, cfg, "train.class_weight={7: 2.0}")
    assert "train.class_weight.7: no class 7; valid: labels 0..2" in line
    line = refused(cli, tmp_path, cfg, "train.class_weight={cat: 2.0}")
    assert "no class 'cat'; valid: labels 0..2" in line
    assert "train.class_weight.1: must be a number >= 0, got -2" in refused(cli, tmp_path, cfg, "train.class_weight={1: -2}")
    assert "train.class_weight.1: must be a number >= 0, got nan" in refused(cli, tmp_path, cfg, "train.class_weight={1: .nan}")
    assert "must be 'balanced' or a mapping" in refused(cli, tmp_path, cfg, "train.class_weight=balance")
    line = refused(cli, tmp_path, cfg, "train.class_weight=balanced", "loss=mse",
                   "model.layers.1.activation=linear")
    assert "train.class_weight: class weights apply to classification losses" in line and "not mse" in line


def test_a_weight_column_that_gave_no_weights_is_refused(write, tmp_path, cli):
    x, y = blobs(n=10)
    cfg = mlp(write, tmp_path, "d", x=x, y=y)
    line = refused(cli, tmp_path, cfg, "data.weight=w")
    assert "data.weight: the weight column 'w' gave no sample weights" in line


def test_gradcheck_checks_the_weighted_gradient_through_the_model(write, tmp_path, cli):
    """`nntrain gradcheck` weighs its samples as fit does (the fused softmax path here)."""
    x, y = blobs(n=10)
    cfg = mlp(write, tmp_path, "g", x=x, y=y, w=np.linspace(0.0, 2.0, 10))
    r = cli("gradcheck", cfg, "--samples", "6", "--set", "train.class_weight={0: 3.0, 2: 0.5}", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["ok"] and out["samples"] == 6 and max(out["errors"].values()) < 1e-6


# ---------------------------------------------------------------- a weight column in a CSV
CSV_MLP = """\
seed: 3
data: {{train: {train}, target: label, weight: {weight}{more}}}
model:
  dtype: {dtype}
  layers:
    - {{type: dense, units: 6, activation: tanh}}
    - {{type: dense, units: 3, activation: softmax}}
loss: sparse_categorical_crossentropy
optimizer: {{type: sgd, lr: 0.1}}
metrics: [accuracy]
train: {{epochs: {epochs}, batch_size: {batch}, shuffle: {shuffle}}}
"""


def write_rows(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def csv_blobs(tmp_path, name, x, y, w=None, colour=None, weight_at=3):
    """x (n, 3), y and optional weights as a CSV: a, b, c[, colour], the weight column w at
    position `weight_at` among the columns, and label."""
    header, rows = ["a", "b", "c"] + (["colour"] if colour is not None else []) + ["label"], []
    for i in range(len(y)):
        rows.append([f"{v!r}" for v in x[i].tolist()] + ([colour[i]] if colour is not None else []) + [int(y[i])])
    if w is not None:
        header.insert(weight_at, "w")
        for r, v in zip(rows, w):
            r.insert(weight_at, v if isinstance(v, str) else repr(float(v)))
    return write_rows(tmp_path / f"{name}.csv", header, rows)


def csv_mlp(write, tmp_path, name, x, y, w=None, weight="w", dtype="float32", epochs=3, batch=8, shuffle="true",
            more="", **kw):
    csv_blobs(tmp_path, name, x, y, w, **kw)
    return write(f"{name}.yaml", CSV_MLP.format(train=f"{name}.csv", weight=weight if w is not None else "null",
                                                more=more, dtype=dtype, epochs=epochs, batch=batch, shuffle=shuffle))


def test_a_csv_weight_column_weighs_the_loss_and_is_no_feature(write, tmp_path, cli):
    x, y = blobs(n=40)
    w = np.random.default_rng(2).uniform(0.0, 3.0, 40)
    weighted = csv_mlp(write, tmp_path, "weighted", x, y, w)
    plain = csv_mlp(write, tmp_path, "plain", x, y)
    ra = cli("fit", weighted, "--run-dir", "a", "--json")
    rb = cli("fit", plain, "--run-dir", "b", "--json")
    assert ra.exit_code == 0 and rb.exit_code == 0, ra.output + rb.output
    a, b = json.loads(ra.stdout), json.loads(rb.stdout)
    assert a["train"]["loss"] != b["train"]["loss"]
    assert api.load_run(tmp_path / "a").cfg.model.input_shape == [3]  # a, b, c: w is not a feature
    s = api.setup(load_config(weighted))
    assert np.allclose(s.w_train, w, rtol=1e-6) and np.array_equal(s.splits.train.x, x.astype(np.float32))
    # a column of ones is no weighting at all: the very same run as no column
    ones = csv_mlp(write, tmp_path, "ones", x, y, np.ones(40))
    assert cli("fit", ones, "--run-dir", "c").exit_code == 0
    assert same_arrays(runs.read_npz(tmp_path / "b" / runs.WEIGHTS), runs.read_npz(tmp_path / "c" / runs.WEIGHTS))
    kinds = {c["column"]: c["kind"] for c in api.data_report(load_config(weighted))["columns"]}
    assert kinds == {"a": "numeric", "b": "numeric", "c": "numeric", "w": "weight"}  # what check shows


@pytest.mark.parametrize("typed", [False, True])
def test_csv_weight_two_trains_like_the_row_listed_twice(write, tmp_path, typed):
    """The CSV variant of test_weight_two_trains_like_the_sample_listed_twice, through the
    all-numeric reader and through typed columns (a text column; standardize off, so that the
    duplicated rows do not move the statistics fitted on the train split)."""
    x, y = blobs(n=12)
    colour = [["red", "green"][i % 2] for i in range(12)] if typed else None
    w = np.ones(12)
    w[[2, 7]] = 2.0
    twice = np.r_[np.arange(12), 2, 7]
    common = dict(dtype="float64", epochs=8, batch="full", shuffle="false", more=", standardize: false")
    weighted = csv_mlp(write, tmp_path, "weighted", x, y, w, colour=colour, **common)
    listed = csv_mlp(write, tmp_path, "listed", x[twice], y[twice],
                     colour=None if colour is None else [colour[i] for i in twice], **common)
    a = api.fit(load_config(weighted), run_dir=tmp_path / "a")
    b = api.fit(load_config(listed), run_dir=tmp_path / "b")
    assert (api.load_run(tmp_path / "a").tabular is not None) is typed
    wa, wb = runs.read_npz(tmp_path / "a" / runs.WEIGHTS), runs.read_npz(tmp_path / "b" / runs.WEIGHTS)
    assert sorted(wa) == sorted(wb)
    for k in wa:
        assert np.allclose(wa[k], wb[k], rtol=1e-12, atol=1e-14), k
    assert abs(a["train"]["loss"] - b["train"]["loss"]) < 1e-12
    plain = csv_mlp(write, tmp_path, "plain", x, y, colour=colour, **common)
    api.fit(load_config(plain), run_dir=tmp_path / "c")
    assert not np.allclose(runs.read_npz(tmp_path / "c" / runs.WEIGHTS)["0.W"], wa["0.W"], rtol=1e-6)


@pytest.mark.parametrize("typed", [False, True])
def test_predict_and_eval_take_rows_with_or_without_the_weight_column(write, tmp_path, cli, typed):
    x, y = blobs(n=40)
    colour = [["red", "green"][i % 2] for i in range(40)] if typed else None
    w = np.linspace(0.0, 2.0, 40)
    # the weight column last and no data.target: the target is the last column but the weights
    cfg = csv_mlp(write, tmp_path, "train", x, y, w, colour=colour, weight_at=5 if typed else 4)
    cfg.write_text(cfg.read_text().replace("target: label, ", ""))
    assert cli("fit", cfg, "--run-dir", "run").exit_code == 0
    tx, ty = blobs(n=10, seed=5)
    tcol = colour[:10] if typed else None
    tw = np.r_[np.zeros(5), np.ones(5)]
    files = {"both": csv_blobs(tmp_path, "both", tx, ty, tw, colour=tcol),  # target and weights
             "no_w": csv_blobs(tmp_path, "no_w", tx, ty, colour=tcol)}  # the target only
    header = ["a", "b", "c"] + (["colour"] if typed else [])
    rows = [[repr(v) for v in tx[i].tolist()] + ([tcol[i]] if typed else []) for i in range(10)]
    files["x_w"] = write_rows(tmp_path / "x_w.csv", header + ["w"], [r + [repr(v)] for r, v in zip(rows, tw)])
    files["x"] = write_rows(tmp_path / "x.csv", header, rows)
    outs = set()
    for name, path in files.items():
        r = cli("predict", "run", path, "--proba")
        assert r.exit_code == 0, (name, r.output)
        outs.add(r.stdout)
    assert len(outs) == 1  # the same predictions whichever columns the rows carry
    weighted = cli("eval", "run", "--data", files["both"], "--json")
    plain = cli("eval", "run", "--data", files["no_w"], "--json")
    assert weighted.exit_code == 0 and plain.exit_code == 0, weighted.output + plain.output
    a, b = json.loads(weighted.stdout), json.loads(plain.stdout)
    assert a["accuracy"] == b["accuracy"] and a["loss"] != b["loss"]
    # the weighted loss is the mean over the rows of weight 1
    half = cli("eval", "run", "--data", csv_blobs(tmp_path, "half", tx[5:], ty[5:], colour=tcol[5:] if typed else None),
               "--json")
    assert np.isclose(json.loads(half.stdout)["loss"], a["loss"], rtol=1e-6)


CSV_BAD = [  # (typed, weights, message)
    (False, ["1", "2", "-1", "1", "1", "1"], "train.csv: the weight of line 4 is -1; sample weights must be finite numbers >= 0"),
    (False, ["1", "nan", "1", "1", "1", "1"], "train.csv: the weight of line 3 is nan"),
    (False, ["1", "1", "1", "inf", "1", "1"], "train.csv: the weight of line 5 is inf"),
    (False, ["1", "1", "", "1", "1", "1"], "train.csv line 4, column 'w': the sample weight is missing ('')"),
    (False, ["1", "1", "x", "1", "1", "1"], "train.csv line 4, column 'w': 'x' is not a number"),
    (False, ["0", "0", "0", "0", "0", "0"], "train.csv: every sample weight is 0"),
    (True, ["1", "2", "-1", "1", "1", "1"], "train.csv: the weight of line 4 is -1; sample weights must be finite numbers >= 0"),
    (True, ["1", "1", "1", "1", "NA", "1"], "train.csv line 6, column 'w': the sample weight is missing ('NA')"),
    (True, ["1", "1", "1", "1", "1", "-inf"], "train.csv: the weight of line 7 is -inf"),
]


@pytest.mark.parametrize("typed, weights, message", CSV_BAD)
def test_a_bad_csv_weight_names_its_line(write, tmp_path, cli, typed, weights, message):
    x, y = blobs(n=6)
    cfg = csv_mlp(write, tmp_path, "train", x, y, weights, colour=["red", "blue"] * 3 if typed else None)
    assert message in refused(cli, tmp_path, cfg)


def test_a_weight_column_the_training_file_lacks_is_refused(write, tmp_path, cli):
    x, y = blobs(n=6)
    cfg = csv_mlp(write, tmp_path, "train", x, y, np.ones(6), weight="wt")
    line = refused(cli, tmp_path, cfg)
    assert "train.csv: no weight column 'wt' (data.weight) (did you mean 'w'?); columns: a, b, c, w, label" in line
    line = refused(cli, tmp_path, cfg, "data.weight=label")
    assert "train.csv: column 'label' is both the target and the weight column (data.weight)" in line
    line = refused(cli, tmp_path, cfg, "data.weight=w", "data.columns={w: numeric}")
    assert "data.columns.w: 'w' is the weight column (data.weight), not a feature" in line
