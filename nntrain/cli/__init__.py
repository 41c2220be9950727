"""The `nntrain` command line (typer): thin commands that parse flags, call one library
function and render. The only package that knows typer; no numpy at import, so --help is quick.

`main` holds the app and its commands, `sweep` the sweep group, `options` what they share,
`views` the rich renderings; `boundary` turns library errors into lines and exit codes, and
`fit` is the fit command's body, which a sweep's trials reach without typer.
"""
from __future__ import annotations

__all__ = ["app"]


def __getattr__(name: str):
    # the app (and typer with it) loads when asked for, so `nntrain.cli.fit` can run a trial without it
    if name == "app":
        from .main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
