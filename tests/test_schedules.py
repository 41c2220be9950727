"""Schedules per step or per epoch (schedule_unit), warmup_epochs / warmup_steps for every
schedule, one_cycle by hand, and a bit-identical resume mid-epoch under a per-step schedule."""
from __future__ import annotations

import json
import math
import signal

import numpy as np
import pytest

from nntrain import api, runs
from nntrain.config import load_config
from nntrain.errors import Interrupted
from nntrain.nn.optimizers import build_schedule
from nntrain.nn.registry import SCHEDULES
from nntrain.train.trainer import Trainer


def lrs(spec, length, base=0.1, steps_per_epoch=None):
    s = build_schedule(spec)
    if steps_per_epoch is None:
        s.start(base, length)
    else:
        s.start(base, length, steps_per_epoch)
        length *= steps_per_epoch if s.unit == "step" else 1
    return [s.lr(t) for t in range(length)]


def test_one_cycle_by_hand_as_pytorchs_formula():
    # 10 units, pct_start 0.3: rises over t = 0..2 (t1 = 0.3 * 10 - 1 = 2), falls over 2..9
    got = lrs("one_cycle", 10, base=1.0)
    first, last = 1.0 / 25, 1.0 / 25 / 1e4
    cos = lambda a, b, pct: b + (a - b) * (1 + math.cos(math.pi * pct)) / 2  # noqa: E731
    assert got[0] == pytest.approx(first) and got[2] == pytest.approx(1.0) and got[9] == pytest.approx(last)
    assert got[1] == pytest.approx(cos(first, 1.0, 0.5))
    assert got[5] == pytest.approx(cos(1.0, last, 3 / 7))
    lin = lrs({"type": "one_cycle", "anneal_strategy": "linear", "pct_start": 0.5, "div_factor": 10,
               "final_div_factor": 1}, 5, base=1.0)
    # t1 = 1.5: 0.1 -> 1 over [0, 1.5], then 1 -> 0.1 over [1.5, 4]
    assert lin == pytest.approx([0.1, 0.1 + 0.9 / 1.5, 1 - 0.9 * 0.5 / 2.5, 1 - 0.9 * 1.5 / 2.5, 0.1])


def test_warmup_epochs_ramps_then_starts_the_schedule_at_its_own_zero():
    # 2 warmup epochs: base (t + 1) / 3; then step (size 2, gamma 0.5) over the 4 epochs left
    assert lrs({"type": "step", "step_size": 2, "gamma": 0.5, "warmup_epochs": 2}, 6) == pytest.approx(
        [0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.05, 0.05])
    # cosine after warmup decays over the epochs left (4), as cosine's own warmup does
    assert lrs({"type": "cosine", "warmup_epochs": 2}, 6) == pytest.approx(lrs({"type": "cosine", "warmup": 2}, 6))


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule_takes_the_unit_and_the_warmup(name):
    spec = {"type": name, "schedule_unit": "step", "warmup_steps": 3}
    got = lrs(spec, 2, steps_per_epoch=5)  # 10 steps, 3 of them warmup
    assert len(got) == 10 and got[:3] == pytest.approx([0.1 / 4, 0.2 / 4, 0.3 / 4])
    inner = build_schedule(name)
    inner.start(0.1, 7)
    assert got[3:] == pytest.approx([inner.lr(t) for t in range(7)])
    # warmup_epochs counts epochs of steps in the step unit
    assert lrs({"type": name, "schedule_unit": "step", "warmup_epochs": 1}, 2, steps_per_epoch=5)[:5] == \
        pytest.approx([0.1 * (t + 1) / 6 for t in range(5)])


def test_timing_options_are_checked(cli, write):
    base = "data: {name: xor}\nmodel: {layers: [{type: dense, units: 1, activation: sigmoid}]}\nloss: binary_crossentropy\n"
    for schedule, key, msg in [
        ("{type: cosine, warmup_steps: 5}", "optimizer.schedule.warmup_steps", "warmup_steps needs schedule_unit: step"),
        ("{type: step, schedule_unit: batch}", "optimizer.schedule.schedule_unit", "schedule_unit must be epoch or step"),
        ("{type: step, warmup_epochs: -1}", "optimizer.schedule.warmup_epochs", "warmup_epochs"),
        ("{type: one_cycle, pct_start: 1.5}", "optimizer.schedule", "pct_start"),
    ]:
        r = cli("check", write("c.yaml", base + f"optimizer: {{type: sgd, lr: 0.1, schedule: {schedule}}}\n"))
        assert r.exit_code == 2 and key in r.stderr and msg in r.stderr, r.stderr


class Recording(Trainer):
    """A trainer that records the lr of every optimizer step."""

    seen: list = []

    def train_step(self, xb, yb, wb=None):
        Recording.seen.append(self.optimizer.lr)
        return super().train_step(xb, yb, wb)


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
optimizer: {type: sgd, lr: 0.2, momentum: 0.9, schedule: {type: one_cycle, schedule_unit: step, warmup_steps: 4}}
metrics: [accuracy]
train: {epochs: 3, batch_size: 16}
"""


def test_a_per_step_schedule_changes_the_lr_before_every_step(write, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "Trainer", Recording)
    Recording.seen = []
    api.fit(load_config(write("c.yaml", SPIRALS)), run_dir=tmp_path / "run")
    expected = lrs({"type": "one_cycle", "schedule_unit": "step", "warmup_steps": 4}, 3, base=0.2,
                   steps_per_epoch=12)  # 192 training samples / 16
    assert Recording.seen == pytest.approx(expected, rel=1e-12) and len(set(Recording.seen)) == 36
    # metrics.csv's lr is the lr of each epoch's last step
    rows = runs.read_metrics_csv(tmp_path / "run" / runs.METRICS)
    assert [row["lr"] for row in rows] == pytest.approx([expected[11], expected[23], expected[35]], rel=1e-5)


class StopAt(Trainer):
    """A trainer that receives SIGINT (as the signal handler would set it) during its n-th step."""

    n = 0

    def train_step(self, xb, yb, wb=None):
        StopAt.n -= 1
        if StopAt.n == 0:
            self.stop_signal = signal.SIGINT
        return super().train_step(xb, yb, wb)


@pytest.mark.parametrize("stop_step", [3, 17])  # inside the warmup; inside epoch 2
def test_resume_mid_epoch_under_a_per_step_schedule_is_bit_identical(write, tmp_path, monkeypatch, stop_step):
    cfg = write("c.yaml", SPIRALS)
    api.fit(load_config(cfg), run_dir=tmp_path / "full")
    monkeypatch.setattr(api, "Trainer", StopAt)
    StopAt.n = stop_step
    with pytest.raises(Interrupted):
        api.fit(load_config(cfg), run_dir=tmp_path / "part")
    state = runs.read_npz(tmp_path / "part" / "state.npz")
    assert json.loads(str(state["partial"][()]))["cursor"] == (stop_step - 1) % 12 + 1  # mid-epoch
    monkeypatch.setattr(api, "Trainer", Trainer)
    api.resume(tmp_path / "part")
    full, part = runs.read_npz(tmp_path / "full" / runs.WEIGHTS), runs.read_npz(tmp_path / "part" / runs.WEIGHTS)
    assert sorted(full) == sorted(part)
    for k in full:
        assert np.array_equal(full[k], part[k]), k
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(runs.read_metrics_csv(tmp_path / "full" / runs.METRICS)) == \
        strip(runs.read_metrics_csv(tmp_path / "part" / runs.METRICS))
