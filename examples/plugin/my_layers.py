"""An example nntrain plugin: a layer and a dataset, registered with nntrain's own decorators.

Use it from a config (the path is relative to the config file):

    plugins: [my_layers.py]
    data: {name: rings}
    model:
      layers:
        - {type: dense, units: 16}
        - {type: scaled_tanh}

Check the layer's backward pass in one line: nntrain.gradcheck_layer("scaled_tanh", (5,)).
"""
from __future__ import annotations

import numpy as np

from nntrain.data import DATASETS, Dataset
from nntrain.nn.layers import Layer
from nntrain.nn.registry import LAYERS


@LAYERS.register("scaled_tanh")
class ScaledTanh(Layer):
    """y = a * tanh(x), with a learned scale a per feature (starting at `scale`).

    dL/da = sum over the batch of g * tanh(x); dL/dx = g * a * (1 - tanh(x)^2).

    Args:
        scale: the starting value of every a
    """

    def __init__(self, scale: float = 1.0):
        super().__init__()
        if not isinstance(scale, (int, float)) or isinstance(scale, bool):
            raise ValueError(f"scale must be a number, got {scale!r}")
        self.scale = float(scale)

    def _build(self, input_shape, rng):
        self.add_param("a", input_shape, "ones", rng)
        self.params["a"] *= self.scale
        return input_shape

    def forward(self, x, training=False):
        t = np.tanh(x)
        self._cache = t  # (n, *features)
        return self.params["a"] * t

    def backward(self, grad_y):
        t = self._cached()
        self.grads["a"][...] = (grad_y * t).sum(axis=0)
        return grad_y * self.params["a"] * (1.0 - t * t)


def _rings(n: int, noise: float, rng: np.random.Generator) -> Dataset:
    y = rng.integers(0, 2, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1.0 + y + noise * rng.standard_normal(n)  # class 0 on the unit circle, class 1 at radius 2
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return Dataset(x.astype(np.float32), y.astype(np.int64))


@DATASETS.register("rings")
def rings(n_samples: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Two noisy concentric rings in 2-D, one class each (not linearly separable).

    Args:
        n_samples: training points (the test set is a separate draw of n_samples // 4)
        noise: standard deviation of the radius
        seed: seed of the training draw (the test draw uses seed + 1)
    """
    return _rings(n_samples, noise, np.random.default_rng(seed)), _rings(n_samples // 4, noise, np.random.default_rng(seed + 1))
