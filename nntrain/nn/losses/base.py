"""The Loss contract, and the base of the losses that are a mean of an element-wise term.

    value(pred, target, w) -> float          the mean over the batch (weighted by w, or not)
    grad(pred, target, w)  -> dL/dpred
    grad_logits(probs, target, w)            dL/dz through the output activation (`fuses_with`)
"""
from __future__ import annotations

import numpy as np

from ...errors import DataError
from ..registry import LOSSES
from ..workspace import Workspace

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

    def value_and_grad_logits(self, probs: np.ndarray, target: np.ndarray,
                              w: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """(value, grad_logits) of one batch, as the trainer asks for them every step; a loss
        whose two share work (the picked entries of sparse cross-entropy) computes it once."""
        return self.value(probs, target, w), self.grad_logits(probs, target, w)

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


def build_loss(spec) -> Loss:
    """A loss from a name ('mse'), a spec ({'type': ..., 'from_logits': true}) or an instance."""
    return LOSSES.build(spec)
