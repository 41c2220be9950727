"""What a sweep shows: a live rich table on a terminal, plain lines otherwise, nothing with --quiet;
and the leaderboard at the end.

Live output goes to stderr (like fit's progress), the leaderboard to stdout.
"""
from __future__ import annotations

import os
import sys
import time

from .space import Trial, value_text

SHOW_FINISHED = 8  # finished trials kept in the live table under the running ones


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _fmt(v) -> str:
    from ..train.progress import format_value

    return "-" if v is None else format_value(v)


def _live_key(metric: str | None) -> str:
    """The metrics.csv column that tracks `metric` while training (test.* is known only at the end)."""
    if not metric:
        return "loss"
    split, _, name = metric.partition(".")
    return f"val_{name}" if split == "val" else name if split == "train" else "loss"


def final_metric(record: dict, metric: str | None) -> str:
    from .board import default_metric, metric_value

    metric = metric or default_metric([record])
    return f"{metric} {_fmt(metric_value(record, metric))}"


class Display:
    """Nothing (--quiet); also the interface."""

    live = False  # whether running trials' metrics.csv is read for live updates

    def begin(self, out, total: int, todo: int, workers: int, threads: int, metric: str | None) -> None: ...

    def started(self, trial: Trial) -> None: ...

    def progress(self, trial: Trial, row: dict) -> None: ...

    def finished(self, record: dict) -> None: ...

    def refresh(self) -> None: ...

    def note(self, text: str) -> None: ...

    def end(self) -> None: ...


class PlainDisplay(Display):
    """One line when a trial starts and one when it ends; for logs, pipes and batch jobs."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.done = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def begin(self, out, total, todo, workers, threads, metric):
        self.total, self.metric = todo, metric
        skipped = f", {total - todo} already finished" if total > todo else ""
        self._print(f"sweep {out}: {plural(todo, 'trial')} to run{skipped}; {plural(workers, 'worker')} x {plural(threads, 'thread')}")

    def started(self, trial):
        self._print(f"trial {trial.index} started  {trial.label}")

    def finished(self, record):
        self.done += 1
        error = f"  ({record['error']})" if record.get("error") else ""
        seconds = record.get("wall") or record.get("seconds") or 0.0
        self._print(f"[{self.done}/{self.total}] trial {record['trial']} {record['status']}  "
                    f"{_label(record)}  {final_metric(record, self.metric)}  {seconds:.1f}s{error}")

    def note(self, text):
        self._print(text)


class RichDisplay(PlainDisplay):
    """A live table: running trials with their epoch and current metric, then the latest finished."""

    live = True

    def __init__(self, stream=None):
        from rich.console import Console

        super().__init__(stream)
        self.console = Console(file=self.stream, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        self.rows: dict[int, dict] = {}  # trial index -> what its row shows
        self.order: list[int] = []
        self.live_view = None

    def begin(self, out, total, todo, workers, threads, metric):
        from rich.live import Live

        self.total, self.metric, self.key = todo, metric, _live_key(metric)
        self.out, self.workers, self.threads, self.skipped = out, workers, threads, total - todo
        self.started_at = time.monotonic()
        self.live_view = Live(self._table(), console=self.console, refresh_per_second=4, transient=False)
        self.live_view.start()

    def started(self, trial):
        self.rows[trial.index] = {"label": trial.label, "epoch": f"0/{trial.epochs or '?'}", "value": "-",
                                  "status": "running", "epochs": trial.epochs, "start": time.monotonic()}
        self.order.append(trial.index)

    def progress(self, trial, row):
        if row:
            r = self.rows[trial.index]
            r["epoch"] = f"{row.get('epoch', 0)}/{r['epochs'] or '?'}"
            r["value"] = f"{self.key} {_fmt(row.get(self.key))}"

    def finished(self, record):
        self.done += 1
        r = self.rows.setdefault(record["trial"], {"label": _label(record), "start": time.monotonic()})
        r.update(status=record["status"], value=final_metric(record, self.metric),
                 epoch=f"{record.get('epochs') or 0}/{r.get('epochs') or '?'}", seconds=record.get("wall"))

    def refresh(self):
        if self.live_view is not None:
            self.live_view.update(self._table())

    def _table(self):
        from rich.table import Table

        now = time.monotonic()
        running = [k for k in self.order if self.rows[k]["status"] == "running"]
        title = (f"sweep {self.out}: {self.done}/{self.total} done, {len(running)} running "
                 f"({plural(self.workers, 'worker')} x {plural(self.threads, 'thread')})"
                 + (f", {self.skipped} finished earlier" if self.skipped else "") + f"  {now - self.started_at:.0f}s")
        table = Table(title=title, title_justify="left")
        for col, justify in (("trial", "right"), ("overrides", "left"), ("epoch", "right"),
                             ("metric", "left"), ("status", "left"), ("time", "right")):
            table.add_column(col, justify=justify)
        finished = [k for k in self.order if self.rows[k]["status"] != "running"][-SHOW_FINISHED:]
        for k in running + finished:
            r = self.rows[k]
            seconds = r.get("seconds") if r["status"] != "running" else now - r["start"]
            style = {"running": "cyan", "done": "green", "pruned": "yellow"}.get(r["status"], "red")
            table.add_row(str(k), r["label"], r.get("epoch", ""), r.get("value", "-"),
                          f"[{style}]{r['status']}[/{style}]", f"{seconds or 0:.1f}s")
        return table

    def note(self, text):
        self.console.print(text, markup=False)

    def end(self):
        if self.live_view is not None:
            self.live_view.update(self._table())
            self.live_view.stop()
            self.live_view = None


def make_display(mode: str) -> Display:
    """rich / plain / none, with `auto` as in progress.make_progress (a terminal -> rich)."""
    if mode == "auto":
        env = os.environ.get("NNTRAIN_PROGRESS", "auto").strip().lower()
        mode = env if env in ("rich", "plain", "none") else "auto"
    if mode == "auto":
        tty = getattr(sys.stderr, "isatty", lambda: False)() and os.environ.get("TERM") != "dumb"
        mode = "rich" if tty else "plain"
    return {"rich": RichDisplay, "plain": PlainDisplay}.get(mode, Display)()


def _label(record: dict) -> str:
    params = record.get("params") or {}
    return " ".join(f"{k}={value_text(v)}" for k, v in params.items()) or "(the config as it is)"


def print_leaderboard(board: dict, stream=None) -> None:
    """The ranked trials as a table: rank, trial, each swept key, the metric, status, time."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    stream = stream or sys.stdout
    tty = getattr(stream, "isatty", lambda: False)()
    # not a terminal: no 80-column default, so that long keys are not cut in logs and pipes
    console = Console(file=stream, no_color=bool(os.environ.get("NO_COLOR")), highlight=False,
                      width=None if tty else 400)
    rows = board["trials"]
    keys: list[str] = []
    for rec in rows:
        keys += [k for k in (rec.get("params") or {}) if k not in keys]
    arrow = "lower is better" if board["mode"] == "min" else "higher is better"
    table = Table(title=f"{board['sweep_dir']}: {plural(len(rows), 'trial')} by {board['metric']} ({arrow})",
                  title_justify="left")
    for col, justify in (("rank", "right"), ("trial", "right"), *((k, "left") for k in keys),
                         (board["metric"], "right"), ("status", "left"), ("epochs", "right"), ("train s", "right")):
        table.add_column(escape(col), justify=justify)
    for rec in rows:
        params = rec.get("params") or {}
        status = rec["status"] + (f": {rec['error']}" if rec.get("error") else "")
        table.add_row(str(rec["rank"] or "-"), "-" if rec["trial"] is None else str(rec["trial"]),
                      *(escape(value_text(params[k])) if k in params else "" for k in keys),
                      _fmt(rec["metric"]), escape(status), str(rec.get("epochs") or 0), f"{rec.get('seconds') or 0:.2f}")
    console.print(table)
    if board.get("pruned"):
        console.print(f"{plural(board['pruned'], 'trial')} pruned (stopped early; not ranked)", markup=False)
    if board["pending"]:
        console.print(f"{plural(len(board['pending']), 'trial')} not finished: {', '.join(map(str, board['pending']))}",
                      markup=False)
    if rows and rows[0].get("rank"):
        console.print(f"best: trial {rows[0]['trial']}  {_label(rows[0])}  {rows[0]['run_dir']}", markup=False)
