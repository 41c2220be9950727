"""Where the time of a training step goes: `nntrain time CONFIG` (like `caffe time`).

One step is timed part by part, with the same calls `Trainer.train_step` makes: gathering
the batch, each layer's forward, the loss (value and gradient), each layer's backward in
reverse, the optimizer update and the metrics. Each part is the mean over `steps` steps after
`warmup` untimed ones, in milliseconds. The same number of uninstrumented steps (batch,
`Trainer.train_step`, metrics: the fit loop's work) gives the step time without the timers.
"""
from __future__ import annotations

import time

import numpy as np

from ..config.schema import Config
from ..data import BatchIterator, Dataset
from ..errors import NntrainError
from ..train.trainer import Trainer, is_fused


def time_config(cfg: Config, batch_size: int | None = None, steps: int = 20, warmup: int = 3) -> dict:
    """Per-part step times of a config's model on its training data (see the module doc)."""
    from ..api import setup
    from ..nn.optimizers.base import build_optimizer
    from ..train.denormals import flush_denormals

    for name, value, low in (("--steps", steps, 1), ("--batch-size", batch_size, 1), ("warmup", warmup, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise NntrainError(f"{name} must be an integer >= {low}, got {value!r}")
    s = setup(cfg)
    n = len(s.splits.train)
    if batch_size is None:
        batch_size = n if cfg.train.batch_size == "full" else cfg.train.batch_size
    trainer = Trainer(s.model, s.loss, build_optimizer(cfg.optimizer), s.metrics)
    with flush_denormals(cfg.train.flush_denormals) as flushing:
        result = time_steps(trainer, s.splits.train.x, s.y_train, batch_size, steps, warmup)
    result.update(config=cfg.path, flush_denormals=flushing)
    return result


def time_steps(trainer: Trainer, x: np.ndarray, y: np.ndarray, batch_size: int, steps: int,
               warmup: int = 3) -> dict:
    """Mean milliseconds per part of a training step, on batches of (x, y)."""
    model, loss, opt = trainer.model, trainer.loss, trainer.optimizer
    layers = model.layers
    fused = is_fused(model, loss)
    batches = BatchIterator(Dataset(x, y), batch_size, shuffle=True)
    rng = np.random.default_rng(0)
    stream = _endless(batches, rng)
    fwd = np.zeros(len(layers))
    bwd = np.zeros(len(layers))
    parts = dict.fromkeys(("batch", "loss", "optimizer", "metrics"), 0.0)
    clock = time.perf_counter
    # each layer's forward and backward timed where the model calls them, so a graph (layers in
    # topological order, gradients summed at fan-outs) is timed as it runs
    for i, layer in enumerate(layers):
        layer.forward = _timed(layer.forward, fwd, i, clock)  # shadows the method on the instance
        layer.backward = _timed(layer.backward, bwd, i, clock)
    try:
        for k in range(warmup + steps):
            if k == warmup:  # what came before was warm-up
                fwd[:], bwd[:] = 0.0, 0.0
                parts = dict.fromkeys(parts, 0.0)
            t0 = clock()
            xb, yb, _ = next(stream)
            parts["batch"] += clock() - t0
            h = model.forward(xb, True)
            t1 = clock()
            loss.value(h, yb)
            g = loss.grad_logits(h, yb) if fused else loss.grad(h, yb)
            parts["loss"] += clock() - t1
            model.backward(g, skip_last=fused)
            t2 = clock()
            opt.step(model.param_groups())
            t3 = clock()
            parts["optimizer"] += t3 - t2
            for m in trainer.metrics:
                m.update(h, yb)
            parts["metrics"] += clock() - t3
    finally:
        for layer in layers:
            del layer.forward, layer.backward
    plain = _plain_step_seconds(trainer, stream, steps)
    ms = 1e3 / steps
    rows = []
    for i, (index, kind, shape, count) in enumerate(model.summary_rows()):
        skipped = fused and i == len(layers) - 1  # its Jacobian is folded into the loss gradient
        rows.append({"layer": index, "type": kind, "output_shape": list(shape), "parameters": count,
                     "forward_ms": fwd[i] * ms, "backward_ms": None if skipped else bwd[i] * ms})
    others = {k: v * ms for k, v in parts.items()}
    total = float(fwd.sum() + bwd.sum()) * ms + sum(others.values())
    batches_per_epoch = len(batches)
    return {
        "batch_size": batches.batch_size,
        "steps": steps,
        "warmup": warmup,
        "layers": rows,
        "batch_ms": others["batch"],
        "loss_ms": others["loss"],
        "optimizer": opt.registry_name,
        "optimizer_ms": others["optimizer"],
        "metrics_ms": others["metrics"],
        "total_ms": total,
        "step_ms": plain * 1e3,  # batch + train_step + metrics, without the timers
        "epoch_seconds": plain * batches_per_epoch,  # estimate: step_ms times batches per epoch
        "batches_per_epoch": batches_per_epoch,
        "numpy": np.__version__,
    }


def _timed(method, into: np.ndarray, i: int, clock):
    """method, adding the seconds of each call to into[i]."""
    def run(*args):
        start = clock()
        out = method(*args)
        into[i] += clock() - start
        return out
    return run


def _endless(batches: BatchIterator, rng: np.random.Generator):
    while True:
        yield from batches.batches(batches.order(rng))


def _plain_step_seconds(trainer: Trainer, stream, steps: int) -> float:
    """Mean seconds of what the fit loop does per step, without the per-part timers:
    gather the batch, Trainer.train_step, update the metrics."""
    start = time.perf_counter()
    for _ in range(steps):
        xb, yb, _ = next(stream)
        _, pred = trainer.train_step(xb, yb)
        for m in trainer.metrics:
            m.update(pred, yb)
    return (time.perf_counter() - start) / steps
