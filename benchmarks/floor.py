"""nntrain against the floor, in one process: nntrain's fit loop, the hand-written numpy loop and
the GEMM-only bound take turns epoch by epoch, so a slow spell of a shared machine hits all
three alike and their ratios are steadier than across processes (benchmarks/compare.py).

    python benchmarks/floor.py                              # seed model, batch 32 and 128
    python benchmarks/floor.py --batch-sizes 32 --rounds 15 --threads 1
    python benchmarks/floor.py --config configs/spirals.yaml --repeat 20 --rounds 20 --threads 1

Each round runs one training epoch of each system, in an order that rotates from round to
round; the first --warmup rounds are not counted. Printed per batch size: the median seconds
per epoch [min-max] of each system and, for each pair, the median [min-max] of the ratios of
epochs run in the same round. The systems are those of compare.py (benchmarks/workers.py):
`nntrain` (config defaults, flush_denormals included), `numpy` (the same step as bare numpy
calls, no layers, loss value, metrics or callbacks), `numpy_report` (the same loop that also
computes every step's loss value and accuracy hits, which nntrain's fit reports) and `gemm` (the
step's matrix products only).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # nntrain, also when it is not installed

from nntrain.sweep.runner import THREAD_VARS  # noqa: E402 (imports no numpy)
from workers import gemm_loop, nntrain_loop, numpy_loop  # noqa: E402 (benchmarks/workers.py, next to this script)

PAIRS = (("nntrain", "gemm"), ("numpy", "gemm"), ("nntrain", "numpy"), ("nntrain", "numpy_report"))


def set_threads(threads: int) -> None:
    """BLAS threads, before numpy is first imported (the variables are read once, at load)."""
    if "numpy" in sys.modules:
        raise RuntimeError("set_threads must run before numpy is imported")
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


def loops(config: str, batch: int) -> dict:
    """{system: one_epoch() -> seconds} for every system that covers the config's model (the
    numpy loops flush denormals as nntrain does: see numpy_loop)."""
    nntrain = nntrain_loop(config, batch)
    out = {"nntrain": nntrain.one_epoch}
    for name, loop in (("numpy", numpy_loop(config, batch)), ("numpy_report", numpy_loop(config, batch, report=True)),
                       ("gemm", gemm_loop(config, batch, nntrain.n_train))):
        if isinstance(loop, dict):
            print(f"{name}: skipped: {loop['skipped']}", file=sys.stderr)
        else:
            out[name] = loop.one_epoch
    return out


def measure(epochs: dict, rounds: int, warmup: int, log=None, repeat: int = 1) -> dict[str, list[float]]:
    """Seconds per epoch of each system, `rounds` counted rounds after `warmup` uncounted
    ones; round r starts at system r mod n. Each system runs `repeat` epochs in a row per round
    (their mean is the round's number): a tiny model's epoch of a few milliseconds is otherwise
    at the mercy of one scheduler tick on a shared machine."""
    names = list(epochs)
    seconds = {name: [] for name in names}
    for r in range(warmup + rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        took = {name: sum(epochs[name]() for _ in range(repeat)) / repeat for name in order}
        if r >= warmup:
            for name in names:
                seconds[name].append(took[name])
        if log:
            log(f"  round {r + 1 - warmup if r >= warmup else 'warm-up'}: "
                + ", ".join(f"{name} {took[name]:.3f}" for name in names))
    return seconds


def summary(seconds: dict[str, list[float]]) -> dict:
    """Median [min, max] seconds per system and of the same-round ratios per pair."""
    out = {"seconds": {k: (statistics.median(v), min(v), max(v)) for k, v in seconds.items()}, "ratios": {}}
    for a, b in PAIRS:
        if a in seconds and b in seconds:
            r = [x / y for x, y in zip(seconds[a], seconds[b])]
            out["ratios"][f"{a} / {b}"] = (statistics.median(r), min(r), max(r))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "configs" / "mnist_mlp.yaml"),
                    help="an nntrain config (default configs/mnist_mlp.yaml)")
    ap.add_argument("--batch-sizes", default="32,128", help="batch sizes (default 32,128)")
    ap.add_argument("--rounds", type=int, default=10, help="counted rounds, one epoch of each system (default 10)")
    ap.add_argument("--warmup", type=int, default=1, help="uncounted rounds first (default 1)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="epochs of each system per round, averaged (default 1; e.g. 20 for spirals' 2 ms epochs)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    ap.add_argument("--json", type=Path, help="also write every number to this file")
    a = ap.parse_args(argv)
    if a.rounds < 1 or a.warmup < 0 or a.threads < 1 or a.repeat < 1:
        ap.error("--rounds, --repeat and --threads must be at least 1, --warmup at least 0")
    try:
        batches = [int(b) for b in a.batch_sizes.split(",")]
    except ValueError:
        ap.error(f"--batch-sizes takes comma-separated integers, got {a.batch_sizes!r}")
    set_threads(a.threads)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    results = {}
    for batch in batches:
        log(f"batch {batch}:")
        seconds = measure(loops(a.config, batch), a.rounds, a.warmup, log, a.repeat)
        results[batch] = {"epoch_seconds": seconds, **summary(seconds)}
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    from compare import machine  # benchmarks/compare.py: CPU, vector width, numpy and its BLAS

    print(f"{a.config}: {a.rounds} rounds (after {a.warmup} warm-up) of {a.repeat} epoch(s) per system, "
          f"{a.threads} BLAS threads; load average {load} at the end\nMachine: {machine()}\n"
          f"Command: python benchmarks/floor.py {' '.join(argv if argv is not None else sys.argv[1:])}\n")
    print("| batch | system or pair | s/epoch or ratio, median [min-max] |\n| --- | --- | --- |")
    for batch, res in results.items():
        for name, (med, lo, hi) in res["seconds"].items():
            print(f"| {batch} | {name} | {med:.4g} [{lo:.4g}-{hi:.4g}] |")  # spirals' epochs last ms
        for pair, (med, lo, hi) in res["ratios"].items():
            print(f"| {batch} | {pair} | {med:.2f} [{lo:.2f}-{hi:.2f}] |")
    if a.json:
        a.json.write_text(json.dumps({str(b): r for b, r in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
