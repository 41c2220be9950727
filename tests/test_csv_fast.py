"""The fast CSV readers (numpy's C parser) give what the csv module gives, and leave to it
whatever they cannot read exactly: blank lines, quotes, padding, long cells, gzip, a BOM."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from nntrain.config.schema import DataConfig
from nntrain.data import csvfile
from nntrain.data.csvfile import NotNumeric, RawTable, _read_csv_rows, read_csv, read_table
from nntrain.data.splits import load_splits
from nntrain.errors import DataError


def careful_table(path) -> RawTable:
    header, rows, lines = _read_csv_rows(path)
    return RawTable(path, header, np.array(rows, dtype=str).reshape(len(rows), len(header)), np.array(lines))


TEXTS = {
    "plain": "a,b,y\n1,2.5,0\n-3,4e1,1\n",
    "crlf-bom": "\ufeffa,b,y\r\n1,2.5,0\r\n-3,4e1,1\r\n",
    "no-final-newline": "a,b,y\n1,2.5,0\n-3,4e1,1",
    "blank-lines": "\na,b,y\n\n1,2.5,0\n\n\n-3,4e1,1\n\n",
    "quoted": 'a,"b",y\n"1", 2.5 ,0\n-3,"4e1",1\n',
    "padded-text": "a,b,y\n x ,  yes,0\nz,no ,1\n",
    "blank-row": "a,b,y\n1,2,0\n , ,\n3,4,1\n",
    "quoted-comma": 'a,b,y\n"1,5",2,0\nx,"q ""r""",1\n',
    "hash": "a,b,y\n#1,2,0\n3,4,1\n",
    "unicode": "a,b,y\ncafé,\u00a0x\u00a0,0\nnaïve,b,1\n",
    "gaps": "a,b,y\n1,,0\n,NA,1\n",
}


@pytest.mark.parametrize("name", list(TEXTS))
def test_read_table_matches_the_csv_module(tmp_path, name):
    path = tmp_path / "d.csv"
    path.write_bytes(TEXTS[name].encode("utf-8"))
    fast, careful = read_table(path), careful_table(path)
    assert fast.header == careful.header
    assert fast.cells.tolist() == careful.cells.tolist()
    assert fast.lines.tolist() == list(careful.lines)


def test_a_cell_longer_than_the_sampled_ones_is_read_whole(tmp_path):
    rows = ["a,y"] + [f"x{i % 7},{i % 2}" for i in range(20_000)] + ["a" * 300 + ",1"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(rows) + "\n")
    table = read_table(path)
    assert table.cells[-1, 0] == "a" * 300 and table.cells[0, 0] == "x0"
    assert table.lines[-1] == len(rows)


def test_numeric_fast_path_equals_the_careful_one(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4)) * [1e-3, 1, 1e3, 1e6]
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,d,y\n" + "".join(",".join(map(repr, r.tolist())) + f",{i % 3}\n" for i, r in enumerate(x)))
    ds = read_csv(path, dtype="float64")
    np.testing.assert_array_equal(ds.x, x)  # repr round-trips: the parse is exact
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [i % 3 for i in range(500)]
    gz = tmp_path / "d.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    np.testing.assert_array_equal(read_csv(gz, dtype="float64").x, x)


@pytest.mark.parametrize("text, match", [
    ("a,b,y\n1,2,0\n\n\n4,nan,1\n", "d.csv line 5: features contain NaN or inf"),
    ("a,b,y\n\n1,2,0\n4,1e39,1\n", "d.csv line 4: 1e\\+39 is too large for float32"),
    ("a,b,y\n1,2,0\n\n4,5,inf\n", "d.csv line 4: target 'y' contain NaN or inf"),
    ("a,b,y\n1,2,0\n\n4,,1\n", "d.csv line 4, column 'b': '' is not a number"),
    ("a,b,y\n1,2,0\n4,5\n", "d.csv line 3: 2 fields, expected 3"),
    ("1,2,3\n4,5,6\n", "looks like data"),
])
def test_messages_name_the_file_line_after_blank_lines(tmp_path, text, match):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_csv(path)


def test_not_numeric_carries_the_table_and_load_splits_reads_once(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,red,0\n2,,1\n3,blue,0\n4,red,1\n")
    with pytest.raises(NotNumeric) as info:
        read_csv(path)
    assert info.value.table.cells[0].tolist() == ["1", "red", "0"]
    calls = []
    real = csvfile._loadtxt_rows
    monkeypatch.setattr(csvfile, "_loadtxt_rows", lambda p, *a, **k: calls.append(a) or real(p, *a, **k))
    splits = load_splits(DataConfig(train=str(path), target="y"))
    assert splits.tabular is not None and splits.train.x.shape == (4, 1 + 2)
    assert len([a for a in calls if a[0] is str]) == 1  # the text cells are read once


def test_take_of_every_row_is_the_table_and_keeps_parsed_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,x\n,y\n3,z\n")
    table = read_table(path)
    assert table.take(np.arange(3)) is table
    np.testing.assert_array_equal(table.numbers(0, [""]), [1, np.nan, 3])
    assert table.numbers(1, [""]) is None
    part = table.take(np.array([2, 0]))
    np.testing.assert_array_equal(part.numbers(0, [""]), [3, 1])
    assert part.missing(0, [""]).tolist() == [False, False]
    with pytest.raises(ValueError):
        table.numbers(0, [""])[0] = 5.0  # read-only: shared by every split


def test_the_benchmark_runs(tmp_path):
    """benchmarks/csv_read.py writes its two files and times the readers (pandas, the reference,
    is left out: it is in the bench extra, not the test one)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "csv_read.py"
    out = subprocess.run([sys.executable, str(script), "--rows", "300", "--repeat", "1", "--dir", str(tmp_path),
                          "--systems", "nntrain", "nntrain-read", "float-floor", "--json", str(tmp_path / "r.json")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    result = json.loads((tmp_path / "r.json").read_text())
    assert result["files"]["numeric"]["nntrain"]["shape"] == [300, 19]
    assert result["files"]["mixed"]["nntrain"]["shape"][0] == 300
    assert result["files"]["mixed"]["nntrain-read"]["shape"] == [300, 20]
