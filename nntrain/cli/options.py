"""What every typer command shares: the --set, --weights and --json options, the top-level
group that turns click's usage errors into the `error:` line, and the guard that turns library
errors into it (the line and the codes themselves are in `boundary`, which needs no typer)."""
from __future__ import annotations

import functools
import sys

import typer
from typer.core import TyperGroup

from .boundary import (  # noqa: F401 (the commands import them from here)
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    REPORTED,
    emit_json,
    error_line,
    escape_control,
    failure_code,
    format_metrics,
    prepare_process,
    progress_mode,
)

SetOpt = typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                      help="Override a config key; VALUE is YAML. Repeatable. e.g. --set train.epochs=3 "
                           "--set model.layers.0.units=256")
WeightsOpt = typer.Option("last", "--weights", metavar="best|last",
                          help="The last epoch's weights (model.npz) or the best epoch's (best.npz, kept by "
                               "train.checkpoint). e.g. --weights best")
JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON object on stdout at the end. "
                                              "e.g. --json | jq .test.accuracy")


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
        prepare_process()
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


def guarded(func):
    """Turn library errors into `error:` lines and exit codes at the boundary (`failure_code`)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except REPORTED as exc:
            raise typer.Exit(failure_code(exc)) from None

    return wrapper
