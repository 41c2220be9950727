"""Live training display, one interface and three faces.

- rich:  a progress bar per epoch (running loss and metrics, samples/s, ETA) and one aligned
         row of metrics per finished epoch; for a terminal.
- plain: one line per epoch, no escape codes; for CI logs, pipes, SLURM, sweeps.
- none:  nothing (--quiet).

Everything goes to stderr, so `--json` output on stdout stays clean. `auto` picks rich when
stderr is a terminal; NNTRAIN_PROGRESS overrides it, and NO_COLOR turns colour off.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from typing import TextIO

MODES = ("auto", "rich", "plain", "none")


def format_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)


def format_logs(logs: dict) -> str:
    return "  ".join(f"{k} {format_value(v)}" for k, v in logs.items())


class Progress:
    """The no-op display (mode none); the others override what they show."""

    def begin(self, epochs: int, steps: int, samples: int, initial_epoch: int = 0) -> None: ...

    def epoch_begin(self, epoch: int) -> None: ...

    def step(self, step: int, samples: int, logs: dict) -> None: ...

    def epoch_end(self, epoch: int, logs: dict, seconds: float) -> None: ...

    def note(self, text: str) -> None: ...

    def end(self) -> None: ...


class PlainProgress(Progress):
    """One line per epoch: `epoch 1/5  loss 0.2612  accuracy 0.9254  ...  3.21s  18689 samples/s`."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.epochs = 0
        self.samples = 0

    def begin(self, epochs, steps, samples, initial_epoch=0):
        self.epochs, self.samples = epochs, samples

    def epoch_end(self, epoch, logs, seconds):
        rate = self.samples / seconds if seconds > 0 else 0.0
        print(f"epoch {epoch}/{self.epochs}  {format_logs(logs)}  {seconds:.2f}s  {rate:.0f} samples/s",
              file=self.stream, flush=True)

    def note(self, text):
        print(text, file=self.stream, flush=True)


class RichProgress(Progress):
    """A rich progress bar for the running epoch above which finished epochs stay as rows."""

    def __init__(self, stream: TextIO | None = None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr, no_color=bool(os.environ.get("NO_COLOR")),
                               highlight=False)
        self.progress = None
        self.columns: list[str] = []

    def begin(self, epochs, steps, samples, initial_epoch=0):
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.epochs, self.steps, self.samples = epochs, steps, samples
        if in_notebook() and importlib.util.find_spec("ipywidgets") is None:
            return  # rich draws a live bar in Jupyter only through ipywidgets: the epoch rows alone
        self.progress = Bar(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} samples/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[logs]}"),
            console=self.console,
            transient=True,
            refresh_per_second=8,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=steps, epoch="", rate="-", logs="")

    def epoch_begin(self, epoch):
        if self.progress is None:
            return
        self.progress.reset(self.task, total=self.steps, epoch=f"{epoch}/{self.epochs}", rate="-", logs="")

    def step(self, step, samples, logs):
        if self.progress is None:
            return
        elapsed = self.progress.tasks[0].elapsed or 0.0
        rate = f"{samples / elapsed:,.0f}" if elapsed > 0 else "-"
        self.progress.update(self.task, completed=step, rate=rate, logs=format_logs(logs))

    def epoch_end(self, epoch, logs, seconds):
        keys = list(logs)
        if keys != self.columns:
            self.columns = keys
            header = "epoch".ljust(8) + "".join(k.rjust(max(len(k), 9) + 2) for k in keys) + "time".rjust(9)
            self.console.print(f"[bold]{header}[/bold]")
        row = f"{epoch}/{self.epochs}".ljust(8)
        row += "".join(format_value(logs[k]).rjust(max(len(k), 9) + 2) for k in keys)
        row += f"{seconds:8.2f}s"
        self.console.print(row)

    def note(self, text):
        self.console.print(text, markup=False)

    def end(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell), where rich draws into the notebook."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def make_progress(mode: str = "auto", stream: TextIO | None = None) -> Progress:
    """The display for `mode` (auto|rich|plain|none); NNTRAIN_PROGRESS wins over auto."""
    stream = stream or sys.stderr
    if mode == "auto":
        mode = os.environ.get("NNTRAIN_PROGRESS", "auto").strip().lower() or "auto"
        if mode not in MODES:
            mode = "auto"
    if mode == "auto":
        isatty = getattr(stream, "isatty", lambda: False)()
        # a Jupyter kernel's streams are no terminal, but rich renders its bar in the notebook
        mode = "rich" if (isatty and os.environ.get("TERM") != "dumb") or in_notebook() else "plain"
    if mode == "rich":
        return RichProgress(stream)
    if mode == "plain":
        return PlainProgress(stream)
    return Progress()
