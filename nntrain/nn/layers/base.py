"""The Layer contract every layer follows.

    layer.build(input_shape, rng, dtype) -> output_shape     # creates params by name
    y  = layer.forward(x, training)                           # caches what backward needs
    gx = layer.backward(gy)                                   # fills layer.grads, returns dL/dx

Shapes are batch-first; `input_shape`/`output_shape` exclude the batch axis. `params` and
`grads` share keys and shapes. Outputs are written into buffers the layer owns and reuses while
the batch shape stays the same, so a caller must copy an output it wants to keep past the next
forward call (Sequential.predict does).
"""
from __future__ import annotations

import inspect
import math
import os

import numpy as np

from ..initializers import get_initializer
from ..workspace import Workspace

# Training holds each parameter about this many times: the value, its gradient, and up to three
# optimizer arrays (Adam's two moments and a scratch vector).
COPIES_PER_PARAMETER = 5


class Layer:
    registry_name = "layer"
    # {"l1": a, "l2": b} on params["W"] (kernel_regularizer), or None; Sequential applies it
    regularizer: dict | None = None
    # Set by Sequential on the first layer: its input gradient is never used, so skip it.
    need_input_grad = True
    # Copies of each parameter the memory check counts: 1 for a model only loaded to predict
    memory_copies = COPIES_PER_PARAMETER

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}  # non-trainable state saved with the weights
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.dtype = np.dtype("float32")
        self.built = False
        self._cache = None
        self._work = Workspace()

    # -- construction -------------------------------------------------------------------
    def build(self, input_shape, rng: np.random.Generator | None = None, dtype="float32"):
        """Create the parameters for `input_shape` (no batch axis); return the output shape."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = np.dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.output_shape = tuple(int(d) for d in self._build(self.input_shape, rng))
        self.built = True
        return self.output_shape

    def _build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        return input_shape

    def add_param(self, name: str, shape, initializer, rng: np.random.Generator) -> np.ndarray:
        too_big = memory_shortfall(math.prod(shape), self.dtype, self.memory_copies)
        if too_big:
            raise ValueError(f"its {name} of shape {list(shape)} alone {too_big}")
        value = get_initializer(initializer)(tuple(shape), rng, self.dtype)
        self.params[name] = np.ascontiguousarray(value, dtype=self.dtype)
        self.grads[name] = np.zeros_like(self.params[name])
        return self.params[name]

    def get_config(self) -> dict:
        """The constructor arguments, so that `type(layer)(**layer.get_config())` rebuilds it."""
        sig = inspect.signature(type(self).__init__)
        return {
            name: getattr(self, name)
            for name in sig.parameters
            if name != "self" and hasattr(self, name)
        }

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def penalty(self) -> float:
        """The kernel regularizer's term of the loss (0 without one)."""
        if not self.regularizer:
            return 0.0
        from .regularizers import penalty

        return penalty(self.regularizer, self.params["W"])

    def add_penalty_grad(self) -> None:
        """grads["W"] += d penalty / dW; called after backward."""
        if self.regularizer:
            from .regularizers import add_penalty_grad

            w = self.params["W"]
            add_penalty_grad(self.regularizer, w, self.grads["W"], self._buf("penalty", w.shape))

    # -- computation --------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def _buf(self, key: str, shape, dtype=None) -> np.ndarray:
        """A work array reused across calls with the same shape (no per-step allocation)."""
        return self._work.get(key, shape, self.dtype if dtype is None else dtype)

    def _cached(self):
        if self._cache is None:
            raise RuntimeError(f"{self.registry_name}: backward() called before forward()")
        return self._cache

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"



def machine_memory() -> int | None:
    """Bytes of physical memory, or None when the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def beyond_memory(n_bytes: int) -> str | None:
    """'X GiB, more than this machine's Y GiB of memory' when n_bytes would not fit, else None:
    for sizes that data declares (a file header, a dataset option) before anything is allocated."""
    total = machine_memory()
    if total is None or n_bytes <= total:
        return None
    return f"{n_bytes / 2 ** 30:,.1f} GiB, more than this machine's {total / 2 ** 30:.1f} GiB of memory"


def memory_shortfall(n_params: int, dtype, copies: int = COPIES_PER_PARAMETER) -> str | None:
    """None when n_params parameters (times `copies`) fit in this machine's memory, else the end
    of a sentence saying why not (an absurd `units` would otherwise hang in allocation)."""
    total = machine_memory()
    need = n_params * np.dtype(dtype).itemsize * copies
    if total is None or need <= total:
        return None
    held = (f"to train ({n_params:,} parameters x {copies} copies: values, gradients, optimizer state)"
            if copies > 1 else f"to hold its {n_params:,} parameters")
    return f"needs about {_size(need)} {held}, more than this machine's {_size(total)} of memory"


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2 ** 30:.1f} GiB" if n_bytes >= 2 ** 30 else f"{n_bytes / 2 ** 20:.0f} MiB"
