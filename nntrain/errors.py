"""The one exception family nntrain raises for problems a user can fix, and the did-you-mean
hint its messages carry.

The CLI turns an `NntrainError` into a single `error:` line on stderr and its `exit_code`;
anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import difflib


class NntrainError(Exception):
    """A problem with the user's input: config, data, flags or a run folder (exit code 2)."""

    exit_code = 2

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.message = message
        self.key = key  # dotted config key the problem is about (e.g. "model.layers.1.units")
        self.where: str | None = None  # "file:line:column" once a config has located the key

    def __str__(self) -> str:
        head = ": ".join(part for part in (self.where, self.key) if part)
        return f"{head}: {self.message}" if head else self.message


class ConfigError(NntrainError):
    """A config file or a `--set` override is invalid."""


class DataError(NntrainError):
    """A data file or built-in dataset cannot be read or does not fit the model."""


class RunError(NntrainError):
    """A run folder is missing, incomplete or does not match its config."""


class DivergedError(NntrainError):
    """Training produced a non-finite loss (exit code 1)."""

    exit_code = 1


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal (Ctrl-C, SIGTERM, SIGUSR1); exit code 128 + the signal number.

    A KeyboardInterrupt (not an Exception) so no `except Exception` on the way up swallows it.
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.message = message
        self.signum = signum
        self.exit_code = 128 + signum

    def __str__(self) -> str:
        return self.message


def did_you_mean(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' for the closest valid names, or '' when none is close."""
    close = difflib.get_close_matches(str(name), list(valid), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
