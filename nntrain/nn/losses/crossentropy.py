"""The cross-entropies and the KL divergence: losses over class probabilities, fused with
the softmax (or sigmoid) before them, dL/dz = (p - y) / n."""
from __future__ import annotations

import numpy as np

from ...errors import DataError
from ..registry import LOSSES
from ..workspace import Workspace
from .base import EPS, Loss


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

    def value_and_grad_logits(self, probs, target, w=None):
        if self.label_smoothing or self.from_logits or w is not None:
            return super().value_and_grad_logits(probs, target, w)
        # the flat indices i * C + y_i once for both: L = -mean log clip(p[i, y_i]) and
        # dL/dz = (p - onehot(y)) / n, with p[i, y_i] gathered into a buffer (no new array)
        n = len(target)
        picks = self._picks(probs, target)
        picked = probs.reshape(-1).take(picks, out=self._ws.get("picked", (n,), probs.dtype), mode="clip")
        np.maximum(picked, EPS, out=picked)
        np.minimum(picked, 1.0 - EPS, out=picked)
        np.log(picked, out=picked)
        g = self._out("gz", probs)
        np.multiply(probs, 1.0 / n, out=g)
        g.reshape(-1)[picks] -= 1.0 / n
        return -float(np.add.reduce(picked)) / n, g

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
