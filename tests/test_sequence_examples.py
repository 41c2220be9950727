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


def test_each_example_exported_to_onnx_agrees_with_predict_on_raw_rows(cli, tmp_path):
    """The graph and its sequence.json give a serving stack what predict gives (issue 16, point 4)."""
    import numpy as np
    import onnxruntime as ort

    from nntrain.data import sequences
    from nntrain.data.csvfile import read_table

    lines = tmp_path / "lines.csv"
    lines.write_text('text\nwie geht es dir?\n¿cómo estás?\n"I am fine, thank you."\n', encoding="utf-8")
    months = tmp_path / "months.csv"
    months.write_text("\n".join((REPO / "datasets" / "sunspots_monthly.csv").read_text().splitlines()[:61]) + "\n")
    for config, rows, flags in (("languages_conv1d", lines, ["--proba"]), ("sunspots_conv1d", months, [])):
        r = cli("fit", CONFIGS / f"{config}.yaml", "--set", "data.limit=300", "--set", "train.epochs=1",
                "--run-dir", config)
        assert r.exit_code == 0, r.stderr
        assert cli("export", config, "--out", f"{config}.onnx").exit_code == 0
        seq = sequences.read(tmp_path / f"{config}.sequence.json")
        x = seq.inputs(read_table(rows), "float32")  # raw: standardization is inside the graph
        session = ort.InferenceSession(str(tmp_path / f"{config}.onnx"))
        out = session.run(None, {session.get_inputs()[0].name: x})[0]
        r = cli("predict", config, rows, *flags)
        assert r.exit_code == 0, r.stderr
        predicted = np.array([[float(v) for v in row.split(",")] for row in r.stdout.split("\n")[1:] if row])
        assert predicted.shape == out.reshape(len(x), -1).shape
        assert np.abs(predicted - out.reshape(len(x), -1)).max() < 1e-4, config
