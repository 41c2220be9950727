"""`nntrain plot`: the text chart (snapshot + a real MNIST run), pictures, errors."""
from __future__ import annotations

import csv
import struct
import sys

import pytest

from nntrain.runs import plot

from conftest import CONFIGS

HISTORY = """epoch,lr,loss,accuracy,val_loss,val_accuracy,seconds
1,0.1,1.0,0.5,1.0,0.4,0.1
2,0.1,0.5,0.7,0.75,0.6,0.1
3,0.1,0.25,0.9,0.5,0.8,0.1
"""

# Checked by hand: rows are 1, 0.8125, 0.625, 0.4375, 0.25; column c is epoch 1 + c/10. Train at
# column 2 (epoch 1.2) is 0.9 -> row round(0.1/0.75*4) = 1; at column 10 it is 0.5 -> row 3 while
# val is 0.75 -> row 1; val is drawn after train, so it wins column 0 where both are 1.0.
SNAPSHOT = """loss
    1 ┤oooo
      │  **oooooooo
0.625 ┤      ****  ooooooo
      │          *******  oo
 0.25 ┤                 ****
      └┬─────────┬─────────┬
       1         2         3  epoch
       * train   o val"""


@pytest.fixture
def run(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    (path / "metrics.csv").write_text(HISTORY)
    return path


def test_text_chart_snapshot(cli, run):
    result = cli("plot", run, "--metric", "loss", "--width", "21", "--height", "5")
    assert result.exit_code == 0, result.stderr
    assert "\n".join(ln.rstrip() for ln in result.stdout.splitlines()) == SNAPSHOT


def test_several_runs_overlay_with_a_legend(tmp_path, run):
    other = tmp_path / "other"
    other.mkdir()
    (other / "metrics.csv").write_text(HISTORY.replace("0.25,0.9", "0.125,0.95"))
    text = plot.plain(plot.render(plot.collect([run, other]), width=30, height=6))
    assert text.count("epoch") == 2  # loss and accuracy charts
    assert "* run train   o run val   + other train   x other val" in text
    assert text.splitlines()[6].split("┤")[0].strip() == "0.125"  # lowest loss of both runs at the bottom
    assert set("*o+x") <= set(text)


def test_unknown_metric_and_missing_history_are_errors(cli, run, tmp_path):
    bad = cli("plot", run, "--metric", "acuracy")
    assert bad.exit_code == 2 and "did you mean 'accuracy'" in bad.stderr and "Traceback" not in bad.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = cli("plot", empty)
    assert bad.exit_code == 2 and "no metrics.csv" in bad.stderr
    mixed = cli("plot", run, empty)  # a run without epochs among others is skipped, with a note
    assert mixed.exit_code == 0 and "note: skipped" in mixed.stderr and "loss" in mixed.stdout


def test_plot_of_an_mnist_run(cli, tmp_path):
    fit = cli("fit", CONFIGS / "mnist_mlp.yaml", "--set", "data.limit=600", "--set", "train.epochs=3",
              "--set", "data.validation_split=0.2", "--run-dir", tmp_path / "mnist", "--quiet")
    assert fit.exit_code == 0, fit.stderr
    result = cli("plot", tmp_path / "mnist", "--width", "40", "--height", "8")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    with open(tmp_path / "mnist" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for metric in ("loss", "accuracy"):
        start = lines.index(metric)
        values = [float(r[k]) for r in rows for k in (metric, f"val_{metric}")]
        top, bottom = lines[start + 1], lines[start + 8]
        assert top.split("┤")[0].strip() == f"{max(values):.4g}"
        assert bottom.split("┤")[0].strip() == f"{min(values):.4g}"
        assert lines[start + 10].split() == ["1", "2", "3", "epoch"]
        assert lines[start + 11].split() == ["*", "train", "o", "val"]
        grid = [ln.split("┤" if "┤" in ln else "│", 1)[1].ljust(40) for ln in lines[start + 1:start + 9]]
        assert all(any(row[c] in "*o" for row in grid) for c in range(40))  # curves span the width
        assert sum(row.count("*") for row in grid) >= 10 and sum(row.count("o") for row in grid) >= 10
    # loss falls: the train curve starts in the top half and ends in the bottom half
    first_col = [ln.split("┤" if "┤" in ln else "│", 1)[1][0] for ln in lines[1:9]]
    assert "*" in first_col[:4] or "o" in first_col[:4]


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_is_a_valid_image_of_the_expected_size(cli, run, tmp_path):
    out = tmp_path / "curves.png"
    result = cli("plot", run, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert _png_size(out) == plot.figure_size(2) == (1000, 350)
    single = tmp_path / "loss.png"
    assert cli("plot", run, "-m", "loss", "--out", single).exit_code == 0
    assert _png_size(single) == (500, 350)
    svg = tmp_path / "curves.svg"
    assert cli("plot", run, "--out", svg).exit_code == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_picture_errors(cli, run, tmp_path, monkeypatch):
    bad = cli("plot", run, "--out", tmp_path / "curves.jpg")
    assert bad.exit_code == 2 and ".png, .svg" in bad.stderr
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    missing = cli("plot", run, "--out", tmp_path / "curves.png")
    assert missing.exit_code == 2 and "nntrain[plot]" in missing.stderr
    assert not (tmp_path / "curves.png").exists()


@pytest.mark.parametrize("height", [4, 5, 8])
def test_y_labels_name_the_value_of_their_row(run, height):
    lines = plot.plain(plot.render(plot.collect([run], ["loss"]), width=20, height=height)).splitlines()
    labelled = {r: float(ln.split("┤")[0]) for r, ln in enumerate(lines[1:height + 1]) if "┤" in ln}
    assert len(labelled) == 3
    for r, v in labelled.items():  # loss spans [0.25, 1.0] top to bottom
        assert v == pytest.approx(1.0 - r * 0.75 / (height - 1), rel=1e-3)
