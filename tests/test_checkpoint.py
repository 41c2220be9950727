"""Checkpoints, bit-identical resume, divergence and safe loading, driven in-process."""
from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from nntrain import api, runs
from nntrain.config import load_config
from nntrain.errors import DivergedError, Interrupted, RunError
from nntrain.train import checkpoint
from nntrain.train.trainer import Trainer

from conftest import CONFIGS

SPIRALS = """\
seed: 1
data: {name: spirals, options: {n_samples: 240}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 12, activation: relu}
    - {type: dropout, rate: 0.25}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, lr: 0.01}
metrics: [accuracy]
train: {epochs: 4, batch_size: 16}
"""

# the same data through a recurrent model: each sample's two numbers read as two steps
SPIRALS_LSTM = SPIRALS.replace("""    - {type: dense, units: 12, activation: relu}
    - {type: dropout, rate: 0.25}
""", """    - {type: reshape, target_shape: [2, 1]}
    - {type: lstm, units: 8, return_sequences: true}
    - {type: dropout, rate: 0.25}
    - {type: global_avgpool1d}
""")

SINE = """\
data: {name: sine, options: {n_samples: 64}}
model: {input_shape: [1], layers: [{type: dense, units: 8, activation: tanh}, {type: dense, units: 1}]}
loss: mse
optimizer: {type: sgd, lr: 0.01, momentum: 0.9}
train: {epochs: 3, batch_size: 8}
"""


def arrays(path):
    return runs.read_npz(path)


def assert_same_arrays(a: dict, b: dict, skip=()):
    assert sorted(a) == sorted(b)
    for k in a:
        if k not in skip:
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def history_without_time(run_dir):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in runs.read_metrics_csv(run_dir / runs.METRICS)]


@pytest.fixture
def spirals(write):
    return write("spirals.yaml", SPIRALS)


@pytest.fixture
def reference(spirals, tmp_path):
    """The uninterrupted 4-epoch run."""
    api.fit(load_config(spirals), run_dir=tmp_path / "full")
    return tmp_path / "full"


class StopAt(Trainer):
    """A trainer that receives SIGINT (as the handler would set it) during its n-th step."""

    n = 0

    def train_step(self, xb, yb, wb=None):
        StopAt.n -= 1
        if StopAt.n == 0:
            self.stop_signal = signal.SIGINT
        return super().train_step(xb, yb, wb)


def test_every_epoch_writes_a_complete_checkpoint(reference):
    state = arrays(reference / checkpoint.STATE)
    counters = json.loads(str(state["counters"][()]))
    assert counters["epoch"] == 4 and counters["step"] == 4 * 12  # 192 samples / 16
    assert "partial" not in state
    # only the last epoch's row: metrics.csv has them all, and a checkpoint does not grow per epoch
    assert [row["epoch"] for row in json.loads(str(state["history"][()]))] == [4]
    assert {"rng", "optimizer/iterations", "optimizer/flat/m", "optimizer/flat/v", "model/0.W"} <= set(state)
    # the weights in the checkpoint are those of model.npz
    weights = arrays(reference / runs.WEIGHTS)
    for k, v in weights.items():
        assert np.array_equal(state[f"model/{k}"], v)


def test_resume_after_an_epoch_with_more_epochs_is_bit_identical(spirals, reference, tmp_path):
    api.fit(load_config(spirals, ["train.epochs=2"]), run_dir=tmp_path / "part")
    result = api.resume(tmp_path / "part", ["train.epochs=4"])
    assert result["status"] == "done" and result["epochs"] == 4
    assert_same_arrays(arrays(reference / runs.WEIGHTS), arrays(tmp_path / "part" / runs.WEIGHTS))
    assert_same_arrays(arrays(reference / checkpoint.STATE), arrays(tmp_path / "part" / checkpoint.STATE),
                       skip=("counters", "history"))  # these hold wall-clock seconds
    assert history_without_time(reference) == history_without_time(tmp_path / "part")
    assert load_config(tmp_path / "part" / runs.CONFIG).train.epochs == 4


# first step, inside epoch 2, inside epoch 3; and a model with an LSTM
@pytest.mark.parametrize("stop_step, text", [(1, SPIRALS), (17, SPIRALS), (30, SPIRALS), (17, SPIRALS_LSTM)],
                         ids=["dense-1", "dense-17", "dense-30", "lstm-17"])
def test_resume_from_a_mid_epoch_interrupt_is_bit_identical(write, tmp_path, monkeypatch, stop_step, text):
    spirals = write("spirals.yaml", text)
    api.fit(load_config(spirals), run_dir=tmp_path / "full")  # the uninterrupted run
    reference = tmp_path / "full"
    monkeypatch.setattr(api, "Trainer", StopAt)
    StopAt.n = stop_step
    with pytest.raises(Interrupted) as info:
        api.fit(load_config(spirals), run_dir=tmp_path / "part")
    assert info.value.exit_code == 130 and "resume with: nntrain fit --resume" in str(info.value)
    state = arrays(tmp_path / "part" / checkpoint.STATE)
    partial = json.loads(str(state["partial"][()]))
    assert partial["cursor"] == (stop_step - 1) % 12 + 1
    assert runs.read_summary(tmp_path / "part")["status"] == "interrupted"
    monkeypatch.setattr(api, "Trainer", Trainer)
    api.resume(tmp_path / "part")
    assert_same_arrays(arrays(reference / runs.WEIGHTS), arrays(tmp_path / "part" / runs.WEIGHTS))
    assert history_without_time(reference) == history_without_time(tmp_path / "part")


def test_resume_before_any_checkpoint_starts_over_from_the_config(spirals, reference, tmp_path, cli):
    api.fit(load_config(spirals, ["train.epochs=1"]), run_dir=tmp_path / "part")
    for name in (checkpoint.STATE, runs.WEIGHTS, runs.METRICS):  # as if killed inside epoch 1
        (tmp_path / "part" / name).unlink()
    r = cli("fit", "--resume", tmp_path / "part", "--set", "train.epochs=4")
    assert r.exit_code == 0, r.output
    assert_same_arrays(arrays(reference / runs.WEIGHTS), arrays(tmp_path / "part" / runs.WEIGHTS))


def test_checkpoint_every_steps_resumes_bit_identically(write, tmp_path):
    cfg = write("sine.yaml", SINE)
    api.fit(load_config(cfg), run_dir=tmp_path / "full")
    # a run stopped hard after its step-5 checkpoint (state.npz saved mid-epoch), then resumed
    api.fit(load_config(cfg, ["train.checkpoint_every_steps=5"]), run_dir=tmp_path / "a")
    saved = {}

    def keep_step5(self, trainer):
        orig(self, trainer)
        if trainer.state.step == 5:
            saved.update(arrays(tmp_path / "b" / checkpoint.STATE))

    orig = checkpoint.Checkpointer.__call__
    try:
        checkpoint.Checkpointer.__call__ = keep_step5
        api.fit(load_config(cfg, ["train.checkpoint_every_steps=5"]), run_dir=tmp_path / "b")
    finally:
        checkpoint.Checkpointer.__call__ = orig
    assert json.loads(str(saved["partial"][()]))["cursor"] == 5
    runs.write_npz(tmp_path / "b" / checkpoint.STATE, saved)
    api.resume(tmp_path / "b")
    for run in ("a", "b"):
        assert_same_arrays(arrays(tmp_path / "full" / runs.WEIGHTS), arrays(tmp_path / run / runs.WEIGHTS))


def test_resume_refuses_changes_that_would_make_another_run(spirals, reference):
    with pytest.raises(Exception, match="optimizer.type.*cannot change when resuming"):
        api.resume(reference, ["optimizer.type=sgd"])
    with pytest.raises(RunError, match="run folder not found"):
        api.resume(reference.parent / "nope")


def test_a_run_folder_whose_shapes_differ_from_its_config_names_the_layer(reference, cli):
    cfg = (reference / runs.CONFIG).read_text().replace("units: 12", "units: 10")
    (reference / runs.CONFIG).write_text(cfg)
    r = cli("eval", reference)
    assert r.exit_code == 2, r.output
    assert "layer 0 (dense) W has shape [2, 12] but the config builds [2, 10]" in r.stderr
    r = cli("fit", "--resume", reference, "--set", "train.epochs=5")  # the checkpoint knows its config
    assert r.exit_code == 2, r.output
    assert "state.npz is not this run's checkpoint: it was saved under another config" in r.stderr
    assert "a config.yaml edited since" in r.stderr


def test_resume_refuses_training_data_that_changed(write, tmp_path, cli):
    rows = "".join(f"{i / 10},{i % 3 / 3},{i % 2}\n" for i in range(20))
    data = write("d.csv", "a,b,y\n" + rows)
    cfg = write("c.yaml", "data: {train: d.csv}\nmodel: {input_shape: [2], layers: [{type: dense, units: 2, "
                          "activation: softmax}]}\nloss: sparse_categorical_crossentropy\ntrain: {epochs: 1}\n")
    assert cli("fit", cfg, "--run-dir", "run", "-q").exit_code == 0
    data.write_text("a,b,y\n" + rows.replace("0.5,", "0.55,"))
    r = cli("fit", "--resume", "run", "--set", "train.epochs=2")
    assert r.exit_code == 2 and "the training data differ from those the run started with" in r.stderr


def test_a_damaged_state_file_is_an_error_not_a_traceback(reference, cli):
    (reference / checkpoint.STATE).write_bytes(b"PK\x03\x04 not really a zip")
    r = cli("fit", "--resume", reference, "--set", "train.epochs=5")
    assert r.exit_code == 2 and "state.npz is damaged: it is not an .npz archive" in r.stderr
    state = {"format": np.array(1), "data": np.array("{not json")}
    runs.write_npz(reference / checkpoint.STATE, state)
    r = cli("fit", "--resume", reference, "--set", "train.epochs=5")
    assert r.exit_code == 2 and "'data' is not valid JSON" in r.stderr


JUNK = [np.array("[]"), np.array(3), np.zeros((2, 2))]


def test_every_damaged_checkpoint_entry_is_a_run_error(spirals, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "Trainer", StopAt)
    StopAt.n = 17
    with pytest.raises(Interrupted):
        api.fit(load_config(spirals), run_dir=tmp_path / "run")
    good = arrays(tmp_path / "run" / checkpoint.STATE)
    s = api.setup(load_config(spirals))
    n = len(s.splits.train)
    (tmp_path / "damaged").mkdir()
    accepted = []
    for key in good:
        for junk in JUNK + [None]:
            state = dict(good)
            if junk is None:
                del state[key]
            else:
                state[key] = junk
            trainer = Trainer(s.model, s.loss, api.build_optimizer(s.cfg.optimizer), s.metrics)
            runs.write_npz(tmp_path / "damaged" / checkpoint.STATE, state)
            try:  # anything but a RunError (exit 2) would be a traceback for the user
                checkpoint.restore(trainer, checkpoint.load(tmp_path / "damaged"), "state.npz", n, 16)
                accepted.append((key, junk))
            except RunError:
                pass
    # what passes is well-formed: a number, a metric attribute, an optional entry (run.config is
    # compared with the run folder's config by the Checkpointer, not by restore)
    allowed = {"metrics", "callbacks", "optimizer.base_lr", "optimizer.lr", "partial", "run.config"}
    assert {k for k, _ in accepted} <= allowed, accepted


def test_divergence_stops_with_exit_1_and_keeps_the_last_good_checkpoint(write, cli, tmp_path):
    cfg = write("sine.yaml", SINE.replace("momentum: 0.9", "momentum: 0.0"))
    r = cli("fit", cfg, "--run-dir", "run", "--set", "optimizer.lr=1000", "--set", "train.checkpoint_every_steps=2")
    assert r.exit_code == 1, r.output
    msg = r.stderr
    assert "error: training diverged: the loss became inf at epoch 1, step 6 of 8" in msg
    assert "try a lower learning rate (optimizer.lr is 1000)" in msg
    assert "the last good checkpoint (epoch 1, batch 4 of 8, step 4) is kept" in msg
    assert "nntrain fit --resume run --set optimizer.lr=100" in msg
    state = arrays(tmp_path / "run" / checkpoint.STATE)
    assert np.isfinite(state["model/0.W"]).all()
    assert runs.read_summary(tmp_path / "run")["status"] == "diverged"


def test_non_finite_weights_never_replace_a_good_checkpoint(spirals, tmp_path, monkeypatch):
    class Overflow(Trainer):  # the last step of epoch 2 overflows a weight, its loss still finite
        def train_step(self, xb, yb, wb=None):
            out = super().train_step(xb, yb, wb)
            if self.state.step == 23:
                self.model.layers[3].params["W"][0, 0] = np.inf
            return out

    monkeypatch.setattr(api, "Trainer", Overflow)
    with pytest.raises(DivergedError) as info:
        api.fit(load_config(spirals), run_dir=tmp_path / "run")
    assert "the parameters became non-finite in epoch 2 (by step 24); layer 3 (dense) parameter W" in str(info.value)
    assert "the last good checkpoint (end of epoch 1, step 12) is kept" in str(info.value)
    for name in (checkpoint.STATE, runs.WEIGHTS):  # neither the checkpoint nor model.npz took the inf
        saved = arrays(tmp_path / "run" / name)
        assert np.isfinite(saved.get("model/3.W", saved.get("3.W"))).all()
    assert json.loads(str(arrays(tmp_path / "run" / checkpoint.STATE)["counters"][()]))["epoch"] == 1


def test_find_nonfinite_names_the_first_broken_layer(write):
    s = api.setup(load_config(write("sine.yaml", SINE)))
    from nntrain.train.trainer import find_nonfinite

    x = s.splits.train.x[:4]
    assert "loss itself" in find_nonfinite(s.model, x)
    s.model.layers[2].params["b"][0] = np.inf
    assert find_nonfinite(s.model, x) == "layer 2 (dense) parameter b went non-finite"
    s.model.layers[0].grads["W"][0, 0] = np.nan
    assert find_nonfinite(s.model, x) == "layer 0 (dense) gradient W went non-finite"


def test_skip_batch_skips_and_counts_non_finite_batches(write, cli, tmp_path):
    rows = ["a,b,y"] + [f"{i % 7 / 7},{i % 5 / 5},{(i % 7 + i % 5) / 12}" for i in range(40)]
    rows[11] = "3e38,0.5,0.5"  # finite in float32, but x @ W overflows: this batch's loss is inf
    write("d.csv", "\n".join(rows) + "\n")
    cfg = write("r.yaml", "data: {train: d.csv}\nmodel: {input_shape: [2], layers: [{type: dense, units: 4}, "
                          "{type: dense, units: 1}]}\nloss: mse\ntrain: {epochs: 2, batch_size: 8, shuffle: false}\n")
    r = cli("fit", cfg, "--run-dir", "stop", "--json")
    assert r.exit_code == 1 and "at epoch 1, step 2 of 5" in r.stderr
    r = cli("fit", cfg, "--run-dir", "skip", "--json", "--set", "train.on_nonfinite=skip_batch")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["skipped_batches"] == 2 and out["steps"] == 8
    assert "epoch 1: skipped 1 of 5 batches with a non-finite loss" in r.stderr
    assert np.isfinite(arrays(tmp_path / "skip" / runs.WEIGHTS)["0.W"]).all()


def test_resume_keeps_the_callbacks_state(write, tmp_path):
    """reduce_on_plateau's counters, early stopping's and the best checkpoint's bests survive a resume."""
    text = SPIRALS.replace(
        "optimizer: {type: adam, lr: 0.01}",
        "optimizer: {type: adam, lr: 0.05, schedule: {type: reduce_on_plateau, monitor: val_loss, patience: 1,"
        " factor: 0.5, min_delta: 0.0}}",
    ).replace("train: {epochs: 4, batch_size: 16}",
              "train: {epochs: 8, batch_size: 16, early_stopping: {monitor: val_loss, patience: 6},"
              " checkpoint: {monitor: val_accuracy}}")
    cfg = write("plateau.yaml", text)
    full = api.fit(load_config(cfg), run_dir=tmp_path / "full")
    api.fit(load_config(cfg, ["train.epochs=4"]), run_dir=tmp_path / "part")
    resumed = api.resume(tmp_path / "part", ["train.epochs=8"])
    lrs = [row["lr"] for row in runs.read_metrics_csv(tmp_path / "full" / runs.METRICS)]
    assert len(set(lrs)) > 1  # the plateau schedule did reduce the lr, so its state matters
    assert history_without_time(tmp_path / "full") == history_without_time(tmp_path / "part")
    assert_same_arrays(arrays(tmp_path / "full" / runs.WEIGHTS), arrays(tmp_path / "part" / runs.WEIGHTS))
    assert resumed["checkpoint"]["best_epoch"] == full["checkpoint"]["best_epoch"]
    assert resumed["early_stopping"]["best"] == full["early_stopping"]["best"]


def test_a_resumed_run_keeps_its_config_name_and_start(spirals, tmp_path):
    api.fit(load_config(spirals, ["train.epochs=1"]), run_dir=tmp_path / "part")
    first = runs.read_summary(tmp_path / "part")
    result = api.resume(tmp_path / "part", ["train.epochs=2"])
    assert result["config"] == str(spirals) == first["config"]
    assert result["started"] == first["started"]


# -- an epoch costs the same at the end of a long run (issue 13, part H) --------------------
def test_metrics_csv_is_appended_and_a_resume_drops_rows_after_its_checkpoint(spirals, reference, tmp_path):
    api.fit(load_config(spirals, ["train.epochs=2"]), run_dir=tmp_path / "part")
    csv_path = tmp_path / "part" / runs.METRICS
    two = csv_path.read_text()
    # a crash after epoch 3's row was appended but before its checkpoint, inside a 4th append
    csv_path.write_text(two + two.splitlines()[-1].replace("2,", "3,", 1) + "\n" + "4,0.01,0.7")
    api.resume(tmp_path / "part", ["train.epochs=4"])
    assert csv_path.read_text().startswith(two)
    assert history_without_time(reference) == history_without_time(tmp_path / "part")  # epochs 1..4, once each


def test_append_metrics_row_writes_the_header_once_and_widens_it_when_needed(tmp_path):
    path = tmp_path / "metrics.csv"
    runs.append_metrics_row(path, {"epoch": 1, "loss": 0.5})
    runs.append_metrics_row(path, {"epoch": 2, "loss": 0.25})
    assert path.read_text() == "epoch,loss\n1,0.5\n2,0.25\n"
    runs.append_metrics_row(path, {"epoch": 3, "loss": 0.125, "val_loss": 0.2})
    assert path.read_text() == "epoch,loss,val_loss\n1,0.5,\n2,0.25,\n3,0.125,0.2\n"


def test_the_checkpoint_does_not_grow_with_the_epochs(write, tmp_path):
    cfg = write("xor.yaml", (CONFIGS / "xor.yaml").read_text())
    sizes = {}
    for epochs in (5, 200):
        api.fit(load_config(cfg, [f"train.epochs={epochs}"]), run_dir=tmp_path / str(epochs))
        sizes[epochs] = (tmp_path / str(epochs) / checkpoint.STATE).stat().st_size
        assert len(runs.read_metrics_csv(tmp_path / str(epochs) / runs.METRICS)) == epochs
    assert abs(sizes[200] - sizes[5]) < 100, sizes  # a history of every epoch added ~110 bytes each


def test_a_divergence_caused_by_the_schedule_names_the_schedule(write, cli, tmp_path):
    cfg = write("s.yaml", SPIRALS.replace("optimizer: {type: adam, lr: 0.01}",
                                          "optimizer: {type: adam, lr: 0.01, schedule: {type: exponential, gamma: 1.0e+100}}"))
    r = cli("fit", cfg, "--run-dir", tmp_path / "run")
    assert r.exit_code == 1, r.output
    assert "the schedule (optimizer.schedule) had taken the learning rate to 1e+98 from optimizer.lr 0.01" in r.stderr
    assert f"--resume {tmp_path / 'run'} --set optimizer.lr=0.001" in r.stderr  # a tenth of what the user set


def test_parameters_that_blow_up_under_a_finite_clipped_loss_are_a_divergence(cli, tmp_path):
    r = cli("fit", CONFIGS / "xor.yaml", "--set", "optimizer.lr=1e30", "--run-dir", tmp_path / "run")
    assert r.exit_code == 1, r.output
    assert "the parameters grew to" in r.stderr and "beyond 1.84e+19" in r.stderr and "although the loss stayed finite" in r.stderr
    assert runs.read_summary(tmp_path / "run")["status"] == "diverged"
