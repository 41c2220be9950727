"""Where library errors become the command line's: the exit codes, the one `error:` line, the
`interrupted:` line, JSON output and the progress mode. No typer here: `cli/fit.py` runs a
sweep's trial with these alone, and `options.guarded` wraps the typer commands with them."""
from __future__ import annotations

import json
import os
import sys
import warnings

from ..errors import NntrainError

EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a Unix tool killed by the closed pipe reports

# the exceptions `failure_code` turns into a line and an exit code; any other is a bug (a traceback)
REPORTED = (NntrainError, OSError, KeyboardInterrupt)

# control characters a user typed (or a file holds) are shown escaped: the error stays one line
# and cannot send escape sequences to the terminal
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}


def escape_control(text: str) -> str:
    """text with its control characters shown as \\xNN: it stays one line and cannot move the cursor."""
    return text.translate(_CONTROL)


def error_line(message: str) -> None:
    print(f"error: {escape_control(message)}", file=sys.stderr, flush=True)


def prepare_process() -> None:
    """What every command's process gets before the command runs: streams to write to, and
    numpy's RuntimeWarnings (overflow, invalid value) silenced, since they are noise on a
    terminal: the library reports what matters (divergence, data out of range) as its own line."""
    if sys.stdout is None:  # started with stdout closed (`nntrain list >&-`): output goes nowhere
        sys.stdout = open(os.devnull, "w")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")
    warnings.simplefilter("ignore", RuntimeWarning)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what the closed pipe
    did not take raises nothing (Python's documented way out of a broken pipe)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def failure_code(exc: BaseException) -> int:
    """The exit code of one of the REPORTED exceptions, after its one line on stderr: a library
    error's `error:` line and code, a closed pipe's silent 141, any other file error's `error:`
    line and 2, and an interrupt's `interrupted:` line and 128 + the signal."""
    if isinstance(exc, NntrainError):
        error_line(str(exc))
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # `nntrain runs --json | head`: the reader went away, as with SIGPIPE
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    if isinstance(exc, OSError):  # any file the library did not name itself: still one line, exit 2
        error_line(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
        return EXIT_BAD_INPUT
    # errors.Interrupted carries the message and 128 + signal
    print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr, flush=True)
    return getattr(exc, "exit_code", EXIT_INTERRUPTED)


def emit_json(obj) -> None:
    """The one JSON object of --json: strict JSON, NaN and infinities as null."""
    from ..runs.folder import finite_json

    print(json.dumps(finite_json(obj), allow_nan=False))


def progress_mode(progress: str, quiet: bool, as_json: bool) -> str:
    from ..train.progress import MODES

    if progress not in MODES:
        raise NntrainError(f"--progress must be one of {', '.join(MODES)}, got {progress!r}")
    env = os.environ.get("NNTRAIN_PROGRESS")
    if progress == "auto" and env and env.strip().lower() not in MODES:
        raise NntrainError(f"NNTRAIN_PROGRESS must be one of {', '.join(MODES)}, got {env!r}")
    return "none" if quiet else progress


def format_metrics(d: dict | None) -> str:
    from ..train.progress import format_logs

    return format_logs(d) if d else "-"
