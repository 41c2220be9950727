"""Trained runs in formats other tools read (`nntrain export`).

    export_run("runs/mnist_mlp/20261126-141500", "model.onnx")            # format from the extension
    export_run(run_dir, "weights.npz", fmt="npz")

- onnx: a standard ONNX graph (opset 13) taking the raw input, standardization included (and
  a scaled target's un-scaling, so it outputs the target's units); needs the `onnx` extra.
- npz: every weight as a plain named array plus the architecture as a JSON string.

A run with typed CSV columns or class names also gets `<name>.preprocessing.json` beside the
file (model.onnx -> model.preprocessing.json): its fill values, categories, statistics and
class names, for a serving stack to turn raw rows into the input (README, Tabular CSVs). A run
of a text column or of windows gets `<name>.sequence.json`: the vocabulary and its rule, or the
window's columns, length and horizon (README, Sequence data).
"""
from __future__ import annotations

from pathlib import Path

from ...errors import NntrainError

FORMATS = ("onnx", "npz")


def export_run(run_dir: str | Path, out: str | Path, fmt: str | None = None, weights: str = "last") -> Path:
    """Write the trained model of run_dir to out as fmt (default: out's extension); weights="best":
    the best epoch's weights (best.npz) instead of the last."""
    from ...runs.folder import atomic_write, check_out_file
    from ...runs.load import load_run

    out = check_out_file(Path(out), f"model.{fmt if fmt in FORMATS else 'onnx'}")  # before the format: `--out exports/`
    if fmt is None:
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise NntrainError(f"cannot tell the format from --out {out}; pass --format {' or '.join(FORMATS)}")
    if fmt not in FORMATS:
        raise NntrainError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    run = load_run(run_dir, weights)
    if fmt == "onnx":
        from .onnx_graph import to_onnx_bytes

        data = to_onnx_bytes(run.model, run.mean, run.std, doc=f"exported from {run_dir}", target_scale=run.target_scale)
    else:
        from .npz import to_npz_bytes

        data = to_npz_bytes(run.model, run.mean, run.std, source=str(run_dir), target_scale=run.target_scale)
    prep = preprocessing_path(out) if run.tabular is not None or run.classes is not None else None
    if prep is not None:  # how raw rows become the graph's input, and the class names of its outputs
        from ...data.preprocessing import preprocessing_json
        from ...runs.folder import write_json

        check_out_file(prep, prep.name)
        write_json(prep, preprocessing_json(run.tabular, run.classes))
    if run.sequence is not None:  # a text column's vocabulary, or the windows (README, Sequence data)
        from ...data.sequences import FILE
        from ...runs.folder import write_json

        seq = out.with_name(f"{out.stem}.{FILE}")
        check_out_file(seq, seq.name)
        write_json(seq, run.sequence.to_json())
    atomic_write(out, data)
    return out


def preprocessing_path(out: Path) -> Path:
    """Where export writes the run's preprocessing.json: model.onnx -> model.preprocessing.json."""
    return out.with_name(out.stem + ".preprocessing.json")
