"""nntrain: train neural networks from YAML configs, with a numpy engine you can read.

The public API (imported lazily so that `nntrain --help` stays fast):

    load_config(path, overrides=())   -> Config
    fit(cfg, run_dir=None, progress="none", x=None, y=None, validation_data=None) -> summary dict
    resume(run_dir, overrides=())     -> summary dict (continues from the last checkpoint)
    load_model(run_dir)               -> Sequential (model.predict(x))
    evaluate_run(run_dir, data=None)  -> loss and metrics dict
    build_layer(spec, input_shape=None, dtype="float32", seed=0)
    build_loss(spec), build_optimizer(spec)
    gradcheck_layer(layer, input_shape) -> errors (AssertionError on a wrong backward pass)

The packages, bottom to top (a package imports only those below it): errors, nn (the math),
data, config, runs (the run folder), train (the loop), sweep, api, tools, cli. The README's
"How the code is laid out" has one line on each.
"""
from __future__ import annotations

__version__ = "0.1.0"

_API = {
    "load_config": "nntrain.config",
    "fit": "nntrain.api",
    "resume": "nntrain.api",
    "load_model": "nntrain.runs.load",
    "evaluate_run": "nntrain.api",
    "build_layer": "nntrain.nn.layers",
    "build_loss": "nntrain.nn.losses",
    "build_optimizer": "nntrain.nn.optimizers",
    "NntrainError": "nntrain.errors",
    "gradcheck_layer": "nntrain.tools.gradcheck",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'nntrain' has no attribute {name!r}")
