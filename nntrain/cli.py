"""The `nntrain` command line: each command parses flags, calls one library function, renders.

Errors a user can fix (NntrainError) become one `error:` line on stderr and exit code 2
(1 when training diverged); Ctrl-C exits 130. No numpy at import time, so --help is quick.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    name="nntrain",
    help="Train neural networks from YAML configs.\n\nExample: nntrain fit configs/mnist_mlp.yaml --set optimizer.lr=3e-4",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130

SetOpt = typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                      help="Override a config key; VALUE is YAML. Repeatable. e.g. --set train.epochs=3 "
                           "--set model.layers.0.units=256")
JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON object on stdout at the end.")


def error_line(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def guarded(func):
    """Turn library errors into `error:` lines and exit codes at the boundary."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .errors import NntrainError

        try:
            return func(*args, **kwargs)
        except NntrainError as exc:
            error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            error_line("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper


def emit_json(obj) -> None:
    from .runs import _json_default

    print(json.dumps(obj, default=_json_default, allow_nan=True))


def _progress_mode(progress: str, quiet: bool, as_json: bool) -> str:
    from .errors import NntrainError
    from .progress import MODES

    if progress not in MODES:
        raise NntrainError(f"--progress must be one of {', '.join(MODES)}, got {progress!r}")
    env = os.environ.get("NNTRAIN_PROGRESS")
    if progress == "auto" and env and env.strip().lower() not in MODES:
        raise NntrainError(f"NNTRAIN_PROGRESS must be one of {', '.join(MODES)}, got {env!r}")
    return "none" if quiet else progress


def format_metrics(d: dict | None) -> str:
    from .progress import format_logs

    return format_logs(d) if d else "-"


@app.command()
@guarded
def fit(
    config: Path = typer.Argument(..., help="The YAML config to train, e.g. configs/mnist_mlp.yaml.",
                                  show_default=False),
    set_: Optional[List[str]] = SetOpt,
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Write the run here instead of runs/<config>/<time>/."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the run folder under runs/<config>/ (default: the time)."),
    as_json: bool = JsonOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (and the --json object)."),
    progress: str = typer.Option("auto", "--progress", metavar="auto|rich|plain|none",
                                 help="Progress display; auto = rich on a terminal, plain lines otherwise. "
                                      "Env: NNTRAIN_PROGRESS."),
):
    """Train a model from a config and write a run folder.

    Example: nntrain fit configs/mnist_mlp.yaml --set optimizer.lr=0.01 --set train.epochs=1 --json
    """
    from .api import fit as run_fit
    from .config import load_config

    mode = _progress_mode(progress, quiet, as_json)
    cfg = load_config(config, set_ or [])
    result = run_fit(cfg, run_dir=run_dir, progress=mode, name=name)
    if as_json:
        emit_json(result)
    elif not quiet:
        for split in ("train", "val", "test"):
            if result.get(split):
                print(f"{split:<6}{format_metrics(result[split])}")
        print(f"run   {result['run_dir']}  ({result['epochs']} epochs, {result['seconds']:.1f}s)")


@app.command("eval")
@guarded
def eval_(
    run_dir: Path = typer.Argument(..., help="A run folder written by `nntrain fit`.", show_default=False),
    data: Optional[Path] = typer.Option(None, "--data", help="Score this CSV/NPZ/IDX file instead of the test split."),
    as_json: bool = JsonOpt,
):
    """Loss and metrics of a trained run on its test split (or on --data).

    Example: nntrain eval runs/mnist_mlp/20261126-141500 --json
    """
    from .api import evaluate_run

    result = evaluate_run(run_dir, str(data) if data else None)
    if as_json:
        emit_json(result)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
    console.print(f"{result['run_dir']} on {result['data']} ({result['samples']} samples)", markup=False)
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in result:
        if key not in ("run_dir", "data", "samples", "confusion_matrix"):
            table.add_row(key, f"{result[key]:.4f}")
    console.print(table)
    if result.get("confusion_matrix"):
        console.print(confusion_table(result["confusion_matrix"]))


def confusion_table(matrix: list[list[int]]):
    """A rich table of M[true, predicted], the diagonal (correct) in bold."""
    from rich.table import Table

    table = Table(title="confusion matrix", title_justify="left", caption="rows: true class; columns: predicted",
                  caption_justify="left")
    table.add_column("true", justify="right")
    for j in range(len(matrix)):
        table.add_column(str(j), justify="right")
    for i, row in enumerate(matrix):
        table.add_row(str(i), *(f"[bold]{v}[/bold]" if i == j else str(v) for j, v in enumerate(row)))
    return table


@app.command()
@guarded
def check(
    config: Path = typer.Argument(..., help="The YAML config to validate.", show_default=False),
    set_: Optional[List[str]] = SetOpt,
):
    """Validate a config and print the model summary (layers, output shapes, parameters).

    Example: nntrain check configs/mnist_mlp.yaml --set model.layers.0.units=256
    """
    from .config import load_config
    from .errors import ConfigError
    from .model import Sequential

    cfg = load_config(config, set_ or [])
    if cfg.model.input_shape is None:
        raise ConfigError("is needed to summarize the model without loading data", "model.input_shape")
    model = Sequential.from_specs(cfg.model.layers, cfg.model.input_shape, cfg.model.dtype, cfg.seed)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
    console.print(f"{config}: input shape {list(model.input_shape)}", markup=False)
    table = Table()
    for col, justify in (("#", "right"), ("layer", "left"), ("output shape", "left"), ("parameters", "right")):
        table.add_column(col, justify=justify)
    for index, kind, shape, count in model.summary_rows():
        table.add_row(index, kind, escape(str(["batch", *shape]).replace("'", "")), f"{count:,}")
    table.add_section()
    table.add_row("", "total", "", f"{model.count_params():,}")
    console.print(table)


@app.command("list")
@guarded
def list_(
    kind: Optional[str] = typer.Argument(None, help="layers, losses, optimizers, schedules, initializers, "
                                                     "metrics or datasets (default: all)."),
):
    """What the registries hold, with every parameter and its default.

    Example: nntrain list layers
    """
    from .errors import NntrainError
    from .registry import KINDS, did_you_mean, load_all

    load_all()
    if kind is not None and kind not in KINDS:
        raise NntrainError(f"unknown kind {kind!r}{did_you_mean(kind, list(KINDS))}; valid: {', '.join(KINDS)}")
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(no_color=bool(os.environ.get("NO_COLOR")))
    for k in [kind] if kind else list(KINDS):
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
            table.add_row(name, escape(params or "-"), escape(registry.summary(name)))
        console.print(table)


@app.command()
@guarded
def gradcheck(
    config: Path = typer.Argument(..., help="The YAML config whose model and loss to check.", show_default=False),
    samples: int = typer.Option(4, "--samples", "-n", min=1, help="Training samples the loss is computed on."),
    entries: int = typer.Option(50, "--entries", min=1, help="Entries checked per parameter (sampled)."),
    set_: Optional[List[str]] = SetOpt,
    as_json: bool = JsonOpt,
):
    """Check every parameter gradient of the model by central differences (float64); exit 1 on failure.

    Example: nntrain gradcheck configs/mnist_cnn.yaml --samples 8
    """
    from .config import load_config
    from .gradcheck import check_config

    result = check_config(load_config(config, set_ or []), samples=samples, max_entries=entries)
    if as_json:
        emit_json(result)
    else:
        from rich.console import Console
        from rich.table import Table

        console = Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        console.print(f"{config}: {result['samples']} samples, float64, tolerance {result['tolerance']:g}", markup=False)
        table = Table()
        for col, justify in (("layer", "left"), ("worst relative error", "right"), ("kinks skipped", "right"),
                             ("", "left")):
            table.add_column(col, justify=justify)
        for name, err in result["errors"].items():
            table.add_row(name, f"{err:.2e}", str(result["kinks_skipped"].get(name, 0)),
                          "ok" if err < result["tolerance"] else "FAIL")
        console.print(table)
    if not result["ok"]:
        if not as_json:
            error_line(f"gradient check failed: {', '.join(result['failed'])} above {result['tolerance']:g}")
        raise typer.Exit(EXIT_DIVERGED)


OPTIMIZER_OPTIONS = ("every optimizer also takes clipnorm (global gradient norm), clipvalue, weight_decay "
                     "(decoupled) and schedule (see schedules)")


def main() -> None:  # pragma: no cover - the console script calls `app` directly
    app()
