"""The run folder: where it goes, atomic writes, and reading a run back.

    runs/<config-name>/<YYYYmmdd-HHMMSS>/
      config.yaml    the resolved config
      model.npz      weights of the last completed epoch (+ data.mean/data.std when standardized)
      best.npz       weights of the best epoch so far, with train.checkpoint
      metrics.csv    one row per epoch, appended
      summary.json   status, final metrics, timings, versions, the command line
      state.npz      the checkpoint (train/checkpoint.py)
      .lock          held by the process that trains in the folder (lock.py)

Every file but metrics.csv is written to a temporary name in the same folder, flushed to disk
and renamed over the old one, so a crash, Ctrl-C or a full disk at any moment leaves either the
old or the new file, whole. metrics.csv gets one whole line per epoch in one write; a resume cuts
it back to its checkpoint's rows, and readers leave out a last line without its newline. A
failed write is a RunError naming the file and the cause.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import stat
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import RunError
from .lock import LOCK, RunLock

CONFIG = "config.yaml"
WEIGHTS = "model.npz"
BEST = "best.npz"  # weights of the best epoch (train.checkpoint)
METRICS = "metrics.csv"
SUMMARY = "summary.json"
STATE = "state.npz"  # the checkpoint (train/checkpoint.py writes and reads it)


def check_run_name(name: str) -> str:
    """A --name is one folder name inside runs/<config>/: never a path that leaves it."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or Path(name).is_absolute():
        raise RunError(f"--name {name!r} must be a single folder name (no '/', '..' or absolute path): "
                       f"the run goes in runs/<config>/NAME; e.g. --name lr3e-4")
    return name


def new_run_dir(config_name: str, root: str | Path = "runs", name: str | None = None) -> RunLock:
    """A fresh folder runs/<config-name>/<timestamp or name> ('-2', '-3' ... when taken), locked."""
    base = Path(root) / config_name
    stem = check_run_name(name) if name is not None else time.strftime("%Y%m%d-%H%M%S")
    for k in range(1, 10_000):
        path = base / (stem if k == 1 else f"{stem}-{k}")
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(f"cannot create run folder {path}: {exc.strerror}") from None
        return RunLock(path).acquire()
    raise RunError(f"cannot create a run folder under {base}")


# what a folder may hold before a run starts in it: a lock, a sweep's log files for the trial
# it is about to run, temporary files. A run writes config.yaml before anything else, so a
# model.npz or metrics.csv without one is someone else's file.
BEFORE_A_RUN = (LOCK, "fit.stdout", "fit.stderr")


def foreign_files(path: Path) -> list[str]:
    """Names in a folder without config.yaml that keep a run from starting there."""
    return sorted(p.name for p in path.iterdir()
                  if p.name not in BEFORE_A_RUN and not (p.name.startswith(".") and ".tmp-" in p.name))


def prepare_run_dir(path: str | Path) -> RunLock:
    """An explicit --run-dir, created if missing and locked; refused, untouched, when it holds
    files nntrain did not write (a user's folder), while another process holds it (naming that
    process), and when it already holds a run."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunError(f"--run-dir {path} exists and is not a folder")
    if path.is_dir() and not (path / CONFIG).exists():  # (a run folder: locked and refused below)
        try:
            foreign = foreign_files(path)
        except OSError as exc:
            raise RunError(f"cannot read --run-dir {path}: {exc.strerror}") from None
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise RunError(f"--run-dir {path} is not empty and is not an nntrain run folder (it holds {shown}); "
                           f"a run goes into a new or empty folder: choose another --run-dir")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create run folder {path}: {exc.strerror}") from None
    lock = RunLock(path).acquire()
    if (path / CONFIG).exists():  # checked under the lock: no other fit can be starting here now
        lock.release()
        try:
            status = read_summary(path).get("status", "unknown")
        except RunError:
            status = "unreadable summary.json"
        raise RunError(f"--run-dir {path} already holds a run (status: {status}); continue it with "
                       f"nntrain fit --resume {path}, or choose another --run-dir")
    return lock


def atomic_write(path: str | Path, data: bytes, midway: Callable[[], None] | None = None) -> None:
    """Write to a temporary name, fsync, rename over `path`. `midway` (a test hook) runs with
    half the bytes written, so a test can kill the process inside a write."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            if midway is None:
                f.write(data)
            else:
                f.write(data[: len(data) // 2])
                f.flush()
                midway()
                f.write(data[len(data) // 2:])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full or read-only disk, a path too long, a folder in the way...
        raise write_error(path, exc) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def write_error(path: Path, exc: OSError) -> RunError:
    """The RunError (exit 2) for an OSError while writing `path`: the path and the cause.

    It is marked `environment`: the input was fine, the disk refused. A run stopped by it
    resumes once the cause is fixed, and a sweep runs such a trial again."""
    hint = {errno.ENOSPC: "; free some space first", errno.EDQUOT: "; free some space first",
            errno.EROFS: "; the file system is read-only", errno.EACCES: "; no permission to write there"}
    error = RunError(f"cannot write {path}: {exc.strerror or exc}{hint.get(exc.errno, '')}")
    error.environment = True
    return error


def check_out_file(out: Path, example: str) -> Path:
    """An --out FILE that atomic_write can write, checked before the work that fills it: RunError
    with the path and the cause (a folder in the way, a parent that is a file, a name too long).
    `example` is a file name to suggest when --out names a folder."""
    try:
        if out.is_dir():
            raise RunError(f"cannot write {out}: {os.strerror(errno.EISDIR)} (--out names a folder; "
                           f"give a file name, e.g. {out / example})")
        parent = out.parent.stat()
    except FileNotFoundError:
        raise RunError(f"--out {out}: folder {out.parent} does not exist") from None
    except OSError as exc:  # a parent that is a file (ENOTDIR), a name too long, no permission
        raise write_error(out, exc) from None
    if not stat.S_ISDIR(parent.st_mode):
        raise RunError(f"cannot write {out}: {os.strerror(errno.ENOTDIR)} ({out.parent} is a file)")
    return out


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(finite_json(obj), indent=2, allow_nan=False) + "\n")


def finite_json(obj: Any) -> Any:
    """obj as plain JSON values, with NaN and infinities as None (null): strict JSON (RFC 8259 has
    no NaN, and jq, JavaScript and most parsers reject the `NaN` that json.dumps would write)."""
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray, Path)):
        return finite_json(json_default(obj))
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], midway: Callable[[], None] | None = None) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getvalue(), midway)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz, never unpickling anything."""
    path = Path(path)
    try:
        # np.load takes any file that is neither a zip nor an .npy for a pickle, and would call
        # a damaged or foreign file "pickled data"
        if path.is_file() and not zipfile.is_zipfile(path):
            raise RunError(f"{path} is damaged: it is not an .npz archive (a zip file of .npy arrays)")
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise RunError(f"{path} not found") from None
    except ValueError as exc:  # object arrays need pickle: refused
        raise RunError(f"{path}: refusing to load ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise RunError(f"{path} is not a readable .npz file ({exc})") from None


def write_metrics_csv(path: str | Path, rows: list[dict]) -> None:
    """metrics.csv with these rows, written whole (atomically)."""
    if not rows:
        return
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    write_text(path, _csv_lines(columns, rows, header=True))


def _csv_lines(columns: list[str], rows: list[dict], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return out.getvalue()


def append_metrics_row(path: str | Path, row: dict) -> None:
    """One epoch's row added to metrics.csv in one write, flushed and fsync'ed: the cost of an
    epoch does not grow with the number before it. The first row brings the header; a row with
    a column the header lacks rewrites the file whole with the wider header."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            columns = next(csv.reader(f), None)
    except FileNotFoundError:
        columns = None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None
    if not columns:
        write_text(path, _csv_lines(list(row), [row], header=True))
    elif any(k not in columns for k in row):
        write_metrics_csv(path, read_metrics_csv(path) + [row])
    else:
        try:
            with open(path, "a", encoding="utf-8", newline="") as f:
                f.write(_csv_lines(columns, [row], header=False))
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:  # a line cut short here is dropped by the next resume
            raise write_error(path, exc) from None


def keep_metrics_rows(path: str | Path, n: int) -> None:
    """metrics.csv cut back to its header and first n rows, the epochs a resumed checkpoint has
    done: a row appended after that checkpoint was saved, or a line torn by a crash, goes (the
    file is rewritten whole, atomically, only then)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return
    complete = [line for line in lines if line.endswith("\n")]
    if lines != complete[:n + 1]:
        write_text(path, "".join(complete[:n + 1]) if n else "")


def _csv_value(v):
    return f"{v:.6g}" if isinstance(v, float) else v


def read_metrics_csv(path: str | Path) -> list[dict]:
    """The rows of metrics.csv, checked: text, an `epoch` column of rising integers, as many fields
    in every row as in the header. RunError naming the line otherwise. A last line without its
    newline is one being appended (or torn by a crash; resume drops it): it is left out."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise RunError(f"{path} is damaged: it is not UTF-8 text") from None
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror}") from None
    if "\0" in text:
        raise RunError(f"{path} is damaged: it holds NUL bytes")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        return []
    if header[0] != "epoch":
        raise RunError(f"{path} line 1: the first column must be 'epoch', got {header[0]!r}")
    if "loss" not in header:  # every epoch logs its loss: a header without it is not nntrain's
        raise RunError(f"{path} line 1: no 'loss' column (the header has {', '.join(header)})")
    rows, last = [], 0
    for number, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            raise RunError(f"{path} line {number}: {len(cells)} fields, expected {len(header)} like the header")
        row = {k: _parse(v) for k, v in zip(header, cells)}
        if not isinstance(row["epoch"], int) or row["epoch"] <= last:
            raise RunError(f"{path} line {number}: epoch {cells[0]!r} must be an integer above the "
                           f"previous line's {last}")
        rows.append(row)
        last = row["epoch"]
    return rows


def _parse(v: str):
    for cast in (int, float):
        try:
            return cast(v)
        except (TypeError, ValueError):
            pass
    return v


# the type of each field of summary.json that readers rely on (None: null allowed)
SUMMARY_FIELDS = {
    "status": (str,), "run_dir": (str,), "config": (str, type(None)), "epochs": (int,), "steps": (int,),
    "seconds": (int, float, type(None)), "train": (dict,), "val": (dict, type(None)), "test": (dict, type(None)),
    "parameters": (int,), "started": (str,), "command": (str,), "pid": (int,), "host": (str,),
    "versions": (dict,), "error": (str,), "skipped_batches": (int,),
}


def read_summary(run_dir: str | Path) -> dict:
    """summary.json as a dict ({} when there is none yet); RunError when it is not valid JSON, not
    an object, or a field has the wrong type, naming the field."""
    path = Path(run_dir) / SUMMARY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise RunError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(type(data), "null")
        raise RunError(f"{path} holds {kind}, not a JSON object")
    for key, types in SUMMARY_FIELDS.items():
        value = data.get(key)
        if key in data and (not isinstance(value, types) or isinstance(value, bool)):
            kinds = " or ".join("null" if t is type(None) else {"str": "text", "int": "an integer", "float": "a number",
                                                                 "dict": "an object"}[t.__name__] for t in types)
            raise RunError(f"{path}: {key!r} must be {kinds}, got {value!r}")
    return data


def check_run_dir(run_dir: str | Path) -> Path:
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run folder not found: {path}")
    for name in (CONFIG, WEIGHTS):
        if not (path / name).is_file():
            raise RunError(f"{path} is not a complete run: {name} is missing (did the first epoch finish?)")
    return path
