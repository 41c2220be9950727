"""Optimizers, in order of increasing complexity (`sgd`, then the `adaptive` family), each
registered in `nntrain.nn.registry.OPTIMIZERS`; and the learning-rate schedules (`SCHEDULES`),
which set `optimizer.lr` from outside once per epoch.

    opt = build_optimizer({"type": "adam", "lr": 1e-3, "clipnorm": 1.0})
    opt.step([(name, param, grad), ...])     # in place
"""
from __future__ import annotations

from .adaptive import Adagrad, Adam, AdamW, Nadam, RMSprop
from .base import Optimizer, build_optimizer, clip_gradients
from .schedules import Schedule, build_schedule
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Nadam", "Optimizer", "RMSprop", "Schedule", "build_optimizer",
           "build_schedule", "clip_gradients"]
