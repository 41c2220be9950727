"""The config reference (docs/reference.md), generated from the schema and the registries.

    nntrain list --format markdown > docs/reference.md

Everything comes from the code: config keys from schema.py's fields (default and `doc`),
registry entries from their signatures and docstrings (first line; `Args:` lines for the
parameters), so the reference cannot drift from what the config accepts.
"""
from __future__ import annotations

import dataclasses
import inspect

from . import schema
from .catalogue import KINDS

COMMAND = "nntrain list --format markdown > docs/reference.md"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _yaml(value) -> str:
    """A default as it would be written in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _summary(registry, name: str) -> str:
    """The docstring's first paragraph on one line (a summary sentence may wrap)."""
    doc = inspect.getdoc(registry.get(name)) or ""
    return " ".join(doc.split("\n\n", 1)[0].split()) or "(no description)"


def _section_rows(cls, prefix: str = "") -> list[tuple[str, str, str]]:
    rows = []
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        nested = getattr(schema, str(f.type).removesuffix(" | None"), None)  # optional sections too
        if nested is not None and dataclasses.is_dataclass(nested):
            rows.append((key, "(section)", f.metadata.get("doc", "")))
            rows += _section_rows(nested, key + ".")
            continue
        if f.default is not dataclasses.MISSING:
            default = f"`{_yaml(f.default)}`"
        elif f.default_factory is not dataclasses.MISSING:
            default = f"`{_yaml(f.default_factory())}`"
        else:
            default = "required"
        rows.append((key, default, f.metadata.get("doc", "")))
    return rows


def config_keys() -> list[str]:
    lines = ["## Config keys", "",
             "Every key a config file may hold (`--set KEY=VALUE` overrides any of them).", "",
             "| key | default | description |", "| --- | --- | --- |"]
    lines += [f"| `{k}` | {_cell(d)} | {_cell(doc)} |" for k, d, doc in _section_rows(schema.Config)]
    return lines + [""]


def shared_options(kind: str) -> list[str]:
    """The table of the keys every entry of a kind takes besides its own (the optimizers' clipping
    and decay, the schedules' unit and warmup), from the signature and `Args:` of the code that
    reads them; nothing for the other kinds."""
    from ..nn.optimizers.base import Optimizer
    from ..nn.optimizers.schedules import Timed
    from ..nn.registry import param_docs

    fn, intro = {"optimizers": (Optimizer.set_options, "Every optimizer also takes these keys:"),
                 "schedules": (Timed.__init__, "Every schedule also takes these keys, which set its unit and a "
                                               "linear warmup before it:")}.get(kind, (None, ""))
    if fn is None:
        return []
    docs = param_docs(fn if kind == "optimizers" else Timed)
    lines = [intro, "", "| key | default | description |", "| --- | --- | --- |"]
    for p in inspect.signature(fn).parameters.values():
        if p.name not in ("self", "inner"):
            # set_options' None means "leave as is": the default is then the class's (weight_decay 0)
            default = p.default if p.default is not None else getattr(Optimizer, p.name, None)
            lines.append(f"| `{p.name}` | `{_yaml(default)}` | {_cell(docs.get(p.name, ''))} |")
    return lines + [""]


def registry_section(kind: str) -> list[str]:
    registry = KINDS[kind]
    lines = [f"## {kind.capitalize()}", ""]
    if not registry.names():
        return lines + ["None registered.", ""]
    key = "name" if registry.key == "name" else "type"
    lines += [f"Entries of `{registry.kind}` (a config names one by its `{key}`).", ""]
    lines += shared_options(kind)
    for name in registry.names():
        lines += [f"### `{name}`", "", _summary(registry, name), ""]
        params = registry.params(name)
        if not params:
            lines += ["No parameters.", ""]
            continue
        lines += ["| parameter | default | description |", "| --- | --- | --- |"]
        for p in params:
            default = "required" if p.default is inspect.Parameter.empty else f"`{_yaml(p.default)}`"
            lines.append(f"| `{p.name}` | {_cell(default)} | {_cell(p.doc)} |")
        lines.append("")
    return lines


def markdown_reference(kind: str | None = None) -> str:
    """The whole reference (kind=None) or the section of one registry kind, as Markdown."""
    if kind is not None:
        return "\n".join(registry_section(kind)).rstrip() + "\n"
    lines = ["# nntrain reference", "",
             f"Generated from the code by `{COMMAND}`; do not edit by hand.", "",
             "Contents: [config keys](#config-keys), "
             + ", ".join(f"[{k}](#{k})" for k in KINDS) + ".", ""]
    lines += config_keys()
    for k in KINDS:
        lines += registry_section(k)
    return "\n".join(lines).rstrip() + "\n"
