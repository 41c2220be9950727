"""The run folder and everything that reads it back: its file names and atomic writes
(`folder`), the lock that makes a folder one process's (`lock`), a run loaded as a config and a
model (`load`), the table of runs (`table`), learning curves (`plot`) and predictions
(`predict`).

`from nntrain import runs` gives the folder's names and readers/writers: `runs.WEIGHTS`,
`runs.write_npz(...)`, `runs.read_summary(...)`.
"""
from __future__ import annotations

from .folder import (
    BEST,
    CONFIG,
    METRICS,
    STATE,
    SUMMARY,
    WEIGHTS,
    append_metrics_row,
    atomic_write,
    check_run_dir,
    check_run_name,
    finite_json,
    json_default,
    keep_metrics_rows,
    new_run_dir,
    prepare_run_dir,
    read_metrics_csv,
    read_npz,
    read_summary,
    write_json,
    write_metrics_csv,
    write_npz,
    write_text,
)
from .lock import LOCK, RunLock

__all__ = ["BEST", "CONFIG", "LOCK", "METRICS", "STATE", "SUMMARY", "WEIGHTS", "RunLock", "append_metrics_row",
           "atomic_write", "check_run_dir", "check_run_name", "finite_json", "json_default", "keep_metrics_rows",
           "new_run_dir", "prepare_run_dir", "read_metrics_csv", "read_npz", "read_summary", "write_json",
           "write_metrics_csv", "write_npz", "write_text"]
