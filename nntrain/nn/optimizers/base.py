"""The optimizer base class and how a config spec becomes an optimizer. Each updates parameters in place.

    opt.step([(name, param, grad), ...])

State is kept per parameter name (e.g. "0.W", or "flat" when the model hands over its one
contiguous parameter vector), so it saves and loads with a checkpoint (`state_dict`). The
learning rate is a plain attribute: schedules set `opt.lr` from outside.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..checks import number as _number
from ..registry import OPTIMIZERS


class Optimizer:
    """Base: `step` walks the parameters, creating state on first sight; `_update` does the math."""

    state_names: tuple[str, ...] = ()
    # options every optimizer takes (config keys optimizer.clipnorm / clipvalue / weight_decay,
    # set by build_optimizer): clip the gradients, then decay the weights, then `_update`
    clipnorm: float | None = None  # rescale all gradients so their global L2 norm <= clipnorm
    clipvalue: float | None = None  # clip every gradient entry to [-clipvalue, clipvalue]
    weight_decay: float = 0.0  # decoupled decay, p <- p - lr * weight_decay * p (Keras 3, AdamW)
    # True when the caller no longer needs the gradients after `step` (the Trainer sets it): an
    # update may then use them as scratch space, one array fewer through the cache per step
    overwrite_grads: bool = False

    def __init__(self, lr: float):
        self.lr = _number("lr", lr, low=0.0, low_open=True)
        self.iterations = 0  # steps taken; Adam's bias correction uses it
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def get_config(self) -> dict:
        import inspect

        return {k: getattr(self, k) for k in inspect.signature(type(self).__init__).parameters
                if k != "self" and hasattr(self, k)}

    def step(self, params: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> None:
        self.iterations += 1
        if self.clipnorm is not None or self.clipvalue is not None:
            params = list(params)
            clip_gradients([g for _, _, g in params], self.clipnorm, self.clipvalue)
        for name, p, g in params:
            state = self.state.get(name)
            if state is None:
                state = self.state[name] = self._new_state(p)
            if self.weight_decay:
                tmp = state["tmp"]
                np.multiply(p, self.lr * self.weight_decay, out=tmp)
                p -= tmp
            self._update(p, g, state)

    def _new_state(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {k: np.zeros_like(p) for k in self.state_names + ("tmp",)}

    def set_options(self, clipnorm=None, clipvalue=None, weight_decay=None) -> "Optimizer":
        """The options every optimizer takes; None leaves one as it is.

        Args:
            clipnorm: rescale all gradients so that their global L2 norm is at most this.
            clipvalue: clip every gradient entry to [-clipvalue, clipvalue].
            weight_decay: decoupled decay before each step, p <- p - lr * weight_decay * p (AdamW's).
        """
        if clipnorm is not None:
            self.clipnorm = _number("clipnorm", clipnorm, low=0.0, low_open=True)
        if clipvalue is not None:
            self.clipvalue = _number("clipvalue", clipvalue, low=0.0, low_open=True)
        if weight_decay is not None:
            self.weight_decay = _number("weight_decay", weight_decay, low=0.0)
        return self

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays only (safe to save with allow_pickle=False)."""
        out = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for name, state in self.state.items():
            for key in self.state_names:
                out[f"{name}/{key}"] = state[key]
        return out

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        self.iterations = int(arrays["iterations"])
        self.state = {}
        for key, value in arrays.items():
            if key == "iterations":
                continue
            name, _, slot = key.rpartition("/")
            state = self.state.setdefault(name, {"tmp": np.zeros_like(value)})
            state[slot] = np.array(value, copy=True)


def clip_gradients(grads: list[np.ndarray], clipnorm: float | None, clipvalue: float | None) -> None:
    """In place: g <- g * clipnorm / ||all g|| when the global norm exceeds clipnorm (PyTorch's
    clip_grad_norm_, Keras' global_clipnorm); then every entry clipped to [-clipvalue, clipvalue]."""
    if clipnorm is not None:
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        if norm > clipnorm:
            for g in grads:
                g *= clipnorm / norm
    if clipvalue is not None:
        for g in grads:
            np.clip(g, -clipvalue, clipvalue, out=g)


# keys of an optimizer spec that every optimizer accepts (see Optimizer.set_options), and the
# learning-rate schedule, which is not the optimizer's business (schedules.py)
COMMON_OPTIONS = ("clipnorm", "clipvalue", "weight_decay")
SCHEDULE_KEY = "schedule"


def split_optimizer_spec(spec) -> tuple[object, dict, object]:
    """(registry spec, common options, schedule spec) from an optimizer spec."""
    if not isinstance(spec, dict):
        return spec, {}, None
    spec = dict(spec)
    schedule = spec.pop(SCHEDULE_KEY, None)
    own = {p.name for p in OPTIMIZERS.params(spec["type"])} if spec.get("type") in OPTIMIZERS else set()
    common = {k: spec.pop(k) for k in COMMON_OPTIONS if k in spec and k not in own}
    return spec, common, schedule


def build_optimizer(spec) -> Optimizer:
    """An optimizer from a name ('adam'), a spec ({'type': 'sgd', 'lr': 0.1}) or an instance.

    A spec may also hold clipnorm, clipvalue and weight_decay (any optimizer) and a schedule
    (ignored here: schedules.build_schedule builds it)."""
    spec, common, _ = split_optimizer_spec(spec)
    opt = OPTIMIZERS.build(spec)
    try:
        return opt.set_options(**common)
    except ValueError as exc:
        from ...errors import ConfigError

        raise ConfigError(f"optimizer: {exc}") from None
