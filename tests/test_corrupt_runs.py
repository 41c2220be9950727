"""Readers of run folders never crash on damaged files (issue 13, part C): `nntrain runs` lists
a damaged run as `corrupt` with the reason and the others as usual; `plot` of several runs
leaves the damaged ones out with a note; a command on one damaged run is one error line, exit 2."""
from __future__ import annotations

import json
import shutil

import pytest

from nntrain import runs

from sample_configs import SPIRALS

# (name, file, content, what the error names)
SUMMARIES = [
    ("summary-a-list", "[1, 2, 3]\n", "holds a list, not a JSON object"),
    ("summary-null", "null\n", "holds null, not a JSON object"),
    ("summary-started-a-number", None, "'started' must be text, got 5"),
    ("summary-not-json", "{\"status\": \n", "is not valid JSON"),
    ("summary-binary", b"\xff\xfe\x00\x81", "is not valid JSON"),
]
METRICS = [
    ("metrics-missing-field", "epoch,lr,loss,accuracy,seconds\n1,0.01,0.9,0.5\n", "line 2: 4 fields, expected 5"),
    ("metrics-extra-field", "epoch,lr,loss,accuracy,seconds\n1,0.01,0.9,0.5,0.1,7\n", "line 2: 6 fields, expected 5"),
    ("metrics-epochs-backwards", "epoch,lr,loss,accuracy,seconds\n2,0.01,0.9,0.5,0.1\n1,0.01,0.9,0.5,0.1\n",
     "line 3: epoch '1' must be an integer above the previous line's 2"),
    ("metrics-epoch-not-a-number", "epoch,lr,loss,accuracy,seconds\nx,0.01,0.9,0.5,0.1\n",
     "line 2: epoch 'x' must be an integer"),
    ("metrics-binary", b"\x00\xff\xfe\x81garbage\n", "is damaged: it is not UTF-8 text"),
    ("metrics-nul-bytes", "epoch,lr\n\x00\x00\n", "is damaged: it holds NUL bytes"),
]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("good")
    (root / "s.yaml").write_text(SPIRALS)
    from nntrain import api
    from nntrain.config import load_config

    api.fit(load_config(root / "s.yaml"), run_dir=root / "run")
    return root / "run"


def damaged(good_run, root, name: str, content) -> object:
    run = root / "runs" / name
    shutil.copytree(good_run, run)
    target = run / (runs.SUMMARY if name.startswith("summary") else runs.METRICS)
    if content is None:  # valid JSON, one field of the wrong type
        summary = json.loads(target.read_text())
        target.write_text(json.dumps({**summary, "started": 5}))
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    return run


@pytest.mark.parametrize("name, content, reason", SUMMARIES, ids=[c[0] for c in SUMMARIES])
def test_a_damaged_summary_is_listed_as_corrupt_and_the_others_still_list(good_run, tmp_path, cli, name, content,
                                                                         reason):
    shutil.copytree(good_run, tmp_path / "runs" / "good")
    run = damaged(good_run, tmp_path, name, content)
    r = cli("runs", tmp_path / "runs", "--json")
    assert r.exit_code == 0, r.output
    records = {rec["name"]: rec for rec in json.loads(r.stdout)["runs"]}
    assert records["good"]["status"] == "done"
    assert records[name]["status"] == "corrupt" and reason in records[name]["error"]
    table = cli("runs", tmp_path / "runs", "--sort", "test.accuracy")
    assert table.exit_code == 0 and "corrupt" in table.stdout and "done" in table.stdout
    resume = cli("fit", "--resume", run, "--set", "train.epochs=3")
    assert resume.exit_code == 2 and resume.stderr.startswith("error: ") and reason in resume.stderr
    assert "Traceback" not in resume.output


@pytest.mark.parametrize("name, content, reason", METRICS, ids=[c[0] for c in METRICS])
def test_a_damaged_metrics_csv_is_an_error_line_and_other_runs_still_plot(good_run, tmp_path, cli, name, content,
                                                                         reason):
    run = damaged(good_run, tmp_path, name, content)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != runs.LOCK}
    for args in (("plot", run), ("fit", "--resume", run, "--set", "train.epochs=3")):
        r = cli(*args)
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.startswith("error: ") and reason in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != runs.LOCK} == before
    both = cli("plot", good_run, run)
    assert both.exit_code == 0, both.output
    assert "note: skipped" in both.stderr and reason in both.stderr and "loss" in both.stdout


def test_a_last_line_without_its_newline_is_left_out(tmp_path):
    path = tmp_path / runs.METRICS
    path.write_text("epoch,loss\n1,0.5\n2,0.25\n3,0.1")  # the append of epoch 3 was cut short
    assert [row["epoch"] for row in runs.read_metrics_csv(path)] == [1, 2]
