"""Reading a big CSV: nntrain's readers against pandas.read_csv's C engine (issue 14, point 8).

    python benchmarks/csv_read.py                      # 1,000,000 x 20, best of 3, ~3 min
    python benchmarks/csv_read.py --rows 100000 --repeat 5 --dir /tmp/csvs --json out.json
    git archive HEAD~3 nntrain | tar -x -C /tmp/old && python benchmarks/csv_read.py --repo /tmp/old

Writes two seeded files under --dir (a fresh temporary folder by default, deleted at the end;
files already in --dir of the same size and seed are reused):

    numeric.csv   --rows x 20: 19 float features (6 significant digits, mixed scales) and an
                  integer label y in 0..9
    mixed.csv     --rows x 20: 14 float features, 4 text columns (3 to 40 categories), a
                  yes/no column and a text target; about 5% of the feature cells are empty

and times, each run in its own child process (so the peak RSS is that reader's alone, and no
cache survives from one run to the next), systems alternating, best of --repeat:

    nntrain        load_splits of a `data:` section {train: FILE, target: y}, as `nntrain fit`
                   gets its Datasets (training excluded): numeric.csv goes through read_csv,
                   mixed.csv through read_table and the typed columns (kinds inferred, fills,
                   one-hot, standardization: work pandas.read_csv does not do)
    nntrain-read   the reader alone: read_csv for numeric.csv, read_table (the text cells) for
                   mixed.csv
    float-floor    float() on every cell of the columns that are numbers (gaps left out), the
                   text cells already read (not timed): what parsing numbers costs in Python,
                   the way numpy's own str -> float64 cast does it; loadtxt, numpy's one C float
                   parser, refuses an empty cell, so a column with gaps cannot go through it
    pandas         pandas.read_csv(FILE, engine="c"), the reference (pandas: the `bench` extra)

and prints, per file, each system's best seconds, its ratio to pandas in the same run and its
peak RSS (VmHWM of the child; its RSS after the imports is shown apart).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SYSTEMS = ("nntrain", "nntrain-read", "float-floor", "pandas")
FILES = ("numeric", "mixed")
COLORS = ["red", "green", "blue"]
CITIES = [f"city_{i:02d}" for i in range(40)]
GRADES = ["A", "B", "C", "D", "E", "F"]
SHOPS = [f"shop-{c}" for c in "abcdefghijkl"]
CLASSES = ["bronze", "gold", "silver"]


def _numbers(rng: np.random.Generator, rows: int, scale: float) -> np.ndarray:
    """A column of rows floats formatted to 6 significant digits, as text (U13)."""
    return np.char.mod("%.6g", rng.normal(0, scale, rows))


def write_numeric(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cols = [_numbers(rng, rows, 10.0 ** (j % 5 - 2)) for j in range(19)]
    cols.append(rng.integers(0, 10, rows).astype(str))
    _write(path, [f"f{j}" for j in range(19)] + ["y"], cols)


def write_mixed(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cols, names = [], []
    for j in range(14):
        cols.append(_numbers(rng, rows, 10.0 ** (j % 4 - 1)))
        names.append(f"x{j}")
    for name, values in (("color", COLORS), ("city", CITIES), ("grade", GRADES), ("shop", SHOPS)):
        cols.append(np.array(values)[rng.integers(0, len(values), rows)])
        names.append(name)
    cols.append(np.where(rng.random(rows) < 0.5, "yes", "no"))
    names.append("member")
    for c in cols:  # ~5% of the feature cells empty
        c[rng.random(rows) < 0.05] = ""
    cols.append(np.array(CLASSES)[rng.integers(0, 3, rows)])
    names.append("y")
    _write(path, names, cols)


def _write(path: Path, header: list[str], cols: list[np.ndarray], chunk: int = 100_000) -> None:
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(header) + "\n")
        for i in range(0, len(cols[0]), chunk):
            f.write("".join(",".join(r) + "\n" for r in zip(*(c[i:i + chunk].tolist() for c in cols))))
    tmp.replace(path)


def ensure_files(folder: Path, rows: int, seed: int) -> dict[str, Path]:
    out = {}
    for kind, write in (("numeric", write_numeric), ("mixed", write_mixed)):
        path = folder / f"{kind}-{rows}-seed{seed}.csv"
        if not path.is_file():
            t = time.perf_counter()
            write(path, rows, seed)
            print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB, {time.perf_counter() - t:.1f}s)",
                  file=sys.stderr, flush=True)
        out[kind] = path
    return out


def _rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM (ru_maxrss would carry the parent's peak over exec)."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def worker(system: str, path: Path, repo: Path) -> dict:
    """One timed read in this process: {seconds, rss_mb (peak), base_mb (after the imports)}."""
    if system == "pandas":
        import pandas as pd

        def run():
            return pd.read_csv(path, engine="c")
    else:
        sys.path.insert(0, str(repo))
        from nntrain.config.schema import DataConfig
        from nntrain.data.csvfile import read_csv, read_table
        from nntrain.data.splits import load_splits

        if system == "float-floor":
            from nntrain.data.csvfile import floats

            table = read_table(path)
            na = ["", "NA", "N/A", "NaN", "null", "?"]
            cols = [table.cells[:, j][~np.isin(table.cells[:, j], na)] for j in range(len(table.header))]
            del table

            def run():
                for c in cols:
                    try:
                        floats(c)
                    except ValueError:  # a text column
                        pass
                return c
        elif system == "nntrain":
            def run():
                return load_splits(DataConfig(train=str(path), target="y"), dtype="float32")
        elif "numeric" in path.name:
            def run():
                return read_csv(path, target="y")
        else:
            def run():
                return read_table(path)
    base = _rss_mb()
    t = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - t
    shape = getattr(getattr(out, "train", out), "x", getattr(out, "cells", out)).shape
    del out
    return {"seconds": seconds, "rss_mb": _rss_mb(), "base_mb": base, "shape": list(shape)}


def child(system: str, path: Path, repo: Path) -> dict:
    run = subprocess.run([sys.executable, __file__, "--worker", system, "--file", str(path), "--repo", str(repo)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{system} on {path.name} failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each system per file; the best counts")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, help="where the CSVs are written (kept); default: a temporary folder")
    ap.add_argument("--files", nargs="+", choices=FILES, default=list(FILES))
    ap.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--repo", type=Path, default=REPO,
                    help="the nntrain source tree to time (e.g. an older commit's, from git archive)")
    ap.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.file, args.repo)))
        return
    if "pandas" in args.systems:
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise SystemExit("pandas is the reference: pip install pandas (or the bench extra)") from None
    folder = args.dir or Path(tempfile.mkdtemp(prefix="csv_read-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        paths = ensure_files(folder, args.rows, args.seed)
        import numpy

        results = {"repo": str(args.repo), "rows": args.rows, "repeat": args.repeat, "cpu": cpu_name(), "cores": os.cpu_count(),
                   "python": platform.python_version(), "numpy": numpy.__version__, "files": {}}
        try:
            import pandas

            results["pandas"] = pandas.__version__
        except ImportError:
            pass
        for kind in args.files:
            runs: dict[str, list[dict]] = {s: [] for s in args.systems}
            for _ in range(args.repeat):
                for s in args.systems:  # alternate, so a busy moment does not hit one system only
                    runs[s].append(child(s, paths[kind], args.repo))
            best = {s: min(r, key=lambda d: d["seconds"]) for s, r in runs.items()}
            results["files"][kind] = {s: {"seconds": b["seconds"], "all": [r["seconds"] for r in runs[s]],
                                          "rss_mb": max(r["rss_mb"] for r in runs[s]),
                                          "base_mb": b["base_mb"], "shape": b["shape"]} for s, b in best.items()}
            size = paths[kind].stat().st_size / 1e6
            print(f"{kind}.csv: {args.rows} rows x 20 columns, {size:.0f} MB (best of {args.repeat})")
            ref = best.get("pandas", {}).get("seconds")
            for s, b in best.items():
                ratio = f"{b['seconds'] / ref:5.2f}x pandas" if ref else ""
                print(f"  {s:<13} {b['seconds']:7.2f} s  {ratio:<14}  peak RSS {results['files'][kind][s]['rss_mb']:6.0f} MB"
                      f" (after imports {b['base_mb']:.0f} MB)")
        print(f"CPU: {results['cpu']} ({results['cores']} cores), numpy {results['numpy']}, "
              f"pandas {results.get('pandas', '-')}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
