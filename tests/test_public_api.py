"""The public surface that scripts and notebooks rely on survives any re-layout of the package:
`import nntrain` gives the documented names (lazily: no numpy until one is used), and the
command line keeps its commands."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import typer.main

import nntrain

from conftest import CONFIGS

DOCUMENTED = ["NntrainError", "build_layer", "build_loss", "build_optimizer", "evaluate_run", "fit", "gradcheck_layer",
              "load_config", "load_model", "resume"]
COMMANDS = ["check", "data", "eval", "export", "fit", "gradcheck", "list", "plot", "predict", "runs", "sweep", "time"]


def test_import_nntrain_gives_the_documented_names():
    assert sorted(nntrain.__all__) == sorted(DOCUMENTED + ["__version__"])
    for name in DOCUMENTED:
        assert callable(getattr(nntrain, name)), name


def test_the_documented_names_work():
    cfg = nntrain.load_config(CONFIGS / "xor.yaml", overrides=["train.epochs=1"])
    assert cfg.train.epochs == 1
    layer = nntrain.build_layer({"type": "dense", "units": 3}, input_shape=(4,), dtype="float64", seed=0)
    assert layer.forward(np.ones((2, 4)), training=True).shape == (2, 3)
    assert nntrain.build_loss("mse").registry_name == "mse"
    assert nntrain.build_optimizer({"type": "adam", "lr": 0.01}).lr == 0.01
    assert issubclass(nntrain.NntrainError, Exception)


def test_import_nntrain_is_lazy():
    code = "import sys, nntrain; print(sorted(m for m in ('numpy', 'yaml', 'rich', 'typer') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_command_line_keeps_its_commands():
    from nntrain.cli import app

    group = typer.main.get_command(app)
    assert sorted(group.commands) == COMMANDS
    assert sorted(group.commands["sweep"].commands) == ["report", "run"]
