"""What flush-to-zero saves in nntrain's Adam update on this CPU.

    python benchmarks/denormals.py                  # the seed model's 101,770 parameters
    python benchmarks/denormals.py --fraction 0.2 --size 1000000
    python benchmarks/denormals.py --train          # whole training steps of the seed model

Times `Adam.step` on a flat float32 vector whose first moments are partly denormal (as after
an epoch on MNIST, where the moments of rarely-lit pixels decay below 1.2e-38), with
flush-to-zero off and on in alternating rounds, and prints the median microseconds of each
with the ratio. The moments are reset before every step so that each one sees the same
denormals. With --train it times whole training steps of configs/mnist_mlp.yaml instead
(after one epoch, so the denormals are there), in alternating blocks of --steps steps.
Needs x86-64 Linux for the "on" half (nntrain.train.denormals).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from nntrain.train.denormals import available, enable, restore  # noqa: E402
from nntrain.nn.optimizers import build_optimizer  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=101_770, help="parameters (default: the seed model's 101,770)")
    ap.add_argument("--fraction", type=float, default=0.05, help="share of denormal first moments (default 0.05)")
    ap.add_argument("--rounds", type=int, default=30, help="alternating rounds (default 30)")
    ap.add_argument("--steps", type=int, default=100, help="steps timed per round (default 100)")
    ap.add_argument("--train", action="store_true", help="time training steps of the seed model instead")
    ap.add_argument("--batch", type=int, default=32, help="batch size with --train (default 32)")
    a = ap.parse_args(argv)
    if not available():
        print("flush-to-zero is not available here (needs x86-64 Linux)", file=sys.stderr)
        return 1
    if a.train:
        return train_steps(a)
    rng = np.random.default_rng(0)
    p = rng.standard_normal(a.size).astype(np.float32)
    g = (rng.standard_normal(a.size) * 1e-3).astype(np.float32)
    dead = rng.random(a.size) < a.fraction
    g[dead] = 0.0  # a pixel that stayed dark: no gradient, its moment only decays
    opt = build_optimizer("adam")
    opt.step([("flat", p, g.copy())])  # creates the state
    m0 = (rng.standard_normal(a.size) * 1e-3).astype(np.float32)
    m0[dead] = np.float32(1e-39)
    v0 = ((rng.standard_normal(a.size) * 1e-3) ** 2).astype(np.float32)
    state, grads = opt.state["flat"], g.copy()

    def timed() -> float:
        total = 0.0
        for _ in range(a.steps):
            np.copyto(state["m"], m0)
            np.copyto(state["v"], v0)
            np.copyto(grads, g)
            start = time.perf_counter()
            opt.step([("flat", p, grads)])
            total += time.perf_counter() - start
        return total / a.steps * 1e6

    report(f"Adam step over {a.size:,} float32 parameters, {a.fraction:.0%} denormal first moments "
           f"(median of {a.rounds} alternating rounds x {a.steps} steps):", alternate(timed, a.rounds))
    return 0


def alternate(timed, rounds: int) -> dict[str, list[float]]:
    """timed() with flush-to-zero off and on in turn, `rounds` times each (the order swapping)."""
    times: dict[str, list[float]] = {"off": [], "on": []}
    for r in range(rounds):
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            old = enable() if mode == "on" else None
            try:
                times[mode].append(timed())
            finally:
                restore(old)
    return times


def report(what: str, times: dict[str, list[float]]) -> None:
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    print(what)
    print(f"  flush-to-zero off: {off:.0f} us [{min(times['off']):.0f}-{max(times['off']):.0f}]")
    print(f"  flush-to-zero on:  {on:.0f} us [{min(times['on']):.0f}-{max(times['on']):.0f}]")
    print(f"  on / off: {on / off:.2f}")


def train_steps(a) -> int:
    from nntrain.api import setup
    from nntrain.config import load_config
    from nntrain.data import BatchIterator, Dataset
    from nntrain.train.trainer import Trainer

    config = Path(__file__).resolve().parent.parent / "configs" / "mnist_mlp.yaml"
    cfg = load_config(config, ["data.validation_split=0.0", "train.flush_denormals=false"])
    s = setup(cfg)
    trainer = Trainer(s.model, s.loss, build_optimizer(cfg.optimizer), s.metrics)
    x, y = s.splits.train.x, s.y_train
    trainer.fit(x, y, 1, a.batch)  # one epoch: the first moments of dark pixels are denormal by now
    batches, rng = BatchIterator(Dataset(x, y), a.batch), np.random.default_rng(0)

    def endless():
        while True:
            yield from batches.batches(batches.order(rng))

    stream = endless()

    def timed() -> float:
        start = time.perf_counter()
        for _ in range(a.steps):
            xb, yb, _ = next(stream)
            _, pred = trainer.train_step(xb, yb)
            for m in trainer.metrics:
                m.update(pred, yb)
        return (time.perf_counter() - start) / a.steps * 1e6

    report(f"training step of the seed model at batch {a.batch} after one epoch "
           f"(median of {a.rounds} alternating blocks x {a.steps} steps):", alternate(timed, a.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
