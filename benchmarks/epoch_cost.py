"""Does an epoch cost more late in a long run than early? (issue 13, part H)

    python benchmarks/epoch_cost.py                    # 100,000 epochs of xor, ~10 min
    python benchmarks/epoch_cost.py --epochs 20000 --json out.json

A whole `nntrain.fit` of configs/xor.yaml with train.epochs=N into a fresh run folder, so every
epoch pays everything a real run pays: the four-sample training step, then model.npz,
metrics.csv, summary.json and state.npz written (and fsync'ed) in the run folder. The wall time of
each epoch is the time between two consecutive ends of an epoch. Reported: epochs per second
over the first and the last 10% of the epochs, and their ratio (last / first; 1.0 means an epoch
costs the same at the end as at the start). The acceptance is >= 0.8.

Both windows are measured in the same process on the same machine, so the ratio does not
depend on how fast the machine is, only on how noisy it is during the run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nntrain.train.progress import Progress  # noqa: E402


class EpochClock(Progress):
    """Records the wall time at the end of every epoch."""

    def __init__(self):
        self.ends: list[float] = []

    def epoch_end(self, epoch, logs, seconds):
        self.ends.append(time.perf_counter())


def rates(ends: list[float], fraction: float) -> tuple[float, float]:
    """Epochs per second over the first and the last `fraction` of the epochs."""
    per_epoch = [b - a for a, b in zip(ends, ends[1:])]
    k = max(1, int(len(per_epoch) * fraction))
    return 1.0 / statistics.fmean(per_epoch[:k]), 1.0 / statistics.fmean(per_epoch[-k:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=100_000, help="epochs of xor (default 100000)")
    ap.add_argument("--config", default=str(REPO / "configs" / "xor.yaml"), help="the config to run")
    ap.add_argument("--json", help="also write the numbers to this file")
    a = ap.parse_args()

    import nntrain

    cfg = nntrain.load_config(a.config, [f"train.epochs={a.epochs}"])
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        nntrain.fit(cfg, run_dir=Path(tmp) / "run", progress=clock)
        total = time.perf_counter() - started
        state_bytes = (Path(tmp) / "run" / "state.npz").stat().st_size
    first, last = rates(clock.ends, 0.1)
    result = {"epochs": a.epochs, "seconds": round(total, 1), "first_10pct_epochs_per_s": round(first, 1),
              "last_10pct_epochs_per_s": round(last, 1), "ratio_last_to_first": round(last / first, 3),
              "state_npz_bytes_at_end": state_bytes}
    print(f"{a.epochs} epochs in {total:.0f} s; epochs/s: first 10% {first:.1f}, last 10% {last:.1f}; "
          f"last / first = {last / first:.3f} (acceptance >= 0.8); state.npz {state_bytes:,} bytes at the end")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
