"""The sequence examples that ship (issue 16): the sunspot forecaster beats the naive forecast, and
the language classifier learns from characters and predicts names from raw lines."""
from __future__ import annotations

import importlib.util
import json

from conftest import CONFIGS, REPO


def _benchmark():
    spec = importlib.util.spec_from_file_location("sunspots_bench", REPO / "benchmarks" / "sunspots.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_sunspot_forecaster_beats_the_last_value():
    result = _benchmark().run([0])
    assert round(result["naive_mae"], 2) == 13.96
    assert result["model_mae"][0] < result["naive_mae"] - 0.5  # the README: 12.80 against 13.96


def test_the_language_classifier_learns_characters_on_a_subset(cli, tmp_path):
    r = cli("fit", CONFIGS / "languages_conv1d.yaml", "--set", "data.limit=1200", "--set", "train.epochs=3",
            "--run-dir", "run", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["test"]["accuracy"] > 0.5  # 10 languages; the largest is 15.8% of the lines
    (tmp_path / "lines.csv").write_text("text\nwie geht es dir?\n¿cómo estás?\n", encoding="utf-8")
    r = cli("predict", "run", "lines.csv")
    assert r.exit_code == 0, r.stderr
    names = r.stdout.split()
    assert names[0] == "label" and len(names) == 3 and set(names[1:]) <= {
        "dutch", "english", "french", "german", "indonesian", "italian", "portuguese", "spanish", "swedish", "turkish"}
