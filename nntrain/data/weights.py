"""Sample weights: a weight column (or an .npz array `w`) checked, `train.class_weight` turned
into a weight per sample, and the two multiplied into the (n,) weights the loss takes.

    w_train, w_val, w_test = split_weights(cfg.train.class_weight, loss, model.output_shape,
                                           [(splits.train, y_train), (splits.val, y_val), ...])

The loss divides by the sum of the weights (nn/losses.py), so weights that are all equal mean
exactly what no weights mean; they are dropped (None), which keeps such a run on the unweighted
code path, bit for bit.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import ConfigError, DataError, did_you_mean

KEY = "train.class_weight"


def check_weights(w, source: str, where: Callable[[int], str] | None = None) -> np.ndarray:
    """w as a float64 (n,) array. DataError naming `source` and the first bad sample (`where(i)`
    names sample i, e.g. a CSV line; default "sample i") for a negative, NaN or infinite weight,
    and when every weight is 0."""
    where = where or (lambda i: f"sample {i}")
    w = np.asarray(w)
    if w.ndim != 1:
        raise DataError(f"{source}: sample weights must be one number per sample, got shape {w.shape}")
    if w.dtype.kind not in "biuf":
        raise DataError(f"{source}: sample weights must be numbers, got {w.dtype}")
    w = w.astype(np.float64, copy=False)
    bad = ~(np.isfinite(w) & (w >= 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source}: the weight of {where(i)} is {w[i]:g}; sample weights must be finite numbers >= 0")
    if w.size and not w.any():
        raise DataError(f"{source}: every sample weight is 0, so no sample counts; give some samples a weight > 0")
    return w


def check_loss(loss) -> None:
    """ConfigError unless `loss` is a classification loss, the only kind class weights apply to."""
    if not loss.classification:
        name = getattr(loss, "registry_name", type(loss).__name__)
        raise ConfigError(f"class weights apply to classification losses (sparse_categorical_crossentropy, "
                          f"categorical_crossentropy, binary_crossentropy), not {name}; weight the samples "
                          f"with a weight column (data.weight) instead", KEY)


def _kind(loss, output_shape) -> str:
    """How a target names its class: 'labels' (n,) ints, 'onehot' (n, C) rows, 'binary' (n, 1)."""
    check_loss(loss)
    name = getattr(loss, "registry_name", type(loss).__name__)
    if loss.fuses_with == "sigmoid":
        if int(np.prod(output_shape)) != 1:
            raise ConfigError(f"{name} with {int(np.prod(output_shape))} outputs is multi-label (each output its "
                              f"own yes/no), so a sample has no single class to weight; class weights need one "
                              f"output (classes 0 and 1) or a softmax over the classes", KEY)
        return "binary"
    return "labels" if name == "sparse_categorical_crossentropy" else "onehot"


def _membership(kind: str, y: np.ndarray) -> np.ndarray:
    """(n, C) how much each sample belongs to each class (one-hot rows; soft targets as given)."""
    if kind == "binary":
        p = y.reshape(len(y)).astype(np.float64)
        return np.stack([1.0 - p, p], axis=1)
    return y.astype(np.float64)


def class_weight_vector(spec, loss, output_shape, y_train: np.ndarray,
                        classes: list[str] | None = None) -> np.ndarray:
    """(C,) the weight of each class label from `train.class_weight`:

    'balanced'  n / (k * count_c) over the k classes present in the training targets, as
                scikit-learn's compute_class_weight; a class absent from them counts 1.
    a mapping   {label or class name: weight}; classes left out count 1.
    """
    kind = _kind(loss, output_shape)
    n_classes = 2 if kind == "binary" else int(output_shape[-1])
    if spec == "balanced":
        if kind == "labels":
            counts = np.bincount(y_train, minlength=n_classes).astype(np.float64)
        else:
            counts = _membership(kind, y_train).sum(axis=0)
        present = counts > 0
        out = np.ones(n_classes)
        out[present] = counts.sum() / (present.sum() * counts[present])
        return out
    out = np.ones(n_classes)
    given: dict[int, object] = {}
    if not isinstance(spec, dict):
        raise ConfigError(f"must be 'balanced' or a mapping {{class: weight}}, got {spec!r}", KEY)
    for key, weight in spec.items():  # the config checked the values (schema.class_weight)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0 or weight == np.inf:
            raise ConfigError(f"must be a finite number >= 0, got {weight!r}", f"{KEY}.{key}")
        label = _label(key, n_classes, classes)
        if label in given:
            raise ConfigError(f"class {label} is given twice, as {given[label]!r} and as {key!r}", KEY)
        given[label] = key
        out[label] = weight
    return out


def _label(key, n_classes: int, classes: list[str] | None) -> int:
    """The label index a class_weight key names: a label 0..C-1, or a class name of the data."""
    if classes is not None and isinstance(key, str) and key in classes:
        return classes.index(key)
    if isinstance(key, str) and key.strip().isdigit():  # `--set train.class_weight.1=5` gives '1'
        key = int(key)
    if isinstance(key, int) and 0 <= key < n_classes:
        return key
    valid = f"labels 0..{n_classes - 1}"
    if classes is not None:
        valid = f"the class names {', '.join(map(repr, classes))} or " + valid
    hint = did_you_mean(str(key), list(classes)) if classes is not None else ""
    raise ConfigError(f"no class {key!r}{hint}; valid: {valid}", f"{KEY}.{key}")


def per_sample(vector: np.ndarray, loss, output_shape, y: np.ndarray) -> np.ndarray:
    """(n,) the class weight of each target: vector[y_i], or the membership-weighted mean."""
    kind = _kind(loss, output_shape)
    if kind == "labels":
        return vector[y]
    return _membership(kind, y) @ vector


def split_weights(class_weight, loss, output_shape, parts, dtype="float32",
                  where: Callable[[str], str | None] | None = None, column: str | None = None) -> list[np.ndarray | None]:
    """The sample weights of each (Dataset, prepared targets) in `parts` (the first is the
    training split, whose targets 'balanced' counts; a None part gives None): its weight column
    times its class weights, as `dtype`; None where every weight is equal (no weighting).
    `column` is data.weight, which must have given the training split its weights.
    `where(key)` locates a config key (file:line:column) for the error message."""
    try:
        if column is not None and parts[0][0] is not None and parts[0][0].w is None:
            raise ConfigError(f"the weight column {column!r} gave no sample weights: data.weight names a column "
                              f"of a CSV file (an .npz holds its weights as an array w)", "data.weight")
        vector = None
        if class_weight is not None:
            train, y_train = parts[0]
            vector = class_weight_vector(class_weight, loss, output_shape, y_train, train.classes)
        out = []
        for i, (ds, y) in enumerate(parts):
            if ds is None:
                out.append(None)
                continue
            w = None if ds.w is None else np.asarray(ds.w, np.float64)
            if vector is not None:
                cw = per_sample(vector, loss, output_shape, y)
                w = cw if w is None else w * cw
            if i == 0 and w is not None and not w.any():
                raise ConfigError("gives every training sample a weight of 0 (together with the weight column, "
                                  "if any), so no sample counts; give some class a weight > 0", KEY)
            constant = w is not None and len(w) and w[0] > 0 and np.all(w == w[0])  # no weighting at all
            out.append(None if w is None or constant else w.astype(dtype))
        return out
    except ConfigError as exc:
        if where is not None and exc.where is None:
            exc.where = where(exc.key)
        raise
