"""Sequential's build-time checks."""
from __future__ import annotations

import pytest

from nntrain.errors import ConfigError
from nntrain.model import Sequential

LAYERS = [{"type": "dense", "units": 1000}, {"type": "dense", "units": 1000}, {"type": "dense", "units": 10}]


def test_a_model_too_big_for_memory_is_refused_before_it_is_allocated(monkeypatch):
    import nntrain.layers.base as base

    # 30 MiB of memory: the first dense layer fits (1M parameters x 4 bytes x 5 copies = 19 MiB),
    # the first two together do not, so the error names the second
    monkeypatch.setattr(base, "machine_memory", lambda: 30 * 2 ** 20)
    with pytest.raises(ConfigError) as info:
        Sequential.from_specs(LAYERS, input_shape=[1000])
    assert info.value.key == "model.layers.1"
    assert "the model up to this dense layer needs about" in str(info.value)
    assert "2,002,000 parameters x 5 copies" in str(info.value)
    assert "needs about 38 MiB to train" in str(info.value)
    assert "more than this machine's 30 MiB of memory" in str(info.value)
    monkeypatch.setattr(base, "machine_memory", lambda: None)  # a platform that does not say: no check
    assert Sequential.from_specs(LAYERS, input_shape=[1000]).count_params() == 2_012_010


def test_one_parameter_too_big_is_refused_by_the_layer(monkeypatch):
    import nntrain.layers.base as base

    monkeypatch.setattr(base, "machine_memory", lambda: 10 * 2 ** 20)
    with pytest.raises(ConfigError) as info:
        Sequential.from_specs(LAYERS, input_shape=[1000])
    assert info.value.key == "model.layers.0"
    assert "its W of shape [1000, 1000] alone needs about 19 MiB to train" in str(info.value)
