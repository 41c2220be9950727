"""Experiment tracking: `train.log: [tensorboard, mlflow]` sends a run's numbers to TensorBoard
event files and to an MLflow tracking store, beside the run folder (which stays the record).

Both are optional extras (`pip install 'nntrain[tensorboard]'`, `'nntrain[mlflow]'`), imported
only when a config asks for them, so a run without `train.log` loads and runs none of this.
What is logged:

- per epoch: every metrics.csv column (loss, metrics, val_*, lr), at step = the epoch;
- every `train.log_every_steps` steps: the batch's loss and the lr (`step/loss`, `step/lr` in
  TensorBoard, `step_loss`, `step_lr` in MLflow), at step = the optimizer step;
- `train.log_histograms`: each parameter's weights and gradients per epoch (TensorBoard);
- MLflow also gets the resolved config flattened into params (`optimizer.lr`,
  `model.layers.0.units`, ...), and at the end of training model.npz and config.yaml as
  artifacts. A resumed run continues its MLflow run (its id is kept in the run folder's
  tracking.json).

A tracking failure (a missing package, an unreachable server, a full disk) warns
(`TrackingWarning`) and turns that backend off; training never stops for it.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .trainer import Callback, Trainer, TrainState

BACKENDS = ("tensorboard", "mlflow")
FILE = "tracking.json"  # the MLflow run id of a run folder, for resume
TB_DIR = "tensorboard"  # event files, under the run folder


class TrackingWarning(UserWarning):
    """A tracking backend failed; training went on without it."""


def flatten(d, prefix: str = "") -> dict[str, str]:
    """{"a": {"b": [1, {"c": 2}]}} -> {"a.b.0": "1", "a.b.1.c": "2"}: a config as flat params."""
    out: dict[str, str] = {}
    items = d.items() if isinstance(d, dict) else enumerate(d)
    for k, v in items:
        key = f"{prefix}{k}"
        if isinstance(v, (dict, list, tuple)) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, (dict, list, tuple)) or v is None else str(v)
    return out


def _numbers(row: dict) -> dict[str, float]:
    """The finite numeric columns of a metrics row (epoch and seconds left out)."""
    out = {}
    for k, v in row.items():
        if k in ("epoch", "seconds") or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if np.isfinite(v):
            out[k] = float(v)
    return out


class TensorBoard:
    """Event files in <run>/tensorboard, written with TensorBoard's own EventFileWriter and
    protos (the `tensorboard` package alone: no TensorFlow, no PyTorch)."""

    name = "tensorboard"

    def __init__(self, run_dir: Path, cfg):
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._event, self._summary = event_pb2.Event, summary_pb2
        self.writer = EventFileWriter(str(run_dir / TB_DIR))

    def _write(self, values: list, step: int) -> None:
        self.writer.add_event(self._event(wall_time=time.time(), step=int(step),
                                          summary=self._summary.Summary(value=values)))

    def scalars(self, values: dict[str, float], step: int, prefix: str = "") -> None:
        value = self._summary.Summary.Value
        self._write([value(tag=prefix + k, simple_value=v) for k, v in values.items()], step)

    def histograms(self, arrays: dict[str, np.ndarray], step: int) -> None:
        out = []
        for tag, a in arrays.items():
            a = np.asarray(a, dtype=np.float64).reshape(-1)
            if not a.size or not np.isfinite(a).all():
                continue
            counts, edges = np.histogram(a, bins=30)
            proto = self._summary.HistogramProto(min=float(a.min()), max=float(a.max()), num=float(a.size),
                                                 sum=float(a.sum()), sum_squares=float(a @ a),
                                                 bucket_limit=edges[1:].tolist(), bucket=counts.astype(float).tolist())
            out.append(self._summary.Summary.Value(tag=tag, histo=proto))
        if out:
            self._write(out, step)

    def epoch(self, row: dict, epoch: int) -> None:
        self.scalars(_numbers(row), epoch)
        self.writer.flush()

    def step(self, values: dict[str, float], step: int) -> None:
        self.scalars(values, step, prefix="step/")

    def artifacts(self, files: dict[str, bytes]) -> None:  # the run folder holds them already
        pass

    def end(self, status: str, test: dict[str, float], epoch: int) -> None:
        if test:
            self.scalars(test, epoch, prefix="test_")
        self.writer.close()


class MLflow:
    """An MLflow run in the tracking store of MLFLOW_TRACKING_URI, or ./mlruns (a local file
    store) when it is unset; the experiment is the config's name."""

    name = "mlflow"

    def __init__(self, run_dir: Path, cfg):
        uri = os.environ.get("MLFLOW_TRACKING_URI") or (Path.cwd() / "mlruns").as_uri()
        if uri.startswith("file:") or "://" not in uri:
            # MLflow 3 refuses a file store unless asked; ./mlruns is the documented default here
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient

        from ..config.load import config_to_dict

        self._metric, self._param = Metric, Param
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        record = run_dir / FILE
        previous = json.loads(record.read_text()).get("mlflow_run_id") if record.is_file() else None
        if previous is not None:  # a resumed run continues its MLflow run
            self.run_id = previous
            self.client.update_run(previous, status="RUNNING")
        else:
            name = getattr(cfg, "name", None) or "nntrain"
            exp = self.client.get_experiment_by_name(name)
            exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(name)
            run = self.client.create_run(exp_id, run_name=run_dir.name,
                                         tags={"nntrain.run_dir": str(run_dir)})
            self.run_id = run.info.run_id
            record.write_text(json.dumps({"mlflow_run_id": self.run_id, "tracking_uri": uri}) + "\n")
            params = [Param(k, v[:6000]) for k, v in flatten(config_to_dict(cfg)).items()]
            for i in range(0, len(params), 100):  # log_batch takes at most 100 params a call
                self.client.log_batch(self.run_id, params=params[i:i + 100])
        self.client.set_tag(self.run_id, "nntrain.status", "running")
        self._tag = RunTag

    def _log(self, values: dict[str, float], step: int, prefix: str = "") -> None:
        now = int(time.time() * 1000)
        metrics = [self._metric(prefix + k, v, now, int(step)) for k, v in values.items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def epoch(self, row: dict, epoch: int) -> None:
        self._log(_numbers(row), epoch)

    def step(self, values: dict[str, float], step: int) -> None:
        self._log(values, step, prefix="step_")

    def histograms(self, arrays, step) -> None:  # MLflow has no histograms
        pass

    def artifacts(self, files: dict[str, bytes]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(data)
                self.client.log_artifact(self.run_id, str(Path(tmp) / name))

    def end(self, status: str, test: dict[str, float], epoch: int) -> None:
        """The test metrics (test_*, at the last epoch) and how the run ended: the summary.json
        status as the tag nntrain.status, and MLflow's FINISHED, KILLED (interrupted: resume
        continues this MLflow run) or FAILED (failed, diverged)."""
        self._log(test, epoch, prefix="test_")
        self.client.set_tag(self.run_id, "nntrain.status", status)
        self.client.set_terminated(self.run_id, RUN_STATES.get(status, "FAILED"))


# summary.json's status -> MLflow's RunStatus at the end of the run (anything else: FAILED)
RUN_STATES = {"done": "FINISHED", "pruned": "FINISHED", "interrupted": "KILLED"}


def build_backend(name: str, run_dir: Path, cfg):
    return {"tensorboard": TensorBoard, "mlflow": MLflow}[name](run_dir, cfg)


class Tracker(Callback):
    """Sends each epoch's row (and every `every` steps the batch loss and lr) to the backends
    of train.log; a backend that raises is warned about and dropped."""

    def __init__(self, cfg, run_dir: Path, names: list[str], every: int | None = None,
                 histograms: bool = False, extra: dict | None = None):
        self.cfg, self.run_dir, self.names = cfg, Path(run_dir), list(names)
        self.every, self.histograms, self.extra = every, histograms, dict(extra or {})
        self.per_step = bool(every)
        self.backends: list = []

    def _guard(self, backend, what: str, call) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - tracking must never stop training
            warnings.warn(f"tracking: {backend.name if hasattr(backend, 'name') else backend} failed to {what} "
                          f"({type(exc).__name__}: {exc}); training goes on without it", TrackingWarning, stacklevel=2)
            if backend in self.backends:
                self.backends.remove(backend)

    def _each(self, what: str, fn) -> None:
        for b in list(self.backends):
            self._guard(b, what, lambda b=b: fn(b))

    def on_train_begin(self, trainer: Trainer, st: TrainState) -> None:
        for name in self.names:
            def start(name=name):
                self.backends.append(build_backend(name, self.run_dir, self.cfg))
            self._guard(name, "start", start)

    def on_step_end(self, trainer: Trainer, st: TrainState, loss: float) -> None:
        if st.step % self.every == 0:
            values = {"loss": float(loss), "lr": float(trainer.optimizer.lr)}
            self._each("log a step", lambda b: b.step(values, st.step))

    def on_epoch_end(self, trainer: Trainer, st: TrainState) -> None:
        row = st.history[-1]
        self._each("log an epoch", lambda b: b.epoch(row, st.epoch))
        if self.histograms:
            arrays = {}
            for name, p, g in trainer.model.named_params():
                arrays[f"weights/{name}"], arrays[f"gradients/{name}"] = p, g
            self._each("log histograms", lambda b: b.histograms(arrays, st.epoch))

    def on_train_end(self, trainer: Trainer, st: TrainState) -> None:
        import io

        from ..runs.folder import CONFIG, WEIGHTS

        def files() -> dict[str, bytes]:
            buf = io.BytesIO()  # the model fit returns (the best epoch's after restore_best)
            np.savez(buf, **{**trainer.model.state_dict(), **self.extra})
            out = {WEIGHTS: buf.getvalue()}
            if (self.run_dir / CONFIG).is_file():
                out[CONFIG] = (self.run_dir / CONFIG).read_bytes()
            return out

        payload: dict[str, bytes] = {}
        self._guard("tracking", "collect the artifacts", lambda: payload.update(files()))
        self._each("log the artifacts", lambda b: b.artifacts(payload))

    def end_run(self, status: str, st: TrainState, test: dict | None = None) -> None:
        """How the run ended (summary.json's status) and its test metrics, once: the caller
        knows them after the fit (the test evaluation, or the error that ended it)."""
        values = _numbers(test or {})
        self._each("finish", lambda b: b.end(status, values, st.epoch))
        self.backends.clear()
