"""The package's house rules, read from the source with `ast` (nothing is imported):

- no import cycles between nntrain's modules (an import inside a function counts too);
- layering: a package imports only itself and the packages below it (LAYERS, bottom first), so
  `nn/` (the math) never imports `train/`, `runs/`, `config/` or `cli/`;
- third-party libraries stay where they belong: typer only in `cli/`, rich and yaml never in `nn/`;
- no module, in the package, its tests or benchmarks, named for its size or for nothing
  ("*_more", "*_extra", "misc", "utils", "helpers").

The checks are functions of a folder, so a test can plant a cycle in a scratch package and see
that it is caught and named.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nntrain"

# bottom first: a module may import modules of its own level or of any level below it.
# `nntrain` itself (its __init__: __version__ and the lazy public API) may be imported by all.
LAYERS = ("errors", "nn", "data", "config", "runs", "train", "sweep", "api", "sklearn", "tools", "cli", "launch",
          "__main__")

# third-party top-level modules and the first-level parts of nntrain allowed to import them
ONLY_IN = {"typer": {"cli"}, "click": {"cli"}}
NEVER_IN = {"nn": {"rich", "yaml", "typer", "click", "matplotlib", "onnx"}}

BAD_NAMES = ("more", "extra", "misc", "utils", "util", "helpers", "helper")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. "nntrain.train.callbacks"
    target: str  # the imported module (ours) or top-level name (third party)
    line: int


def modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every .py under the package folder `root`."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(root: Path) -> list[Import]:
    """Every import statement under root, at any depth (function-level ones too), resolved to the
    module it names: `from . import x` names the submodule x where there is one."""
    mods = modules(root)
    found = []
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [Import(name, a.name, node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    found.append(Import(name, sub if sub in mods else target, node.lineno))
    return sorted(set(found), key=lambda i: (str(mods[i.source]), i.line, i.target))


def internal_graph(root: Path) -> dict[str, set[str]]:
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for imp in imports(root):
        if imp.target in mods and imp.target != imp.source:
            graph[imp.source].add(imp.target)
    return graph


def cycles(root: Path) -> list[list[str]]:
    """Each import cycle once, as the files along it (first file repeated at the end).

    Tarjan's strongly connected components; in each component of more than one module, a
    shortest path back to its first module names one cycle."""
    graph = internal_graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    files = modules(root)
    out = []
    for comp in components:
        start, members = comp[0], set(comp)
        paths, seen, loop = [[start]], {start}, None
        while paths and loop is None:  # breadth first, inside the component
            nxt = []
            for p in paths:
                for w in sorted(graph[p[-1]] & members):
                    if w == start:
                        loop = p + [start]
                        break
                    if w not in seen:
                        seen.add(w)
                        nxt.append(p + [w])
                if loop:
                    break
            paths = nxt
        out.append([str(files[m].relative_to(root.parent)) for m in loop])
    return out


def level(module: str) -> tuple[str, int | None] | None:
    """The layer of an nntrain module ('nntrain.train.callbacks' -> ('train', 5)); None for
    the root package; an index of None for a part of the package that LAYERS does not place."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    return parts[1], LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def layering_violations(root: Path) -> list[str]:
    files = modules(root)
    out = []
    for imp in imports(root):
        src = level(imp.source)
        where = f"{files[imp.source].relative_to(root.parent)}:{imp.line}"
        top = imp.target.split(".")[0]
        if top == root.name:
            dst = level(imp.target)
            if src and dst and src[1] is not None and dst[1] is not None and dst[1] > src[1]:
                out.append(f"{where}: {src[0]}/ imports {imp.target} from the higher layer {dst[0]}/")
            continue
        if top in ONLY_IN and (src is None or src[0] not in ONLY_IN[top]):
            out.append(f"{where}: imports {top}, allowed only in {', '.join(sorted(ONLY_IN[top]))}/")
        if src and top in NEVER_IN.get(src[0], ()):
            out.append(f"{where}: {src[0]}/ imports {top}")
    return out


def test_every_module_belongs_to_a_layer():
    unplaced = [m for m in modules(PACKAGE) if level(m) and level(m)[1] is None]
    assert not unplaced, f"add their package to LAYERS (bottom first): {unplaced}"


@pytest.fixture(scope="module")
def graph_facts():
    return cycles(PACKAGE), layering_violations(PACKAGE)


def test_no_import_cycles(graph_facts):
    found, _ = graph_facts
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_imports_point_down_the_layers(graph_facts):
    _, bad = graph_facts
    assert not bad, "\n".join(bad)


def test_no_module_is_named_for_its_size_or_for_nothing():
    repo = PACKAGE.parent
    files = [p for folder in ("nntrain", "tests", "benchmarks") for p in (repo / folder).rglob("*.py")]
    assert len(files) > 50
    bad = [str(p.relative_to(repo)) for p in files
           if p.stem in BAD_NAMES or any(p.stem.endswith("_" + w) for w in BAD_NAMES)]
    assert not bad


# -- the checks catch what they are for ---------------------------------------------------
def scratch_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "nntrain"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_planted_cycle_is_caught_and_named(tmp_path):
    root = scratch_package(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "nn/__init__.py": "",
        "nn/optimizers/__init__.py": "from . import base, adaptive\n",
        "nn/optimizers/base.py": "from ...errors import x\n\ndef build():\n    from . import adaptive\n",
        "nn/optimizers/adaptive.py": "from .base import Optimizer\n",
        "nn/model.py": "from .optimizers.base import build\n",
    })
    assert cycles(root) == [["nntrain/nn/optimizers/adaptive.py", "nntrain/nn/optimizers/base.py",
                             "nntrain/nn/optimizers/adaptive.py"]]
    (root / "nn/optimizers/base.py").write_text("from ...errors import x\n")
    assert cycles(root) == []


def test_a_longer_cycle_is_named_file_by_file(tmp_path):
    root = scratch_package(tmp_path, {
        "__init__.py": "",
        "train/__init__.py": "",
        "train/a.py": "import nntrain.train.b\n",
        "train/b.py": "from nntrain.train import c\n",
        "train/c.py": "from .a import thing\n",
    })
    assert cycles(root) == [["nntrain/train/a.py", "nntrain/train/b.py", "nntrain/train/c.py", "nntrain/train/a.py"]]


def test_an_import_up_the_layers_and_a_misplaced_library_are_caught(tmp_path):
    root = scratch_package(tmp_path, {
        "__init__.py": "__version__ = '0'\n",
        "nn/__init__.py": "",
        "nn/model.py": "import numpy\nfrom .. import __version__\n\ndef f():\n    from ..train.trainer import Trainer\n",
        "nn/show.py": "from rich.console import Console\n",
        "train/__init__.py": "",
        "train/trainer.py": "from ..nn.model import f\nimport typer\n",
    })
    assert layering_violations(root) == [
        "nntrain/nn/model.py:5: nn/ imports nntrain.train.trainer from the higher layer train/",
        "nntrain/nn/show.py:1: nn/ imports rich",
        "nntrain/train/trainer.py:2: imports typer, allowed only in cli/",
    ]
