"""`nntrain data convert CSV OUT/`: the data commands of the CLI (preparing files to train on)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import JsonOpt, emit_json, guarded

data_app = typer.Typer(
    help="Prepare data files for training.\n\n"
         "Example: nntrain data convert big.csv big/ --target label",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@data_app.command("convert", no_args_is_help=True)
@guarded
def convert(
    csv: Path = typer.Argument(..., help="A numeric CSV with a header row (.csv or .csv.gz). e.g. big.csv", show_default=False),
    out: Path = typer.Argument(..., help="The folder to write x.npy and y.npy into (created if missing). e.g. big/",
                               show_default=False),
    target: Optional[str] = typer.Option(None, "--target", "-t", metavar="COLUMN",
                                         help="The target column, by name or index (default: the last column). e.g. --target label"),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", min=1, metavar="N",
                                   help="Rows parsed at a time: memory holds one chunk. e.g. --chunk-rows 50000"),
    dtype: str = typer.Option("float32", "--dtype", metavar="float32|float64",
                              help="The dtype of x.npy (the model's dtype). e.g. --dtype float64"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace x.npy and y.npy already in OUT. e.g. --overwrite"),
    as_json: bool = JsonOpt,
):
    """Turn a numeric CSV too big for memory into OUT/x.npy and OUT/y.npy, a chunk of rows at a time.

    Train on the folder with data.train: OUT/ (x is then read from disk by batches, see data.mmap).
    y.npy holds int64 labels when every target is an integer, else float64 values.

    Example: nntrain data convert big.csv big/ --target label && nntrain fit cfg.yaml --set data.train=big/
    """
    from ..data.convert import convert_csv

    result = convert_csv(csv, out, target=target, chunk_rows=chunk_rows, dtype=dtype, overwrite=overwrite)
    if as_json:
        emit_json(result)
    else:
        print(f"wrote {result['x']} ({result['samples']} x {result['features']} {result['x_dtype']}) and "
              f"{result['y']} ({result['y_dtype']}, target {result['target']!r}) from {result['source']}")
