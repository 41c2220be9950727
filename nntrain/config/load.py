"""Loading a config: YAML (safe_load only) -> `--set` overrides -> schema -> checks (config/checks.py).

Every problem is a ConfigError located at `file:line:column` of the offending key (or at the
`--set` that introduced it) and reported before any data is read or training starts.
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, NntrainError
from .checks import validate
from .schema import Config, number_from, parse_section, type_name

MAX_NODES = 100_000  # a config bigger than this once aliases are expanded is an alias bomb
STR, MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"
INT, LABEL_KEYS = "tag:yaml.org,2002:int", ("train", "class_weight")  # {0: 1.0, 1: 5.0}: class labels as keys
COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
# what constructing a scalar with an explicit tag can raise besides YAMLError (`!!int zero`)
VALUE_ERRORS = (ValueError, TypeError, OverflowError)


def yaml_problem(exc: Exception) -> str:
    """What a YAML error says is wrong, on one line (PyYAML's messages span several)."""
    return " ".join(str(getattr(exc, "problem", None) or exc).split())


def yaml_value(text: str) -> Any:
    """`yaml.safe_load` of a value (`--set`, `--grid`, a sweep file); a tag that cannot build its
    value (`!!int zero`) is a yaml.YAMLError like any other invalid YAML."""
    try:
        return yaml.safe_load(text)
    except VALUE_ERRORS as exc:
        raise yaml.YAMLError(str(exc)) from None


# -- YAML with positions ------------------------------------------------------------------
def _marks(text: str, source: str) -> tuple[dict[tuple, tuple[int, int]], set[tuple]]:
    """(path -> (line, column) of each key or item, paths of plain scalars like 1e-3).

    Walks the composed node graph, expanding aliases with a budget so that a "billion laughs"
    file is refused instead of exhausting memory. It refuses at their line what PyYAML would
    take silently or fail on without a position: a key given twice (PyYAML keeps the last), a
    key that is not a name, a tag that cannot build its value. Merge keys (`<<: *defaults`)
    place the merged entries under the mapping that merges them; its own keys win.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise _located(ConfigError(f"invalid YAML: {yaml_problem(exc)}"), where) from None
    except RecursionError:  # the composer recurses per nesting level
        raise ConfigError(f"{source}: the YAML is nested too deeply (hundreds of levels)") from None
    marks: dict[tuple, tuple[int, int]] = {}
    scientific: set[tuple] = set()
    constructor = yaml.SafeLoader("")

    def fail(message: str, n) -> None:
        raise _located(ConfigError(message), f"{source}:{n.start_mark.line + 1}:{n.start_mark.column + 1}")

    budget = [MAX_NODES]
    open_nodes: set[int] = set()  # ids of the collections being walked: an alias to one recurses

    def walk(n, path, depth):
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(f"{source}: the config expands to more than {MAX_NODES:,} values "
                              "(recursive or exponential YAML aliases?)")
        if depth > 100:
            raise ConfigError(f"{source}: the YAML is nested too deeply (more than 100 levels)")
        marks.setdefault(path, (n.start_mark.line + 1, n.start_mark.column + 1))
        if isinstance(n, (yaml.MappingNode, yaml.SequenceNode)):
            if id(n) in open_nodes:
                line, col = n.start_mark.line + 1, n.start_mark.column + 1
                raise ConfigError(f"{source}: a YAML alias refers to a collection that contains it "
                                  f"(recursive, from line {line} column {col})")
            open_nodes.add(id(n))
            if n.tag not in COLLECTION_TAGS:
                fail(f"unsupported YAML tag {n.tag} (nntrain reads plain mappings and lists only)", n)
        if isinstance(n, yaml.MappingNode):
            merges, seen = [], {}
            for k, v in n.value:
                if k.tag == MERGE:
                    merges += v.value if isinstance(v, yaml.SequenceNode) else [v]
                    continue
                if not isinstance(k, yaml.ScalarNode) or (k.tag != STR and not (k.tag == INT and path == LABEL_KEYS)):
                    fail(f"a key must be a name, got {k.value if isinstance(k, yaml.ScalarNode) else 'a collection'!r}", k)
                if k.value in seen:
                    fail(f"{k.value!r} is given twice in this mapping (first at line {seen[k.value]}); "
                         f"YAML would keep only the last one", k)
                seen[k.value] = k.start_mark.line + 1
                marks[path + (k.value,)] = (k.start_mark.line + 1, k.start_mark.column + 1)
                walk(v, path + (k.value,), depth + 1)
            own = set(seen)
            for m in merges:  # own keys win; which merged mapping wins a shared key is PyYAML's call
                if not isinstance(m, yaml.MappingNode):
                    fail("a merge key (<<) takes a mapping or a list of mappings", m)
                for k, v in m.value:
                    if isinstance(k, yaml.ScalarNode) and k.tag == STR and k.value not in own:
                        marks.setdefault(path + (k.value,), (k.start_mark.line + 1, k.start_mark.column + 1))
                        walk(v, path + (k.value,), depth + 1)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, path + (str(i),), depth + 1)
        if isinstance(n, (yaml.MappingNode, yaml.SequenceNode)):
            open_nodes.discard(id(n))
            return
        try:
            constructor.construct_object(n)
        except yaml.YAMLError as exc:
            fail(yaml_problem(exc), n)
        except VALUE_ERRORS as exc:
            fail(f"{n.value!r} is not a valid {n.tag.rpartition(':')[2]}: {exc}", n)
        if n.style is None and n.tag == STR and number_from(n.value) is not n.value:
            scientific.add(path)

    if node is not None:
        walk(node, (), 0)
    return marks, scientific


def _located(exc: NntrainError, where: str | None) -> NntrainError:
    exc.where = exc.where or where
    return exc


def read_yaml(path: Path) -> tuple[Any, dict, set]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a config file; give a YAML file, e.g. configs/mnist_mlp.yaml") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                          f"a config is a YAML text file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    marks, scientific = _marks(text, str(path))
    data = yaml.safe_load(text)  # safe: the walk above already bounded alias expansion
    for p in scientific:  # plain scalars like 1e-3, which YAML 1.1 reads as text
        value = _get_path(data, list(p))
        if isinstance(value, str) and number_from(value) is not value:  # (a merged key may have lost)
            _set_path(data, list(p), float(value))
    return data, marks, scientific


def _get_path(node, parts):
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _set_path(node, parts, value):
    parent = _get_path(node, parts[:-1])
    parent[int(parts[-1]) if isinstance(parent, list) else parts[-1]] = value


# -- overrides ----------------------------------------------------------------------------
def apply_override(raw: dict, text: str) -> str:
    """Apply one `KEY.PATH=VALUE` (VALUE parsed as YAML) to the raw config; returns the key."""
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set expects KEY=VALUE with a dotted key (e.g. optimizer.lr=0.01), got {text!r}")
    try:
        value = number_from(yaml_value(value_text)) if value_text.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text}: the value is not valid YAML ({yaml_problem(exc)})") from None
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        here = ".".join(parts[:depth + 1])
        if isinstance(node, list):
            slot = _index(part, node, here, text)
            child = node[slot]
        else:
            slot, child = part, node.get(part)
            if child is None:
                child = node[part] = {}
        if isinstance(child, str):  # a bare registry name (`optimizer: adam`) becomes a spec,
            # a bare image folder (`data.images: digits/`) its train key
            child = node[slot] = {"train": child} if here == "data.images" else {"type": child}
        elif not isinstance(child, (dict, list)):
            raise ConfigError(f"--set {text}: {here} is {type_name(child)}, not a mapping or list")
        node = child
    last = parts[-1]
    if isinstance(node, list):
        node[_index(last, node, key, text)] = value
    else:
        node[last] = value
    return key


def set_key(raw: dict, key: str, value: Any) -> None:
    """raw[key] = value for a dotted key (`optimizer.lr`, `model.layers.0.units`), as `--set`
    would place it, with a Python value instead of YAML text."""
    apply_override(raw, f"{key}=0")
    _set_path(raw, key.split("."), copy.deepcopy(value))


def _index(part: str, items: list, here: str, text: str) -> int:
    try:
        i = int(part)
    except ValueError:
        raise ConfigError(f"--set {text}: {here} indexes a list, so {part!r} must be a number 0..{len(items) - 1}") from None
    if not -len(items) <= i < len(items):
        raise ConfigError(f"--set {text}: {here} is out of range, the list has {len(items)} items (0..{len(items) - 1})")
    return i


# -- loading ------------------------------------------------------------------------------
def load_config(path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override, validate. Raises ConfigError located at the offending key."""
    path = Path(path)
    raw, marks, _ = read_yaml(path)
    if raw is None:
        raise _located(ConfigError("the config is empty; it needs at least model: and loss:"), str(path))
    if not isinstance(raw, dict):
        raise _located(ConfigError(f"the config must be a mapping of sections (model:, loss:, ...), got {type_name(raw)}"), str(path))
    raw = copy.deepcopy(raw)
    # the default optimizer, made explicit so that `--set optimizer.lr=..` refines it
    raw.setdefault("optimizer", "adam")
    set_keys: dict[str, str] = {}
    for text in overrides:
        set_keys[apply_override(raw, text)] = text
    return config_from_dict(raw, source=path, marks=marks, set_keys=set_keys)


def config_from_dict(raw: dict, source: Path | None = None, marks: dict | None = None,
                     set_keys: dict[str, str] | None = None) -> Config:
    marks, set_keys = marks or {}, set_keys or {}

    def where(key: str | None) -> str | None:
        if key is None:
            return str(source) if source else None
        for k, text in set_keys.items():
            if key == k or key.startswith(k + ".") or k.startswith(key + "."):
                return f"--set {text}"
        parts = tuple(key.split("."))
        while parts and parts not in marks:
            parts = parts[:-1]
        if source is None:
            return None
        if parts in marks:
            line, col = marks[parts]
            return f"{source}:{line}:{col}"
        return str(source)

    try:
        cfg = parse_section(Config, raw, "")
        base = source.parent if source else Path.cwd()
        for name in ("train", "test"):
            value = getattr(cfg.data, name)
            if value is not None:
                setattr(cfg.data, name, str((base / value).resolve()))
        if cfg.data.images is not None:
            for name in ("train", "test"):
                value = getattr(cfg.data.images, name)
                if value is not None:
                    setattr(cfg.data.images, name, str((base / value).resolve()))
        from .plugins import load_all, used

        cfg.plugins = load_all(cfg.plugins, base)
        validate(cfg)
        cfg.plugins += [p for p in used(config_to_dict(cfg)) if p not in cfg.plugins]  # registered from Python
    except NntrainError as exc:
        raise _located(exc, where(exc.key)) from None
    cfg.path = str(source) if source else None
    cfg.name = Path(source).stem if source else "config"
    cfg.where = where
    return cfg


def config_to_dict(cfg: Config) -> dict:
    """The resolved config (defaults filled in), loadable again by load_config."""
    return dataclasses.asdict(cfg)


def dump_config(cfg: Config) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)


__all__ = ["load_config", "config_from_dict", "config_to_dict", "dump_config", "apply_override", "set_key"]
