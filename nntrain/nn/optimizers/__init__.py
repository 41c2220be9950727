"""Optimizers, in order of increasing complexity, each registered in
`nntrain.nn.registry.OPTIMIZERS`; and the learning-rate schedules (`SCHEDULES`)."""
from __future__ import annotations

from .base import Optimizer, build_optimizer
from .adaptive import Adagrad, AdamW, Nadam, RMSprop
from .schedules import Schedule, build_schedule

__all__ = ["Adagrad", "AdamW", "Nadam", "Optimizer", "RMSprop", "Schedule", "build_optimizer", "build_schedule"]
