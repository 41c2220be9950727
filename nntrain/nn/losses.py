"""Losses: `value(pred, target, w)` (mean over the batch) and `grad(pred, target, w)` = dL/dpred.

Sample weights w (n,) >= 0 (a weight column, class weights) make the mean a weighted one:

    L = sum_i w_i l_i / sum_i w_i        dL/dpred_i = (w_i / sum_j w_j) dl_i/dpred_i

where l_i is sample i's loss (its mean over the outputs for binary cross-entropy, mse and
mae). Dividing by the sum of the weights rather than by n (Keras' choice) keeps the loss a mean:
weights of one give the plain mean, scaling every weight by c changes nothing (so the learning
rate need not follow the weights' units), and a weight of 2 is exactly the sample listed twice in
the batch. It is PyTorch's `reduction="mean"` with class weights and numpy's / scikit-learn's
`np.average(l, weights=w)`. A batch whose weights are all zero has L = 0 and no gradient.
w=None is the unweighted code path, untouched.

Cross-entropy after a softmax (or binary cross-entropy after a sigmoid) is fused: the model
skips the output layer's Jacobian and asks the loss for dL/dlogits = (p - y) / n directly
(`grad_logits`), which is both cheaper and numerically stable. With `from_logits: true` the
network ends without the activation and the loss applies it itself.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .registry import LOSSES
from .workspace import Workspace

EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] before the log, as Keras does


class Loss:
    # registry name of the output activation whose Jacobian grad_logits folds in
    fuses_with: str | None = None
    # what the model's last layer must output: "probabilities" ([0, 1]) or anything
    classification = False

    def __init__(self, from_logits: bool = False):
        if not isinstance(from_logits, bool):
            raise ValueError(f"from_logits must be true or false, got {from_logits!r}")
        self.from_logits = from_logits
        self._ws = Workspace()

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}

    def prepare_target(self, y: np.ndarray, output_shape: tuple[int, ...], dtype="float32") -> np.ndarray:
        """y converted once, before training, to the dtype and shape `value`/`grad` expect."""
        y = np.asarray(y)
        shape = (len(y),) + tuple(output_shape)
        if y.shape == shape:
            return y.astype(dtype, copy=False)
        if y.size == int(np.prod(shape)):
            return y.reshape(shape).astype(dtype, copy=False)
        raise DataError(
            f"targets have shape {y.shape[1:]} per sample but the model outputs {tuple(output_shape)}"
        )

    def value(self, pred: np.ndarray, target: np.ndarray, w: np.ndarray | None = None) -> float:
        raise NotImplementedError

    def grad(self, pred: np.ndarray, target: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def grad_logits(self, probs: np.ndarray, target: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        """dL/dz where probs = activation(z) and activation is `fuses_with`."""
        raise NotImplementedError(f"{type(self).__name__} has no fused gradient")

    def _out(self, key: str, like: np.ndarray) -> np.ndarray:
        return self._ws.get(key, like.shape, like.dtype)

    def _share(self, w: np.ndarray, like: np.ndarray) -> np.ndarray:
        """w_i / sum(w) (n,) in like's dtype: each sample's share of L (all 0 if sum(w) = 0)."""
        wn = self._ws.get("wn", w.shape, like.dtype)
        total = float(np.add.reduce(w, dtype=np.float64))
        if total > 0:
            np.divide(w, total, out=wn)
        else:
            wn.fill(0.0)
        return wn

    @staticmethod
    def _column(wn: np.ndarray, like: np.ndarray) -> np.ndarray:
        """wn (n,) as (n, 1, ...), to broadcast over like (n, ...)."""
        return wn.reshape(wn.shape + (1,) * (like.ndim - 1))

    def _row_sums(self, a: np.ndarray) -> np.ndarray:
        """sum over each sample's entries of a (n, ...) -> (n,), into a reused buffer."""
        n = len(a)
        return np.add.reduce(a.reshape(n, -1), axis=1, out=self._ws.get("rows", (n,), a.dtype))


def _log_softmax_parts(ws: Workspace, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(softmax(z), logsumexp(z) of shape (n, 1)) of logits z (n, C), computed stably."""
    p = ws.get("p", z.shape, z.dtype)
    lse = ws.get("lse", z.shape[:-1] + (1,), z.dtype)
    np.maximum.reduce(z, axis=-1, keepdims=True, out=lse)
    np.subtract(z, lse, out=p)
    np.exp(p, out=p)
    s = p.sum(axis=-1, keepdims=True)
    p /= s
    lse += np.log(s)
    return p, lse


def _check_smoothing(label_smoothing) -> float:
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
            or not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
    return float(label_smoothing)


def smooth(onehot: np.ndarray, label_smoothing: float) -> np.ndarray:
    """Soft targets y (1 - s) + s / C (Szegedy et al. 2016, https://arxiv.org/abs/1512.00567),
    as Keras' and PyTorch's label_smoothing: each wrong class gets s / C, the right one
    1 - s + s / C."""
    return onehot * (1.0 - label_smoothing) + label_smoothing / onehot.shape[-1]


@LOSSES.register("sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(Loss):
    """-mean(log p[i, y_i]) for integer labels y (n,) and class probabilities p (n, C).

    With label smoothing s the target is the soft row (1 - s) onehot(y) + s / C, and the loss
    and gradients are categorical_crossentropy's on it: L = -mean_i sum_c t_ic log p_ic,
    dL/dz = (p - t) / n.

    Args:
        from_logits: the model outputs logits z (no softmax layer); p = softmax(z).
        label_smoothing: s in [0, 1): the weight moved from the true class to all C classes evenly.
    """

    fuses_with = "softmax"
    classification = True

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        super().__init__(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def _soft(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The smoothed one-hot rows (n, C) of integer labels, in pred's dtype."""
        onehot = np.zeros(pred.shape, dtype=pred.dtype)
        onehot[self._ws.arange(len(target)), target] = 1.0
        return smooth(onehot, self.label_smoothing).astype(pred.dtype, copy=False)

    def prepare_target(self, y, output_shape, dtype="float32"):
        y = np.asarray(y)
        n_classes = int(output_shape[-1])
        if y.ndim != 1:
            y = y.reshape(len(y), -1)
            if y.shape[1] != 1:
                raise DataError(f"sparse_categorical_crossentropy wants one integer label per sample, got shape {y.shape[1:]}")
            y = y[:, 0]
        if y.size and not np.all(np.mod(y, 1) == 0):
            raise DataError("sparse_categorical_crossentropy wants integer class labels, got fractional values")
        y = y.astype(np.int64, copy=False)
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            bad = int(y.max()) if y.max() >= n_classes else int(y.min())
            raise DataError(
                f"label {bad} is outside the model's {n_classes} outputs (valid labels: 0..{n_classes - 1})"
            )
        return y

    def value(self, pred, target, w=None):
        if self.label_smoothing:
            return CategoricalCrossentropy._value(self, pred, self._soft(pred, target), w)
        if self.from_logits:
            _, lse = _log_softmax_parts(self._ws, pred)
            per_sample = lse[:, 0] - pred[self._ws.arange(len(target)), target]  # -log softmax(z)[y]
            return float(np.mean(per_sample)) if w is None else float(np.dot(self._share(w, pred), per_sample))
        picked = pred.reshape(-1)[self._picks(pred, target)]  # p[i, y_i], a new (n,) array
        # clip to [EPS, 1 - EPS] and average with bare ufuncs: np.clip and np.mean cost
        # ~3 us and ~10 us of Python wrapping each, more than the math at n = 32
        np.maximum(picked, EPS, out=picked)
        np.minimum(picked, 1.0 - EPS, out=picked)
        np.log(picked, out=picked)
        if w is not None:
            return -float(np.dot(self._share(w, pred), picked))  # -sum_i (w_i / sum w) log p[i, y_i]
        return -float(np.add.reduce(picked)) / len(picked)

    def grad(self, pred, target, w=None):
        if self.label_smoothing:
            return CategoricalCrossentropy._grad(self, pred, self._soft(pred, target), w)
        if self.from_logits:
            return self.grad_logits(_log_softmax_parts(self._ws, pred)[0], target, w)
        n = len(target)
        rows = self._ws.arange(n)
        g = self._out("g", pred)
        g.fill(0.0)
        picked = pred[rows, target]
        inside = (picked > EPS) & (picked < 1.0 - EPS)  # clipped entries have zero derivative
        if w is None:
            g[rows, target] = np.where(inside, -1.0 / (n * np.maximum(picked, EPS)), 0.0)
        else:  # dL/dp[i, y_i] = -(w_i / sum w) / p[i, y_i]
            g[rows, target] = np.where(inside, -self._share(w, pred) / np.maximum(picked, EPS), 0.0)
        return g

    def grad_logits(self, probs, target, w=None):
        if self.label_smoothing:
            return CategoricalCrossentropy._grad_logits(self, probs, self._soft(probs, target), w)
        g = self._out("gz", probs)
        picks = self._picks(probs, target)
        if w is not None:  # (p - onehot(y)) * w_i / sum w
            wn = self._share(w, probs)
            np.multiply(probs, self._column(wn, probs), out=g)
            g.reshape(-1)[picks] -= wn
            return g
        n = len(target)
        np.multiply(probs, 1.0 / n, out=g)  # (p - onehot(y)) / n
        g.reshape(-1)[picks] -= 1.0 / n
        return g

    def _picks(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flat indices i * C + y_i of the entries p[i, y_i] of pred (n, C): indexing a flat view
        with them takes ~0.5 us where pred[rows, target] takes ~1.5 (and -= ~6 us vs ~2)."""
        n, c = pred.shape
        return np.add(self._ws.arange(n, step=c), target, out=self._ws.get("picks", (n,), np.int64))


@LOSSES.register("categorical_crossentropy")
class CategoricalCrossentropy(Loss):
    """-mean(sum_c y_c log p_c) for one-hot (or soft) targets y (n, C); integer labels are one-hot encoded.

    With label smoothing s, y is replaced by y (1 - s) + s / C before the loss.

    Args:
        from_logits: the model outputs logits z (no softmax layer); p = softmax(z).
        label_smoothing: s in [0, 1): the weight moved from the targets to all C classes evenly.
    """

    fuses_with = "softmax"
    classification = True

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        super().__init__(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def prepare_target(self, y, output_shape, dtype="float32"):
        y = np.asarray(y)
        n_classes = int(output_shape[-1])
        if y.ndim == 1:  # labels -> one-hot
            labels = SparseCategoricalCrossentropy.prepare_target(self, y, output_shape)
            onehot = np.zeros((len(labels), n_classes), dtype=dtype)
            onehot[np.arange(len(labels)), labels] = 1.0
            return onehot
        return super().prepare_target(y, output_shape, dtype)

    def _soft(self, target: np.ndarray) -> np.ndarray:
        return smooth(target, self.label_smoothing) if self.label_smoothing else target

    def value(self, pred, target, w=None):
        return self._value(pred, self._soft(target), w)

    def grad(self, pred, target, w=None):
        return self._grad(pred, self._soft(target), w)

    def grad_logits(self, probs, target, w=None):
        return self._grad_logits(probs, self._soft(target), w)

    # the math on the (already smoothed) target, shared with sparse_categorical_crossentropy
    def _value(self, pred, target, w=None):
        if self.from_logits:
            _, lse = _log_softmax_parts(self._ws, pred)
            # -sum y (z - lse) = lse * sum(y) - sum(y z)
            per_sample = lse[:, 0] * target.sum(axis=-1) - np.sum(target * pred, axis=-1)
        else:
            per_sample = -np.sum(target * np.log(np.clip(pred, EPS, 1.0 - EPS)), axis=-1)
        return float(np.mean(per_sample)) if w is None else float(np.dot(self._share(w, pred), per_sample))

    def _grad(self, pred, target, w=None):
        if self.from_logits:
            return CategoricalCrossentropy._grad_logits(self, _log_softmax_parts(self._ws, pred)[0], target, w)
        n = len(target)
        inside = (pred > EPS) & (pred < 1.0 - EPS)
        g = self._out("g", pred)
        if w is None:
            np.divide(-target, n * np.clip(pred, EPS, 1.0 - EPS), out=g)
        else:  # dL/dp_ic = -(w_i / sum w) y_ic / p_ic
            np.divide(-target, np.clip(pred, EPS, 1.0 - EPS), out=g)
            g *= self._column(self._share(w, pred), g)
        g *= inside
        return g

    def _grad_logits(self, probs, target, w=None):
        # dL/dz = (p * sum_c y_c - y) / n, which is (p - y) / n for targets summing to 1;
        # weighted, the 1/n of sample i is w_i / sum w
        n = len(target)
        g = self._out("gz", probs)
        np.multiply(probs, target.sum(axis=-1, keepdims=True), out=g)
        g -= target
        if w is None:
            g *= 1.0 / n
        else:
            g *= self._column(self._share(w, probs), g)
        return g


@LOSSES.register("binary_crossentropy")
class BinaryCrossentropy(Loss):
    """-mean(y log p + (1 - y) log(1 - p)) over every output, for targets in [0, 1].

    Args:
        from_logits: the model outputs logits z (no sigmoid layer); p = sigmoid(z).
    """

    fuses_with = "sigmoid"
    classification = True

    def prepare_target(self, y, output_shape, dtype="float32"):
        y = super().prepare_target(y, output_shape, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise DataError(
                f"binary_crossentropy wants targets in [0, 1], got values from {y.min():g} to {y.max():g}"
            )
        return y

    def value(self, pred, target, w=None):
        if self.from_logits:
            # max(z, 0) - z y + log(1 + exp(-|z|)): the stable form of the same expression
            z = pred
            each = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
        else:
            p = np.clip(pred, EPS, 1.0 - EPS)
            each = -(target * np.log(p) + (1.0 - target) * np.log(1.0 - p))
        if w is None:
            return float(np.mean(each))
        # l_i = the mean over sample i's k outputs; L = sum_i (w_i / sum w) l_i
        return float(np.dot(self._share(w, pred), self._row_sums(each))) * len(pred) / pred.size

    def grad(self, pred, target, w=None):
        if self.from_logits:
            p = 0.5 * (1.0 + np.tanh(0.5 * pred))
            return self.grad_logits(p.astype(pred.dtype, copy=False), target, w)
        p = np.clip(pred, EPS, 1.0 - EPS)
        g = self._out("g", pred)
        if w is None:
            np.divide(p - target, p * (1.0 - p) * pred.size, out=g)  # dL/dp
        else:  # (p - y) / (p (1 - p)) * (w_i / sum w) / k
            np.divide(p - target, p * (1.0 - p), out=g)
            g *= self._column(self._share(w, pred), g)
            g *= len(pred) / pred.size
        g *= (pred > EPS) & (pred < 1.0 - EPS)
        return g

    def grad_logits(self, probs, target, w=None):
        g = self._out("gz", probs)
        np.subtract(probs, target, out=g)  # (p - y) / size
        if w is None:
            g *= 1.0 / probs.size
        else:  # (p - y) * (w_i / sum w) / k
            g *= self._column(self._share(w, probs), g)
            g *= len(probs) / probs.size
        return g


@LOSSES.register("mse")
class MeanSquaredError(Loss):
    """mean((pred - y)^2) over every output; dL/dpred = 2 (pred - y) / size."""

    def __init__(self):
        super().__init__(from_logits=False)

    def get_config(self):
        return {}

    def value(self, pred, target, w=None):
        d = self._out("d", pred)
        np.subtract(pred, target, out=d)
        if w is None:
            return float(np.vdot(d, d) / d.size)
        np.multiply(d, d, out=d)  # l_i = mean_k d_ik^2; L = sum_i (w_i / sum w) l_i
        return float(np.dot(self._share(w, pred), self._row_sums(d))) * len(d) / d.size

    def grad(self, pred, target, w=None):
        g = self._out("g", pred)
        np.subtract(pred, target, out=g)
        if w is None:
            g *= 2.0 / pred.size
        else:  # 2 (pred - y) (w_i / sum w) / k
            g *= self._column(self._share(w, pred), g)
            g *= 2.0 * len(pred) / pred.size
        return g


@LOSSES.register("mae")
class MeanAbsoluteError(Loss):
    """mean(|pred - y|) over every output; dL/dpred = sign(pred - y) / size."""

    def __init__(self):
        super().__init__(from_logits=False)

    def get_config(self):
        return {}

    def value(self, pred, target, w=None):
        if w is None:
            return float(np.mean(np.abs(pred - target)))
        d = self._out("d", pred)
        np.subtract(pred, target, out=d)
        np.abs(d, out=d)  # l_i = mean_k |d_ik|; L = sum_i (w_i / sum w) l_i
        return float(np.dot(self._share(w, pred), self._row_sums(d))) * len(d) / d.size

    def grad(self, pred, target, w=None):
        g = self._out("g", pred)
        np.subtract(pred, target, out=g)
        np.sign(g, out=g)
        if w is None:
            g *= 1.0 / pred.size
        else:  # sign(pred - y) (w_i / sum w) / k
            g *= self._column(self._share(w, pred), g)
            g *= len(pred) / pred.size
        return g


class _Elementwise(Loss):
    """A loss that is the mean of e(pred, y) over every output, e given by `_each` and its
    derivative de/dpred by `_deach`: L = mean(e), dL/dpred = de / size; weighted, sample i's
    l_i is the mean over its k outputs and dL/dpred_i = (w_i / sum w) de_i / k."""

    def __init__(self):
        super().__init__(from_logits=False)

    def get_config(self):
        return {}

    def _each(self, pred, target) -> np.ndarray:
        raise NotImplementedError

    def _deach(self, pred, target) -> np.ndarray:
        raise NotImplementedError

    def value(self, pred, target, w=None):
        each = self._each(pred, target)
        if w is None:
            return float(np.mean(each))
        return float(np.dot(self._share(w, pred), self._row_sums(each))) * len(pred) / pred.size

    def grad(self, pred, target, w=None):
        g = self._out("g", pred)
        np.copyto(g, self._deach(pred, target))
        if w is None:
            g *= 1.0 / pred.size
        else:
            g *= self._column(self._share(w, pred), g)
            g *= len(pred) / pred.size
        return g


@LOSSES.register("huber")
class Huber(_Elementwise):
    """mean of 0.5 d^2 where |d| <= delta, delta (|d| - 0.5 delta) beyond, d = pred - y.

    Quadratic near the target, linear (as mae, so outliers pull with a bounded force) beyond
    delta; de/dpred = clip(d, -delta, delta). Keras' Huber and PyTorch's HuberLoss.

    Args:
        delta: where the loss turns from quadratic to linear (> 0).
    """

    def __init__(self, delta: float = 1.0):
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ValueError(f"delta must be a number > 0, got {delta!r}")
        super().__init__()
        self.delta = float(delta)

    def get_config(self):
        return {"delta": self.delta}

    def _each(self, pred, target):
        a = np.abs(pred - target)
        q = np.minimum(a, self.delta)  # 0.5 q^2 + delta (a - q) is both branches at once
        return 0.5 * q * q + self.delta * (a - q)

    def _deach(self, pred, target):
        return np.clip(pred - target, -self.delta, self.delta)


class _Margin(_Elementwise):
    """Targets -1/+1 (0/1 labels are mapped to -1/+1, as Keras does); the margin is m = y pred."""

    def __init__(self):
        super().__init__()
        # the outputs are raw scores whose decision threshold is 0, as logits are: so accuracy,
        # the confusion matrix and predict read them (a score > 0 is class 1, not one > 0.5)
        self.from_logits = True

    def prepare_target(self, y, output_shape, dtype="float32"):
        y = super().prepare_target(y, output_shape, dtype)
        values = np.unique(y)
        name = self.registry_name
        if not (np.isin(values, (-1.0, 1.0)).all() or np.isin(values, (0.0, 1.0)).all()):
            raise DataError(f"{name} wants targets -1/1 or 0/1, got values from {y.min():g} to {y.max():g}")
        if np.isin(values, (0.0, 1.0)).all():
            y = 2.0 * y - 1.0
        return y.astype(dtype, copy=False)


@LOSSES.register("hinge")
class Hinge(_Margin):
    """mean(max(0, 1 - y pred)) for targets y in -1/+1 (or 0/1) and raw scores pred (no sigmoid).

    de/dpred = -y where the margin y pred < 1, else 0 (the subgradient 0 at the kink)."""

    def _each(self, pred, target):
        return np.maximum(1.0 - target * pred, 0.0)

    def _deach(self, pred, target):
        return np.where(target * pred < 1.0, -target, 0.0)


@LOSSES.register("squared_hinge")
class SquaredHinge(_Margin):
    """mean(max(0, 1 - y pred)^2) for targets y in -1/+1 (or 0/1) and raw scores pred.

    de/dpred = -2 y max(0, 1 - y pred): smooth, unlike hinge."""

    def _each(self, pred, target):
        h = np.maximum(1.0 - target * pred, 0.0)
        return h * h

    def _deach(self, pred, target):
        return -2.0 * target * np.maximum(1.0 - target * pred, 0.0)


@LOSSES.register("poisson")
class Poisson(_Elementwise):
    """mean(pred - y log(pred + 1e-7)) for counts y >= 0 and a positive predicted rate.

    End the model with softplus (or another positive output). It is the Poisson negative
    log-likelihood without its log(y!) constant, as Keras' poisson; de/dpred = 1 - y / (pred + 1e-7)."""

    def prepare_target(self, y, output_shape, dtype="float32"):
        y = super().prepare_target(y, output_shape, dtype)
        if y.size and y.min() < 0:
            raise DataError(f"poisson wants counts >= 0 as targets, got a minimum of {y.min():g}")
        return y

    def _each(self, pred, target):
        return pred - target * np.log(pred + EPS)

    def _deach(self, pred, target):
        return 1.0 - target / (pred + EPS)


@LOSSES.register("kl_divergence")
class KLDivergence(Loss):
    """mean_i sum_c y_ic log(y_ic / p_ic), target distributions y and predicted p (n, C).

    Terms with y_ic = 0 are 0 (0 log 0 = 0); p is clipped to [1e-7, 1 - 1e-7] as in the cross-entropies.
    KL(y || p) = cross-entropy(y, p) - entropy(y), and the entropy does not depend on p, so the
    gradients are categorical_crossentropy's: dL/dp = -y / (n p), and after a softmax
    dL/dz = (p sum_c y_c - y) / n (fused). Integer labels are one-hot encoded (then it equals
    the cross-entropy).

    Args:
        from_logits: the model outputs logits z (no softmax layer); p = softmax(z).
    """

    fuses_with = "softmax"
    classification = True

    def prepare_target(self, y, output_shape, dtype="float32"):
        if np.ndim(y) == 1:  # labels -> one-hot
            labels = SparseCategoricalCrossentropy.prepare_target(self, y, output_shape)
            return np.eye(int(output_shape[-1]), dtype=dtype)[labels]
        y = super().prepare_target(y, output_shape, dtype)
        if y.size and y.min() < 0:
            raise DataError(f"kl_divergence wants target distributions (values >= 0), got {y.min():g}")
        return y

    def _entropy(self, target):
        """-sum_c y_c log y_c per sample, with 0 log 0 = 0."""
        logs = np.log(np.where(target > 0, target, 1.0))
        return -np.sum(target * logs, axis=-1)

    def value(self, pred, target, w=None):
        ce = CategoricalCrossentropy._value(self, pred, target, None if w is None else w)
        h = self._entropy(target)
        return ce - (float(np.mean(h)) if w is None else float(np.dot(self._share(w, pred), h)))

    def grad(self, pred, target, w=None):
        return CategoricalCrossentropy._grad(self, pred, target, w)

    def grad_logits(self, probs, target, w=None):
        return CategoricalCrossentropy._grad_logits(self, probs, target, w)


def build_loss(spec) -> Loss:
    """A loss from a name ('mse'), a spec ({'type': ..., 'from_logits': true}) or an instance."""
    return LOSSES.build(spec)
