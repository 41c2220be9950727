"""The library behind the CLI: fit a config into a run folder, load a run, evaluate it.

    cfg = load_config("configs/mnist_mlp.yaml", overrides=["train.epochs=1"])
    result = fit(cfg, run_dir="runs/try")
    model = load_model("runs/try")
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from . import runs
from .config.load import config_to_dict, dump_config, load_config
from .config.schema import Config
from .data import Dataset, load_splits, preprocessing, read_file, sequences, tabular
from .data.csvfile import read_table, target_and_weight
from .data.splits import validation_indices
from .data.tabular import raw_tables
from .data.weights import split_weights
from .errors import ConfigError, DataError, DivergedError, Interrupted, NntrainError, RunError
from .nn.losses import Loss, build_loss
from .nn.metrics.classification import ConfusionMatrix
from .nn.model import Model
from .nn.optimizers.base import build_optimizer
from .runs.load import fit_input, load_model, load_run  # noqa: F401 (load_model: part of this API)
from .train.callbacks import BestCheckpoint, EarlyStopping, build_callbacks
from .train.progress import Progress, make_progress
from .train.setup import Setup, build_metrics, setup
from .train.trainer import Callback, Trainer, TrainState, evaluate
from .train.writer import RunWriter


def fit(cfg: Config | dict | str | Path, run_dir: str | Path | None = None, progress: Progress | str = "none",
        runs_root: str | Path = "runs", name: str | None = None, *, x=None, y=None,
        validation_data: tuple | None = None) -> dict:
    """Train a config; write the run folder; return the summary (what `fit --json` prints).

    cfg: a Config, a config file, or a dict as the YAML would give it. With x and y (arrays in
    memory: features (n, ...), and class labels or float targets (n,) / (n, k)) the data are
    these instead of the config's data source, with validation_data=(x_val, y_val) or else
    data.validation_split; the run folder records data.arrays: true (eval takes --data)."""
    if (x is None) != (y is None):
        raise DataError("give both x and y, or neither")
    if x is not None:
        cfg = in_memory_config(cfg)
    elif isinstance(cfg, dict):
        from .config.load import config_from_dict

        cfg = config_from_dict(copy.deepcopy(cfg))
    elif not isinstance(cfg, Config):
        cfg = load_config(cfg)
    if isinstance(progress, str):
        progress = make_progress(progress)
    s = setup(cfg, None if x is None else (x, y, validation_data))
    # the folder is locked from its creation to the end of the run: it belongs to this process
    with runs.prepare_run_dir(run_dir) if run_dir else runs.new_run_dir(cfg.name, runs_root, name) as lock:
        return _train(s, lock.path, progress)


def train_arrays(cfg: Config | dict | str | Path, x, y, validation_data: tuple | None = None,
                 progress: Progress | str = "none") -> tuple[Setup, Trainer]:
    """Train on arrays with nothing written (the scikit-learn estimators): the config's model,
    optimizer, schedule and early stopping, no run folder, no checkpoints (train.checkpoint,
    whose best.npz is a file, is refused). Returns the setup and the trainer, whose `fit` can
    go on (`trainer.fit(x, y, trainer.state.epoch + 1, batch_size)`)."""
    cfg = in_memory_config(cfg)
    if cfg.train.checkpoint is not None:
        raise ConfigError("train.checkpoint writes best.npz into a run folder; training in memory has none "
                          "(give the estimator runs_root=FOLDER, or leave train.checkpoint out)", "train.checkpoint")
    if isinstance(progress, str):
        progress = make_progress(progress)
    s = setup(cfg, (x, y, validation_data))
    trainer = Trainer(s.model, s.loss, build_optimizer(cfg.optimizer), s.metrics, progress,
                      callbacks=build_callbacks(cfg, None))
    trainer.on_nonfinite = cfg.train.on_nonfinite
    batch_size = len(s.splits.train) if cfg.train.batch_size == "full" else cfg.train.batch_size
    val = (s.splits.val.x, s.y_val, s.w_val) if s.splits.val is not None else None
    trainer.fit(s.splits.train.x, s.y_train, cfg.train.epochs, batch_size, shuffle=cfg.train.shuffle, val=val)
    return s, trainer


def in_memory_config(cfg: Config | dict | str | Path, source: Path | None = None) -> Config:
    """A config whose data are arrays given to fit: its data source (name, train, test, images)
    dropped, data.arrays set, every other data option kept. source: the file a dict came from
    (relative plugin paths resolve against its folder)."""
    from .config.load import config_from_dict, read_yaml

    if isinstance(cfg, Config) and cfg.data.arrays:
        return cfg
    if isinstance(cfg, Config):
        source = Path(cfg.path) if cfg.path else None
        raw = {k: v for k, v in config_to_dict(cfg).items()}
    elif isinstance(cfg, dict):
        raw = copy.deepcopy(cfg)
    else:
        source = Path(cfg)
        raw = read_yaml(source)[0]
        if not isinstance(raw, dict):
            return load_config(source)  # the error it names
    data = dict(raw.get("data") or {})
    for key in ("name", "train", "test", "images", "options"):
        data.pop(key, None)
    raw["data"] = {**data, "arrays": True}
    return config_from_dict(raw, source=source)


def resume(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (),
           progress: Progress | str = "none", *, x=None, y=None, validation_data: tuple | None = None) -> dict:
    """Continue a run from its last checkpoint (`fit --resume`); bit-identical to never stopping.

    overrides may change only what keeps it the same run (RESUME_KEYS), e.g. train.epochs=20.
    A run that is already complete is left as it is and its summary returned (a requeue loop
    that resumes blindly sees success); one whose epochs are done but whose final evaluation is
    missing gets that evaluation and ends done.
    """
    from .train import checkpoint

    path, cfg, lock = checkpoint.open_run(run_dir, overrides)
    with lock:
        if isinstance(progress, str):
            progress = make_progress(progress)
        before = runs.read_summary(path)
        runs.read_metrics_csv(path / runs.METRICS)  # a damaged one is an error line, not a crash later
        if before.get("status") == "done" and cfg.train.epochs <= load_config(path / runs.CONFIG).train.epochs:
            progress.note(f"{path} is already complete ({before.get('epochs')} epochs, status done); nothing to do. "
                          f"To train further: nntrain fit --resume {path} --set train.epochs=N")
            return before
        arrays = checkpoint.load(path)
        given = None if x is None else (x, y, validation_data)  # a run of arrays: its data again
        return _train(setup(cfg, given), path, progress, state=arrays)


def _train(s: Setup, path: Path, progress: Progress, state: dict | None = None) -> dict:
    from .train.checkpoint import Checkpointer, data_fingerprint
    from .train.denormals import flush_denormals
    from .train.interrupts import signal_name, stop_on_signals

    cfg, train_cfg = s.cfg, s.cfg.train
    batch_size = len(s.splits.train) if train_cfg.batch_size == "full" else train_cfg.batch_size
    writer = RunWriter(path, s)
    optimizer = build_optimizer(cfg.optimizer)
    extra = build_callbacks(cfg, path, writer.extra)  # schedule, early stopping, best checkpoint
    pruning = None
    if os.environ.get("NNTRAIN_OPTUNA_TRIAL"):  # a pruned sweep's trial: reports every epoch (sweep.pruning)
        from .sweep.pruning import trial_reporter  # only here: a plain fit does not import the sweep package

        pruning = trial_reporter()
    extra += [pruning] if pruning is not None else []
    trainer = Trainer(s.model, s.loss, optimizer, s.metrics, progress, callbacks=[*extra, writer])
    saver = Checkpointer(path, len(s.splits.train), batch_size, cfg.optimizer.get("lr"),
                         data_fingerprint(s.splits.train.x, s.y_train, s.w_train))
    trainer.checkpoint, trainer.on_nonfinite = saver, train_cfg.on_nonfinite
    trainer.checkpoint_every = train_cfg.checkpoint_every_steps or 0
    if state is not None:
        saver.restore(trainer, state)
        trainer.state.stop = False  # resuming is asking for more: a callback's stop is lifted
        _check_epochs(trainer, train_cfg.epochs, path)
        progress.note(f"resuming {path} from {saver.saved}")
    val = (s.splits.val.x, s.y_val, s.w_val) if s.splits.val is not None else None
    resume_cmd = f"nntrain fit --resume {path}"
    try:
        # from the first file on, a signal ends in the `interrupted` summary and the resume hint
        runs.write_text(path / runs.CONFIG, dump_config(cfg))
        if s.splits.tabular is not None or s.splits.train.classes is not None:  # how raw rows become inputs
            runs.write_json(path / preprocessing.FILE,
                            preprocessing.preprocessing_json(s.splits.tabular, s.splits.train.classes))
        if s.splits.sequence is not None:  # the vocabulary or the windows: how raw rows become inputs
            runs.write_json(path / sequences.FILE, s.splits.sequence.to_json())
        runs.keep_metrics_rows(path / runs.METRICS, trainer.state.epoch)
        progress.note(f"run folder: {path}")
        # a signal is honoured until the run is recorded done: after the last epoch's checkpoint
        # it stops the run before its final evaluation, and resume finishes that evaluation
        with stop_on_signals(trainer):
            # flush-to-zero for the fit only, put back however it ends (an exception included)
            with flush_denormals(train_cfg.flush_denormals) as flushing:
                if train_cfg.flush_denormals is True and not flushing:
                    progress.note("train.flush_denormals: not available on this platform (needs x86-64 Linux); ignored")
                st = trainer.fit(s.splits.train.x, s.y_train, train_cfg.epochs, batch_size,
                                 shuffle=train_cfg.shuffle, val=val, w=s.w_train)
            reports = _final_reports(extra, path, s, writer)
            test = None
            if s.splits.test is not None:
                test = evaluate(s.model, s.loss, s.metrics, s.splits.test.x, s.y_test, s.w_test)
            if trainer.stop_signal is not None:  # arrived after the last training step
                raise Interrupted(f"stopped by {signal_name(trainer.stop_signal)} after epoch {st.epoch}, "
                                  f"before the run was recorded done", trainer.stop_signal)
    except KeyboardInterrupt as exc:  # Interrupted, or a Ctrl-C before the handlers were in place
        if not (path / runs.CONFIG).is_file():  # stopped before the run's first file: nothing to resume
            raise Interrupted(f"{exc or 'interrupted'} before training began; nothing was written to {path}",
                              getattr(exc, "signum", 2)) from None
        kept = f"the last checkpoint ({saver.saved}) is in {path}" if saver.saved else f"no checkpoint yet in {path}"
        _record(writer, trainer.state, "interrupted", str(exc))
        _end_tracking(extra, "interrupted", trainer.state)
        raise Interrupted(f"{exc or 'interrupted'}; {kept}\nresume with: {resume_cmd}",
                          getattr(exc, "signum", 2)) from None
    except NntrainError as exc:
        if exc.exit_code == 1:
            base_lr = cfg.optimizer.get("lr") or optimizer.lr  # what the user set, not where a schedule took it
            lower = f"{resume_cmd} --set optimizer.lr={base_lr / 10:g}"
            kept = (f"the last good checkpoint ({saver.saved}) is kept; continue from it with: {lower}"
                    if saver.saved else f"no checkpoint was saved before it; start over with: {lower}")
            exc = DivergedError(f"training diverged: {exc}; {kept}")
        elif getattr(exc, "environment", False) and (path / runs.CONFIG).is_file():
            exc = RunError(f"{exc}; then continue with: {resume_cmd}")  # the checkpoint before it is intact
        if (path / runs.CONFIG).is_file():  # a folder without its config is no run to record in
            _record(writer, trainer.state, "diverged" if exc.exit_code == 1 else "failed", str(exc))
        _end_tracking(extra, "diverged" if exc.exit_code == 1 else "failed", trainer.state)
        raise exc from None
    pruned = pruning is not None and pruning.pruned_at is not None  # stopped by the study's pruner
    _end_tracking(extra, "pruned" if pruned else "done", st, test)
    try:
        if pruned:
            return writer.summary(st, "pruned", test=test, skipped_batches=st.skipped, pruned=pruning.report(), **reports)
        return writer.summary(st, "done", test=test, skipped_batches=st.skipped, **reports)
    except RunError as exc:  # the last write: resume finds the epochs done and writes it again
        if getattr(exc, "environment", False):
            raise RunError(f"{exc}; then continue with: {resume_cmd}") from None
        raise


def _end_tracking(callbacks: list[Callback], status: str, st: TrainState, test: dict | None = None) -> None:
    """train.log's backends learn how the run ended, and its test metrics (Tracker.end_run)."""
    for cb in callbacks:
        end = getattr(cb, "end_run", None)
        if end is not None:
            end(status, st, test)


def _record(writer: RunWriter, st: TrainState, status: str, error: str) -> None:
    """summary.json says how the run ended, where it still can be written (the disk whose
    failure ended the run may refuse it too: the error the user sees is the first one)."""
    try:
        writer.summary(st, status, error=error)
    except NntrainError:
        pass


def _final_reports(callbacks: list[Callback], path: Path, s: Setup, writer: RunWriter) -> dict:
    """What early stopping and the best checkpoint report in summary.json."""
    reports = {}
    for cb in callbacks:
        if isinstance(cb, EarlyStopping):
            reports["early_stopping"] = cb.report()
            if cb.restored:  # model.npz holds the model that fit returns: the best epoch's
                runs.write_npz(path / runs.WEIGHTS, {**s.model.state_dict(), **writer.extra})
        elif isinstance(cb, BestCheckpoint):
            reports["checkpoint"] = cb.report()
    # which epoch was best, by the checkpoint's monitor (else early stopping's), and where its weights are
    watched = reports.get("checkpoint") or reports.get("early_stopping")
    if watched and watched["best_epoch"]:
        file = runs.BEST if "checkpoint" in reports else (
            runs.WEIGHTS if reports["early_stopping"]["restored_best"] else None)
        reports["best"] = {"epoch": watched["best_epoch"], "monitor": watched["monitor"], "value": watched["best"],
                           "weights": file}
    return reports


def _check_epochs(trainer: Trainer, epochs: int, path: Path) -> None:
    """A resume that stopped inside an epoch must be allowed to finish it. (One whose epochs are
    all done runs none and finishes the final evaluation.)"""
    st = trainer.state
    if trainer.partial is not None and st.epoch >= epochs:
        raise RunError(f"{path} stopped inside epoch {st.epoch + 1}; train.epochs must be at least "
                       f"{st.epoch + 1}, got {epochs}")


def _eval_weights(cfg: Config, loss: Loss, model: Model, ds, y: np.ndarray) -> np.ndarray | None:
    """eval's sample weights: the data's weight column times the run's class weights, which come
    from its training split (read again: 'balanced' counts it, names are its class names)."""
    train = (None, None)
    if cfg.train.class_weight is not None:
        t = load_splits(cfg.data, input_shape=tuple(cfg.model.input_shape), seed=cfg.seed, dtype=cfg.model.dtype).train
        train = (t, loss.prepare_target(t.y, model.output_shape, cfg.model.dtype))
    return split_weights(cfg.train.class_weight, loss, model.output_shape, [train, (ds, y)], cfg.model.dtype)[1]


def data_report(cfg: Config) -> dict:
    """What `nntrain check` shows of a config's data (its training split, as fit would read it):
    the columns of a CSV with their kind, missing cells, categories and fill, the class balance
    and the width of the encoded input (tabular.data_report)."""
    splits = load_splits(cfg.data, input_shape=cfg.model.input_shape and tuple(cfg.model.input_shape),
                         seed=cfg.seed, dtype=cfg.model.dtype, inputs=cfg.model.inputs)
    header = target = None
    if (splits.tabular is None and splits.sequence is None and cfg.data.train is not None
            and cfg.data.train.lower().endswith((".csv", ".csv.gz"))):
        table = read_table(cfg.data.train)  # numbers only: every column numeric, nothing missing
        t, jw = target_and_weight(cfg.data.target, cfg.data.weight, table.header, table.path)
        header, target = [h for j, h in enumerate(table.header) if j not in (t, jw)], table.header[t]
    return tabular.data_report(splits, header, target, cfg.data.weight)


def evaluate_run(run_dir: str | Path, data: str | None = None, weights: str = "last") -> dict:
    """Loss and metrics of a run on its test split, or on a data file (`--data`): for a run trained
    on image folders, a folder of class subfolders too."""
    run = load_run(run_dir, weights)
    cfg = run.cfg
    loss = build_loss(cfg.loss)
    if run.tabular is not None and (data is None or data.lower().endswith((".csv", ".csv.gz"))):
        # raw rows through the preprocessing saved with the run (typed CSV columns)
        table = read_table(data) if data else raw_tables(cfg.data, cfg.seed, validation_indices)[1]
        if table is None:
            raise RunError(f"{run_dir}: the config has no test split; pass --data FILE")
        path = data or cfg.data.test or cfg.data.train
        table, w = tabular.take_weights(table, cfg.data.weight, run.tabular.na_values)  # rows may lack it
        ds = Dataset(run.tabular.transform(table, cfg.model.dtype, " the run was trained on"),
                     run.tabular.targets(table, cfg.model.dtype, " the run was trained on"), run.classes, w)
        x, source = fit_input(ds.x, run, str(path)), (str(data) if data else "test split")
    elif run.sequence is not None and data is not None and data.lower().endswith((".csv", ".csv.gz")):
        # raw rows through the run's vocabulary or windows (data.text, data.window)
        ds = run.sequence.dataset(read_table(data), cfg.model.dtype, run.classes)
        source = str(data)
        x = fit_input(ds.x, run, source)
    elif data is None:
        if cfg.data.arrays:
            raise RunError(f"{run_dir} was trained on arrays in memory; pass --data FILE "
                           f"(or, in Python, load_model(run).evaluate(x, y))")
        splits = load_splits(cfg.data, input_shape=tuple(cfg.model.input_shape), seed=cfg.seed,
                             dtype=cfg.model.dtype)
        ds, source = splits.test, "test split"
        if ds is None:
            raise RunError(f"{run_dir}: the config has no test split; pass --data FILE")
        x = ds.x  # load_splits already standardized it with the training statistics
    elif cfg.data.images is not None and Path(data).is_dir():  # class subfolders, labelled as in training
        from .data.images import check_model_shape, read_image_folder

        im = cfg.data.images
        ds = read_image_folder(data, image_size=im.image_size, color_mode=im.color_mode, classes=run.classes,
                               dtype=cfg.model.dtype)
        check_model_shape(ds.x, run.model.input_shape, data, im.image_size)
        source = str(data)
        x = fit_input(ds.x, run, source)
    else:
        ds = read_file(data, target=cfg.data.target, dtype=cfg.model.dtype, weight=cfg.data.weight)
        source = str(data)
        x = fit_input(ds.x, run, source)
    y = loss.prepare_target(ds.y, run.model.output_shape, cfg.model.dtype)
    if run.target_scale is not None:  # the loss of the scaled target, as fit reported it
        y = run.target_scale.scale(y)
    metrics = build_metrics(cfg, loss, run.target_scale)
    if loss.classification:  # rows: true class, columns: predicted class
        cm = ConfusionMatrix()
        cm.from_logits = loss.from_logits
        metrics.append(cm)
    result = evaluate(run.model, loss, metrics, x, y, _eval_weights(cfg, loss, run.model, ds, y))
    out = {"run_dir": str(run_dir), "data": source, "samples": len(x), "weights": weights, **result}
    if run.classes is not None and "confusion_matrix" in out:
        out["classes"] = list(run.classes)  # the names of the confusion matrix's rows and columns
    return out
