"""Configs: YAML (safe_load only) and `--set` overrides -> the typed `Config` of `schema`,
checked against every registry before anything runs; and the generated config reference.

    cfg = load_config("configs/mnist_mlp.yaml", overrides=["train.epochs=1"])
"""
from __future__ import annotations

from .checks import validate
from .load import apply_override, config_from_dict, config_to_dict, dump_config, load_config

__all__ = ["apply_override", "config_from_dict", "config_to_dict", "dump_config", "load_config", "validate"]
