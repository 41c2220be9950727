"""Sequential: a stack of layers built from the model config.

After building, every parameter (and every gradient) is a view into one contiguous vector, so
an optimizer updates the whole model in a handful of numpy calls (`param_groups`), while each
layer still sees its own named arrays ("0.W", "0.b", ...).
"""
from __future__ import annotations

import copy

import numpy as np

from ..errors import ConfigError, RunError
from .layers import Layer
from .layers.base import COPIES_PER_PARAMETER, memory_shortfall
from .registry import LAYERS

# layer keys that are shorthand for an activation layer placed right after the layer
ACTIVATION_KEY = "activation"
# pools that keep the maximum of each window (the gradient goes to one position that attains it)
MAX_POOLS = ("maxpool2d", "maxpool1d", "global_maxpool2d", "global_maxpool1d")


def run_order(layers: list[Layer]) -> list[int]:
    """The order a stack runs its layers in: as listed, except that a relu followed by a max
    pool runs after it, on the pooled array (a quarter of the size for 2x2 pools: the conv
    block's relu was 12% of the MNIST CNN's step).

    Exact, not approximate. relu is monotone, so max_k relu(x_k) = relu(max_k x_k): both are
    the same float (max and relu round nothing). The gradients are the same too: where the
    window's maximum m > 0, the positions attaining it are the same in x and in relu(x), so
    both orders send g to the same one, times relu'(m) = 1; where m <= 0, relu'(m) = 0 and
    relu(x) is 0 in the whole window, so both send 0."""
    order = list(range(len(layers)))
    k = 0
    while k + 1 < len(order):
        if layers[order[k]].registry_name == "relu" and layers[order[k + 1]].registry_name in MAX_POOLS:
            order[k], order[k + 1] = order[k + 1], order[k]
            k += 2
        else:
            k += 1
    return order


def expand_specs(specs: list) -> list[tuple[int, dict]]:
    """Layer specs with `activation:` shorthand split off, each paired with its config index."""
    out = []
    for index, spec in enumerate(specs):
        try:
            name, kwargs = LAYERS.split_spec(spec)
            takes_activation = ACTIVATION_KEY in [p.name for p in LAYERS.params(name)]
        except ConfigError as exc:
            raise ConfigError(exc.message, key=f"model.layers.{index}") from None
        act = kwargs.get(ACTIVATION_KEY)
        if act is not None and takes_activation:
            _check_activation(act, f"model.layers.{index}.{ACTIVATION_KEY}")
            kwargs[ACTIVATION_KEY] = None
            out.append((index, {"type": name, **kwargs}))
            if act != "linear":
                out.append((index, act if isinstance(act, dict) else {"type": act}))
        else:
            out.append((index, {"type": name, **kwargs}))
    return out


def _check_activation(spec, key: str) -> None:
    """The `activation:` shorthand names an activation (relu, {type: leaky_relu, ...}), never
    another kind of layer, which would silently add weights to the model."""
    from .layers import Activation

    try:
        name, _ = LAYERS.split_spec(spec)
        kind = LAYERS.get(name)
    except ConfigError as exc:
        raise ConfigError(exc.message, key=key) from None
    if not (isinstance(kind, type) and issubclass(kind, Activation)):
        names = [n for n in LAYERS.names() if isinstance(LAYERS.get(n), type) and issubclass(LAYERS.get(n), Activation)]
        raise ConfigError(f"{name!r} is not an activation; valid: {', '.join(names)} "
                          f"(to add a {name} layer, list it in model.layers)", key)


class Model:
    """What every model shares: layers whose parameters (and gradients) are views into one
    contiguous vector, the optimizer's view of them, the weights by name, and `predict`.

    A subclass builds `self.layers` (calling `_check_built` on each) and then `_finish`, and
    gives `forward(x, training)`, `backward(grad, skip_last)` and `summary_rows()`."""

    layers: list[Layer]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    dtype: np.dtype
    config_index: list[int]

    def _setup(self, input_shape, dtype, seed: int, training: bool) -> None:
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = np.dtype(dtype)
        self.seed = seed
        # the memory check at build counts each parameter 5 times to train, once to predict
        self.memory_copies = COPIES_PER_PARAMETER if training else 1
        # one generator for init and then dropout masks: all randomness follows the seed
        self.rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])

    def _build_layer(self, k: int, shape, total: int, describe=None) -> tuple[tuple[int, ...], int]:
        """Build layer k on `shape` (a list of shapes for a merge); (its output shape, the
        parameter count so far). Errors name `model.layers.N`; describe(exc) words a build error."""
        layer = self.layers[k]
        key = f"model.layers.{self.config_index[k]}"
        layer.memory_copies = self.memory_copies
        try:
            out = layer.build(shape, rng=self.rng, dtype=self.dtype)
        except (ValueError, TypeError) as exc:
            text = describe(exc) if describe else f"{layer.registry_name} with input shape {list(shape)}: {exc}"
            raise ConfigError(text, key=key) from None
        if any(d <= 0 for d in out):
            raise ConfigError(f"{layer.registry_name} turns input shape {list(layer.input_shape)} into {list(out)}",
                              key=key)
        total += layer.count_params()
        too_big = memory_shortfall(total, self.dtype, self.memory_copies)
        if too_big:
            raise ConfigError(f"the model up to this {layer.registry_name} layer {too_big}", key=key)
        return out, total

    def _finish(self, output_shape) -> None:
        self.output_shape = tuple(output_shape)
        self._regularized = [layer for layer in self.layers if layer.regularizer]
        self._flatten_params()

    def _flatten_params(self) -> None:
        names = [(layer, key) for layer in self.layers for key in layer.params]
        total = sum(layer.params[key].size for layer, key in names)
        self.flat_params = np.zeros(total, dtype=self.dtype)
        self.flat_grads = np.zeros(total, dtype=self.dtype)
        offset = 0
        for layer, key in names:
            p = layer.params[key]
            view = self.flat_params[offset:offset + p.size].reshape(p.shape)
            view[...] = p
            layer.params[key] = view
            layer.grads[key] = self.flat_grads[offset:offset + p.size].reshape(p.shape)
            offset += p.size

    def penalty(self) -> float:
        """The kernel regularizers' part of the loss (0.0 when no layer has one)."""
        return sum(layer.penalty() for layer in self._regularized) if self._regularized else 0.0

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Outputs for x in inference mode, as a new array (n, *output_shape)."""
        x = np.asarray(x)
        out = np.empty((len(x),) + self.output_shape, dtype=self.dtype)
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size]
            if xb.dtype != self.dtype:
                xb = xb.astype(self.dtype)
            out[start:start + len(xb)] = self.forward(xb, training=False)
        return out

    # -- a loaded run's model: evaluate and summary ------------------------------------
    def compile(self, loss, metrics=(), target_scale=None) -> None:
        """The loss and metrics `evaluate` reports (load_model sets the run's, as Keras' compile);
        target_scale: a data.scale_target run's, whose loss is of the scaled target."""
        self.loss, self.metrics, self.target_scale = loss, list(metrics), target_scale

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> dict[str, float]:
        """{"loss": mean loss, metric name: value} over (x, y), in inference mode. x is what
        `predict` takes; y: class labels or targets in the data's units."""
        loss = getattr(self, "loss", None)
        if loss is None:
            raise RunError("evaluate needs a loss: a model from load_model(run) has its run's, "
                           "else call model.compile(loss, metrics) first")
        y = loss.prepare_target(np.asarray(y), self.output_shape, self.dtype)
        if getattr(self, "target_scale", None) is not None:
            y = self.target_scale.scale(y)
        pred = self.predict(x, batch_size)
        out = {"loss": float(loss.value(pred, y)) + self.penalty()}
        for m in self.metrics:
            m.reset()
            m.update(pred, y)
            out[getattr(m, "name", None) or m.registry_name] = m.result()
        return out

    def summary(self) -> str:
        """The layers as text: name, type, output shape and parameters per layer, then the total."""
        rows = [("layer", "type", "output shape", "params")]
        rows += [(name, kind, str(tuple(shape)), f"{n:,}") for name, kind, shape, n in self.summary_rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"input {tuple(self.input_shape)}, {self.count_params():,} parameters, {self.dtype.name}")
        return "\n".join(lines)

    def param_groups(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """What an optimizer steps over: the whole model as one (name, params, grads) vector."""
        return [("flat", self.flat_params, self.flat_grads)] if self.flat_params.size else []

    def named_params(self):
        """(name, param, grad) per layer parameter, named "<layer index>.<param>"."""
        for i, layer in enumerate(self.layers):
            for key, p in layer.params.items():
                yield f"{i}.{key}", p, layer.grads[key]

    def count_params(self) -> int:
        return int(self.flat_params.size)

    def summary_rows(self) -> list[tuple[str, str, tuple[int, ...], int]]:
        """(name, layer type, output shape, parameter count) per layer."""
        return [(f"{i}", layer.registry_name, layer.output_shape, layer.count_params())
                for i, layer in enumerate(self.layers)]

    # -- weights ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        out = {}
        for i, layer in enumerate(self.layers):
            for key, arr in list(layer.params.items()) + list(layer.buffers.items()):
                out[f"{i}.{key}"] = arr
        return out

    def load_state_dict(self, arrays: dict[str, np.ndarray], source: str = "weights") -> None:
        expected = self.state_dict()
        missing = [k for k in expected if k not in arrays]
        if missing:
            raise RunError(f"{source} has no array {missing[0]!r} (expected {', '.join(expected)})")
        for key, target in expected.items():
            value = arrays[key]
            if value.shape != target.shape:
                i = int(key.split(".")[0])
                raise RunError(
                    f"{source}: layer {i} ({self.layers[i].registry_name}) {key.split('.', 1)[1]} "
                    f"has shape {list(value.shape)} but the config builds {list(target.shape)}"
                )
            target[...] = value


class Sequential(Model):
    """Layers applied in order. `forward(x, training)`, `backward(grad)`, `predict(x)`."""

    def __init__(self, layers: list[Layer], input_shape, dtype="float32", seed: int = 0,
                 config_index: list[int] | None = None, training: bool = True):
        self.layers = list(layers)
        self.config_index = config_index or list(range(len(self.layers)))
        self._setup(input_shape, dtype, seed, training)
        self._build()

    @classmethod
    def from_specs(cls, specs: list, input_shape, dtype="float32", seed: int = 0,
                   training: bool = True) -> "Sequential":
        """Build from `model.layers` of a config; errors name the offending `model.layers.N`.
        training=False builds a model only to load weights into and predict with."""
        layers, index = [], []
        for i, spec in expand_specs(specs):
            try:
                layers.append(LAYERS.build(copy.deepcopy(spec)))
            except ConfigError as exc:
                raise ConfigError(str(exc), key=f"model.layers.{i}") from None
            index.append(i)
        return cls(layers, input_shape, dtype=dtype, seed=seed, config_index=index, training=training)

    def _build(self) -> None:
        shape, total = self.input_shape, 0
        for k in range(len(self.layers)):
            shape, total = self._build_layer(k, shape, total)
        self._order = run_order(self.layers)
        if self.layers:
            self.layers[self._order[0]].need_input_grad = False
        self._run = [self.layers[i] for i in self._order]
        self._run_back = self._run[::-1]
        self._finish(shape)

    # -- computation --------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        for layer in self._run:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray, skip_last: bool = False) -> None:
        """Backpropagate dL/d(output) (or dL/d(input of the last layer) when skip_last)."""
        for layer in self._run_back[1:] if skip_last else self._run_back:
            grad = layer.backward(grad)
        for layer in self._regularized:
            layer.add_penalty_grad()

    def outputs(self, x: np.ndarray):
        """(index, layer, output) per layer in the order forward runs them, in inference mode."""
        for i in self._order:
            x = self.layers[i].forward(x, training=False)
            yield i, self.layers[i], x


def output_activation(model: Model) -> str | None:
    return model.layers[-1].registry_name if model.layers else None

