"""Learning curves of runs (`nntrain plot`): text charts for the terminal, PNG/SVG via matplotlib.

    charts = collect(["runs/a", "runs/b"], metrics=["loss"])   # {metric: [Series, ...]}
    lines = render(charts, width=60, height=12)               # text, each segment tagged by series
    save_figure(charts, "curves.png")                          # needs the `plot` extra

Each run contributes a train series and, when it has validation data, a val series per metric,
read from its metrics.csv (one row per epoch). The terminal chart needs nothing beyond the
standard library: one character grid per metric, one marker character per series (colour is
added by the CLI on a terminal), values linearly interpolated between epochs.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from .. import runs
from ..errors import NntrainError, RunError
from .folder import check_out_file

NOT_METRICS = ("epoch", "seconds")
MARKERS = "*o+x#@%&=~"
FORMATS = ("png", "svg")
# matplotlib figure: one panel per metric, PANEL inches each at DPI, up to COLUMNS per row
PANEL, DPI, COLUMNS = (5.0, 3.5), 100, 3


@dataclass
class Series:
    label: str
    epochs: list[int]
    values: list[float]  # nan where the value is missing or not finite
    val: bool  # validation series (dashed in pictures)


def load_history(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run folder not found: {path}")
    rows = runs.read_metrics_csv(path / runs.METRICS)
    if not rows:
        raise RunError(f"{path} has no {runs.METRICS} yet: no epoch has finished")
    return rows


def run_labels(paths: list[Path]) -> list[str]:
    """Short names telling the runs apart: the last path parts that differ ('a/20261126-1400')."""
    parts = [Path(p).resolve().parts for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def metric_names(rows: list[dict]) -> list[str]:
    """Base metric names in column order ('loss', 'accuracy'); val_x belongs to x; lr is extra."""
    names: list[str] = []
    for key in rows[0]:
        base = key.removeprefix("val_")
        if key not in NOT_METRICS and key != "lr" and base not in names:
            names.append(base)
    return names


def _number(v) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan


def collect(run_dirs: list[str | Path], metrics: list[str] | None = None,
            skipped: list[str] | None = None) -> dict[str, list[Series]]:
    """{metric: series of every run} for the chosen metrics (default: loss and the config's).

    A metric may be a base name (accuracy: train and val), val_NAME (val only) or lr. With a
    `skipped` list, runs without a finished epoch (a trial that diverged at once, say) are
    left out and their messages appended to it, as long as one run remains.
    """
    histories, kept = [], []
    for d in run_dirs:
        try:
            histories.append(load_history(d))
            kept.append(Path(d))
        except RunError as exc:
            if skipped is None or (d == run_dirs[-1] and not kept):
                raise
            skipped.append(str(exc))
    labels = run_labels(kept)
    available = []
    for rows in histories:
        available += [m for m in metric_names(rows) if m not in available]
    chosen = list(metrics) if metrics else available
    charts: dict[str, list[Series]] = {}
    for metric in chosen:
        series = []
        for label, rows in zip(labels, histories):
            prefix = "" if len(labels) == 1 else label + " "
            keys = [metric] if metric.startswith("val_") or metric == "lr" else [metric, f"val_{metric}"]
            for key in keys:
                if key in rows[0]:
                    tag = "val" if key.startswith("val_") else ("train" if key != "lr" else "lr")
                    series.append(Series(prefix + tag, [int(r["epoch"]) for r in rows],
                                         [_number(r.get(key)) for r in rows], key.startswith("val_")))
        if not series:
            from ..errors import did_you_mean

            valid = available + ["lr"] + [f"val_{m}" for m in available]
            raise NntrainError(f"--metric {metric!r} is in no run's {runs.METRICS}{did_you_mean(metric, valid)}; "
                               f"valid: {', '.join(valid)}")
        charts[metric] = series
    return charts


# -- the terminal chart ---------------------------------------------------------------------
Line = list[tuple[str, "int | None"]]  # text segments, each tagged with a series index or None


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _interp(epochs: list[int], values: list[float], e: float) -> float:
    """Value at (fractional) epoch e, linear between the neighbouring epochs; nan outside."""
    for k in range(len(epochs) - 1):
        if epochs[k] <= e <= epochs[k + 1]:
            t = (e - epochs[k]) / (epochs[k + 1] - epochs[k])
            return values[k] + t * (values[k + 1] - values[k])
    return values[0] if len(epochs) == 1 and abs(e - epochs[0]) < 0.5 else math.nan


# the axes' characters: box drawing, or plain ASCII for an output that cannot encode it
AXES = {"tick": "┤", "bar": "│", "corner": "└", "mark": "┬", "rule": "─"}
ASCII_AXES = {"tick": "+", "bar": "|", "corner": "+", "mark": "+", "rule": "-"}


def render_chart(title: str, series: list[Series], width: int = 60, height: int = 12,
                 first_index: int = 0, axes: dict[str, str] = AXES) -> list[Line]:
    """One metric as a character grid: y labels on the left, epochs below, legend last."""
    finite = [v for s in series for v in s.values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        lo, hi = lo - (abs(lo) * 0.05 or 1.0), hi + (abs(hi) * 0.05 or 1.0)
    e0 = min(s.epochs[0] for s in series)
    e1 = max(s.epochs[-1] for s in series)
    grid: list[list[tuple[str, int | None]]] = [[(" ", None)] * width for _ in range(height)]

    def row_of(v: float) -> int:
        return round((hi - v) / (hi - lo) * (height - 1))

    for k, s in enumerate(series):
        marker, index = MARKERS[(first_index + k) % len(MARKERS)], first_index + k
        prev = None
        for c in range(width):
            e = e0 + (c / (width - 1)) * (e1 - e0) if e1 > e0 else e0
            v = _interp(s.epochs, s.values, e) if e1 > e0 else (s.values[-1] if c == width // 2 else math.nan)
            if not math.isfinite(v):
                prev = None
                continue
            r = row_of(v)
            # fill the vertical gap to the previous column so steep segments stay connected
            top, bottom = (r, r) if prev is None else (min(r, prev + (r > prev)), max(r, prev - (r < prev)))
            for rr in range(top, bottom + 1):
                grid[rr][c] = (marker, index)
            prev = r
    # the value each labelled row stands for: hi - r (hi - lo) / (height - 1)
    labels = {r: _fmt(hi - r * (hi - lo) / (height - 1)) for r in (0, (height - 1) // 2, height - 1)}
    pad = max(len(t) for t in labels.values())
    lines: list[Line] = [[(title, None)]]
    for r in range(height):
        axis = f"{labels[r]:>{pad}} {axes['tick']}" if r in labels else " " * pad + f" {axes['bar']}"
        lines.append([(axis, None)] + _merge(grid[r]))
    ticks = _epoch_ticks(e0, e1, width)
    lines.append([(" " * pad + f" {axes['corner']}" + "".join(axes["mark"] if c in ticks else axes["rule"]
                                                           for c in range(width)), None)])
    under = [" "] * (width + 8)
    for c, e in sorted(ticks.items()):
        text = str(e)
        start = max(0, c - len(text) // 2)
        if all(ch == " " for ch in under[max(0, start - 1):start + len(text) + 1]):
            under[start:start + len(text)] = text
    lines.append([(" " * (pad + 2) + "".join(under).rstrip() + "  epoch", None)])
    legend: Line = [(" " * (pad + 2), None)]
    for k, s in enumerate(series):
        legend += [(f"{MARKERS[(first_index + k) % len(MARKERS)]} {s.label}", first_index + k), ("   ", None)]
    lines.append(legend[:-1])
    return lines


def _merge(cells: list[tuple[str, int | None]]) -> Line:
    """Adjacent cells of the same series as one segment."""
    out: Line = []
    for ch, idx in cells:
        if out and out[-1][1] == idx:
            out[-1] = (out[-1][0] + ch, idx)
        else:
            out.append((ch, idx))
    return out


def _epoch_ticks(e0: int, e1: int, width: int) -> dict[int, int]:
    """{column: epoch} for at most ~width/8 integer epochs, always the first and last."""
    if e1 == e0:
        return {width // 2: e0}
    step = max(1, math.ceil((e1 - e0) / max(1, width // 8)))
    epochs = list(range(e0, e1 + 1, step))
    if epochs[-1] != e1:
        if e1 - epochs[-1] < step / 2:
            epochs.pop()
        epochs.append(e1)
    return {round((e - e0) / (e1 - e0) * (width - 1)): e for e in epochs}


def render(charts: dict[str, list[Series]], width: int = 60, height: int = 12, ascii: bool = False) -> list[Line]:
    """Every metric's chart, one below the other; series keep one marker across charts. ascii:
    plain ASCII axes, for an output whose encoding has no box drawing (LC_ALL=C, ascii)."""
    if width < 10 or height < 3:
        raise NntrainError(f"the chart needs --width >= 10 and --height >= 3, got {width}x{height}")
    lines: list[Line] = []
    for metric, series in charts.items():
        if lines:
            lines.append([])
        lines += render_chart(metric, series, width, height, axes=ASCII_AXES if ascii else AXES)
    return lines


def plain(lines: list[Line]) -> str:
    return "\n".join("".join(text for text, _ in line).rstrip() for line in lines)


# -- pictures (matplotlib, optional) ------------------------------------------------------
def figure_size(n_metrics: int) -> tuple[int, int]:
    """Pixel size (width, height) of the picture for n metrics."""
    cols = min(n_metrics, COLUMNS)
    rows = math.ceil(n_metrics / COLUMNS)
    return round(cols * PANEL[0] * DPI), round(rows * PANEL[1] * DPI)


def save_figure(charts: dict[str, list[Series]], out: str | Path) -> Path:
    """Write the curves as PNG or SVG (by the extension); one panel per metric."""
    out = check_out_file(Path(out), "curves.png")  # before the format: `--out pictures/`
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise NntrainError(f"--out {out}: the picture format comes from the extension; valid: "
                           f"{', '.join('.' + f for f in FORMATS)}")
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise NntrainError("--out needs matplotlib, which is not installed; install the `plot` extra: "
                           "pip install 'nntrain[plot]' (without --out the curves are drawn in the terminal)") from None
    n = len(charts)
    cols, rows = min(n, COLUMNS), math.ceil(n / COLUMNS)
    fig = Figure(figsize=(cols * PANEL[0], rows * PANEL[1]), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (metric, series) in zip(axes, charts.items()):
        colors: dict[str, str] = {}
        for s in series:
            run = s.label.rsplit(" ", 1)[0] if " " in s.label else ""
            color = colors.setdefault(run, f"C{len(colors) % 10}")
            ax.plot(s.epochs, s.values, color=color, linestyle="--" if s.val else "-", marker="o",
                    markersize=3, label=s.label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[n:]:
        ax.set_visible(False)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI)
    runs.atomic_write(out, buf.getvalue())
    return out
