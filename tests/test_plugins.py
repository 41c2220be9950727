"""Plugins: a user's file or module registers layers, datasets, ... and a config names it
(`plugins:`), or an installed package declares it (entry points `nntrain.plugins`); runs record
them, so eval, predict, export, resume and sweep load them again, or name the missing one.

Everything that imports a plugin runs in a subprocess: a registration lasts for the process,
and the other tests' registries must stay nntrain's own."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nntrain
from nntrain.nn.layers import Layer

from conftest import REPO

EXAMPLE = REPO / "examples" / "plugin"


def nntrain_cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`nntrain ARGS...` in a new process (its own registries)."""
    full_env = {**os.environ, "NNTRAIN_PROGRESS": "none", **(env or {})}
    return subprocess.run([sys.executable, "-m", "nntrain", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def user_folder(tmp_path):
    """The example plugin and its config, copied into a user's folder."""
    folder = tmp_path / "work"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_the_example_plugin_works_through_fit_eval_predict_export_resume_and_sweep(user_folder, tmp_path):
    r = nntrain_cli("fit", "rings.yaml", "--run-dir", "runs/r", "--json", cwd=user_folder)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    plugin = str(user_folder / "my_layers.py")
    assert summary["plugins"] == [plugin] and summary["test"]["accuracy"] > 0.9
    assert f"plugins: [{plugin}]" in (user_folder / "runs/r/config.yaml").read_text()
    run = user_folder / "runs" / "r"
    elsewhere = tmp_path  # the commands work from any folder: the run names the plugin's path
    r = nntrain_cli("eval", run, "--json", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accuracy"] == summary["test"]["accuracy"]
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "points.npz", x=rng.normal(size=(5, 2)).astype(np.float32))
    r = nntrain_cli("predict", run, tmp_path / "points.npz", cwd=elsewhere)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 6, r.stderr
    r = nntrain_cli("export", run, "--out", tmp_path / "rings.npz", cwd=elsewhere)
    assert r.returncode == 0 and (tmp_path / "rings.npz").is_file(), r.stderr
    r = nntrain_cli("fit", "--resume", run, "--set", "train.epochs=21", "--json", cwd=elsewhere)
    assert r.returncode == 0 and json.loads(r.stdout)["epochs"] == 21, r.stderr
    r = nntrain_cli("sweep", "rings.yaml", "--grid", "model.layers.1.scale=0.5,2.0", "--set", "train.epochs=2",
                    "--workers", "1", "--json", cwd=user_folder)
    assert r.returncode == 0, r.stderr
    trials = [t for t in json.loads(r.stdout)["trials"]]
    assert len(trials) == 2 and all(t["status"] == "done" for t in trials)


def test_a_run_whose_plugin_is_gone_is_an_error_naming_it(user_folder):
    r = nntrain_cli("fit", "rings.yaml", "--run-dir", "runs/r", "--set", "train.epochs=1", cwd=user_folder)
    assert r.returncode == 0, r.stderr
    (user_folder / "my_layers.py").rename(user_folder / "moved.py")
    for args in (("eval", "runs/r"), ("predict", "runs/r", "x.csv"), ("export", "runs/r", "--out", "m.npz"),
                 ("fit", "--resume", "runs/r", "--set", "train.epochs=2")):
        r = nntrain_cli(*args, cwd=user_folder)
        assert r.returncode == 2, (args, r.stderr)
        assert f"plugin {user_folder / 'my_layers.py'}: no such file" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("code, cause", [
    ("import numpy\n1 / 0\n", "ZeroDivisionError: division by zero"),
    ("from nntrain.nn.registry import LAYERS\nfrom nntrain.nn.layers import Layer\n\n"
     "@LAYERS.register('dense')\nclass Mine(Layer):\n    pass\n",
     "ValueError: layer 'dense' is registered twice (first by nntrain)"),
    ("import not_a_module_anywhere\n", "ModuleNotFoundError: No module named 'not_a_module_anywhere'"),
])
def test_a_plugin_that_fails_is_one_error_line_naming_it_and_the_cause(tmp_path, code, cause):
    (tmp_path / "bad.py").write_text(code)
    (tmp_path / "cfg.yaml").write_text("plugins: [bad.py]\ndata: {name: xor}\nmodel: {layers: [{type: dense, units: 1}]}\n"
                                       "loss: mse\n")
    r = nntrain_cli("check", "cfg.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr == f"error: cfg.yaml:1:11: plugins.0: plugin {tmp_path / 'bad.py'}: {cause}\n"


def test_a_module_plugin_and_a_missing_one(tmp_path):
    pkg = tmp_path / "site" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(EXAMPLE / "my_layers.py", pkg / "layers.py")
    cfg = (EXAMPLE / "rings.yaml").read_text().replace("plugins: [my_layers.py]", "plugins: [mypkg.layers]")
    (tmp_path / "cfg.yaml").write_text(cfg)
    env = {"PYTHONPATH": str(tmp_path / "site")}
    r = nntrain_cli("fit", "cfg.yaml", "--run-dir", "r", "--set", "train.epochs=1", "--json", cwd=tmp_path, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["plugins"] == ["mypkg.layers"], r.stderr
    assert nntrain_cli("eval", "r", cwd=tmp_path, env=env).returncode == 0
    r = nntrain_cli("eval", "r", cwd=tmp_path)  # without the package on the path
    assert r.returncode == 2 and "plugin mypkg.layers: no module named 'mypkg'" in r.stderr


def test_an_installed_entry_point_loads_by_itself_and_list_marks_its_entries(tmp_path):
    site = tmp_path / "site"
    (site / "ringpkg").mkdir(parents=True)
    (site / "ringpkg" / "__init__.py").write_text("")
    shutil.copy(EXAMPLE / "my_layers.py", site / "ringpkg" / "plugin.py")
    info = site / "ringpkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ringpkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[nntrain.plugins]\nrings = ringpkg.plugin\n")
    env = {"PYTHONPATH": str(site)}
    r = nntrain_cli("list", "layers", cwd=tmp_path, env={**env, "COLUMNS": "200"})
    assert r.returncode == 0 and "scaled_tanh [plugin ringpkg.plugin]" in r.stdout, r.stdout + r.stderr
    assert "dense [plugin" not in r.stdout
    cfg = (EXAMPLE / "rings.yaml").read_text().replace("plugins: [my_layers.py]\n", "")
    (tmp_path / "cfg.yaml").write_text(cfg)
    r = nntrain_cli("fit", "cfg.yaml", "--run-dir", "r", "--set", "train.epochs=1", "--json", cwd=tmp_path, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["plugins"] == ["ringpkg.plugin"], r.stderr


def test_a_layer_registered_by_a_script_trains_and_the_cli_evaluates_its_run(tmp_path):
    """The run records the script that registered the layer; loading it again (under another
    module name) does not run its `if __name__ == "__main__":` part."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent('''
        import numpy as np
        import nntrain
        from nntrain.nn.layers import Layer
        from nntrain.nn.registry import LAYERS

        @LAYERS.register("halve")
        class Halve(Layer):
            """y = x / 2."""
            def forward(self, x, training=False):
                self._cache = True
                return x / 2
            def backward(self, g):
                self._cached()
                return g / 2

        if __name__ == "__main__":
            cfg = {"data": {"name": "xor"}, "loss": "mse", "train": {"epochs": 2},
                   "model": {"layers": [{"type": "dense", "units": 4, "activation": "tanh"}, {"type": "halve"},
                                        {"type": "dense", "units": 1}]}}
            print(nntrain.fit(cfg, run_dir="run")["plugins"])
        '''))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == str([str(script)]), r.stderr
    r = nntrain_cli("eval", "run", "--json", cwd=tmp_path)
    assert r.returncode == 0 and "loss" in json.loads(r.stdout), r.stderr


class WrongTanh(Layer):
    """tanh with a backward pass that forgets the chain rule's 1 - y^2 (not registered)."""

    def forward(self, x, training=False):
        self._cache = np.tanh(x)
        return self._cache

    def backward(self, g):
        self._cached()
        return g.copy()


def test_gradcheck_layer_passes_a_right_backward_and_names_a_wrong_one():
    errors = nntrain.gradcheck_layer({"type": "dense", "units": 3}, input_shape=(4,))
    assert set(errors) == {"input", "W", "b"} and max(errors.values()) < 1e-6
    assert nntrain.gradcheck_layer("concatenate", input_shape=[(2,), (3,)])
    with pytest.raises(AssertionError, match="input"):
        nntrain.gradcheck_layer(WrongTanh(), input_shape=(5,))
