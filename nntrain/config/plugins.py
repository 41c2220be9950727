"""Plugins: Python code that registers layers, losses, optimizers, schedules, metrics,
initializers and datasets with the decorators nntrain itself uses.

    plugins: [my_layers.py, mypkg.layers]     # in a config: a file (relative to the config) or a module

and, for installed packages, the entry-point group `nntrain.plugins`:

    [project.entry-points."nntrain.plugins"]
    mypkg = "mypkg.layers"

A plugin is code that runs when it is loaded: the one place a config makes user code run (the
YAML itself is read with yaml.safe_load). A run records the plugins its config uses, so eval,
predict, export and resume load them again, or stop with an error naming the missing one.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.machinery import PathFinder
from pathlib import Path

from ..errors import ConfigError
from ..nn.registry import LOADING

GROUP = "nntrain.plugins"
_loaded: set[str] = set()  # plugins imported in this process (a file by its resolved path)
_installed_done = False


class PluginError(ConfigError):
    """A plugin that cannot be found, fails to import, or registers a name twice."""


def is_file(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def resolve(spec: str, base: Path | None) -> str:
    """A file plugin as an absolute path (relative to the config's folder); a module as it is."""
    if is_file(spec):
        return str(((base or Path.cwd()) / spec).resolve())
    return spec


def _main_file() -> str | None:
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return str(Path(main).resolve()) if main else None


def load(label: str) -> None:
    """Import one plugin (a resolved file path or a module name), once per process."""
    if label in _loaded or label == _main_file():  # a script's registrations are already made
        return
    LOADING.append(label)
    try:
        if is_file(label):
            path = Path(label)
            if not path.is_file():
                raise PluginError(f"plugin {label}: no such file")
            import hashlib  # here only: its OpenSSL start-up is a cost every fit would pay

            name = f"nntrain_plugin_{path.stem}_{hashlib.sha1(label.encode()).hexdigest()[:8]}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickling look their module up
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        else:
            importlib.import_module(label)
    except PluginError:
        raise
    except ModuleNotFoundError as exc:
        ours = exc.name is not None and (label == exc.name or label.startswith(exc.name + "."))
        cause = (f"no module named {exc.name!r} (not installed, or not on the Python path)" if ours
                 else f"{type(exc).__name__}: {exc}")  # the plugin's own import failed
        raise PluginError(f"plugin {label}: {cause}") from None
    except Exception as exc:  # noqa: BLE001 - any failure of user code is reported as one line
        raise PluginError(f"plugin {label}: {type(exc).__name__}: {exc}") from None
    finally:
        LOADING.pop()
    _loaded.add(label)


def load_all(specs: list[str], base: Path | None) -> list[str]:
    """Import the plugins of a config; returns them resolved (what the run records)."""
    from . import catalogue  # noqa: F401  (nntrain's own entries first: a plugin's clash is then the plugin's)

    load_installed()
    out = []
    for i, spec in enumerate(specs):
        label = resolve(spec, base)
        try:
            load(label)
        except PluginError as exc:
            exc.key = f"plugins.{i}"  # located at its item of the config
            raise
        if label not in out:
            out.append(label)
    return out


def load_installed() -> None:
    """Import every plugin of the entry-point group `nntrain.plugins`, once per process."""
    global _installed_done
    if _installed_done:
        return
    _installed_done = True
    if not _may_declare(GROUP):
        return
    from importlib.metadata import entry_points

    from . import catalogue  # noqa: F401

    for ep in entry_points(group=GROUP):
        module = ep.value.partition(":")[0].strip()
        LOADING.append(module)
        try:
            obj = ep.load()
            if callable(obj) and ep.attr:  # `mypkg.plugin:register`: a function that registers
                obj()
        except Exception as exc:  # noqa: BLE001
            raise PluginError(f"plugin {ep.name} ({ep.value}, installed): {type(exc).__name__}: {exc}") from None
        finally:
            LOADING.pop()
        _loaded.add(module)


def _may_declare(group: str) -> bool:
    """Whether an installed distribution may declare entry points of `group`: a look at the
    entry_points.txt of the *.dist-info and *.egg-info folders on sys.path, the places
    importlib.metadata reads. Importing importlib.metadata and scanning with it costs ~0.1 s,
    paid by every process (each trial of a sweep); this costs a few ms. True when unsure: a zip
    or an egg on the path, or a finder of distributions other than the path's."""
    import os

    if any(hasattr(f, "find_distributions") and f is not PathFinder for f in sys.meta_path):
        return True
    needle = group.encode()
    for entry in sys.path:
        root = entry or "."
        if os.path.isfile(root) or root.lower().endswith(".egg"):
            return True
        try:
            names = os.listdir(root)
        except OSError:  # not a folder (or gone): importlib.metadata finds nothing there either
            continue
        for name in names:
            if name.lower().endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(root, name, "entry_points.txt"), "rb") as f:
                        if needle in f.read():
                            return True
                except OSError:  # no entry points (or an egg-info file): nothing declared
                    continue
    return False


def used(cfg_dict: dict) -> list[str]:
    """The plugins whose entries a resolved config names (a layer type, a loss, an initializer,
    a dataset, ...), in order of first use: what a run must load again to rebuild its model."""
    from .catalogue import KINDS

    found: list[str] = []

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            for registry in KINDS.values():
                origin = registry.origin(v) if v in registry else None
                if origin is not None and origin not in found:
                    found.append(origin)

    walk({k: v for k, v in cfg_dict.items() if k != "plugins"})
    return found
