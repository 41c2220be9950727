"""Time training steps of configs/mnist_cnn.yaml (batch 128) per layer, and project s/epoch.

    python benchmarks/cnn_step.py [--steps 20] [--threads N]

Reports the median wall time of a whole train_step, each layer's forward/backward median,
and the projected seconds per epoch over 54,000 training samples (422 steps). Run it on a quiet
machine: other processes sharing the 2 cores distort every number (OpenBLAS threads especially).
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="OPENBLAS_NUM_THREADS for this run")
    args = ap.parse_args()
    if args.threads:
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    import numpy as np

    sys.path.insert(0, str(ROOT))
    import nntrain
    from nntrain.api import setup
    from nntrain.nn.optimizers import build_optimizer
    from nntrain.train.trainer import Trainer

    cfg = nntrain.load_config(ROOT / "configs" / "mnist_cnn.yaml", ["data.limit=1280", "data.validation_split=0.0"])
    s = setup(cfg)
    trainer = Trainer(s.model, s.loss, build_optimizer(cfg.optimizer), s.metrics)
    xb, yb = s.splits.train.x[:128].copy(), s.y_train[:128].copy()
    for _ in range(3):
        trainer.train_step(xb, yb)
    steps = []
    for _ in range(args.steps):
        t = time.perf_counter()
        trainer.train_step(xb, yb)
        steps.append(time.perf_counter() - t)
    per_layer = collections.defaultdict(list)
    model = s.model
    for _ in range(args.steps):
        h = xb
        for i, layer in enumerate(model.layers):
            t = time.perf_counter()
            h = layer.forward(h, True)
            per_layer[f"{i:>2} {layer.registry_name:<10} forward"].append(time.perf_counter() - t)
        g = s.loss.grad_logits(h, yb)
        for i in range(len(model.layers) - 2, -1, -1):
            t = time.perf_counter()
            g = model.layers[i].backward(g)
            per_layer[f"{i:>2} {model.layers[i].registry_name:<10} backward"].append(time.perf_counter() - t)
    for name, times in sorted(per_layer.items(), key=lambda kv: -np.median(kv[1]))[:10]:
        print(f"{name:<28} {np.median(times) * 1e3:7.2f} ms")
    step = float(np.median(steps))
    print(f"train_step median {step * 1e3:.1f} ms (min {min(steps) * 1e3:.1f}); "
          f"projected {step * 422:.1f} s/epoch (54,000 samples, batch 128)")


if __name__ == "__main__":
    main()
