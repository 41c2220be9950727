"""nntrain against PyTorch, scikit-learn, a hand-written numpy loop and the GEMM-only bound.

    python benchmarks/compare.py                     # seed MLP at batch 32 and 128, CNN, RSS, start-up
    python benchmarks/compare.py --runs 3 --epochs 2 --no-cnn     # quicker
    python benchmarks/compare.py --json results.json

Every (system, batch size) run is a fresh process with the same thread count (OPENBLAS/OMP/
MKL_NUM_THREADS and torch.set_num_threads), trained on the same in-memory float32 MNIST; the
systems take turns, round after round, so a slow spell on a shared machine hits them all.
Seconds per epoch are training epochs only (no evaluation, data already in memory), the
median over every epoch of every run, with the min-max. The peers get the same architecture
(translated from the nntrain config), the same init scheme (Glorot uniform weights, zero
biases), Adam with the config's lr and Keras' epsilon 1e-7, the same batch size, and manual
index batching (PyTorch: X[perm[i:i+b]], no DataLoader). The GEMM-only bound times just the
matrix products of a training step (forward, dL/dW, dL/dx) for the same shapes; the
hand-written numpy loop (benchmarks/workers.py: numpy_loop) is the same step as bare numpy
calls, the floor any numpy engine can reach.
Install the peers with `pip install -e '.[bench]'`; a missing one is skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workers import WORKERS  # benchmarks/workers.py, next to this script

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # nntrain, also when it is not installed
from nntrain.sweep.runner import THREAD_VARS  # noqa: E402 (imports no numpy)

REPO = Path(__file__).resolve().parent.parent
MLP_CONFIG = REPO / "configs" / "mnist_mlp.yaml"
CNN_CONFIG = REPO / "configs" / "mnist_cnn.yaml"
N_TRAIN, N_TEST, N_FEATURES = 60_000, 10_000, 784
NAMES = {"nntrain": "nntrain", "nntrain_noftz": "nntrain, flush_denormals: false", "torch": "PyTorch",
         "sklearn": "scikit-learn MLPClassifier", "numpy": "hand-written numpy loop",
         "numpy_report": "hand-written numpy loop, loss value and accuracy every step",
         "gemm": "GEMMs only (bound)"}


# -- the driver ----------------------------------------------------------------------------
def child_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_worker(system: str, config: Path, batch: int, epochs: int, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", system, "--config", str(config), "--batch", str(batch),
           "--epochs", str(epochs), "--threads", str(threads)]
    proc = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"skipped": f"failed: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def available(system: str) -> str | None:
    """None if the system can run here, else why not."""
    module = {"torch": "torch", "sklearn": "sklearn"}.get(system)
    if module is None:
        return None
    import importlib.util

    return None if importlib.util.find_spec(module) else f"{module} is not installed (pip install -e '.[bench]')"


def compare(config: Path, label: str, systems: list[str], batches: list[int], epochs: int, runs: int,
            threads: int, log) -> list[dict]:
    """Alternating runs; one result row per (batch, system)."""
    results = {(b, s): {"epoch_seconds": [], "test_accuracy": [], "skipped": available(s)}
               for b in batches for s in systems}
    for r in range(1, runs + 1):
        for b in batches:
            for s in systems:
                res = results[(b, s)]
                if res["skipped"]:
                    continue
                out = run_worker(s, config, b, epochs, threads)
                if "skipped" in out:
                    res["skipped"] = out["skipped"]
                    continue
                res["epoch_seconds"] += out["epoch_seconds"]
                if "test_accuracy" in out:
                    res["test_accuracy"].append(out["test_accuracy"])
                res.update({k: v for k, v in out.items() if k not in ("epoch_seconds", "test_accuracy")})
                log(f"  {label} b{b} run {r}/{runs} {NAMES[s]}: "
                    + " ".join(f"{t:.3f}" for t in out["epoch_seconds"]) + " s/epoch"
                    + (f", test accuracy {out['test_accuracy']:.4f}" if "test_accuracy" in out else ""))
    rows = []
    for (b, s), res in results.items():
        sec = res.pop("epoch_seconds")
        acc = res.pop("test_accuracy")
        rows.append({"model": label, "batch": b, "system": s, "epochs_per_run": epochs, "runs": runs,
                     "median": statistics.median(sec) if sec else None, "min": min(sec, default=None),
                     "max": max(sec, default=None), "test_accuracy": statistics.median(acc) if acc else None,
                     **res})
    for row in rows:
        ref = next(r for r in rows if r["batch"] == row["batch"] and r["system"] == "nntrain")
        row["nntrain_over_this"] = (ref["median"] / row["median"]) if ref["median"] and row["median"] else None
    return rows


def peak_rss_mb(epochs: int, threads: int) -> tuple[float, str]:
    """Peak RSS of `nntrain fit configs/mnist_mlp.yaml` (a wrapper process reads its child's rusage)."""
    with tempfile.TemporaryDirectory() as tmp:
        fit = [sys.executable, "-m", "nntrain", "fit", str(MLP_CONFIG), "--run-dir", f"{tmp}/run", "--quiet",
               "--set", f"train.epochs={epochs}"]
        probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        out = subprocess.run([sys.executable, "-c", probe, *fit], env=child_env(threads), capture_output=True,
                             text=True, check=True)
    kb = int(out.stdout.strip().splitlines()[-1])
    return (kb / 1024 if sys.platform != "darwin" else kb / 2 ** 20), " ".join(["nntrain", *fit[3:]])


def startup(threads: int, repeats: int = 7) -> tuple[float, float]:
    """Median wall seconds of `nntrain --help` and of `python -c 'import numpy'`, alternating."""
    script = Path(sys.executable).with_name("nntrain")
    help_cmd = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "nntrain", "--help"]
    cmds = (help_cmd, [sys.executable, "-c", "import numpy"])
    times: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for cmd, acc in zip(cmds, times):
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, env=child_env(threads))
            acc.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def conv_available() -> bool:
    sys.path.insert(0, str(REPO))
    from nntrain.nn.layers import LAYERS  # the package registers every layer

    return "conv2d" in LAYERS.names() and CNN_CONFIG.exists()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas_env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                         if k in os.environ) or "OPENBLAS_CORETYPE unset"
    return (f"{cpu} ({vector_width()}), {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()}, {numpy_blas()}, {blas_env}")


def vector_width() -> str:
    """The widest x86 vector extension the CPU reports (/proc/cpuinfo flags), or the machine."""
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        flags = []
    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2")):
        if flag in flags:
            return name
    return platform.machine()


def numpy_blas() -> str:
    """numpy's version and its BLAS library, version and kernel (threadpoolctl), read in this
    process: the systems' processes load the same library with the thread count set."""
    import numpy as np

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"numpy {np.__version__} (BLAS: pip install threadpoolctl to name it)"
    blas = [f"{i['internal_api']} {i['version']}, {i.get('architecture') or '?'} kernel"
            for i in threadpool_info() if i["user_api"] == "blas"]
    return f"numpy {np.__version__} ({'; '.join(blas) or 'BLAS not found'})"


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


# -- report --------------------------------------------------------------------------------
def fmt_row(row: dict) -> str:
    if row.get("skipped"):
        return f"| {row['model']} | {row['batch']} | {NAMES[row['system']]} | skipped: {row['skipped']} | | |"
    ratio = row["nntrain_over_this"]
    acc = row["test_accuracy"]
    return (f"| {row['model']} | {row['batch']} | {NAMES[row['system']]} | {row['median']:.3f} "
            f"[{row['min']:.3f}-{row['max']:.3f}] | {'-' if ratio is None else f'{ratio:.2f}'} | "
            f"{'-' if acc is None else f'{acc:.4f}'} |")


def measured(rows: list[dict], model: str, batch: int, system: str) -> dict | None:
    """The row of (model, batch, system) if that system was measured, else None."""
    return next((r for r in rows if r["model"] == model and r["batch"] == batch and r["system"] == system
                 and r["median"]), None)


def checks(rows: list[dict], cnn_rows: list[dict] | None, rss: tuple | None, start: tuple | None,
           epochs: int) -> list[tuple[str, bool | None, str]]:
    """(acceptance point, passed (None: not measured), the numbers)."""
    get = lambda model, b, s: measured(rows + (cnn_rows or []), model, b, s)  # noqa: E731
    out = []
    for b, limit in ((32, 0.45), (128, 0.65)):  # issue 19's targets
        n, t, h = get("seed MLP", b, "nntrain"), get("seed MLP", b, "torch"), get("seed MLP", b, "numpy")
        if n and t:
            ratio = n["median"] / t["median"]
            out.append((f"seed MLP batch {b}: nntrain <= {limit} x PyTorch", ratio <= limit,
                        f"{n['median']:.3f} / {t['median']:.3f} = {ratio:.2f}"))
            diff = abs(n["test_accuracy"] - t["test_accuracy"]) * 100
            out.append((f"seed MLP batch {b}: test accuracy after {epochs} epochs within 0.3 points of PyTorch",
                        diff <= 0.3 if epochs == 5 else None,
                        f"{n['test_accuracy']:.4f} vs {t['test_accuracy']:.4f} ({diff:.2f} points)"
                        + ("" if epochs == 5 else "; acceptance needs --epochs 5")))
        else:
            out.append((f"seed MLP batch {b}: nntrain <= {limit} x PyTorch", None, "PyTorch not measured"))
        if n and h:  # the floor of a numpy engine is the hand-written loop (README, Performance)
            ratio = n["median"] / h["median"]
            out.append((f"seed MLP batch {b}: nntrain within 1.05 x the hand-written numpy loop", ratio <= 1.05,
                        f"{n['median']:.3f} / {h['median']:.3f} = {ratio:.2f} (across processes: "
                        "benchmarks/floor.py pairs epochs in one process, steadier)"))
        if b == 32 and n and n["test_accuracy"] is not None and epochs == 5:  # the config's batch size
            out.append((f"seed MLP batch {b}: test accuracy after 5 epochs >= 0.975", n["test_accuracy"] >= 0.975,
                        f"{n['test_accuracy']:.4f}"))
    if cnn_rows is None:
        out.append(("CNN batch 128: nntrain <= 0.6 x PyTorch", None, "skipped (see above)"))
    else:
        n, t, g = get("CNN", 128, "nntrain"), get("CNN", 128, "torch"), get("CNN", 128, "gemm")
        out.append(("CNN batch 128: nntrain <= 0.6 x PyTorch", (n["median"] / t["median"] <= 0.6) if n and t else None,
                    f"{n['median']:.2f} / {t['median']:.2f} = {n['median'] / t['median']:.2f}" if n and t
                    else "not measured"))
        out.append(("CNN batch 128: nntrain <= 1.5 x its GEMMs alone", (n["median"] / g["median"] <= 1.5) if n and g
                    else None, f"{n['median']:.2f} / {g['median']:.2f} = {n['median'] / g['median']:.2f}" if n and g
                    else "not measured"))
    if rss is not None:
        mb, budget = rss[0], 2 * (N_TRAIN + N_TEST) * N_FEATURES * 4 / 2 ** 20 + 150
        out.append(("peak RSS of nntrain fit configs/mnist_mlp.yaml <= 2 x float32 data + 150 MB", mb <= budget,
                    f"{mb:.0f} MB (budget {budget:.0f} MB)"))
    if start is not None:
        diff = start[0] - start[1]
        out.append(("start-up: nntrain --help within 0.25 s of python -c 'import numpy'", diff <= 0.25,
                    f"{start[0]:.3f} s vs {start[1]:.3f} s ({diff:+.3f} s)"))
    return out


def floor_lines(rows: list[dict]) -> list[str]:
    """What a numpy engine can reach: the hand-written loop against the GEMM bound, and nntrain
    against each (its own overhead), per model and batch size."""
    out = []
    for model, b in sorted({(r["model"], r["batch"]) for r in rows}, key=lambda mb: (mb[0] != "seed MLP", mb)):
        n, h, g = (measured(rows, model, b, s) for s in ("nntrain", "numpy", "gemm"))
        parts = [f"{x} / {y} = {p['median']:.3f} / {q['median']:.3f} = {p['median'] / q['median']:.2f}"
                 for (x, p), (y, q) in ((("nntrain", n), ("GEMMs only", g)),
                                        (("hand-written numpy loop", h), ("GEMMs only", g)),
                                        (("nntrain", n), ("hand-written numpy loop", h))) if p and q]
        if parts:
            out.append(f"{model} batch {b}: " + "; ".join(parts))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="alternating runs per system (default 5)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs per MLP run (default 5: the accuracy check)")
    ap.add_argument("--batch-sizes", default="32,128", help="MLP batch sizes (default 32,128)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every system (default 2)")
    ap.add_argument("--systems", default="nntrain,nntrain_noftz,torch,sklearn,numpy,gemm",
                    help="which to run, of: " + ", ".join(NAMES))
    ap.add_argument("--no-cnn", action="store_true", help="skip the CNN comparison")
    ap.add_argument("--cnn-runs", type=int, default=None, help="alternating CNN runs (default: --runs)")
    ap.add_argument("--cnn-epochs", type=int, default=1, help="epochs per CNN run (default 1)")
    ap.add_argument("--json", type=Path, help="also write every number to this file")
    # a worker runs one system once and prints JSON
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--config", default=str(MLP_CONFIG), help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=32, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(WORKERS[a.worker](a)))
        return 0
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in NAMES]
    if unknown:
        ap.error(f"unknown system {unknown[0]!r}; valid: {', '.join(NAMES)}")
    if "nntrain" not in systems:
        systems.insert(0, "nntrain")
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    began = load()
    log(f"machine: {machine()}; load average {began}")
    rss = start = None
    log("peak RSS of nntrain fit ...")
    rss = peak_rss_mb(5, a.threads)
    log(f"  {rss[0]:.0f} MB: {rss[1]}")
    start = startup(a.threads)
    log(f"start-up: nntrain --help {start[0]:.3f} s, python -c 'import numpy' {start[1]:.3f} s")
    batches = [int(b) for b in a.batch_sizes.split(",")]
    rows = compare(MLP_CONFIG, "seed MLP", systems, batches, a.epochs, a.runs, a.threads, log)
    cnn_rows, cnn_note = None, ""
    if a.no_cnn:
        cnn_note = "CNN: skipped (--no-cnn)"
    elif not conv_available():
        cnn_note = ("CNN: skipped: this nntrain has no `conv2d` layer registered (or no configs/mnist_cnn.yaml); "
                    "the CNN comparison runs once the conv2d layers are merged")
    else:
        cnn_rows = compare(CNN_CONFIG, "CNN", [s for s in systems if s in ("nntrain", "torch", "gemm")], [128],
                           a.cnn_epochs, a.cnn_runs or a.runs, a.threads, log)
    torch_v = next((r["version"] for r in rows if r["system"] == "torch" and r.get("version")), None)
    print(f"\nMachine: {machine()}; PyTorch {torch_v or '-'}; {a.threads} threads each; "
          f"load average {began} at the start, {load()} at the end.")
    print(f"Command: python benchmarks/compare.py {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"Seconds per training epoch: median over {a.runs} alternating runs x {a.epochs} epochs [min-max]; "
          f"test accuracy after {a.epochs} epochs (median over runs).\n")
    print("| model | batch | system | s/epoch | nntrain / system | test accuracy |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows + (cnn_rows or []):
        print(fmt_row(row))
    if cnn_note:
        print(f"\n{cnn_note}")
    if rss:
        print(f"\nPeak RSS: {rss[0]:.0f} MB for `{rss[1]}`")
    if start:
        print(f"Start-up: `nntrain --help` {start[0]:.3f} s, `python -c 'import numpy'` {start[1]:.3f} s (median of 7)")
    results = checks(rows, cnn_rows, rss, start, a.epochs)
    print("\n| acceptance | result | numbers |\n| --- | --- | --- |")
    for name, ok, text in results:
        print(f"| {name} | {'-' if ok is None else 'PASS' if ok else 'FAIL'} | {text} |")
    floor = floor_lines(rows + (cnn_rows or []))
    if floor:
        print("\nThe floor of a numpy engine (the same step without nntrain's layers, registry and callbacks):")
        for line in floor:
            print(f"- {line}")
    if a.json:
        a.json.write_text(json.dumps({"machine": machine(), "load": [began, load()], "rows": rows,
                                      "cnn_rows": cnn_rows, "floor": floor, "peak_rss_mb": rss and rss[0],
                                      "startup_s": start, "checks": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
