"""Stochastic gradient descent: the optimizer every other one refines."""
from __future__ import annotations

import numpy as np

from ..checks import number as _number
from ..registry import OPTIMIZERS
from .base import Optimizer


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum, as in Keras:

        plain:     p <- p - lr * g
        momentum:  v <- momentum * v - lr * g ;  p <- p + v
        nesterov:  v <- momentum * v - lr * g ;  p <- p + momentum * v - lr * g

    Args:
        lr: learning rate.
        momentum: velocity decay in [0, 1); 0 is plain SGD.
        nesterov: use Nesterov momentum (look ahead along the velocity).
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(lr)
        self.momentum = _number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        if not isinstance(nesterov, bool):
            raise ValueError(f"nesterov must be true or false, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov needs momentum > 0")
        self.nesterov = nesterov
        self.state_names = ("velocity",) if self.momentum else ()

    def _update(self, p, g, state):
        tmp = state["tmp"]
        np.multiply(g, self.lr, out=tmp)  # lr * g
        if not self.momentum:
            p -= tmp
            return
        v = state["velocity"]
        v *= self.momentum
        v -= tmp
        if self.nesterov:
            p -= tmp
            np.multiply(v, self.momentum, out=tmp)
            p += tmp
        else:
            p += v
