"""The fit loop: mini-batches -> forward -> loss -> backward -> optimizer step, per epoch.

The trainer knows nothing of files or displays: it reports to a `Progress` and hands every
finished epoch to `on_epoch_end` callbacks (the run folder writer is one).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..data import BatchIterator
from ..errors import DivergedError, Interrupted
from ..nn.losses import Loss
from ..nn.metrics.base import Metric, metric_name
from ..nn.model import Model
from ..nn.optimizers.base import Optimizer
from .progress import Progress

PROGRESS_EVERY = 0.1  # seconds between progress-bar updates (each costs ~50 us of Python)


@dataclass
class TrainState:
    """Where training stands; what the callbacks see."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    history: list[dict] = field(default_factory=list)  # one row per completed epoch
    seconds: float = 0.0  # training time so far
    stop: bool = False  # a callback may set it to end training after this epoch
    skipped: int = 0  # batches skipped for a non-finite loss (train.on_nonfinite: skip_batch)


def is_fused(model: Model, loss: Loss) -> bool:
    """Whether the loss supplies dL/dlogits for the model's output activation."""
    return (not loss.from_logits and loss.fuses_with is not None and bool(model.layers)
            and model.layers[-1].registry_name == loss.fuses_with)


def evaluate(model: Model, loss: Loss, metrics: list[Metric], x: np.ndarray, y: np.ndarray,
             w: np.ndarray | None = None, batch_size: int = 1024) -> dict[str, float]:
    """Mean loss and each metric over (x, y), in inference mode. With sample weights w (n,) the
    loss is their weighted mean, sum w_i l_i / sum w_i; the metrics stay unweighted."""
    for m in metrics:
        m.reset()
    total, count = 0.0, 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        pred = model.forward(xb, training=False)
        if w is None:
            total += loss.value(pred, yb) * len(xb)
            count += len(xb)
        else:
            wb = w[start:start + batch_size]
            mass = float(wb.sum(dtype=np.float64))  # the batch value is a mean over this weight
            total += loss.value(pred, yb, wb) * mass
            count += mass
        for m in metrics:
            m.update(pred, yb)
    out = {"loss": total / count + model.penalty() if count else float("nan")}
    out.update({metric_name(m): m.result() for m in metrics})
    return out


class Callback:
    """Hooks around the fit loop. Schedules, early stopping, checkpoints and the run-folder
    writer are callbacks; each sees the trainer (model, optimizer, ...) and the TrainState."""

    def on_train_begin(self, trainer: "Trainer", st: TrainState) -> None: ...

    def on_epoch_begin(self, trainer: "Trainer", st: TrainState) -> None: ...

    def on_epoch_end(self, trainer: "Trainer", st: TrainState) -> None:
        """st.history[-1] is the finished epoch's row; set st.stop to end training."""

    # before every optimizer step: only callbacks with per_step = True are called, so the
    # loop pays nothing for it otherwise (a per-step schedule)
    per_step = False

    def on_step_begin(self, trainer: "Trainer", st: TrainState) -> None: ...

    def on_step_end(self, trainer: "Trainer", st: TrainState, loss: float) -> None:
        """After a step with a finite loss (st.step counts it); per_step callbacks only."""

    def on_train_end(self, trainer: "Trainer", st: TrainState) -> None: ...


class Trainer:
    """Runs the fit loop. Besides the callbacks, four attributes connect it to the outside:

    checkpoint        called with the trainer to save a resumable state: after every epoch (once
                      the callbacks ran), every `checkpoint_every` steps, and before stopping on
                      a signal. `self.partial` then holds the position inside the epoch.
    checkpoint_every  steps between mid-epoch checkpoints (0: per epoch only).
    on_nonfinite      "stop" (DivergedError) or "skip_batch" when a batch's loss is NaN/inf.
    stop_signal       set (to the signal number) by a signal handler: the trainer finishes the
                      current step, saves a checkpoint and raises Interrupted.
    """

    def __init__(self, model: Model, loss: Loss, optimizer: Optimizer, metrics: list[Metric],
                 progress: Progress | None = None, callbacks: list[Callback] | None = None):
        self.model, self.loss, self.optimizer, self.metrics = model, loss, optimizer, metrics
        self.progress = progress or Progress()
        self.callbacks = list(callbacks or [])
        self.fused = is_fused(model, loss)
        optimizer.overwrite_grads = True  # gradients are read before the step only
        self.state = TrainState()
        # shuffling has its own stream, independent of init and dropout draws
        self.shuffle_rng = np.random.default_rng(np.random.SeedSequence(model.seed).spawn(2)[1])
        self.checkpoint: Callable[["Trainer"], None] | None = None
        self.checkpoint_every = 0
        self.on_nonfinite = "stop"
        self.stop_signal: int | None = None
        self.partial: EpochPosition | None = None  # the epoch in progress (set by resume / for saving)
        self.steps_per_epoch = 0  # batches per epoch, known once fit has the data

    def train_step(self, xb: np.ndarray, yb: np.ndarray, wb: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """One optimizer step on a batch (with sample weights wb, or None); returns (loss before
        the step, predictions).

        A non-finite loss returns at once: no update is ever computed from it, so the caller
        can stop with the parameters intact or skip the batch.
        """
        pred = self.model.forward(xb, training=True)
        if self.fused:  # dL/dlogits computed with the value: nothing is updated from it before the check
            value, grad = self.loss.value_and_grad_logits(pred, yb, wb)
            value += self.model.penalty()
            if not math.isfinite(value):
                return value, pred
        else:
            value = self.loss.value(pred, yb, wb) + self.model.penalty()
            if not math.isfinite(value):
                return value, pred
            grad = self.loss.grad(pred, yb, wb)
        self.model.backward(grad, skip_last=self.fused)
        self.optimizer.step(self.model.param_groups())
        return value, pred

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, shuffle: bool = True,
            val: tuple | None = None, w: np.ndarray | None = None) -> TrainState:
        """Train until `epochs` epochs are complete, continuing from `self.state` / `self.partial`.

        w: (n,) sample weights of (x, y), or None; val: (x, y) or (x, y, w)."""
        batches = BatchIterator(_Set(x, y, w), batch_size, shuffle=shuffle)
        steps = self.steps_per_epoch = len(batches)
        st = self.state
        self.progress.begin(epochs, steps, len(x), initial_epoch=st.epoch)
        # overflow and NaN are the trainer's to report (DivergedError, or skip_batch), with the
        # layer that went non-finite: numpy's RuntimeWarnings would only print noise before it
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                self._call("on_train_begin")
                while st.epoch < epochs and not st.stop:
                    if self.stop_signal is not None:  # arrived between epochs: the state is complete
                        self._save()
                        raise self._interrupted(st.epoch + 1, 0, steps)
                    self._call("on_epoch_begin")
                    row = self._epoch(batches, st.epoch + 1, steps, len(x), val)
                    st.epoch += 1
                    st.history.append(row)
                    self._call("on_epoch_end")
                    self._save()
                self._call("on_train_end")
            finally:
                self.progress.end()
        return st

    def _call(self, hook: str) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, self.state)

    def _save(self) -> None:
        if self.checkpoint is not None:
            self.checkpoint(self)

    def _epoch(self, batches: BatchIterator, epoch: int, steps: int, n: int, val) -> dict:
        st = self.state
        pos, self.partial = self.partial, None
        if pos is None:
            for m in self.metrics:
                m.reset()
            pos = EpochPosition(batches.order(self.shuffle_rng))
        elif pos.order.shape != (n,) or not 0 <= pos.cursor <= steps:
            raise ValueError(f"the saved epoch position does not fit {n} samples in {steps} batches")
        self.progress.epoch_begin(epoch)
        total, seen, skipped, k = pos.total, pos.seen, pos.skipped, pos.cursor
        mass = pos.weight  # sum of the sample weights trained on (weighted data only)
        every = self.checkpoint_every
        step_hooks = [cb for cb in self.callbacks if getattr(cb, "per_step", False)]
        start = last_shown = time.perf_counter()
        for xb, yb, wb in batches.batches(pos.order, pos.cursor):
            k += 1
            for cb in step_hooks:
                cb.on_step_begin(self, st)
            value, pred = self.train_step(xb, yb, wb)
            if math.isfinite(value):
                st.step += 1
                if wb is None:
                    total += value * len(xb)
                else:  # the epoch's loss is sum w_i l_i / sum w_i, as one batch's is
                    batch_mass = float(wb.sum(dtype=np.float64))
                    total += value * batch_mass
                    mass += batch_mass
                seen += len(xb)
                for m in self.metrics:
                    m.update(pred, yb)
                for cb in step_hooks:
                    cb.on_step_end(self, st, value)
                due = every and st.step % every == 0 and k < steps
            else:
                self._nonfinite(value, epoch, k, steps, xb)  # raises unless skipping
                skipped += 1
                st.skipped += 1
                due = False
            if due or self.stop_signal is not None:
                self.partial = EpochPosition(pos.order, k, total, seen, skipped,
                                             pos.seconds + time.perf_counter() - start, mass)
                self._save()
                if self.stop_signal is not None:
                    raise self._interrupted(epoch, k, steps)
                self.partial = None
            now = time.perf_counter()
            if now - last_shown >= PROGRESS_EVERY:
                last_shown = now
                self.progress.step(k, seen, self._logs(total, seen if batches.ds.w is None else mass))
        if seen == 0:
            raise DivergedError(f"every batch of epoch {epoch} had a non-finite loss; "
                                f"{self.lr_suggestion()}")
        self._check_finite(epoch)  # before validation and before anything is written for this epoch
        seconds = pos.seconds + time.perf_counter() - start
        st.seconds += seconds
        row = {"epoch": epoch, "lr": self.optimizer.lr}
        logs = self._logs(total, seen if batches.ds.w is None else mass)
        if val is not None:
            logs.update({f"val_{k}": v for k, v in evaluate(self.model, self.loss, self.metrics, *val).items()})
        row.update(logs)
        row["seconds"] = round(seconds, 4)
        self.progress.epoch_end(epoch, logs, seconds)
        if skipped:
            self.progress.note(f"epoch {epoch}: skipped {skipped} of {steps} batches with a non-finite loss")
        return row

    def _nonfinite(self, value: float, epoch: int, k: int, steps: int, xb: np.ndarray) -> None:
        """A batch's loss is NaN/inf: raise DivergedError, or return to skip the batch."""
        where = find_nonfinite(self.model, xb)
        broken = not np.isfinite(self.model.flat_params).all()
        if self.on_nonfinite == "skip_batch" and not broken:
            return
        why = " (skipping cannot help: the parameters themselves are non-finite)" if broken and \
            self.on_nonfinite == "skip_batch" else ""
        raise DivergedError(f"the loss became {value} at epoch {epoch}, step {k} of {steps}{why}; "
                            f"{where}; {self.lr_suggestion()}")

    def _check_finite(self, epoch: int) -> None:
        """DivergedError when a finite loss still left non-finite parameters (an overflowing
        gradient): one O(P) sum per epoch (and per checkpoint), never per step."""
        model = self.model
        flat = model.flat_params
        if not np.isfinite(flat.sum(dtype=np.float64)):
            where = find_nonfinite(model, np.zeros((1,) + model.input_shape, model.dtype))
            raise DivergedError(f"the parameters became non-finite in epoch {epoch} (by step {self.state.step}); "
                                f"{where}; {self.lr_suggestion()}")
        # finite but past sqrt(dtype max) (1.8e19 in float32): products of such weights overflow,
        # and a clipped loss (cross-entropy clips probabilities) would hide it and end `done`
        limit = math.sqrt(float(np.finfo(flat.dtype).max))
        if flat.size and max(float(flat.max()), -float(flat.min())) > limit:
            name, p = max(((name, p) for name, p, _ in model.named_params() if p.size),
                          key=lambda item: float(np.abs(item[1]).max()))
            raise DivergedError(f"the parameters grew to {float(np.abs(p).max()):.3g} in epoch {epoch} (largest in {name}), "
                                f"beyond {limit:.3g}, where their products overflow {flat.dtype.name}, although the loss "
                                f"stayed finite; {self.lr_suggestion()}")

    def lr_suggestion(self) -> str:
        """What to change: the learning rate, or the schedule that took it somewhere else."""
        lr = self.optimizer.lr
        for cb in self.callbacks:
            base = getattr(getattr(cb, "schedule", None), "base_lr", None)
            if base is not None and not math.isclose(lr, base, rel_tol=1e-9):
                return (f"the schedule (optimizer.schedule) had taken the learning rate to {lr:g} "
                        f"from optimizer.lr {base:g}; check the schedule's settings or lower optimizer.lr")
        return f"try a lower learning rate (optimizer.lr is {lr:g})"

    def _interrupted(self, epoch: int, k: int, steps: int) -> Interrupted:
        from .interrupts import signal_name

        signum = self.stop_signal
        where = f"at epoch {epoch}, step {k} of {steps}" if k else f"before epoch {epoch}"
        return Interrupted(f"stopped by {signal_name(signum)} {where}", signum)

    def _logs(self, total: float, seen: float) -> dict[str, float]:
        """total: the sum of batch loss * batch size (or weight); seen: of the sizes (weights)."""
        logs = {"loss": total / seen if seen else float("nan")}
        logs.update({metric_name(m): m.result() for m in self.metrics})
        return logs


@dataclass
class EpochPosition:
    """How far an epoch got: what a mid-epoch checkpoint records to continue it exactly."""

    order: np.ndarray  # this epoch's sample order (n,)
    cursor: int = 0  # batches done
    total: float = 0.0  # sum of batch loss * batch size (weighted: * batch weight) so far
    seen: int = 0  # samples trained on so far
    skipped: int = 0  # batches skipped for a non-finite loss
    seconds: float = 0.0  # time spent in the epoch so far
    weight: float = 0.0  # sum of the sample weights trained on so far (weighted data only)


def find_nonfinite(model: Model, xb: np.ndarray) -> str:
    """Which layer first holds non-finite gradients or parameters, or else first outputs them
    on the batch xb (one inference forward pass; no random draws)."""
    for i, layer in enumerate(model.layers):
        for kind, arrays in (("gradient", layer.grads), ("parameter", layer.params)):
            for name, a in arrays.items():
                if not np.isfinite(a).all():
                    return f"layer {i} ({layer.registry_name}) {kind} {name} went non-finite"
    x = xb
    if not np.isfinite(x).all():
        return "the input batch holds NaN or inf"
    with np.errstate(all="ignore"):  # the overflow is what we are looking for, not news
        for i, layer, x in model.outputs(x):
            if not np.isfinite(x).all():
                return f"layer {i} ({layer.registry_name}) output went non-finite (overflow)"
    return "the parameters and outputs are finite, so the loss itself overflowed"


@dataclass
class _Set:
    """The (x, y, w) BatchIterator draws from."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)
