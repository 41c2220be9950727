"""A residual block's training step, nntrain against PyTorch CPU in the same run.

    python benchmarks/residual_block.py                         # batch 128, 16x16x32, 2 threads
    python benchmarks/residual_block.py --rounds 5 --steps 20 --json out.json
    python benchmarks/residual_block.py --systems nntrain       # without torch

The model is the basic block of He et al. 2016 plus a classifier head, the same in both:

    x (batch, 16, 16, 32) -> conv 3x3 same -> relu -> conv 3x3 same -> add x -> relu
      -> global average pool -> dense 10 -> softmax cross-entropy

and a step is forward + backward + Adam (lr 1e-3, epsilon 1e-7), on one fixed batch. The
systems take turns, `--rounds` times, each timing `--steps` steps after warm-up, so a slow
spell on a shared machine hits both; the report is the median step time of each and the ratio
nntrain / PyTorch (below 1: nntrain is faster). Both get `--threads` threads (OpenBLAS and
torch.set_num_threads). Neither flushes denormals. Install torch with `pip install -e '.[bench]'`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def block_specs(channels: int) -> list:
    """The config's model.layers: the block as a graph (`name:` / `inputs:`), then the head."""
    return [
        {"type": "conv2d", "filters": channels, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "conv2d", "filters": channels, "kernel_size": 3, "padding": "same", "name": "branch"},
        {"type": "add", "inputs": ["input", "branch"]},  # the shortcut: the model input itself
        "relu",
        "global_avgpool2d",
        {"type": "dense", "units": 10, "activation": "softmax"},
    ]


def nntrain_step(x, y, channels: int):
    """A function running one nntrain training step on (x, y)."""
    import numpy as np

    from nntrain.nn.graph import build_model
    from nntrain.nn.losses import build_loss
    from nntrain.nn.optimizers import build_optimizer
    from nntrain.train.trainer import Trainer

    model = build_model(block_specs(channels), x.shape[1:], dtype="float32", seed=0)
    trainer = Trainer(model, build_loss("sparse_categorical_crossentropy"),
                      build_optimizer({"type": "adam", "lr": 1e-3}), [])
    xb, yb = np.ascontiguousarray(x), np.ascontiguousarray(y)
    return lambda: trainer.train_step(xb, yb)


def torch_step(x, y, channels: int, threads: int):
    """A function running one PyTorch training step on the same batch (NCHW)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(channels, channels, 3, padding=1)
            self.c2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.head = nn.Linear(channels, 10)

        def forward(self, t):
            h = torch.relu(self.c2(torch.relu(self.c1(t))) + t)
            return self.head(h.mean(dim=(2, 3)))

    model = Block()
    for m in model.modules():  # the init nntrain uses: Glorot uniform, zero biases
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    yt = torch.from_numpy(y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def timed(step, steps: int, warmup: int) -> float:
    """Median seconds of `steps` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=16, help="height and width of the block's input")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round and system")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--systems", default="nntrain,torch", help="comma-separated: nntrain, torch")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    for var in THREAD_VARS:  # before numpy and torch load their thread pools
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # nntrain, also when not installed
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.size, args.size, args.channels)).astype(np.float32)
    y = rng.integers(0, 10, args.batch).astype(np.int64)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    steps, skipped = {}, {}
    for name in systems:
        if name == "nntrain":
            steps[name] = nntrain_step(x, y, args.channels)
        elif name == "torch":
            try:
                steps[name] = torch_step(x, y, args.channels, args.threads)
            except ImportError:
                skipped[name] = "torch is not installed (pip install -e '.[bench]')"
        else:
            raise SystemExit(f"unknown system {name!r}; valid: nntrain, torch")
    medians = {name: [] for name in steps}
    for r in range(args.rounds):
        for name, step in steps.items():  # the systems alternate, round after round
            medians[name].append(timed(step, args.steps, args.warmup))
            print(f"round {r + 1}/{args.rounds}  {name:<8} {medians[name][-1] * 1e3:8.2f} ms/step", file=sys.stderr)
    result = {
        "batch": args.batch, "input": [args.size, args.size, args.channels], "threads": args.threads,
        "rounds": args.rounds, "steps": args.steps,
        "ms_per_step": {k: statistics.median(v) * 1e3 for k, v in medians.items()},
        "ms_per_step_rounds": {k: [t * 1e3 for t in v] for k, v in medians.items()},
        "skipped": skipped, "numpy": np.__version__, "python": platform.python_version(),
    }
    if "torch" in steps:
        import torch

        result["torch"] = torch.__version__
    if {"nntrain", "torch"} <= set(steps):
        result["ratio"] = result["ms_per_step"]["nntrain"] / result["ms_per_step"]["torch"]
    for name, ms in result["ms_per_step"].items():
        print(f"{name:<8} {ms:8.2f} ms/step (median of {args.rounds} rounds)")
    if "ratio" in result:
        print(f"nntrain / PyTorch = {result['ratio']:.2f}")
    for name, why in skipped.items():
        print(f"{name}: skipped, {why}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
