"""Every registry a config can name, by the word that `nntrain list` and the config reference
use for it. Importing this module imports every package that fills them (each package registers
its own members in its `__init__`), so the registries below are complete.
"""
from __future__ import annotations

from ..data import DATASETS
from ..nn import initializers, layers, losses, metrics, optimizers  # noqa: F401  (their import registers their entries)
from ..nn.registry import INITIALIZERS, LAYERS, LOSSES, METRICS, OPTIMIZERS, SCHEDULES

KINDS = {
    "layers": LAYERS,
    "losses": LOSSES,
    "optimizers": OPTIMIZERS,
    "schedules": SCHEDULES,
    "initializers": INITIALIZERS,
    "metrics": METRICS,
    "datasets": DATASETS,
}
