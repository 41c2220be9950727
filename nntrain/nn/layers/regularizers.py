"""Weight penalties on a layer's kernel: `kernel_regularizer: {l2: 1e-4}` (or l1, or both).

As in Keras, the penalty l1 * sum|W| + l2 * sum W^2 is added to the training loss, and its
gradient l1 * sign(W) + 2 * l2 * W to dL/dW (Sequential adds both; see model.py).
"""
from __future__ import annotations

import math

import numpy as np

KINDS = ("l1", "l2")


def parse_regularizer(value) -> dict[str, float] | None:
    """None, or a mapping with l1 and/or l2 factors (numbers >= 0); anything else: ValueError."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value or any(k not in KINDS for k in value):
        raise ValueError(f"kernel_regularizer must be a mapping like {{l2: 0.0001}} with keys l1 and/or l2, got {value!r}")
    out = {}
    for k, v in value.items():
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"kernel_regularizer.{k} must be a number >= 0, got {v!r}")
        out[k] = float(v)
    return out


def penalty(reg: dict[str, float], w: np.ndarray) -> float:
    """l1 * sum|W| + l2 * sum W^2."""
    total = 0.0
    if reg.get("l1"):
        total += reg["l1"] * float(np.abs(w).sum())
    if reg.get("l2"):
        total += reg["l2"] * float(np.vdot(w, w))
    return total


def add_penalty_grad(reg: dict[str, float], w: np.ndarray, g: np.ndarray, tmp: np.ndarray) -> None:
    """g += l1 * sign(W) + 2 l2 W, in place (tmp: a work array shaped like W)."""
    if reg.get("l1"):
        np.sign(w, out=tmp)
        tmp *= reg["l1"]
        g += tmp
    if reg.get("l2"):
        np.multiply(w, 2.0 * reg["l2"], out=tmp)
        g += tmp
