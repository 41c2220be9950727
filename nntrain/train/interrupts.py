"""Stopping cleanly on Ctrl-C (SIGINT), SIGTERM and SIGUSR1 (SLURM's warning before preemption).

The first signal only sets `trainer.stop_signal`; the trainer finishes the step it is in, saves
a checkpoint and raises Interrupted (exit 128 + signal number: 130, 143, 138). A second signal
stops at once by raising Interrupted right where the program is: files are written to a
temporary name and renamed, so whatever was being written is either complete or absent. After
that the default handlers are back, so a third Ctrl-C kills the process outright.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from ..errors import Interrupted

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1") if hasattr(signal, name))


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


@contextmanager
def stop_on_signals(trainer):
    """Route SIGINT/SIGTERM/SIGUSR1 to `trainer.stop_signal` while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install handlers (e.g. trials run in threads)
        return

    def handler(signum, frame):
        if trainer.stop_signal is None:
            trainer.stop_signal = signum
            return
        for s in SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        raise Interrupted(f"{signal_name(signum)} again: stopped at once", signum)

    # a signal the parent set to be ignored (`nohup`, background jobs of a script) stays ignored
    previous = {s: signal.signal(s, handler) for s in SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
