"""`nntrain predict`: a trained run's outputs for new inputs, as CSV or NPZ.

Inputs are prepared exactly as `eval --data` prepares them (the same reshape and the same
standardization statistics saved with the run), so predictions agree with evaluation.

    classifier     label per sample (argmax, or p > 0.5 for one sigmoid output);
                   --proba: class probabilities p_0 .. p_{C-1} (p_1 for one sigmoid output)
    regression     the predicted values y (y_0, y_1, ... when there are several), in the
                   target's units also when the run scaled it (data.scale_target)

A run that knows its class names (a string target, an image folder) writes the names as labels
and names the probability columns p_<class>. A run trained on a CSV of typed columns reads raw
rows: its preprocessing.json fills, encodes and scales them as in training. A run trained on
image folders reads a folder of images (flat, or in subfolders) with its image options, and
names each row's image in a first `file` column.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import runs
from ..errors import DataError, NntrainError
from ..nn.losses import build_loss
from .folder import check_out_file
from .load import fit_input, load_run


@dataclass
class Predictions:
    name: str  # "label", "proba" or "y": the NPZ key
    values: np.ndarray  # (n,) labels, (n, C) probabilities, (n, *output_shape) values
    columns: list[str]  # CSV header
    files: list[str] | None = None  # an image folder's images, one per row (relative paths)


def read_inputs(path: str | Path, n_features: int, target=None, dtype="float32", weight=None) -> np.ndarray:
    """Features (n, ...) from a CSV (with or without the target column and the weight column
    `weight`, data.weight), an NPZ (array x) or an IDX images file."""
    from ..data.csvfile import _read_csv_rows, target_and_weight
    from ..data.dataset import first_nonfinite_row, float_dtype
    from ..data.files import _check_file
    from ..data.idxfile import read_idx, scale_uint8
    from ..data.npzfile import npz_array

    path = Path(path)
    _check_file(path)
    name, dt = path.name.lower(), float_dtype(dtype)
    if name.endswith((".csv", ".csv.gz")):
        header, rows, lines = _read_csv_rows(path)
        keep = [j for j, h in enumerate(header) if weight is None or h != weight]  # weights: not features
        if len(keep) == n_features + 1:  # the file still has its target column: drop it
            t, _ = target_and_weight(target, weight, header, path, weight_required=False)
            keep = [j for j in keep if j != t]
        elif len(keep) != n_features:
            also = " and the weight column" if weight is not None else ""
            raise DataError(f"{path} has {len(header)} columns but the model takes {n_features} features "
                            f"(optionally plus the target column{also})")
        cells = np.array(rows)[:, keep]
        try:
            x = cells.astype(np.float64).astype(dt)
        except ValueError:
            i, j = next((i, j) for i in range(len(cells)) for j in range(len(keep))
                        if not _is_number(cells[i, j]))
            raise DataError(f"{path} line {lines[i]}, column {header[keep[j]]!r}: "
                            f"{str(cells[i, j])!r} is not a number") from None
        row = first_nonfinite_row(x)
        if row is not None:
            raise DataError(f"{path} line {lines[row]}: features contain NaN or inf")
        return x
    if name.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as z:
                named = sorted(k for k in z.files if k.startswith("x_"))  # several model inputs: x_<name> each
                if "x" not in z.files and named:
                    from ..nn.graph import pack_inputs

                    x = pack_inputs({k[2:]: npz_array(z, k, path) for k in named})
                elif "x" not in z.files:
                    raise DataError(f"{path}: no array 'x'; arrays present: {', '.join(z.files) or '(none)'}")
                else:
                    x = npz_array(z, "x", path)
        except ValueError as exc:
            raise DataError(f"{path}: holds pickled (object) data or is damaged; refused ({exc})") from None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise DataError(f"{path}: cannot read NPZ file ({exc})") from None
    elif "idx" in name or name.endswith((".idx", ".gz")):
        x = read_idx(path)
        if x.dtype == np.uint8:
            return scale_uint8(x, dt)
    else:
        raise DataError(f"{path}: unknown input format; expected .csv, .npz (array x) or an IDX images file")
    if x.dtype.kind not in "biuf" or x.ndim == 0 or len(x) == 0:
        raise DataError(f"{path}: x must be a non-empty numeric array with a sample axis, got {x.dtype} {x.shape}")
    x = (x.reshape(-1, 1) if x.ndim == 1 else x).astype(dt)
    row = first_nonfinite_row(x)
    if row is not None:
        raise DataError(f"{path}: features of sample {row} contain NaN or inf")
    return x


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _probabilities(out: np.ndarray, from_logits: bool) -> np.ndarray:
    if not from_logits:
        return out
    z = out.astype(np.float64)
    if z.shape[-1] == 1:
        return (1.0 / (1.0 + np.exp(-z))).astype(out.dtype)  # sigmoid
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)  # softmax
    return z.astype(out.dtype)


def predict_run(run_dir: str | Path, source: str | Path, proba: bool = False, weights: str = "last") -> Predictions:
    """Labels (or probabilities with proba) of a classifier run, values of a regression run;
    weights="best": with the best epoch's weights (best.npz)."""
    from ..nn.metrics.base import predicted_labels

    run = load_run(run_dir, weights)
    cfg, model = run.cfg, run.model
    loss = build_loss(cfg.loss)
    files = None
    if _is_image_folder(run, source):
        x, files = image_inputs(run, source)
    else:
        x = run_inputs(run, source)
    out = model.predict(x)
    if run.target_scale is not None:  # the model learned the scaled target: back to original units
        out = run.target_scale.unscale(out)
    names = run.classes
    if not loss.classification:
        if proba:
            raise NntrainError(f"--proba needs a classifier; the loss of {run_dir} ({cfg.loss['type']}) "
                               f"predicts values")
        flat = out.reshape(len(out), -1)
        cols = ["y"] if flat.shape[1] == 1 else [f"y_{j}" for j in range(flat.shape[1])]
        return Predictions("y", out, cols, files)
    if proba:
        p = _probabilities(out, loss.from_logits).reshape(len(out), -1)
        if names is not None and len(names) == max(p.shape[1], 2):  # p_<class name>
            cols = [f"p_{names[1]}"] if p.shape[1] == 1 else [f"p_{c}" for c in names]
        else:
            cols = ["p_1"] if p.shape[1] == 1 else [f"p_{j}" for j in range(p.shape[1])]
        return Predictions("proba", p, cols, files)
    labels = predicted_labels(out, loss.from_logits).astype(np.int64)
    if names is not None and len(names) >= max(int(labels.max(initial=0)) + 1, 1):
        return Predictions("label", np.array(names, dtype=str)[labels], ["label"], files)
    return Predictions("label", labels, ["label"], files)


def run_inputs(run, source: str | Path) -> np.ndarray:
    """The model's input for the rows of a file: a raw CSV goes through the run's saved
    preprocessing (typed columns) when it has one; otherwise as read_inputs + fit_input."""
    cfg, model = run.cfg, run.model
    if _is_image_folder(run, source):
        return image_inputs(run, source)[0]
    if run.sequence is not None and str(source).lower().endswith((".csv", ".csv.gz")):
        from ..data.csvfile import read_table  # a text column's ids, or every window of the rows

        x = run.sequence.inputs(read_table(source), cfg.model.dtype)
    elif run.tabular is not None and str(source).lower().endswith((".csv", ".csv.gz")):
        from ..data.csvfile import read_table

        x = run.tabular.transform(read_table(source), cfg.model.dtype, " the run was trained on")
    else:
        x = read_inputs(source, int(np.prod(model.input_shape)), cfg.data.target, cfg.model.dtype, cfg.data.weight)
    return fit_input(x, run, str(source))


def _is_image_folder(run, source) -> bool:
    return run.cfg.data.images is not None and Path(source).is_dir()


def image_inputs(run, folder: str | Path) -> tuple[np.ndarray, list[str]]:
    """(model input, image paths relative to folder) of every image under `folder`, a flat folder
    or class subfolders (data/images.list_images), decoded with the run's data.images options."""
    from ..data.images import check_model_shape, read_image_files

    im = run.cfg.data.images
    x, files = read_image_files(folder, image_size=im.image_size, color_mode=im.color_mode, dtype=run.cfg.model.dtype)
    check_model_shape(x, run.model.input_shape, folder, im.image_size)
    return fit_input(x, run, str(folder)), files


def to_csv(pred: Predictions) -> str:
    """CSV text; floats with enough digits to read back the exact same value. Image folder
    predictions start with the `file` column."""
    if pred.files is not None:
        return _csv_with_files(pred)
    if pred.values.dtype.kind == "U":  # class names: quoted where they hold a comma or a quote
        import csv

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(pred.columns)
        writer.writerows([v] for v in pred.values.tolist())
        return buf.getvalue()
    values = pred.values.reshape(len(pred.values), -1)
    fmt = "%d" if values.dtype.kind in "iu" else ("%.9g" if values.dtype.itemsize <= 4 else "%.17g")
    buf = io.StringIO()
    np.savetxt(buf, values, fmt=fmt, delimiter=",", header=",".join(pred.columns), comments="")
    return buf.getvalue()


def _csv_with_files(pred: Predictions) -> str:
    import csv

    values = pred.values.reshape(len(pred.values), -1)
    fmt = "%s" if values.dtype.kind == "U" else "%d" if values.dtype.kind in "iu" else (
        "%.9g" if values.dtype.itemsize <= 4 else "%.17g")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", *pred.columns])
    writer.writerows([f, *(fmt % v for v in row)] for f, row in zip(pred.files, values.tolist()))
    return buf.getvalue()


def write_predictions(pred: Predictions, out: str | Path) -> None:
    """To `out`, atomically: NPZ (one array named label, proba or y, and files for an image
    folder's) when it ends in .npz, else CSV."""
    out = check_out_file(Path(out), "predictions.csv")
    if out.name.lower().endswith(".npz"):
        files = {} if pred.files is None else {"files": np.array(pred.files, dtype=str)}  # np.savez takes file=
        runs.write_npz(out, {pred.name: pred.values, **files})
    else:
        runs.write_text(out, to_csv(pred))
