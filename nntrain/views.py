"""Rich renderings of library results for the CLI (tables, coloured charts).

The library modules return plain data; this module alone turns it into rich objects, so that
cli.py commands stay short and lower modules never import rich.
"""
from __future__ import annotations

import os
import sys

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

# one style per plotted series, cycled; markers carry the distinction without colour
PIPE_WIDTH = 160
SERIES_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta")


def console(stderr: bool = False) -> Console:
    """A console; when not writing to a terminal, wide enough that tables do not wrap for grep."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False, stderr=stderr, width=width)


def runs_table(records: list[dict], sort: str | None = None) -> Table:
    from .runlist import FIELDS, final_metrics_text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col, justify in (("name", "left"), ("config", "left"), ("date", "left"), ("epochs", "right"),
                         ("status", "left")):
        table.add_column(col, justify=justify, no_wrap=True)
    table.add_column("final metrics", min_width=24)
    extra = sort if sort and sort not in FIELDS else None
    if extra:
        table.add_column(extra, justify="right")
    for r in records:
        row = [r["name"], r["config"] or "-", (r["date"] or "-")[:16], str(r["epochs"]), r["status"],
               final_metrics_text(r)]
        if extra:
            split, metric = extra.split(".", 1)
            v = (r.get(split) or {}).get(metric)
            row.append("-" if v is None else f"{v:.4g}")
        table.add_row(*(Text(c) for c in row))
    return table


def chart_text(lines: list[list[tuple[str, int | None]]]) -> Text:
    """A chart from plot.render (segments tagged with a series index) as styled text."""
    out = Text()
    for k, line in enumerate(lines):
        for text, series in line:
            out.append(text, style=None if series is None else SERIES_STYLES[series % len(SERIES_STYLES)])
        if k < len(lines) - 1:
            out.append("\n")
    return out
