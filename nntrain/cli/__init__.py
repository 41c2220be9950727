"""The `nntrain` command line (typer): thin commands that parse flags, call one library
function and render. The only package that knows typer; no numpy at import, so --help is quick.

`main` holds the app and its commands, `sweep` the sweep group, `options` what they share,
`views` the rich renderings.
"""
from __future__ import annotations

from .main import app

__all__ = ["app"]
