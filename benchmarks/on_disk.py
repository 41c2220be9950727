"""Training on data bigger than memory: peak RSS and throughput, x on disk vs the same x in memory
(issue 14, point 6).

    python benchmarks/on_disk.py                           # 1,400,000 x 784 float32 = 4.4 GB, ~3 min
    python benchmarks/on_disk.py --rows 200000 --json out.json
    python benchmarks/on_disk.py --reference-rows 300000   # a smaller in-memory reference

Writes x.npy (MNIST's 60,000 training images repeated to --rows rows, float32 in [0, 1]) and
y.npy into a fresh folder under --dir, then runs `nntrain fit configs/mnist_mlp.yaml` (the seed
MLP, 784 -> 128 -> 10, Adam, batch 32) for one epoch in a child process twice:

    disk     data.train: the folder, data.mmap: true   (x read from disk by batches)
    memory   the same folder with data.mmap: false    (x loaded, 4.4 GB of RAM)

and reports each child's peak RSS (os.wait4's ru_maxrss, which counts file pages mapped into
the process too) and its training throughput (samples / the epoch's seconds in summary.json),
plus the wall time of the whole command (loading, the checks over x, training). The target is a
peak RSS under 1 GB on disk; the ratio disk / memory of the throughput is the cost of reading
rows from disk. The file is in the page cache (it was just written) unless --cold evicts it
before each disk run (posix_fadvise DONTNEED on this file only): then every row is a random disk read.

--gather also measures the batch gather alone (2,000 shuffled batches of 32) three ways, each in
its own child: from memory (ndarray.take), with pread (DiskArray.take, what training uses), and
from an np.memmap (take on the map), with the RSS each leaves: the reason for pread.

The folder is deleted at the end (--keep keeps it). (Not named mmap.py: a script's folder comes
first on sys.path, and it would shadow the standard library's mmap that np.memmap imports.)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

GATHER = r"""
import json, sys, time, numpy as np
sys.path.insert(0, {repo!r})
from nntrain.data.ondisk import open_npy
how, path, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rss():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmRSS"))
disk = open_npy(path)
n = len(disk)
if how == "memory":
    x = disk[: min(n, batches * 32)]
    n = len(x)
elif how == "pread":
    x = disk
else:
    x = disk.map
order = np.random.default_rng(0).permutation(n)
buf = np.empty((32,) + disk.shape[1:], np.float32)
before = rss()
t = time.perf_counter()
for i in range(batches):
    x.take(order[i * 32:(i + 1) * 32], axis=0, out=buf, mode="clip")
us = (time.perf_counter() - t) / batches * 1e6
print(json.dumps({{"how": how, "us_per_batch": us, "rss_growth_mb": (rss() - before) / 2**20}}))
"""


def write_arrays(folder: Path, rows: int) -> float:
    """x.npy (rows, 784) float32 and y.npy (rows,) int64 from MNIST's training set, repeated."""
    from nntrain.data import mnist

    train, _ = mnist()
    x, y = train.x.reshape(len(train.x), -1).astype(np.float32), train.y.astype(np.int64)
    t = time.perf_counter()
    with open(folder / "x.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (rows, 784)})
        for lo in range(0, rows, len(x)):
            f.write(x[: min(len(x), rows - lo)].tobytes())
    np.save(folder / "y.npy", np.resize(y, rows))
    return time.perf_counter() - t


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


TIME = shutil.which("time", path="/usr/bin:/bin")


def run_child(cmd: list[str]) -> tuple[int, float, float, str]:
    """(exit code, peak RSS in bytes, wall seconds, stdout) of a child process.

    The peak is what /usr/bin/time reports (ru_maxrss of its child): the child's own ru_maxrss
    from here would also count this process's RSS, which Linux carries over a fork + exec.
    """
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r") as peak_file:
        full = [TIME, "-f", "%M", "-o", peak_file.name, *cmd] if TIME else cmd
        p = subprocess.Popen(full, stdout=out, stderr=err, cwd=REPO)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        out.seek(0), err.seek(0)
        text, errors = out.read(), err.read()
        peak = int(peak_file.read().split()[-1]) * 1024 if TIME else usage.ru_maxrss * 1024
    if p.returncode:
        raise SystemExit(f"child failed ({p.returncode}): {' '.join(cmd)}\n{errors}")
    return p.returncode, peak, wall, text


def fit(folder: Path, mmap: bool, limit: int | None, epochs: int, batch: int, work: Path, name: str) -> dict:
    run_dir = work / f"run-{name}"
    cmd = [sys.executable, "-m", "nntrain", "fit", str(REPO / "configs" / "mnist_mlp.yaml"),
           "--set", "data.name=null", "--set", f"data.train={folder}", "--set", f"data.mmap={str(mmap).lower()}",
           "--set", f"train.epochs={epochs}", "--set", f"train.batch_size={batch}",
           "--run-dir", str(run_dir), "--json", "--progress", "none"]
    if limit is not None:
        cmd += ["--set", f"data.limit={limit}"]
    _, peak, wall, out = run_child(cmd)
    summary = json.loads(out.strip().splitlines()[-1])
    samples = (limit or summary_samples(folder)) * epochs
    shutil.rmtree(run_dir)
    return {"name": name, "samples": samples, "train_seconds": summary["seconds"],
            "samples_per_s": samples / summary["seconds"], "wall_seconds": wall, "peak_rss_mb": peak / 2**20,
            "train_accuracy": summary["train"].get("accuracy")}


def median_run(runs: list[dict]) -> dict:
    """The run of median throughput, with the largest peak RSS of all."""
    mid = sorted(runs, key=lambda r: r["samples_per_s"])[len(runs) // 2]
    return {**mid, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def summary_samples(folder: Path) -> int:
    return int(np.load(folder / "y.npy", mmap_mode="r").shape[0])


def gather(folder: Path, batches: int) -> list[dict]:
    out = []
    for how in ("memory", "pread", "memmap"):
        _, peak, _, text = run_child([sys.executable, "-c", GATHER.format(repo=str(REPO)), how,
                                      str(folder / "x.npy"), str(batches)])
        out.append({**json.loads(text), "peak_rss_mb": peak / 2**20})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_400_000, help="rows of x.npy (784 float32 each; default 4.4 GB)")
    ap.add_argument("--reference-rows", type=int, default=None,
                    help="train the in-memory reference on the first N rows only (default: all of them)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where to write the arrays (default: the temp dir)")
    ap.add_argument("--rounds", type=int, default=1, help="alternate disk and memory runs N times; medians")
    ap.add_argument("--cold", action="store_true", help="evict x.npy from the page cache before the disk run")
    ap.add_argument("--gather", action="store_true", help="also time the batch gather alone, three ways")
    ap.add_argument("--keep", action="store_true", help="keep the folder of arrays")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nntrain-mmap-", dir=args.dir))
    try:
        folder = work / "arrays"
        folder.mkdir()
        write_s = write_arrays(folder, args.rows)
        size = (folder / "x.npy").stat().st_size
        print(f"x.npy: {args.rows} x 784 float32, {size / 1e9:.2f} GB, written in {write_s:.1f}s", file=sys.stderr)
        rounds = {"disk": [], "memory": []}
        for r in range(args.rounds):  # alternated, so that a busy spell of the machine hits both
            if args.cold:
                evict(folder / "x.npy")
            rounds["disk"].append(fit(folder, True, None, args.epochs, args.batch, work, "disk"))
            print(f"disk: {json.dumps(rounds['disk'][-1])}", file=sys.stderr, flush=True)
            rounds["memory"].append(fit(folder, False, args.reference_rows, args.epochs, args.batch, work, "memory"))
        disk, memory = (median_run(rounds[k]) for k in ("disk", "memory"))
        result = {"rows": args.rows, "x_bytes": size, "epochs": args.epochs, "batch": args.batch, "cold": args.cold,
                  "rounds": args.rounds, "disk": disk, "memory": memory, "all_rounds": rounds,
                  "throughput_ratio_disk_over_memory": disk["samples_per_s"] / memory["samples_per_s"],
                  "peak_rss_under_1gb": max(r["peak_rss_mb"] for r in rounds["disk"]) < 1024}
        if args.gather:
            result["gather"] = gather(folder, 2000)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for r in (disk, memory):
        print(f"{r['name']:<7} {r['samples']:>9} samples  {r['samples_per_s']:>8.0f} samples/s  "
              f"train {r['train_seconds']:.1f}s  wall {r['wall_seconds']:.1f}s  peak RSS {r['peak_rss_mb']:.0f} MB")
    print(f"throughput disk / memory: {result['throughput_ratio_disk_over_memory']:.2f}")
    for g in result.get("gather", []):
        print(f"gather {g['how']:<7} {g['us_per_batch']:6.1f} us/batch of 32  RSS +{g['rss_growth_mb']:.0f} MB "
              f"(peak {g['peak_rss_mb']:.0f} MB)")
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
