"""What every command shares: the exit codes, the --set and --json options, the `error:` line
and the guard that turns library errors into it, JSON output, and the progress mode."""
from __future__ import annotations

import functools
import json
import os
import sys
import warnings

import typer
from typer.core import TyperGroup

EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a Unix tool killed by the closed pipe reports

SetOpt = typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                      help="Override a config key; VALUE is YAML. Repeatable. e.g. --set train.epochs=3 "
                           "--set model.layers.0.units=256")
WeightsOpt = typer.Option("last", "--weights", metavar="best|last",
                          help="The last epoch's weights (model.npz) or the best epoch's (best.npz, kept by "
                               "train.checkpoint). e.g. --weights best")
JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON object on stdout at the end. "
                                              "e.g. --json | jq .test.accuracy")


# control characters a user typed (or a file holds) are shown escaped: the error stays one line
# and cannot send escape sequences to the terminal
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}


def escape_control(text: str) -> str:
    """text with its control characters shown as \\xNN: it stays one line and cannot move the cursor."""
    return text.translate(_CONTROL)


def error_line(message: str) -> None:
    print(f"error: {escape_control(message)}", file=sys.stderr, flush=True)


def _click_class(name: str) -> type:
    """click's exception class `name` as this typer raises it: typer re-exports BadParameter,
    whose parents are UsageError and ClickException (click's own, or the copy that newer typers
    vendor), so this finds the right one whichever typer is installed."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


class AppGroup(TyperGroup):
    """The top-level group: a flag click cannot parse (`--height abc`, `--entries 0`, an unknown
    option or command) is one `error:` line and exit 2, like every other bad input, instead of
    click's usage block. Bare `nntrain` (and a group without a command) still shows the help."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        if sys.stdout is None:  # started with stdout closed (`nntrain list >&-`): output goes nowhere
            sys.stdout = open(os.devnull, "w")
        if sys.stderr is None:
            sys.stderr = open(os.devnull, "w")
        # numpy's RuntimeWarnings (overflow, invalid value) are noise on a terminal: the library
        # reports what matters (divergence, data out of range) as an error line of its own
        warnings.simplefilter("ignore", RuntimeWarning)
        usage_error = _click_class("UsageError")
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except usage_error as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `nntrain`: the help, as before
                exc.show()
                sys.exit(exc.exit_code)
            where = exc.ctx.command_path if exc.ctx is not None else "nntrain"
            error_line(f"{exc.format_message()} (see: {where} --help)")
            sys.exit(EXIT_BAD_INPUT)
        except _click_class("ClickException") as exc:
            error_line(exc.format_message())
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what the closed pipe
    did not take raises nothing (Python's documented way out of a broken pipe)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def guarded(func):
    """Turn library errors into `error:` lines and exit codes at the boundary."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..errors import NntrainError

        try:
            return func(*args, **kwargs)
        except NntrainError as exc:
            error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:  # `nntrain runs --json | head`: the reader went away, as with SIGPIPE
            _quiet_stdout()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except OSError as exc:  # any file the library did not name itself: still one line, exit 2
            error_line(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt as exc:  # errors.Interrupted carries the message and 128 + signal
            print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr, flush=True)
            raise typer.Exit(getattr(exc, "exit_code", EXIT_INTERRUPTED)) from None

    return wrapper


def emit_json(obj) -> None:
    """The one JSON object of --json: strict JSON, NaN and infinities as null."""
    from ..runs.folder import finite_json

    print(json.dumps(finite_json(obj), allow_nan=False))


def progress_mode(progress: str, quiet: bool, as_json: bool) -> str:
    from ..errors import NntrainError
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
