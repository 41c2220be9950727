"""Sequential's build-time checks."""
from __future__ import annotations

import pytest

from nntrain.errors import ConfigError
from nntrain.nn.model import Sequential

LAYERS = [{"type": "dense", "units": 1000}, {"type": "dense", "units": 1000}, {"type": "dense", "units": 10}]


@pytest.mark.parametrize("memory_mib, key, messages", [
    # the first dense layer fits (1,001,000 parameters x 4 bytes x 5 copies = 19 MiB), the first
    # two together do not: the model is refused at the second
    (30, "model.layers.1", ["the model up to this dense layer needs about 38 MiB to train",
                            "2,002,000 parameters x 5 copies", "more than this machine's 30 MiB of memory"]),
    # one parameter alone is too big: the layer refuses it before allocating it
    (10, "model.layers.0", ["its W of shape [1000, 1000] alone needs about 19 MiB to train"]),
])
def test_a_model_too_big_for_memory_is_refused_before_it_is_allocated(monkeypatch, memory_mib, key, messages):
    import nntrain.nn.layers.base as base

    monkeypatch.setattr(base, "machine_memory", lambda: memory_mib * 2 ** 20)
    with pytest.raises(ConfigError) as info:
        Sequential.from_specs(LAYERS, input_shape=[1000])
    assert info.value.key == key
    for message in messages:
        assert message in str(info.value)


def test_no_memory_check_where_the_platform_does_not_say(monkeypatch):
    import nntrain.nn.layers.base as base

    monkeypatch.setattr(base, "machine_memory", lambda: None)
    assert Sequential.from_specs(LAYERS, input_shape=[1000]).count_params() == 2_012_010


def test_a_model_loaded_only_to_predict_counts_one_copy(monkeypatch):
    import nntrain.nn.layers.base as base

    # 10 MiB: the 2,012,010 float32 weights (7.7 MiB) fit once, not five times over
    monkeypatch.setattr(base, "machine_memory", lambda: 10 * 2 ** 20)
    model = Sequential.from_specs(LAYERS, input_shape=[1000], training=False)
    assert model.count_params() == 2_012_010
    monkeypatch.setattr(base, "machine_memory", lambda: 3 * 2 ** 20)
    with pytest.raises(ConfigError) as info:
        Sequential.from_specs(LAYERS, input_shape=[1000], training=False)
    assert "its W of shape [1000, 1000] alone needs about 4 MiB to hold its 1,000,000 parameters" in str(info.value)
