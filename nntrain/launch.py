"""The `nntrain` process: what the console script and `python -m nntrain` run.

SIGINT, SIGTERM and SIGUSR1 end nntrain with 128 + the signal number (130, 143, 138), one
`interrupted:` line on stderr and no traceback, whenever they arrive: while Python imports
typer, rich, yaml and numpy, while the config is parsed and the data read, while the run folder
is made, and after training. `main` installs its handlers before it imports anything else of
nntrain's; once training runs, `train.interrupts.stop_on_signals` replaces them (stop after the
step, save, exit the same way) and puts them back when training ends.

A plain `fit` command line, the one a sweep gives each trial, runs through `cli.fit` without
typer (and the pydantic typer converts values with): the same body, output and exit codes, at
a fraction of the start-up (benchmarks/sweep_overhead.py). Everything else goes to the typer app.

A signal raises `errors.Interrupted` where the program is, like Ctrl-C's KeyboardInterrupt, so
the code on the way up cleans up: a run folder's lock is dropped, a file being written is
either complete or absent, and a run whose training had begun is recorded `interrupted` and
resumable. A signal that lands in this module's own lines (the command has not begun or has
ended) exits at once: there is nothing to clean up, and it must not raise where nothing catches.

The one window left is Python's own start-up, before `main` runs: the interpreter, `site` (in
an editable install it imports the finder, and pathlib with it), runpy or the console script,
`nntrain` and this module with `errors`. Measured (Python 3.11, editable install, CPU time of
`python -c 'import nntrain.launch'` and `python -X importtime -c pass`): about 30 ms, of which
8 ms interpreter, 14 ms `site` (most of it the editable finder, which a regular install does not
have), 7 ms the rest; in wall-clock time on a loaded machine several times that (80-120 ms with
load 6 on 2 cores). There Python's defaults apply: SIGTERM and SIGUSR1 kill the process (the
shell reports 143 and 138, `subprocess` -15 and -10), Ctrl-C gives a KeyboardInterrupt
traceback (exit 1 inside `site`); no run folder exists yet.
"""
from __future__ import annotations

import os
import signal
import sys

from .errors import Interrupted

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1") if hasattr(signal, name))

_raised: list[Interrupted] = []  # every Interrupted the handler raised, in order
_ended = False  # the command is over: a signal now exits at once


def _on_signal(signum: int, frame) -> None:
    exc = Interrupted(f"stopped by {signal.Signals(signum).name}", signum)
    if _ended or frame is None or frame.f_globals.get("__name__") == __name__:
        _exit_now(exc)
    _raised.append(exc)
    raise exc


def _exit_now(exc: Interrupted) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()  # what the command printed (its --json line) is not lost
        except Exception:  # no stream, a closed pipe, or the signal landed inside this very flush
            pass
    _say(f"interrupted: {exc}", os.write)
    os._exit(exc.exit_code)


def _say(line: str, write=None) -> None:
    """The `interrupted:` line on stderr, where there is one to write to."""
    try:
        if write is not None:  # in a signal handler: not through sys.stderr, which may be mid-write
            write(2, (line + "\n").encode())
        elif sys.stderr is not None:
            print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed: the exit code still says it
        pass


def _install(handler) -> None:
    for s in SIGNALS:
        # a signal the parent set to be ignored (`nohup`, background jobs of a script) stays ignored
        if signal.getsignal(s) is not signal.SIG_IGN:
            try:
                signal.signal(s, handler)
            except ValueError:  # not the main thread: only it may install handlers
                return


def _reported(exc: Interrupted) -> bool:
    """Whether nntrain's own code caught `exc` (`cli.options.guarded` prints the `interrupted:`
    line; `api` records the run and raises its own Interrupted, which `guarded` prints).

    A traceback grows by one frame for each frame the exception leaves, so its first frame is
    the one that caught it. typer catches a KeyboardInterrupt that lands while it parses the
    flags and exits 130 without a word (143 would be right for SIGTERM)."""
    tb = exc.__traceback__
    catcher = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return catcher.startswith("nntrain.") and catcher != __name__


def _run():
    """The command's exit code (an int, or None or a message, as `sys.exit` takes them)."""
    try:
        from .cli.fit import plain_args, run_plain

        args = plain_args(sys.argv[1:])
        if args is not None:  # a sweep's trial: `fit CONFIG --set ... --json --quiet`, without typer
            return run_plain(args)
        from .cli import app

        app(prog_name="nntrain")  # the app ends in sys.exit, however the command ends
    except SystemExit as exc:
        return exc.code
    except KeyboardInterrupt as exc:  # landed outside the command: in an import, in click's parsing
        if exc in _raised:
            return None  # main says so
        _say(f"interrupted: {exc}" if str(exc) else "interrupted")  # raised by code, not by our handler
        return getattr(exc, "exit_code", 128 + signal.SIGINT)
    return 0


def main():
    """Run the `nntrain` command line and return its exit code (for `sys.exit`)."""
    global _ended
    _install(_on_signal)
    code = _run()
    if _raised and not _reported(_raised[-1]):
        _say(f"interrupted: {_raised[-1]}")
        code = _raised[-1].exit_code
    _ended = True  # from here to the end of the process (atexit, thread joins) a signal exits at once
    return code
