"""Plain named weight arrays plus a JSON description of the architecture, for anyone to read.

    with np.load("model.npz") as f:
        arch = json.loads(str(f["architecture"]))      # layers, shapes, which array is which
        W0, b0 = f["0.W"], f["0.b"]                     # dense: y = x @ W + b, W (in, out)

Arrays are named "<layer index>.<name>" as in the run's model.npz; "data.mean"/"data.std" hold
the standardization statistics when the run used them (x -> (x - mean) / std before layer 0);
"target.mean"/"target.std" those of a scaled target (data.scale_target: the last layer's output
in the target's units is output * std + mean).
A graph model's layers also carry their "name" and "inputs" (the layers or model inputs they
read). Layouts are nntrain's (Keras'): channels last, dense kernels (in, out), conv kernels
(kh, kw, c_in, c_out). Nothing in the file needs pickle.
"""
from __future__ import annotations

import io
import json

import numpy as np

from ...nn.model import Sequential

FORMAT = "nntrain-weights"
VERSION = 1


def _plain(value):
    """JSON-safe copy of a layer config value."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def architecture(model: Sequential, standardized: bool, source: str | None = None,
                 target_scaled: bool = False) -> dict:
    from ... import __version__

    layers = []
    inputs = model.layer_inputs() if hasattr(model, "layer_inputs") else None  # a graph
    for i, layer in enumerate(model.layers):
        layers.append({
            "index": i,
            "type": layer.registry_name,
            "config": _plain(layer.get_config()),
            "input_shape": _plain(layer.input_shape),
            "output_shape": list(layer.output_shape),
            "params": {k: f"{i}.{k}" for k in layer.params},
            "buffers": {k: f"{i}.{k}" for k in layer.buffers},
        })
        if inputs is not None:  # the layer's name and what it reads: model inputs or layer names
            layers[-1].update(name=model.names[i], inputs=inputs[i])
    return {
        "format": FORMAT,
        "version": VERSION,
        "nntrain": __version__,
        "source": source,
        "layout": "channels_last",
        "dtype": str(model.dtype),
        "input_shape": _plain(model.input_shape),  # {name: shape} for a graph with several inputs
        "output_shape": list(model.output_shape),
        "standardize": {"mean": "data.mean", "std": "data.std"} if standardized else None,
        "unscale_target": {"mean": "target.mean", "std": "target.std"} if target_scaled else None,
        "layers": layers,
    }


def to_npz_bytes(model: Sequential, mean=None, std=None, source: str | None = None, target_scale=None) -> bytes:
    arrays = {k: np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    if mean is not None:
        arrays["data.mean"], arrays["data.std"] = np.asarray(mean), np.asarray(std)
    if target_scale is not None:
        arrays.update(target_scale.arrays())
    arch = architecture(model, mean is not None, source, target_scale is not None)
    arrays["architecture"] = np.array(json.dumps(arch, indent=1))  # a unicode scalar: no pickle
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
