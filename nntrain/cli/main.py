"""The `nntrain` app and its commands: each parses flags, calls one library function, renders.

Errors a user can fix (NntrainError) become one `error:` line on stderr and exit code 2
(1 when training diverged); Ctrl-C exits 130. No numpy at import time, so --help is quick.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from .data import data_app
from .fit import fit_command
from .options import (
    EXIT_DIVERGED,
    AppGroup,
    JsonOpt,
    SetOpt,
    WeightsOpt,
    emit_json,
    error_line,
    guarded,
)
from .sweep import sweep_app

app = typer.Typer(
    cls=AppGroup,
    name="nntrain",
    help="Train neural networks from YAML configs.\n\nExample: nntrain fit configs/mnist_mlp.yaml --set optimizer.lr=3e-4",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command()
@guarded
def fit(
    config: Optional[Path] = typer.Argument(None, help="The YAML config to train, e.g. configs/mnist_mlp.yaml.",
                                            show_default=False),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="RUN_DIR",
                                          help="Continue this run folder from its last checkpoint "
                                               "(--set train.epochs=N to train longer). e.g. --resume runs/mnist_mlp/20261126-141500"),
    set_: Optional[List[str]] = SetOpt,
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Write the run here instead of runs/<config>/<time>/. e.g. --run-dir runs/try"),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the run folder under runs/<config>/ (default: the time). e.g. --name lr3e-4"),
    as_json: bool = JsonOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (and the --json object). e.g. -q --json"),
    progress: str = typer.Option("auto", "--progress", metavar="auto|rich|plain|none",
                                 help="Progress display; auto = rich on a terminal, plain lines otherwise. "
                                      "Env: NNTRAIN_PROGRESS. e.g. --progress plain"),
):
    """Train a model from a config and write a run folder.

    Example: nntrain fit configs/mnist_mlp.yaml --set optimizer.lr=0.01 --set train.epochs=1 --json

    Ctrl-C, SIGTERM or SIGUSR1 finish the current step, save a checkpoint and print the command
    that resumes it (exit 130, 143, 138); a second Ctrl-C stops at once.
    """
    fit_command(config, resume, set_, run_dir, name, as_json, quiet, progress)


@app.command("eval")
@guarded
def eval_(
    run_dir: Path = typer.Argument(..., help="A run folder written by `nntrain fit`, e.g. runs/mnist_mlp/20261126-141500.",
                                   show_default=False),
    data: Optional[Path] = typer.Option(None, "--data", help="Score this CSV/NPZ/IDX file instead of the test split "
                                                             "(a run trained on image folders: a folder of class "
                                                             "subfolders too). e.g. --data data/holdout.csv"),
    weights: str = WeightsOpt,
    as_json: bool = JsonOpt,
):
    """Loss and metrics of a trained run on its test split (or on --data).

    Example: nntrain eval runs/mnist_mlp/20261126-141500 --json
    """
    from ..api import evaluate_run

    result = evaluate_run(run_dir, str(data) if data else None, weights)
    if as_json:
        emit_json(result)
        return
    from .views import print_eval

    print_eval(result)


@app.command()
@guarded
def predict(
    run_dir: Path = typer.Argument(..., help="A run folder written by `nntrain fit`. e.g. runs/mnist_mlp/20261126-141500", show_default=False),
    input_: Path = typer.Argument(..., metavar="INPUT", help="Features: a CSV (the target column may be "
                                  "present), an NPZ with array x, or an IDX images file; a run trained on image "
                                  "folders also takes a folder of images. e.g. new.csv", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write here (NPZ when it ends in .npz, "
                                       "else CSV) instead of CSV on stdout. e.g. --out predictions.npz"),
    proba: bool = typer.Option(False, "--proba", help="Class probabilities instead of labels (classifiers). e.g. --proba --out p.csv"),
    weights: str = WeightsOpt,
):
    """Predictions of a trained run: class labels (or --proba) or regression values.

    The inputs get the same standardization as in training.

    Example: nntrain predict runs/mnist_mlp/20261126-141500 new.csv --out predictions.csv
    """
    from ..runs.predict import predict_run, to_csv, write_predictions

    result = predict_run(run_dir, input_, proba=proba, weights=weights)
    if out is None:
        sys.stdout.write(to_csv(result))
    else:
        write_predictions(result, out)
        print(f"{len(result.values)} predictions written to {out}", file=sys.stderr)


@app.command()
@guarded
def check(
    config: Path = typer.Argument(..., help="The YAML config to validate, e.g. configs/mnist_mlp.yaml.",
                                  show_default=False),
    set_: Optional[List[str]] = SetOpt,
):
    """Validate a config and print the model summary (layers, output shapes, parameters).

    With a CSV file (or no model.input_shape) it reads the data too, and shows each column as
    fit will take it: kind, missing cells, categories, fill value; the class balance of the
    target and the width of the encoded input.

    Example: nntrain check configs/penguins.yaml --set model.layers.0.units=256
    """
    from ..config.load import load_config
    from ..nn.graph import build_model

    cfg = load_config(config, set_ or [])
    report = None
    csv = cfg.data.train is not None and cfg.data.train.lower().endswith((".csv", ".csv.gz"))
    if csv or cfg.model.input_shape is None:
        from ..api import data_report

        report = data_report(cfg)
    input_shape = cfg.model.input_shape or report["input_shape"]
    model = build_model(cfg.model.layers, input_shape, cfg.model.dtype, cfg.seed, inputs=cfg.model.inputs)
    from .views import print_data_report, print_summary

    if report is not None and (csv or report["class_balance"]):
        print_data_report(report)
    print_summary(config, model)


@app.command("list")
@guarded
def list_(
    kind: Optional[str] = typer.Argument(None, help="layers, losses, optimizers, schedules, initializers, "
                                                     "metrics or datasets (default: all). e.g. nntrain list losses"),
    fmt: str = typer.Option("table", "--format", metavar="table|markdown",
                            help="markdown: the config reference as in docs/reference.md. "
                                 "e.g. nntrain list --format markdown > docs/reference.md"),
    plugin: Optional[List[str]] = typer.Option(None, "--plugin", metavar="FILE|MODULE",
                                               help="Load this plugin too (a .py file or a module; installed "
                                                    "nntrain.plugins entry points always load); its entries are "
                                                    "marked. Repeatable. e.g. --plugin examples/plugin/my_layers.py"),
):
    """What the registries hold, with every parameter and its default; plugin entries are marked.

    Example: nntrain list layers
    """
    from ..config.catalogue import KINDS
    from ..config.plugins import load_all
    from ..errors import NntrainError, did_you_mean

    load_all(plugin or [], None)

    if kind is not None and kind not in KINDS:
        raise NntrainError(f"unknown kind {kind!r}{did_you_mean(kind, list(KINDS))}; valid: {', '.join(KINDS)}")
    if fmt not in ("table", "markdown"):
        raise NntrainError(f"--format must be table or markdown, got {fmt!r}")
    if fmt == "markdown":
        from ..config.reference import markdown_reference

        sys.stdout.write(markdown_reference(kind))
        return
    from .views import print_registries

    print_registries([kind] if kind else list(KINDS))


@app.command()
@guarded
def runs(
    root: Path = typer.Argument(Path("runs"), help="The folder to search for runs, e.g. runs/mnist_mlp."),
    sort: str = typer.Option("date", "--sort", metavar="KEY",
                             help="Sort by name, config, date, epochs, status, seconds or SPLIT.METRIC; metrics "
                                  "sort best first. e.g. --sort test.accuracy"),
    reverse: bool = typer.Option(False, "--reverse", "-r", help="Reverse the order. e.g. --sort date -r"),
    as_json: bool = JsonOpt,
):
    """The runs under runs/ (or ROOT): name, config, date, epochs, status, final metrics.

    Status: done, running, interrupted, diverged, failed, stale (its process died without
    recording it: resumable like interrupted), incomplete (no epoch finished), corrupt (its
    summary.json is damaged; the reason is shown).

    Example: nntrain runs --sort test.accuracy
    """
    from ..runs.table import list_runs, sort_runs

    records = sort_runs(list_runs(root), sort, reverse)
    if as_json:
        emit_json({"root": str(root), "runs": records})
        return
    if not records:
        print(f"no runs under {root}", file=sys.stderr)
        return
    from .views import console, runs_table

    console().print(runs_table(records, sort))


@app.command()
@guarded
def plot(
    run_dirs: List[Path] = typer.Argument(..., help="One or more run folders; several overlay with a legend. "
                                                    "e.g. runs/mnist_mlp/*", show_default=False),
    metric: Optional[List[str]] = typer.Option(None, "--metric", "-m", metavar="NAME",
                                               help="Plot only this metric (train and val; val_NAME for val only; "
                                                    "lr). Repeatable. e.g. --metric loss --metric accuracy"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE",
                                       help="Write a PNG or SVG picture instead (needs the `plot` extra). "
                                            "e.g. --out curves.png"),
    width: int = typer.Option(0, "--width", show_default=False, help="Terminal chart width in characters (default: fit the "
                                                  "terminal). e.g. --width 60"),
    height: int = typer.Option(12, "--height", help="Terminal chart height in lines. e.g. --height 20"),
):
    """Learning curves (loss and metrics, train and val, per epoch) in the terminal or as a picture.

    Example: nntrain plot runs/mnist_mlp/20261126-141500 --metric loss --out curves.png
    """
    from ..runs import plot as plots

    skipped: list = []
    charts = plots.collect(run_dirs, metric, skipped)
    for message in skipped:
        print(f"note: skipped {message}", file=sys.stderr)
    if out is not None:
        print(f"wrote {plots.save_figure(charts, out)}", file=sys.stderr)
        return
    from .views import can_encode, chart_text, console

    con = console()
    # the grid plus y labels (~10) and the " epoch" axis title (7) fit the terminal
    ascii = not can_encode(con.encoding, "".join(plots.AXES.values()))
    con.print(chart_text(plots.render(charts, width or max(20, min(con.width, 100) - 20), height, ascii)), soft_wrap=True)


@app.command()
@guarded
def export(
    run_dir: Path = typer.Argument(..., help="A run folder written by `nntrain fit`, e.g. runs/mnist_mlp/20261126-141500.",
                                   show_default=False),
    out: Path = typer.Option(..., "--out", "-o", metavar="FILE", help="The file to write. e.g. --out model.onnx",
                             show_default=False),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="onnx|npz",
                                      help="onnx (needs the `onnx` extra) or npz (named arrays + JSON "
                                           "architecture); default: from the --out extension. e.g. --format npz"),
    weights: str = WeightsOpt,
):
    """The trained network as an ONNX graph or as plain named arrays.

    Example: nntrain export runs/mnist_mlp/20261126-141500 --format onnx --out mnist.onnx
    """
    from ..tools.export import export_run

    print(f"wrote {export_run(run_dir, out, fmt, weights)}", file=sys.stderr)

@app.command("time")
@guarded
def time_(
    config: Path = typer.Argument(..., help="The YAML config whose model to time. e.g. configs/mnist_mlp.yaml", show_default=False),
    set_: Optional[List[str]] = SetOpt,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Samples per step (default: train.batch_size). e.g. --batch-size 128"),
    steps: int = typer.Option(20, "--steps", help="Timed steps (after 3 warm-up steps); times are their mean. e.g. --steps 50"),
    as_json: bool = JsonOpt,
):
    """Time one training step: each layer's forward and backward, the loss, the optimizer update.

    Example: nntrain time configs/mnist_mlp.yaml --batch-size 128 --steps 50
    """
    from ..config.load import load_config
    from ..tools.timing import time_config

    result = time_config(load_config(config, set_ or []), batch_size=batch_size, steps=steps)
    if as_json:
        emit_json(result)
    else:
        from .views import print_timing

        print_timing(result)


@app.command()
@guarded
def gradcheck(
    config: Path = typer.Argument(..., help="The YAML config whose model and loss to check. e.g. configs/mnist_cnn.yaml", show_default=False),
    samples: int = typer.Option(4, "--samples", "-n", min=1, help="Training samples the loss is computed on. e.g. --samples 8"),
    entries: int = typer.Option(50, "--entries", min=1, help="Entries checked per parameter (sampled). e.g. --entries 100"),
    set_: Optional[List[str]] = SetOpt,
    as_json: bool = JsonOpt,
):
    """Check every parameter gradient of the model by central differences (float64); exit 1 on failure.

    Example: nntrain gradcheck configs/mnist_cnn.yaml --samples 8
    """
    from ..config.load import load_config
    from ..tools.gradcheck import check_config

    result = check_config(load_config(config, set_ or []), samples=samples, max_entries=entries)
    if as_json:
        emit_json(result)
    else:
        from .views import print_gradcheck

        print_gradcheck(config, result)
    if not result["ok"]:
        if not as_json:
            error_line(f"gradient check failed: {', '.join(result['failed'])} above {result['tolerance']:g}")
        raise typer.Exit(EXIT_DIVERGED)


app.add_typer(sweep_app, name="sweep")
app.add_typer(data_app, name="data")


def main() -> None:  # pragma: no cover - the console script calls `app` directly
    app()
