"""Readers of sweep folders never crash on damaged files (issue 13, part C), as readers of run
folders do not (test_corrupt_runs.py): sweep.json that is not a JSON object, or whose `trials`
is not a list, is one error line naming the file and the field, exit 2; a damaged trial inside
it, or a damaged line of trials.jsonl, is listed by `nntrain sweep report` as `corrupt` with the
reason while the other trials list as usual. Rerunning the sweep into the folder completes it
and writes sweep.json whole again."""
from __future__ import annotations

import json
import shutil

import pytest

from sample_configs import XOR

GRID = ("--grid", "optimizer.lr=0.1,0.01")


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished 2-trial sweep, run once; each test damages a copy of it."""
    from nntrain.sweep import plan_sweep, run_sweep

    root = tmp_path_factory.mktemp("swept")
    (root / "xor.yaml").write_text(XOR)
    plan = plan_sweep(root / "xor.yaml", grid=[GRID[1]])
    board = run_sweep(plan, out=root / "sweep", workers=2)
    assert [t["status"] for t in board["trials"]] == ["done", "done"]
    return root


@pytest.fixture
def sweep(swept, tmp_path):
    shutil.copytree(swept / "sweep", tmp_path / "sweep")
    return tmp_path / "sweep"


def saved(sweep) -> dict:
    return json.loads((sweep / "sweep.json").read_text())


def rerun_completes(cli, swept, sweep) -> None:
    """The same command into the damaged folder: both trials done, sweep.json whole again."""
    again = cli("sweep", swept / "xor.yaml", *GRID, "--out", sweep, "-q", "--json")
    assert again.exit_code == 0, again.output
    board = json.loads(again.stdout)
    assert [t["status"] for t in board["trials"]] == ["done", "done"] and board["pending"] == []
    assert [t["trial"] for t in saved(sweep)["trials"]] == [0, 1]
    report = cli("sweep", "report", sweep, "--json")
    assert report.exit_code == 0 and [t["status"] for t in json.loads(report.stdout)["trials"]] == ["done", "done"]


# (id, what sweep.json becomes from the good one, what the error line says after the file's name)
WHOLE = [
    ("a-list", lambda good: [1, 2], " holds [1, 2], not a JSON object"),
    ("null", lambda good: None, " holds null, not a JSON object"),
    ("text", lambda good: "trials", ' holds "trials", not a JSON object'),
    ("trials-a-number", lambda good: {**good, "trials": 5}, ": 'trials' must be a list, got 5"),
    ("trials-an-object", lambda good: {**good, "trials": {"0": good["trials"][0]}}, ": 'trials' must be a list, got {"),
    ("earlier-text", lambda good: {**good, "earlier": "none"}, ": 'earlier' must be a list, got \"none\""),
    ("metric-a-number", lambda good: {**good, "metric": 5}, ": 'metric' must be text or null, got 5"),
    ("key-a-list", lambda good: {**good, "key": [1]}, ": 'key' must be text, got [1]"),
    ("not-json", "{\"trials\": [\n", " is not valid JSON"),
    ("binary", b"\xff\xfe\x00\x81", " is not valid JSON"),
]


@pytest.mark.parametrize("name, damage, message", WHOLE, ids=[c[0] for c in WHOLE])
def test_a_sweep_json_of_the_wrong_shape_is_one_error_line_and_a_rerun_rewrites_it(swept, sweep, cli, name, damage,
                                                                                   message):
    path = sweep / "sweep.json"
    if isinstance(damage, bytes):
        path.write_bytes(damage)
    elif isinstance(damage, str):
        path.write_text(damage)
    else:
        path.write_text(json.dumps(damage(saved(sweep))))
    for args in (("--json",), ()):
        r = cli("sweep", "report", sweep, *args)
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith(f"error: {path}{message}") and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.output
    rerun_completes(cli, swept, sweep)


# (id, what trial 1's entry in sweep.json becomes, what its corrupt row says)
ENTRIES = [
    ("a-number", lambda t: 1, "trials[1] is 1, not an object"),
    ("null", lambda t: None, "trials[1] is null, not an object"),
    ("text", lambda t: "x", 'trials[1] is "x", not an object'),
    ("missing-keys", lambda t: {"trial": 1, "id": t["id"]}, "trials[1] lacks 'name', 'params'"),
    ("trial-as-text", lambda t: {**t, "trial": "1"}, "trials[1] has 'trial' \"1\", which must be an integer"),
    ("trial-a-boolean", lambda t: {**t, "trial": True}, "trials[1] has 'trial' true, which must be an integer"),
    ("params-a-list", lambda t: {**t, "params": [1, None, "x"]},
     "trials[1] has 'params' [1, null, \"x\"], which must be an object"),
    ("id-a-number", lambda t: {**t, "id": 7}, "trials[1] has 'id' 7, which must be text"),
    ("name-leaves-the-folder", lambda t: {**t, "name": "../../elsewhere"},
     "trials[1] has 'name' \"../../elsewhere\", which must be a folder name inside the sweep folder"),
]


@pytest.mark.parametrize("name, damage, reason", ENTRIES, ids=[c[0] for c in ENTRIES])
def test_a_damaged_trial_in_sweep_json_is_listed_as_corrupt_and_the_others_as_usual(swept, sweep, cli, name, damage,
                                                                                    reason):
    good = saved(sweep)
    trials = good["trials"]
    (sweep / "sweep.json").write_text(json.dumps({**good, "trials": [trials[0], damage(trials[1])],
                                                  "earlier": [None]}))
    r = cli("sweep", "report", sweep, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["trials"]
    assert rows[0]["trial"] == 0 and rows[0]["status"] == "done" and rows[0]["rank"] == 1
    corrupt = [row for row in rows if row["status"] == "corrupt"]
    assert [row["error"] for row in corrupt] == [f"{sweep / 'sweep.json'}: {reason}",
                                                 f"{sweep / 'sweep.json'}: earlier[0] is null, not an object"]
    assert all(row["rank"] is None and row["metric"] is None for row in corrupt)
    # trial 1 finished all the same: its record in trials.jsonl is listed as usual
    assert [row["trial"] for row in rows if row["status"] == "done"] == [0, 1]
    table = cli("sweep", "report", sweep)
    assert table.exit_code == 0 and "corrupt" in table.stdout and "done" in table.stdout, table.output
    assert "Traceback" not in table.output
    rerun_completes(cli, swept, sweep)
    assert saved(sweep)["earlier"] == []  # the damaged entries are not carried on


# (id, a line of trials.jsonl, what its corrupt row says after "trials.jsonl line N")
LINES = [
    ("a-number", "5", "is 5, not an object"),
    ("null", "null", "is null, not an object"),
    ("a-list", "[1, null, \"x\"]", "is [1, null, \"x\"], not an object"),
    ("no-status", '{"id": "abc", "trial": 3}', "lacks 'status'"),
    ("test-a-number", '{"id": "abc", "trial": 3, "status": "done", "test": 5}',
     "has 'test' 5, which must be an object or null"),
    ("seconds-as-text", '{"id": "abc", "trial": 3, "status": "done", "seconds": "1s"}',
     "has 'seconds' \"1s\", which must be a number or null"),
    ("params-a-list", '{"id": "abc", "trial": 3, "status": "done", "params": [1]}',
     "has 'params' [1], which must be an object"),
]


@pytest.mark.parametrize("name, line, reason", LINES, ids=[c[0] for c in LINES])
def test_a_damaged_trials_jsonl_line_is_listed_as_corrupt_and_the_others_as_usual(swept, sweep, cli, name, line,
                                                                                  reason):
    with open(sweep / "trials.jsonl", "a") as f:
        f.write(line + "\n")
    number = len((sweep / "trials.jsonl").read_text().splitlines())
    r = cli("sweep", "report", sweep, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["trials"]
    assert [row["status"] for row in rows] == ["done", "done", "corrupt"]
    assert rows[2]["error"] == f"{sweep / 'trials.jsonl'} line {number} {reason}"
    table = cli("sweep", "report", sweep)
    assert table.exit_code == 0 and "corrupt" in table.stdout and "Traceback" not in table.output


def test_a_damaged_record_of_a_trial_without_its_run_folder_is_run_again(swept, sweep, cli):
    """The record is what says the trial finished; damaged, with no run folder to tell, it is
    listed as corrupt, and a rerun runs that trial again (its new record wins)."""
    lines = (sweep / "trials.jsonl").read_text().splitlines()
    second = json.loads(lines[1])
    shutil.rmtree(sweep / second["name"])
    lines[1] = json.dumps({**second, "train": "good"})
    (sweep / "trials.jsonl").write_text("\n".join(lines) + "\n")
    r = cli("sweep", "report", sweep, "--json")
    assert r.exit_code == 0, r.output
    rows = {row["trial"]: row for row in json.loads(r.stdout)["trials"]}
    assert rows[second["trial"]]["status"] == "corrupt"
    assert rows[second["trial"]]["error"].endswith("line 2 has 'train' \"good\", which must be an object or null")
    rerun_completes(cli, swept, sweep)
    assert (sweep / second["name"] / "summary.json").is_file()


def test_the_same_command_without_out_passes_over_a_damaged_sweep_json(swept, cli, tmp_path):
    """Finding the folder to continue reads every runs/<config>-sweep-*/sweep.json: a damaged one
    is not it, and the sweep starts a folder of its own."""
    config = tmp_path / "xor.yaml"
    config.write_text(XOR)
    for k, text in enumerate(["[1, 2]", "null", '{"key": 5}', "{"]):
        (tmp_path / "runs" / f"xor-sweep-2020010{k}-000000").mkdir(parents=True)
        (tmp_path / "runs" / f"xor-sweep-2020010{k}-000000" / "sweep.json").write_text(text)
    r = cli("sweep", config, *GRID, "--print-commands", "--json")
    assert r.exit_code == 0, r.output
    folder = json.loads(r.stdout)["sweep_dir"]
    assert "2020" not in folder and [t["trial"] for t in saved(tmp_path / folder)["trials"]] == [0, 1]
