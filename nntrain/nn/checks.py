"""Argument checks shared by the constructors of layers, optimizers and schedules.

They raise ValueError with the parameter's name, what it must be and what it got; the registry
turns that into a ConfigError located at the config key.
"""
from __future__ import annotations

import math


def number(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """A finite real number within the bounds (open or closed), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value!r}")
    return float(value)


def integer(name: str, value, low: int = 0) -> int:
    """An int (not a bool) >= low."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value
