"""scikit-learn estimators: an nntrain config as a classifier or regressor.

    from nntrain.sklearn import NNClassifier
    clf = NNClassifier("configs/penguins.yaml", train__epochs=20, optimizer__lr=3e-3)
    clf.fit(X, y).predict(X)
    GridSearchCV(clf, {"optimizer__lr": [1e-3, 3e-3], "model__layers__0__units": [32, 64]})

A keyword is a config key with `__` for its dots (`optimizer__lr` is `optimizer.lr`, as
`--set optimizer.lr=...`): so get_params/set_params, clone and parameter grids see each override
as one parameter. `config` is a path, a dict (the YAML's shape) or None (a small MLP). The
config's data source is replaced by the arrays given to fit. What the estimator fills in:

- the loss, when the config has none: sparse_categorical_crossentropy (classifier) or mse;
- the last layer's `units`, when it has none: the number of classes or of targets, and a
  classifier's last layer its softmax when it names no activation.

Training happens in memory, nothing written (the config's optimizer, schedule and early
stopping apply; progress="plain" or "rich" shows it), unless `runs_root` names a folder: then
each fit is a run folder there, as `nntrain fit` writes it (`run_dir_`). `partial_fit` trains
one epoch on the batch it is given, keeping the optimizer's state between calls.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .errors import ConfigError

DEFAULT_CONFIG = {
    "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu"}, {"type": "dense"}]},
    "optimizer": {"type": "adam", "lr": 0.01},
    "data": {"standardize": True},
    "train": {"epochs": 40, "batch_size": 32},
}
TOP_LEVEL = ("seed", "loss", "optimizer", "metrics")  # overrides whose key has no dot


class _NNEstimator(BaseEstimator):
    _loss = "mse"

    def __init__(self, config=None, *, runs_root=None, progress="none", **overrides):
        self.config = config
        self.runs_root = runs_root
        self.progress = progress
        self._overrides = dict(overrides)  # keys checked by fit, as scikit-learn asks

    def __getattr__(self, name):  # est.optimizer__lr reads an override
        overrides = self.__dict__.get("_overrides")
        if overrides is not None and name in overrides:
            return overrides[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- parameters: the constructor's and every config override ----------------------
    def get_params(self, deep=True):
        return {"config": self.config, "runs_root": self.runs_root, "progress": self.progress, **self._overrides}

    def set_params(self, **params):
        for key, value in params.items():
            if key in ("config", "runs_root", "progress"):
                setattr(self, key, value)
            else:
                self._overrides[key] = value
        return self

    # -- the config --------------------------------------------------------------------
    def _raw_config(self, n_out: int) -> dict:
        from .config.load import read_yaml, set_key

        source = None
        if self.config is None:
            raw = copy.deepcopy(DEFAULT_CONFIG)
        elif isinstance(self.config, dict):
            raw = copy.deepcopy(self.config)
        elif isinstance(self.config, (str, Path)):
            source = Path(self.config)
            raw, _, _ = read_yaml(source)
            if not isinstance(raw, dict):
                raise ConfigError(f"{source}: a config is a mapping of sections (model:, loss:, ...)")
        else:
            raise ValueError(f"config must be a path, a dict or None, got {type(self.config).__name__}")
        raw.setdefault("optimizer", "adam")
        for key, value in sorted(self._overrides.items()):
            _check_key(key)
            set_key(raw, key.replace("__", "."), value)
        raw.setdefault("loss", self._loss)
        layers = (raw.get("model") or {}).get("layers")
        if isinstance(layers, list) and layers and isinstance(layers[-1], dict) and "units" not in layers[-1]:
            last = layers[-1] = dict(layers[-1])
            last["units"] = n_out
            if self._loss != "mse":
                last.setdefault("activation", "softmax")
        return raw, source

    def _config(self, n_out: int):
        from .api import in_memory_config

        raw, source = self._raw_config(n_out)
        return in_memory_config(raw, source=source)  # plugins resolve against the config file's folder

    # -- fitting -----------------------------------------------------------------------
    def _targets(self, y, reset: bool):
        raise NotImplementedError

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and y; returns self."""
        from .api import fit as nn_fit
        from .api import train_arrays
        from .runs.load import load_run

        X, y = validate_data(self, X, y, multi_output=self._loss == "mse", y_numeric=self._loss == "mse",
                             dtype=[np.float64, np.float32])
        t = self._targets(y, reset=True)
        cfg = self._config(self._n_out(t))
        self._trainer = None
        if self.runs_root is None:  # nothing written
            s, self._trainer = train_arrays(cfg, X, t, progress=self.progress)
            self._keep(s.model, s.splits.mean, s.splits.std, cfg)
            self.run_dir_ = None
            self.history_ = self._trainer.state.history
        else:  # a run folder under runs_root, as `nntrain fit` writes it
            summary = nn_fit(cfg, runs_root=self.runs_root, progress=self.progress, x=X, y=t)
            run = load_run(summary["run_dir"])
            self._keep(run.model, run.mean, run.std, cfg)
            self.run_dir_ = summary["run_dir"]
            self.history_ = summary
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch on this batch, continuing from the weights and optimizer state so far (a
        new optimizer after unpickling or a fit into runs_root). The first call fixes the
        classes (`classes`, else this batch's) and the standardization statistics (this
        batch's); returns self."""
        from .api import train_arrays

        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, multi_output=self._loss == "mse",
                             y_numeric=self._loss == "mse", dtype=[np.float64, np.float32])
        if first:
            self._first_partial(y, classes)
            t = self._targets(y, reset=False)
            cfg = self._config(self._n_out(t))
            cfg.train.epochs = 1
            s, self._trainer = train_arrays(cfg, X, t, progress=self.progress)
            self._keep(s.model, s.splits.mean, s.splits.std, cfg)
            self.run_dir_, self.history_ = None, self._trainer.state.history
            return self
        t = self._targets(y, reset=False)
        if getattr(self, "_trainer", None) is None:
            from .nn.optimizers.base import build_optimizer
            from .nn.losses import build_loss
            from .train.trainer import Trainer

            cfg = self._config(self._n_out(t))
            self._trainer = Trainer(self.model_, build_loss(cfg.loss), build_optimizer(cfg.optimizer), [])
        tr = self._trainer
        x = self._input(X)
        y_in = tr.loss.prepare_target(np.asarray(t), self.model_.output_shape, self.model_.dtype)
        tr.fit(x, y_in, tr.state.epoch + 1, len(x) if self._batch_size == "full" else self._batch_size)
        return self

    def _first_partial(self, y, classes):
        self._targets(y, reset=True)

    def _keep(self, model, mean, std, cfg):
        self.model_, self.mean_, self.std_ = model, mean, std
        self._batch_size = cfg.train.batch_size
        m = cfg.model
        self._model_spec = (m.layers, list(model.input_shape), m.dtype, cfg.seed, m.inputs)

    def __getstate__(self):
        # the network as its layers and weights (rebuilt on loading, so its arrays are its own and
        # writable, even from a read-only memory map); the optimizer state stays with the process
        state = dict(self.__dict__)
        state["_trainer"] = None
        if "model_" in state:
            state["model_"] = {k: np.array(v) for k, v in self.model_.state_dict().items()}
        return state

    def __setstate__(self, state):
        if "model_" in state:
            from .nn.graph import build_model

            layers, shape, dtype, seed, inputs = state["_model_spec"]
            model = build_model(layers, shape, dtype, seed, training=False, inputs=inputs)
            model.load_state_dict(state["model_"])
            state["model_"] = model
        self.__dict__.update(state)

    # -- predicting --------------------------------------------------------------------
    def _input(self, X) -> np.ndarray:
        x = np.asarray(X, dtype=self.model_.dtype)
        if self.mean_ is not None:
            x = (x - self.mean_) / self.std_
        return x.reshape((len(x),) + tuple(self.model_.input_shape))

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.model_.predict(self._input(X))


def _check_key(key: str) -> None:
    if not key.isidentifier() or key.startswith("_") or ("__" not in key and key not in TOP_LEVEL):
        raise ValueError(f"unknown parameter {key!r}: a config key with __ for its dots (optimizer__lr, "
                        f"train__epochs, model__layers__0__units) or one of {', '.join(TOP_LEVEL)}")


class NNClassifier(ClassifierMixin, _NNEstimator):
    """A classifier trained by nntrain: `config` plus `section__key=value` overrides.

    Learned: classes_ (the sorted labels), n_features_in_, model_ (the trained network),
    mean_/std_ (its input standardization, or None), history_ (fit's summary)."""

    _loss = "sparse_categorical_crossentropy"

    def _targets(self, y, reset: bool):
        check_classification_targets(y)
        y = column_or_1d(y, warn=True)
        if reset:
            self.classes_ = np.unique(y)
        index = np.searchsorted(self.classes_, y)
        if np.any(index >= len(self.classes_)) or np.any(self.classes_[np.minimum(index, len(self.classes_) - 1)] != y):
            raise ValueError(f"y holds labels that are not in classes_ {self.classes_.tolist()}")
        return index.astype(np.int64)

    def _first_partial(self, y, classes):
        self._targets(y if classes is None else np.asarray(classes), reset=True)

    def _n_out(self, t) -> int:
        return max(len(self.classes_), 2)

    def predict_proba(self, X) -> np.ndarray:
        """(n_samples, n_classes) class probabilities."""
        p = self._outputs(X)
        if p.shape[1] == 1:  # one sigmoid unit: P(class 1)
            p = np.column_stack([1 - p[:, 0], p[:, 0]])
        return p[:, :len(self.classes_)] if len(self.classes_) > 1 else np.ones((len(p), 1), p.dtype)

    def predict(self, X) -> np.ndarray:
        p = self.predict_proba(X)
        return self.classes_[np.argmax(p, axis=1)]


class NNRegressor(RegressorMixin, _NNEstimator):
    """A regressor trained by nntrain: `config` plus `section__key=value` overrides (mse by default).

    Learned: n_features_in_, model_, mean_/std_, history_."""

    _loss = "mse"

    def _targets(self, y, reset: bool):
        y = np.asarray(y, dtype=np.float64)
        if reset:
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        elif (1 if y.ndim == 1 else y.shape[1]) != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} targets, the model {self.n_outputs_}")
        return y

    def _n_out(self, t) -> int:
        return self.n_outputs_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X) -> np.ndarray:
        p = self._outputs(X).astype(np.float64)
        return p[:, 0] if self.n_outputs_ == 1 and p.ndim == 2 else p
