"""nntrain.sklearn: scikit-learn's own estimator checks, one test each, then the estimators in a
Pipeline, under GridSearchCV and cross_val_score, with config overrides, partial_fit, pickling
and a run folder when asked for one."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from nntrain.sklearn import NNClassifier, NNRegressor

SMALL = {"model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense"}]},
         "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 10, "batch_size": 32},
         "data": {"standardize": True}}


# SCIPY_ARRAY_API=1 (tests/conftest.py) lets check_array_api_input run instead of skipping
@parametrize_with_checks([NNClassifier(), NNRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def blobs():
    return make_classification(n_samples=240, n_features=6, n_informative=4, n_classes=3, random_state=0)


def test_overrides_are_parameters_that_clone_and_set_params_keep(blobs):
    clf = NNClassifier(SMALL, optimizer__lr=0.003, train__epochs=3)
    assert clf.get_params()["optimizer__lr"] == 0.003 and clf.optimizer__lr == 0.003
    twin = clone(clf).set_params(model__layers__0__units=8)
    assert twin.get_params()["model__layers__0__units"] == 8 and "model__layers__0__units" not in clf.get_params()
    twin.fit(*blobs)
    assert twin.model_.layers[0].params["W"].shape == (6, 8)
    assert twin.history_[-1]["epoch"] == 3 and twin.n_features_in_ == 6
    assert list(twin.classes_) == [0, 1, 2]


def test_an_unknown_override_is_an_error_at_fit_naming_it(blobs):
    with pytest.raises(ValueError, match="lr"):
        NNClassifier(SMALL, lr=0.1).fit(*blobs)
    from nntrain.errors import ConfigError

    with pytest.raises(ConfigError, match="has no parameter .lrr."):
        NNClassifier(SMALL, optimizer__lrr=0.1).fit(*blobs)


def test_in_a_pipeline_under_grid_search_and_cross_val_score(blobs):
    x, y = blobs
    pipe = make_pipeline(StandardScaler(), NNClassifier(SMALL))
    search = GridSearchCV(pipe, {"nnclassifier__optimizer__lr": [0.003, 0.01],
                                 "nnclassifier__model__layers__0__units": [8, 16]}, cv=2)
    search.fit(x, y)
    assert set(search.best_params_) == {"nnclassifier__optimizer__lr", "nnclassifier__model__layers__0__units"}
    assert search.best_score_ > 0.6
    scores = cross_val_score(NNClassifier(SMALL), x, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.6


def test_predict_proba_string_labels_and_score(blobs):
    x, y = blobs
    names = np.array(["adelie", "chinstrap", "gentoo"])[y]
    clf = NNClassifier(SMALL, train__epochs=20).fit(x, names)
    p = clf.predict_proba(x)
    assert p.shape == (240, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert set(clf.predict(x)) <= set(names) and list(clf.classes_) == ["adelie", "chinstrap", "gentoo"]
    assert clf.score(x, names) == np.mean(clf.predict(x) == names) > 0.8


def test_regressor_one_and_several_targets():
    x, y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=1.0, random_state=0)
    reg = NNRegressor(SMALL, train__epochs=40).fit(x, y / 100)
    assert reg.predict(x).shape == (200, 2) and reg.score(x, y / 100) > 0.8
    assert NNRegressor(SMALL).fit(x, y[:, 0] / 100).predict(x).shape == (200,)


def test_partial_fit_goes_on_from_the_weights_and_optimizer_state(blobs):
    x, y = blobs
    clf = NNClassifier(SMALL)
    losses = []
    for _ in range(8):
        clf.partial_fit(x[:120], y[:120], classes=[0, 1, 2])
        losses.append(clf.history_[-1]["loss"])
    assert clf._trainer.state.epoch == 8 and losses[-1] < losses[0]
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(x[:5], np.array([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(x[:5, :4], y[:5])


def test_pickled_estimator_predicts_the_same(blobs):
    x, y = blobs
    clf = NNClassifier(SMALL, train__epochs=2).fit(x, y)
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.predict_proba(x), clf.predict_proba(x))
    again.partial_fit(x, y)  # a new optimizer, from the same weights


def test_runs_root_keeps_a_run_folder_else_nothing_is_written(blobs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = blobs
    NNClassifier(SMALL, train__epochs=1).fit(x, y)
    assert list(tmp_path.iterdir()) == []
    clf = NNClassifier(SMALL, train__epochs=2, runs_root=tmp_path / "runs").fit(x, y)
    import nntrain

    model = nntrain.load_model(clf.run_dir_)
    assert np.array_equal(model.predict(clf._input(x)), clf.model_.predict(clf._input(x)))
