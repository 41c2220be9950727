"""Graph: layers wired by name, for residual blocks and branches.

An entry of `model.layers` may carry `name:` and `inputs: [names]`; an entry without `inputs`
takes the entry before it (the first one takes the model input, named `input`). The model's
output is the last entry. So a residual block is

    - {type: conv2d, filters: 16, kernel_size: 3, padding: same, activation: relu, name: stem}
    - {type: conv2d, filters: 16, kernel_size: 3, padding: same, activation: relu}
    - {type: conv2d, filters: 16, kernel_size: 3, padding: same, name: branch}
    - {type: add, inputs: [stem, branch]}
    - relu

The wiring is checked before anything is built (`wire`): names, unknown inputs, merges of one
input, cycles, layers whose output goes nowhere. Forward runs the layers in topological order;
backward runs them in reverse and sums the gradients of an output that feeds several layers.
A config with no `name`, `inputs` or merge layer builds a `Sequential`, as it always did.
"""
from __future__ import annotations

import copy
import heapq
import math
import re

import numpy as np

from ..errors import ConfigError, did_you_mean
from .layers.merge import Merge
from .model import Model, Sequential, expand_specs
from .registry import LAYERS
from .workspace import Workspace

GRAPH_KEYS = ("name", "inputs")
INPUT = "input"  # the name of the model input in `inputs:`
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _is_merge(spec) -> bool:
    kind = spec if isinstance(spec, str) else spec.get("type") if isinstance(spec, dict) else None
    entry = LAYERS._entries.get(kind) if isinstance(kind, str) else None
    return isinstance(entry, type) and issubclass(entry, Merge)


def uses_graph(specs: list) -> bool:
    """Whether a `model.layers` list needs a Graph: a name, an inputs list or a merge layer."""
    return any((isinstance(s, dict) and any(k in s for k in GRAPH_KEYS)) or _is_merge(s) for s in specs)


def _entry(i: int, names: list) -> str:
    return f"{names[i]!r} (model.layers.{i})" if names[i] else f"model.layers.{i}"


def wire(specs: list, input_names: list[str]) -> tuple[list[list[int]], list[str | None]]:
    """The sources of each entry of `model.layers` as node numbers (0 .. m-1: the model inputs,
    m + i: entry i) and each entry's name (None when unnamed). Raises ConfigError at the key of
    a bad name, an unknown input, a merge of one input, a cycle or an entry used by nothing."""
    m = len(input_names)
    names: list[str | None] = []
    where: dict[str, int] = {name: j for j, name in enumerate(input_names)}
    for i, spec in enumerate(specs):
        name = spec.get("name") if isinstance(spec, dict) else None
        if name is not None:
            key = f"model.layers.{i}.name"
            if not isinstance(name, str) or not NAME.match(name):
                raise ConfigError(f"a layer name is letters, digits and _, not starting with a digit, got {name!r}", key)
            if name in where:
                first = "a model input" if where[name] < m else f"model.layers.{where[name] - m}"
                raise ConfigError(f"two layers are named {name!r}: {first} and this one; names must be unique", key)
            where[name] = m + i
        names.append(name)
    sources: list[list[int]] = []
    for i, spec in enumerate(specs):
        given = spec.get("inputs") if isinstance(spec, dict) else None
        kind = spec if isinstance(spec, str) else spec.get("type") if isinstance(spec, dict) else "?"
        key = f"model.layers.{i}.inputs"
        if given is None:
            if i == 0 and m != 1:
                raise ConfigError(f"the first layer needs inputs: [one of {', '.join(input_names)}]", f"model.layers.{i}")
            src = [m + i - 1] if i else [0]
        else:
            if isinstance(given, str):
                given = [given]
            if not isinstance(given, list) or not given or not all(isinstance(g, str) for g in given):
                raise ConfigError(f"must be a list of layer or input names, like [stem, branch], got {given!r}", key)
            src = []
            for k, ref in enumerate(given):
                if ref not in where:
                    known = sorted(where)
                    raise ConfigError(f"no layer or input is named {ref!r}{did_you_mean(ref, known)}; "
                                      f"names: {', '.join(known)}", f"{key}.{k}")
                src.append(where[ref])
        if _is_merge(spec) and len(src) < 2:
            raise ConfigError(f"{kind} merges two or more inputs, got {len(src)}; give inputs: [a, b, ...]",
                              key if given is not None else f"model.layers.{i}")
        if not _is_merge(spec) and len(src) > 1:
            raise ConfigError(f"{kind} takes one input, got {len(src)}; merge them first with add, concatenate, "
                              f"multiply or average", key)
        sources.append(src)
    _check_acyclic(sources, names, m, [isinstance(s, dict) and "inputs" in s for s in specs])
    used = {j for src in sources for j in src}
    for i in range(len(specs) - 1):
        if m + i not in used:
            raise ConfigError(f"the output of {_entry(i, names)} goes nowhere: no layer lists it in inputs, and only "
                              f"the last layer is the model's output", f"model.layers.{i}")
    for j, name in enumerate(input_names):
        if j not in used:
            raise ConfigError(f"model input {name!r} is not used by any layer", f"model.inputs.{name}")
    return sources, names


def _check_acyclic(sources: list[list[int]], names: list, m: int, given: list[bool]) -> None:
    """ConfigError naming the first cycle of entries (walking each entry's inputs), if any."""
    state = [0] * len(sources)  # 0 unseen, 1 on the current path, 2 done
    for start in range(len(sources)):
        if state[start]:
            continue
        path, stack = [], [(start, iter(sources[start]))]
        state[start] = 1
        path.append(start)
        while stack:
            node, it = stack[-1]
            nxt = next((j - m for j in it if j >= m), None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state[nxt] == 1:
                cycle = path[path.index(nxt):]
                shown = " -> ".join(names[c] or f"model.layers.{c}" for c in reversed(cycle + [nxt]))
                first = min(cycle)
                raise ConfigError(f"the layers form a cycle: {shown} (each feeds the next), so none can run first",
                                  f"model.layers.{first}" + (".inputs" if given[first] else ""))
            elif state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sources[nxt])))


class Graph(Model):
    """Layers run in topological order, each on the outputs it names. Same surface as
    Sequential: forward, backward, predict, param_groups, state_dict (arrays "<layer>.<param>"
    by position in `layers`, the config's order with activation shorthands expanded).

    input_shape is one shape (the input is called `input`), or {name: shape} for several
    inputs (model.inputs). Forward and predict then take {name: array}, or the inputs packed
    side by side as one array (n, total) (`pack_inputs`: what the data readers give), so
    `input_shape` is (total,) and `inputs` holds the shapes by name."""

    def __init__(self, layers: list, sources: list[list[int]], input_shape, dtype="float32", seed: int = 0,
                 config_index: list[int] | None = None, names: list[str] | None = None, training: bool = True):
        """sources[k]: the nodes layer k reads: 0 .. m-1 for the m model inputs, m + j for layer j."""
        self.layers = list(layers)
        self.sources = [list(s) for s in sources]
        self.config_index = config_index or list(range(len(self.layers)))
        self.names = names or [str(k) for k in range(len(self.layers))]
        self.inputs = None
        if isinstance(input_shape, dict):
            self.inputs = {str(k): tuple(int(d) for d in v) for k, v in input_shape.items()}
            self.packed = packed_columns(self.inputs)
            input_shape = (sum(math.prod(s) for s in self.inputs.values()),)
        self.input_names = list(self.inputs) if self.inputs else [INPUT]
        self._setup(input_shape, dtype, seed, training)
        self._unpacked = Workspace()  # each input's part of a packed batch, contiguous
        self._build()

    @classmethod
    def from_specs(cls, specs: list, input_shape, dtype="float32", seed: int = 0,
                   training: bool = True) -> "Graph":
        input_names = list(input_shape) if isinstance(input_shape, dict) else [INPUT]
        m = len(input_names)
        sources, entry_names = wire(specs, input_names)
        plain = [{k: v for k, v in s.items() if k not in GRAPH_KEYS} if isinstance(s, dict) else s for s in specs]
        layers, index, layer_sources, names = [], [], [], []
        entry_out: dict[int, int] = {}  # entry i -> the node of its last layer (after an activation shorthand)
        for i, spec in expand_specs(plain):
            try:
                layers.append(LAYERS.build(copy.deepcopy(spec)))
            except ConfigError as exc:
                raise ConfigError(str(exc), key=f"model.layers.{i}") from None
            k = len(layers) - 1
            if i in entry_out:  # the activation of a shorthand reads the layer before it and takes the name
                layer_sources.append([entry_out[i]])
                names[-1] = f"{k - 1}"
            else:  # wire()'s node m + i is entry i
                layer_sources.append([j if j < m else entry_out[j - m] for j in sources[i]])
            names.append(entry_names[i] or f"{k}")
            entry_out[i] = m + k
            index.append(i)
        return cls(layers, layer_sources, input_shape, dtype=dtype, seed=seed, config_index=index,
                   names=names, training=training)

    def _node_name(self, j: int) -> str:
        m = len(self.input_names)
        return self.input_names[j] if j < m else self.names[j - m]

    def _build(self) -> None:
        n, m = len(self.layers), len(self.input_names)
        order, waiting = [], [sum(1 for j in set(s) if j >= m) for s in self.sources]
        users: list[list[int]] = [[] for _ in range(m + n)]
        for k, src in enumerate(self.sources):
            for j in set(src):
                users[j].append(k)
        ready = [k for k in range(n) if not waiting[k]]
        heapq.heapify(ready)
        while ready:  # Kahn's algorithm, lowest index first: a config already in order keeps it
            k = heapq.heappop(ready)
            order.append(k)
            for u in users[m + k]:
                waiting[u] -= 1
                if not waiting[u]:
                    heapq.heappush(ready, u)
        if len(order) != n or (n and order[-1] != n - 1):  # wire() refuses these in a config
            raise ConfigError("the layers form a cycle, or the last one is not the output", "model.layers")
        shapes: list = (list(self.inputs.values()) if self.inputs else [self.input_shape]) + [None] * n
        total = 0
        for k in order:
            src, layer = self.sources[k], self.layers[k]
            if isinstance(layer, Merge):
                named = ", ".join(f"{self._node_name(j)} {list(shapes[j])}" for j in src)
                shapes[m + k], total = self._build_layer(
                    k, [shapes[j] for j in src], total, lambda exc: f"{layer.registry_name} of {named}: {exc}")
            else:
                shapes[m + k], total = self._build_layer(k, shapes[src[0]], total)
                if src[0] < m:  # its input gradient would go to the data: skip computing it
                    layer.need_input_grad = False
        self.order = order
        self._m = m
        # (layer, its source node, or the list of them for a merge, its node) in forward's order
        self._steps = [(self.layers[k], self.sources[k] if isinstance(self.layers[k], Merge) else self.sources[k][0],
                        m + k) for k in order]
        self._back = self._steps[::-1]
        self._values: list = [None] * (m + n)
        self._grads: list = [None] * (m + n)
        self._owned = [False] * (m + n)
        self._sums = Workspace()  # where the gradients of an output that feeds several layers add up
        self._finish(shapes[-1])

    # -- computation --------------------------------------------------------------------
    def _feed(self, values: list, x) -> None:
        if self.inputs is None:
            values[0] = x
        elif isinstance(x, dict):
            for j, name in enumerate(self.input_names):
                values[j] = x[name]
        else:  # packed side by side: each input's columns, copied into a reused buffer
            n = len(x)
            for j, name in enumerate(self.input_names):
                lo, hi = self.packed[name]
                part = self._unpacked.get(name, (n,) + self.inputs[name], x.dtype)
                np.copyto(part.reshape(n, hi - lo), x[:, lo:hi])
                values[j] = part

    def forward(self, x, training: bool = False) -> np.ndarray:
        values = self._values
        self._feed(values, x)
        for layer, src, node in self._steps:
            values[node] = layer.forward(values[src] if src.__class__ is int else [values[j] for j in src], training)
        for j in range(self._m):
            values[j] = None  # hold no reference to the caller's arrays
        return values[-1]

    def backward(self, grad: np.ndarray, skip_last: bool = False) -> None:
        """Backpropagate dL/d(output) (or dL/d(input of the last layer) when skip_last), summing
        the gradients that reach an output from each layer it feeds."""
        g, owned, m = self._grads, self._owned, self._m
        for j in range(len(g)):
            g[j] = None
            owned[j] = False
        steps = self._back
        if skip_last:  # the last layer is an activation (softmax): one source
            g[steps[0][1]] = grad
            steps = steps[1:]
        else:
            g[-1] = grad
        for layer, src, node in steps:
            gin = layer.backward(g[node])
            if src.__class__ is int:
                if src >= m:
                    self._accumulate(src, gin)
            else:
                for j, gj in zip(src, gin):
                    if j >= m:
                        self._accumulate(j, gj)
        for layer in self._regularized:
            layer.add_penalty_grad()

    def _accumulate(self, j: int, gj: np.ndarray) -> None:
        """g[j] += gj, never writing into an array a layer handed out (a layer's buffer, or the
        gradient it received): the second contribution goes to a buffer of node j's own."""
        g = self._grads
        cur = g[j]
        if cur is None:
            g[j] = gj
        elif self._owned[j]:
            np.add(cur, gj, out=cur)
        else:
            total = self._sums.get(j, cur.shape, cur.dtype)
            np.add(cur, gj, out=total)
            g[j] = total
            self._owned[j] = True

    def predict(self, x, batch_size: int = 1024) -> np.ndarray:
        """Outputs for x (an array; for several inputs also {input name: array}) in inference
        mode, as a new array (n, *output_shape)."""
        if isinstance(x, dict):
            x = pack_inputs({name: np.asarray(x[name]) for name in self.input_names})
        return super().predict(x, batch_size)

    def outputs(self, x):
        """(index, layer, output) per layer in the order forward runs them, in inference mode."""
        values = [None] * len(self._values)
        self._feed(values, x)
        for layer, src, node in self._steps:
            values[node] = layer.forward(values[src] if src.__class__ is int else [values[j] for j in src], False)
            yield node - self._m, layer, values[node]

    # -- description --------------------------------------------------------------------
    def summary_rows(self) -> list[tuple[str, str, tuple[int, ...], int]]:
        """(name, layer type, output shape, parameter count) per layer, in config order."""
        return [(self.names[k], layer.registry_name, layer.output_shape, layer.count_params())
                for k, layer in enumerate(self.layers)]

    def layer_inputs(self) -> list[list[str]]:
        """The names of what each layer reads (a model input: its name, `input` when alone)."""
        return [[self._node_name(j) for j in src] for src in self.sources]


def packed_columns(inputs: dict) -> dict[str, tuple[int, int]]:
    """Where each input's flattened values sit in the packed array: {name: (first, end)},
    the inputs in sorted name order (a data file holds no declaration order)."""
    out, lo = {}, 0
    for name in sorted(inputs):
        size = math.prod(inputs[name])
        out[name] = (lo, lo + size)
        lo += size
    return out


def pack_inputs(arrays: dict) -> np.ndarray:
    """Several inputs {name: (n, *shape)} as one array (n, total): each flattened, side by side
    in sorted name order, so that the data pipeline (splits, standardization, batches,
    checkpoints) handles one array and a Graph unpacks its inputs from it."""
    names = sorted(arrays)
    n = len(arrays[names[0]])
    for k in names[1:]:
        if len(arrays[k]) != n:
            raise ValueError(f"x_{names[0]} has {n} samples but x_{k} has {len(arrays[k])}")
    return np.concatenate([np.asarray(arrays[k]).reshape(n, -1) for k in names], axis=1)


def check_wiring(specs: list, inputs: dict | None = None) -> None:
    """ConfigError at the key of a graph's bad wiring (see `wire`); nothing for a plain stack.
    inputs: {name: shape} of several model inputs, else the one input is `input`."""
    if inputs is not None or uses_graph(specs):
        wire(specs, list(inputs) if inputs is not None else [INPUT])


def build_model(specs: list, input_shape, dtype="float32", seed: int = 0, training: bool = True,
                inputs: dict | None = None) -> Model:
    """The model of `model.layers`: a Graph when an entry has a name, an inputs list or is a
    merge layer, or there are several named inputs (inputs {name: shape}, which input_shape is
    then the packed width of, or input_shape itself a dict), else a Sequential (today's configs,
    trained bit for bit as before)."""
    if inputs is not None:
        input_shape = dict(inputs)
    kind = Graph if isinstance(input_shape, dict) or uses_graph(specs) else Sequential
    return kind.from_specs(specs, input_shape, dtype=dtype, seed=seed, training=training)
