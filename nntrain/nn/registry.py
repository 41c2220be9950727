"""Named registries of layers, losses, optimizers, schedules, initializers and metrics.

    @LAYERS.register("dense")
    class Dense(Layer): ...

    LAYERS.build({"type": "dense", "units": 10})    # or "relu", or a Layer instance

A registry checks names (did-you-mean on a typo) and keyword arguments (against the
constructor's signature) so that config errors surface before anything is built, and it
describes every entry's parameters for `nntrain list` straight from the code.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class Param:
    """One constructor parameter of a registry entry, as `nntrain list` shows it."""

    name: str
    default: Any  # inspect.Parameter.empty when required
    doc: str

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


def param_docs(obj: Callable) -> dict[str, str]:
    """Parameter descriptions from an 'Args:' block of the docstring (`name: text` lines)."""
    doc = inspect.getdoc(obj) or ""
    out: dict[str, str] = {}
    in_args = False
    last = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if not in_args:
            continue
        if not stripped:
            last = None
            continue
        if ":" in stripped and not line.startswith("        "):
            key, _, text = stripped.partition(":")
            key = key.split("(")[0].strip()
            if key.isidentifier():
                out[key] = text.strip()
                last = key
                continue
        if last is not None:
            out[last] += " " + stripped
    return out


def _non_finite(value: Any) -> float | None:
    """The first NaN or infinity in a value (inside lists and mappings too), else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return next((bad for bad in map(_non_finite, value) if bad is not None), None)
    return None


# the plugin being imported (config/plugins.py sets it): what its registrations are recorded as
LOADING: list[str] = []


def _origin(obj: Callable) -> str | None:
    """Where an entry comes from: None for nntrain's own, else the plugin being loaded, the
    module that registered it, or the file of a script run as __main__."""
    if LOADING:
        return LOADING[-1]
    module = getattr(obj, "__module__", None) or ""
    if module == "nntrain" or module.startswith("nntrain."):
        return None
    if module == "__main__":
        import sys

        return getattr(sys.modules["__main__"], "__file__", None) or module
    return module or None


class Registry:
    """A table from names to classes or factories of one kind ("layer", "loss", ...)."""

    def __init__(self, kind: str, key: str = "type"):
        self.kind = kind
        self.key = key  # the dict key that names the entry in a config spec
        self._entries: dict[str, Callable] = {}
        self._origins: dict[str, str] = {}  # name -> plugin, for entries from outside nntrain

    def register(self, name: str) -> Callable[[Callable], Callable]:
        def decorate(obj: Callable) -> Callable:
            if name in self._entries:
                first = self._origins.get(name)
                raise ValueError(f"{self.kind} {name!r} is registered twice (first by {first or 'nntrain'})")
            self._entries[name] = obj
            origin = _origin(obj)
            if origin is not None:
                self._origins[name] = origin
            if isinstance(obj, type):
                obj.registry_name = name
            return obj

        return decorate

    def origin(self, name: str) -> str | None:
        """The plugin (file or module) an entry came from; None for nntrain's own."""
        return self._origins.get(name)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Callable:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ConfigError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}; "
                f"valid: {', '.join(self.names())}"
            ) from None

    def params(self, name: str) -> list[Param]:
        """The keyword parameters of an entry, in signature order."""
        obj = self.get(name)
        target = obj.__init__ if isinstance(obj, type) else obj
        docs = param_docs(obj)
        out = []
        for p in inspect.signature(target).parameters.values():
            if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            out.append(Param(p.name, p.default, docs.get(p.name, "")))
        return out

    def summary(self, name: str) -> str:
        """The first line of the entry's docstring."""
        doc = inspect.getdoc(self.get(name)) or ""
        return doc.splitlines()[0] if doc else ""

    def split_spec(self, spec: Any) -> tuple[str, dict]:
        """('dense', {'units': 10}) from 'dense' or {'type': 'dense', 'units': 10}."""
        if isinstance(spec, str):
            return spec, {}
        if isinstance(spec, dict):
            if self.key not in spec:
                raise ConfigError(f"{self.kind} needs a {self.key!r} key; valid: {', '.join(self.names())}")
            kwargs = dict(spec)
            name = kwargs.pop(self.key)
            if not isinstance(name, str):
                raise ConfigError(f"{self.kind} {self.key} must be a name, got {name!r}")
            return name, kwargs
        raise ConfigError(f"a {self.kind} is a name or a mapping with a {self.key!r} key, got {spec!r}")

    def check_kwargs(self, name: str, kwargs: dict, extra: tuple[str, ...] = ()) -> None:
        """Unknown or missing keyword arguments -> ConfigError naming them."""
        params = self.params(name)
        valid = [p.name for p in params]
        for key in kwargs:
            if key not in valid and key not in extra:
                raise ConfigError(
                    f"{self.kind} {name!r} has no parameter {key!r}{did_you_mean(key, valid)}; "
                    f"valid: {', '.join(valid) or '(none)'}",
                    )
        for p in params:
            if p.required and p.name not in kwargs:
                raise ConfigError(f"{self.kind} {name!r} needs {p.name!r}")
        for key, value in kwargs.items():
            bad = _non_finite(value)
            if bad is not None:  # YAML's .inf / .nan: never a meaningful setting, and it trains to garbage
                raise ConfigError(f"{self.kind} {name!r}: {key} must be a finite number, got {bad}")

    def build(self, spec: Any, **context: Any) -> Any:
        """An instance from a name, a spec dict, or an already built object (returned as is)."""
        obj_type = tuple(e for e in self._entries.values() if isinstance(e, type))
        if obj_type and not isinstance(spec, (str, dict)) and isinstance(spec, obj_type):
            return spec
        name, kwargs = self.split_spec(spec)
        factory = self.get(name)
        self.check_kwargs(name, kwargs)
        try:
            return factory(**kwargs, **context)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{self.kind} {name!r}: {exc}") from None


LAYERS = Registry("layer")
LOSSES = Registry("loss")
OPTIMIZERS = Registry("optimizer")
INITIALIZERS = Registry("initializer")
METRICS = Registry("metric")
SCHEDULES = Registry("schedule")
