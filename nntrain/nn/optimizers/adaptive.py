"""Adaptive optimizers, which scale each parameter's step by its own gradient history:
Adagrad, RMSprop, Adam, AdamW, Nadam, in order of increasing complexity (Keras 3's update rules
and defaults).

Every update is in place on the whole parameter vector, with `state["tmp"]` as scratch. The
options of every optimizer (clipnorm, clipvalue, weight_decay) are applied by Optimizer.step.
"""
from __future__ import annotations

import math

import numpy as np

from ..checks import number as _number
from ..registry import OPTIMIZERS
from .base import Optimizer


@OPTIMIZERS.register("adagrad")
class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011), in Keras' form.

        acc <- acc + g^2            (acc starts at initial_accumulator_value)
        p   <- p - lr * g / sqrt(acc + epsilon)

    Args:
        lr: learning rate.
        initial_accumulator_value: starting value of acc (Keras 0.1; PyTorch 0).
        epsilon: added to acc before the square root.
    """

    state_names = ("accumulator",)

    def __init__(self, lr: float = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7):
        super().__init__(lr)
        self.initial_accumulator_value = _number("initial_accumulator_value", initial_accumulator_value, low=0.0)
        self.epsilon = _number("epsilon", epsilon, low=0.0, low_open=True)

    def _new_state(self, p):
        state = super()._new_state(p)
        state["accumulator"].fill(self.initial_accumulator_value)
        return state

    def _update(self, p, g, state):
        acc, tmp = state["accumulator"], state["tmp"]
        np.multiply(g, g, out=tmp)
        acc += tmp
        np.add(acc, self.epsilon, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop (Hinton 2012), in Keras' form (epsilon inside the square root).

        v <- rho v + (1 - rho) g^2
        centered: a <- rho a + (1 - rho) g ;  d = v - a^2 + epsilon   (else d = v + epsilon)
        step = lr * g / sqrt(d)
        momentum > 0: m <- momentum m + step ; p <- p - m     (else p <- p - step)

    Args:
        lr: learning rate.
        rho: decay of the moving average of g^2.
        momentum: momentum of the step, in [0, 1).
        epsilon: added to the denominator for stability.
        centered: divide by the estimated variance of g instead of its second moment.
    """

    def __init__(self, lr: float = 0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                 centered: bool = False):
        super().__init__(lr)
        self.rho = _number("rho", rho, low=0.0, high=1.0, high_open=True)
        self.momentum = _number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.epsilon = _number("epsilon", epsilon, low=0.0, low_open=True)
        if not isinstance(centered, bool):
            raise ValueError(f"centered must be true or false, got {centered!r}")
        self.centered = centered
        self.state_names = ("velocity",) + (("average",) if centered else ()) + (("momentum",) if self.momentum else ())

    def _update(self, p, g, state):
        v, tmp = state["velocity"], state["tmp"]
        np.multiply(g, g, out=tmp)  # v += (1 - rho) (g^2 - v)
        tmp -= v
        tmp *= 1.0 - self.rho
        v += tmp
        if self.centered:
            a = state["average"]
            np.subtract(g, a, out=tmp)  # a += (1 - rho) (g - a)
            tmp *= 1.0 - self.rho
            a += tmp
            np.multiply(a, a, out=tmp)
            np.subtract(v, tmp, out=tmp)
        else:
            np.copyto(tmp, v)
        tmp += self.epsilon
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        if self.momentum:
            m = state["momentum"]
            m *= self.momentum
            m += tmp
            p -= m
        else:
            p -= tmp


def set_moment_options(opt: Optimizer, beta_1, beta_2, epsilon) -> None:
    """beta_1, beta_2 in [0, 1) and epsilon > 0, checked and stored: what the Adam family shares."""
    opt.beta_1 = _number("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
    opt.beta_2 = _number("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
    opt.epsilon = _number("epsilon", epsilon, low=0.0, low_open=True)


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980), in Keras' form:

        m <- beta_1 m + (1 - beta_1) g
        v <- beta_2 v + (1 - beta_2) g^2
        p <- p - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

    The state keeps M = m / (1 - beta_1) and V = v / (1 - beta_2) (saved as "m" and "v"),
    which is the same update in ten passes over memory instead of twelve:

        M <- beta_1 M + g ;  V <- beta_2 V + g^2
        p <- p - a_t * M / (sqrt(V) + epsilon / sqrt(1 - beta_2)),
        a_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * (1 - beta_1) / sqrt(1 - beta_2)

    Args:
        lr: learning rate.
        beta_1: decay of the first-moment (mean) estimate.
        beta_2: decay of the second-moment (uncentered variance) estimate.
        epsilon: added to sqrt(v) for stability (Keras' 1e-7; PyTorch uses 1e-8).
    """

    state_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        super().__init__(lr)
        set_moment_options(self, beta_1, beta_2, epsilon)

    def _update(self, p, g, state):
        m, v = state["m"], state["v"]
        tmp = g if self.overwrite_grads else state["tmp"]
        b1, b2, t = self.beta_1, self.beta_2, self.iterations
        m *= b1
        m += g  # M <- b1 M + g
        v *= b2
        np.multiply(g, g, out=tmp)  # g is not read after this
        v += tmp  # V <- b2 V + g^2
        root = math.sqrt(1.0 - b2)
        alpha = self.lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t) * (1.0 - b1) / root
        np.sqrt(v, out=tmp)
        tmp += self.epsilon / root
        np.divide(m, tmp, out=tmp)
        tmp *= alpha
        p -= tmp


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    Before each Adam step:  p <- p - lr * weight_decay * p

    (the decay does not pass through the Adam moments, unlike an L2 term in the loss).

    Args:
        lr: learning rate.
        weight_decay: decay rate per step, relative to lr (Keras 0.004; PyTorch 0.01).
        beta_1: decay of the first-moment (mean) estimate.
        beta_2: decay of the second-moment (uncentered variance) estimate.
        epsilon: added to sqrt(v) for stability.
    """

    def __init__(self, lr: float = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7):
        super().__init__(lr, beta_1, beta_2, epsilon)
        self.set_options(weight_decay=weight_decay)


@OPTIMIZERS.register("nadam")
class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat 2016), in Keras' form.

    With t the step (1, 2, ...):
        u_t = beta_1 (1 - 0.5 * 0.96^t) ;  P_t = u_1 u_2 ... u_t
        m <- beta_1 m + (1 - beta_1) g ;   v <- beta_2 v + (1 - beta_2) g^2
        m_hat = u_{t+1} m / (1 - P_t u_{t+1}) + (1 - u_t) g / (1 - P_t)
        p <- p - lr * m_hat / (sqrt(v / (1 - beta_2^t)) + epsilon)

    Args:
        lr: learning rate.
        beta_1: decay of the first-moment estimate.
        beta_2: decay of the second-moment estimate.
        epsilon: added to the denominator for stability.
    """

    state_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        super().__init__(lr)
        set_moment_options(self, beta_1, beta_2, epsilon)
        self._product = (0, 1.0)  # (t, P_t), recomputed from iterations after a reload

    def _u(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _product_at(self, t: int) -> float:
        done, value = self._product
        if done == t:
            return value
        if done != t - 1:  # a fresh or reloaded optimizer: multiply up from the start
            done, value = 0, 1.0
            for s in range(1, t):
                value *= self._u(s)
        value *= self._u(t)
        self._product = (t, value)
        return value

    def _update(self, p, g, state):
        m, v, tmp = state["m"], state["v"], state["tmp"]
        t = self.iterations
        u_t, u_next = self._u(t), self._u(t + 1)
        prod = self._product_at(t)
        np.subtract(g, m, out=tmp)  # m += (1 - b1) (g - m)
        tmp *= 1.0 - self.beta_1
        m += tmp
        np.multiply(g, g, out=tmp)  # v += (1 - b2) (g^2 - v)
        tmp -= v
        tmp *= 1.0 - self.beta_2
        v += tmp
        # denominator sqrt(v / (1 - b2^t)) + eps, then p -= lr * m_hat / denominator
        np.multiply(v, 1.0 / (1.0 - self.beta_2 ** t), out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += self.epsilon
        a = self.lr * u_next / (1.0 - prod * u_next)
        b = self.lr * (1.0 - u_t) / (1.0 - prod)
        m_tmp = state.get("tmp2")
        if m_tmp is None:  # a second scratch array (not saved: not part of the state)
            m_tmp = state["tmp2"] = np.empty_like(p)
        np.divide(m, tmp, out=m_tmp)
        m_tmp *= a
        p -= m_tmp
        np.divide(g, tmp, out=m_tmp)
        m_tmp *= b
        p -= m_tmp
