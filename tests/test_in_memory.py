"""nntrain.fit(cfg, x=..., y=...): arrays in memory train into the same run folder as a file
would (progress, checkpoints, resume), and load_model gives predict, evaluate and summary."""
from __future__ import annotations

import io

import numpy as np
import pytest

import nntrain
from nntrain.api import resume
from nntrain.errors import ConfigError, DataError, RunError
from nntrain.runs.load import fit_input, load_run
from nntrain.train.progress import PlainProgress

CFG = {"model": {"layers": [{"type": "dense", "units": 8, "activation": "relu"},
                            {"type": "dense", "units": 2, "activation": "softmax"}]},
       "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
       "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 3, "batch_size": 16},
       "data": {"standardize": True}}


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(120, 4))
    return x, (x[:, 0] + x[:, 1] > 6).astype(int)


def test_arrays_train_into_a_run_folder_with_progress(xy, tmp_path):
    x, y = xy
    before = x.copy()
    out = io.StringIO()
    summary = nntrain.fit(CFG, run_dir=tmp_path / "run", progress=PlainProgress(out), x=x, y=y,
                          validation_data=(x[:30], y[:30]))
    assert summary["status"] == "done" and summary["epochs"] == 3 and set(summary["val"]) == {"loss", "accuracy"}
    assert out.getvalue().count("epoch") >= 3
    run = load_run(tmp_path / "run")
    assert run.cfg.data.arrays is True and run.cfg.data.train is None
    assert run.mean is not None and np.allclose(run.mean, x.mean(axis=0), rtol=1e-5)  # data.standardize on x
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 4
    assert np.array_equal(x, before)  # standardized in a copy, not in the caller's array


def test_load_model_predicts_evaluates_and_summarizes(xy, tmp_path):
    x, y = xy
    nntrain.fit(CFG, run_dir=tmp_path / "run", x=x, y=y)
    model = nntrain.load_model(tmp_path / "run")
    xs = fit_input(x, load_run(tmp_path / "run"), "x")
    result = model.evaluate(xs, y)
    assert set(result) == {"loss", "accuracy"}
    assert result["accuracy"] == np.mean(model.predict(xs).argmax(axis=1) == y)
    text = model.summary()
    assert "dense" in text and "softmax" in text and f"{model.count_params():,} parameters" in text


def test_a_run_of_arrays_resumes_with_the_arrays_and_ends_as_one_that_never_stopped(xy, tmp_path):
    x, y = xy
    nntrain.fit(CFG, run_dir=tmp_path / "whole", x=x, y=y)
    nntrain.fit({**CFG, "train": {**CFG["train"], "epochs": 2}}, run_dir=tmp_path / "part", x=x, y=y)
    with pytest.raises(RunError, match="arrays in memory"):
        resume(tmp_path / "part", ["train.epochs=3"])
    resume(tmp_path / "part", ["train.epochs=3"], x=x, y=y)
    a, b = nntrain.load_model(tmp_path / "whole"), nntrain.load_model(tmp_path / "part")
    assert all(np.array_equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_string_labels_become_the_runs_classes_and_eval_needs_data(xy, tmp_path, cli):
    x, y = xy
    names = np.array(["no", "yes"])[y]
    nntrain.fit(CFG, run_dir=tmp_path / "run", x=x, y=names)
    assert load_run(tmp_path / "run").classes == ["no", "yes"]
    r = cli("eval", tmp_path / "run")
    assert r.exit_code == 2 and "trained on arrays in memory; pass --data FILE" in r.stderr
    np.savez(tmp_path / "holdout.npz", x=x[:20], y=y[:20])
    r = cli("eval", tmp_path / "run", "--data", tmp_path / "holdout.npz", "--json")
    assert r.exit_code == 0, r.stderr


def test_a_config_file_keeps_its_options_but_not_its_data_source(xy, tmp_path, write):
    x, y = xy
    path = write("cfg.yaml", "data: {name: xor, validation_split: 0.25}\nmodel:\n  layers:\n"
                             "    - {type: dense, units: 2, activation: softmax}\n"
                             "loss: sparse_categorical_crossentropy\n")
    summary = nntrain.fit(path, run_dir=tmp_path / "run", x=x, y=y)
    cfg = load_run(tmp_path / "run").cfg
    assert cfg.data.name is None and cfg.data.validation_split == 0.25 and summary["val"] is not None


def test_bad_arrays_are_named(xy, tmp_path):
    x, y = xy
    with pytest.raises(DataError, match="both x and y"):
        nntrain.fit(CFG, run_dir=tmp_path / "a", x=x)
    with pytest.raises(DataError, match="x has 120 samples but y has 3"):
        nntrain.fit(CFG, run_dir=tmp_path / "b", x=x, y=y[:3])
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(DataError, match="sample 5"):
        nntrain.fit(CFG, run_dir=tmp_path / "c", x=bad, y=y)
    with pytest.raises(ConfigError, match="data.arrays"):
        nntrain.fit({**CFG, "data": {"arrays": True, "name": "xor"}}, run_dir=tmp_path / "d")
