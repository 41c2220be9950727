"""Rich renderings of library results for the CLI (tables, coloured charts).

The library modules return plain data; this module alone turns it into rich objects, so that
the commands in main.py stay short and the library below them stays free of display code.
"""
from __future__ import annotations

import errno
import os
import sys

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .boundary import escape_control

# one style per plotted series, cycled; markers carry the distinction without colour
PIPE_WIDTH = 160
MIN_WIDTH = 60
SERIES_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta")


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich's own answer to a reader that went away is exit 1, which nntrain keeps for a
        diverged run: raise the error instead, which `guarded` ends with 141 (128 + SIGPIPE)."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def console(stderr: bool = False) -> Console:
    """A console; when not writing to a terminal, wide enough that tables do not wrap for grep;
    never narrower than MIN_WIDTH (COLUMNS=10 would squeeze every column to nothing)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    con = _Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False, stderr=stderr, width=width)
    if con.width < MIN_WIDTH:
        con.width = MIN_WIDTH
    return con


def can_encode(encoding: str | None, text: str) -> bool:
    """Whether an output in this encoding can show text (box drawing under LC_ALL=C cannot)."""
    try:
        text.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def runs_table(records: list[dict], sort: str | None = None) -> Table:
    from ..runs.table import FIELDS, final_metrics_text

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
        table.add_row(*(Text(escape_control(c)) for c in row))  # a run folder's name is anyone's text
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


def print_eval(result: dict) -> None:
    """`nntrain eval`: the metrics table, and the confusion matrix for classifiers."""
    out = console()
    best = ", best weights" if result.get("weights") == "best" else ""
    out.print(f"{result['run_dir']} on {result['data']} ({result['samples']} samples{best})", markup=False)
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in result:
        if key not in ("run_dir", "data", "samples", "weights", "confusion_matrix", "classes"):
            table.add_row(key, f"{result[key]:.4f}")
    out.print(table)
    if result.get("confusion_matrix"):
        out.print(confusion_table(result["confusion_matrix"], result.get("classes")))


def confusion_table(matrix: list[list[int]], classes: list[str] | None = None):
    """A rich table of M[true, predicted], the diagonal (correct) in bold; rows and columns named
    after the classes when the run knows their names."""
    names = classes if classes is not None and len(classes) == len(matrix) else [str(i) for i in range(len(matrix))]
    table = Table(title="confusion matrix", title_justify="left", caption="rows: true class; columns: predicted",
                  caption_justify="left")
    table.add_column("true", justify="right")
    for j in range(len(matrix)):
        table.add_column(escape(escape_control(names[j])), justify="right")
    for i, row in enumerate(matrix):
        table.add_row(Text(escape_control(names[i])), *(f"[bold]{v}[/bold]" if i == j else str(v) for j, v in enumerate(row)))
    return table


def print_data_report(report: dict) -> None:
    """`nntrain check` on a CSV: each column as fit takes it, the class balance, the input width."""
    out = console()
    if report["columns"]:
        table = Table(title=f"data: {report['samples']} training samples", title_justify="left")
        for col, justify in (("column", "left"), ("kind", "left"), ("missing", "right"), ("categories", "right"),
                             ("fill", "left"), ("features", "right")):
            table.add_column(col, justify=justify)
        for r in report["columns"]:
            table.add_row(*(Text(escape_control("-" if v is None else str(v))) for v in
                            (r["column"], r["kind"] + (", scaled" if r["scaled"] else ""), r["missing"],
                             r["categories"], r["fill"], r["features"])))
        out.print(table)
    if report["class_balance"]:
        total = sum(report["class_balance"].values())
        shown = ", ".join(f"{escape_control(k)} {v} ({100 * v / total:.1f}%)" for k, v in report["class_balance"].items())
        out.print(f"target {escape_control(report['target'] or '')}: {shown}".replace("target : ", "target: "), markup=False)
    out.print(f"encoded input width: {report['width']}", markup=False)


def print_summary(config, model) -> None:
    """`nntrain check`: layer, output shape and parameter count, like Keras' model.summary()."""
    out = console()
    out.print(f"{config}: input shape {list(model.input_shape)}", markup=False)
    table = Table()
    inputs = model.layer_inputs() if hasattr(model, "layer_inputs") else None  # a graph: what each layer reads
    for col, justify in (("#", "right"), ("layer", "left"), ("inputs", "left"), ("output shape", "left"),
                         ("parameters", "right")):
        if col != "inputs" or inputs:
            table.add_column(col, justify=justify)
    for k, (index, kind, shape, count) in enumerate(model.summary_rows()):
        reads = [", ".join(inputs[k])] if inputs else []
        table.add_row(index, kind, *reads, escape(str(["batch", *shape]).replace("'", "")), f"{count:,}")
    table.add_section()
    table.add_row("", "total", *([""] if inputs else []), "", f"{model.count_params():,}")
    out.print(table)


OPTIMIZER_OPTIONS = ("every optimizer also takes clipnorm (global gradient norm), clipvalue, weight_decay "
                     "(decoupled) and schedule (see schedules)")


def print_registries(kinds: list[str]) -> None:
    """`nntrain list`: one table per registry kind, each entry with its parameters and defaults."""
    from ..config.catalogue import KINDS

    out = console()
    for k in kinds:
        registry = KINDS[k]
        if not registry.names():
            continue
        table = Table(title=k, title_justify="left", show_lines=False,
                      caption=OPTIMIZER_OPTIONS if k == "optimizers" else None, caption_justify="left")
        table.add_column("name", style="bold")
        table.add_column("parameters (default)")
        table.add_column("description")
        for name in registry.names():
            params = ", ".join(p.name if p.required else f"{p.name}={p.default!r}" for p in registry.params(name))
            origin = registry.origin(name)  # an entry from a plugin says which
            label = f"{name} [plugin {origin}]" if origin else name
            table.add_row(escape(label), escape(params or "-"), escape(registry.summary(name)))
        out.print(table)


def print_timing(r: dict) -> None:
    """`nntrain time`: per-layer forward/backward, loss, optimizer, batch and metrics times."""
    out = console()
    out.print(f"{r['config']}: batch {r['batch_size']}, mean of {r['steps']} steps after {r['warmup']} "
              f"warm-up, flush_denormals {'on' if r['flush_denormals'] else 'off'}", markup=False)
    table = Table()
    for col in ("#", "part", "output", "forward ms", "backward ms", "ms", "%"):
        table.add_column(col, justify="left" if col in ("part", "output") else "right")
    pct = lambda ms: f"{ms / r['total_ms'] * 100:.0f}" if r["total_ms"] else "-"  # noqa: E731
    for row in r["layers"]:
        fwd, back = row["forward_ms"], row["backward_ms"]
        table.add_row(row["layer"], row["type"], escape(str(row["output_shape"])),
                      f"{fwd:.3f}", "in loss" if back is None else f"{back:.3f}",
                      f"{fwd + (back or 0.0):.3f}", pct(fwd + (back or 0.0)))
    table.add_section()
    for label, key in (("batch gather", "batch_ms"), ("loss + gradient", "loss_ms"),
                       (f"{r['optimizer']} update", "optimizer_ms"), ("metrics", "metrics_ms")):
        table.add_row("", label, "", "", "", f"{r[key]:.3f}", pct(r[key]))
    table.add_section()
    table.add_row("", "total", "", "", "", f"{r['total_ms']:.3f}", "100")
    out.print(table)
    out.print(f"step without the timers: {r['step_ms']:.3f} ms x {r['batches_per_epoch']} steps "
              f"= about {r['epoch_seconds']:.3g} s per epoch", markup=False)


def print_gradcheck(config, result: dict) -> None:
    """`nntrain gradcheck`: the worst relative error per layer, ok or FAIL."""
    out = console()
    out.print(f"{config}: {result['samples']} samples, float64, tolerance {result['tolerance']:g}", markup=False)
    table = Table()
    for col, justify in (("layer", "left"), ("worst relative error", "right"), ("kinks skipped", "right"),
                         ("", "left")):
        table.add_column(col, justify=justify)
    for name, err in result["errors"].items():
        table.add_row(name, f"{err:.2e}", str(result["kinks_skipped"].get(name, 0)),
                      "ok" if err < result["tolerance"] else "FAIL")
    out.print(table)
