"""Sequential's build-time checks."""
from __future__ import annotations

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.nn.model import Sequential, run_order

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


def test_run_order_moves_a_relu_after_the_max_pool_that_follows_it():
    def kinds(*names):
        return run_order([type("L", (), {"registry_name": n})() for n in names])

    assert kinds("conv2d", "relu", "maxpool2d", "flatten") == [0, 2, 1, 3]
    assert kinds("relu", "relu", "maxpool1d") == [0, 2, 1]
    assert kinds("relu", "global_maxpool2d", "relu", "maxpool2d") == [1, 0, 3, 2]
    assert kinds("relu", "avgpool2d", "tanh", "maxpool2d") == [0, 1, 2, 3]  # only relu, only max pools


@pytest.mark.parametrize("layers, shape", [
    ([{"type": "conv2d", "filters": 3, "kernel_size": 2, "activation": "relu"}, {"type": "maxpool2d"},
      {"type": "relu"}, {"type": "maxpool2d", "padding": "same"}, {"type": "flatten"}], (9, 9, 2)),
    ([{"type": "conv1d", "filters": 4, "kernel_size": 2, "activation": "relu"}, {"type": "maxpool1d"},
      {"type": "relu"}, {"type": "global_maxpool1d"}], (9, 3)),
    ([{"type": "conv2d", "filters": 3, "kernel_size": 2, "activation": "relu"}, {"type": "global_maxpool2d"}],
     (5, 5, 2)),
])
def test_relu_after_the_max_pool_gives_the_same_bits_as_the_listed_order(layers, shape):
    """Outputs and every parameter gradient (the conv's below the moved relu too) are
    bit-identical to running the layers as listed, with whole windows negative, windows whose
    maximum is 0, and ties."""
    specs = layers + [{"type": "dense", "units": 3}]
    moved = Sequential.from_specs(specs, shape, dtype="float64", seed=1)
    listed = Sequential.from_specs(specs, shape, dtype="float64", seed=1)
    assert moved._order != list(range(len(moved.layers)))
    listed._order = list(range(len(listed.layers)))
    listed._run, listed._run_back = listed.layers, listed.layers[::-1]
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 3, (6,) + shape).astype(np.float64)  # small integers: ties and zeros
    g = rng.standard_normal((6, 3))
    outs = []
    for model in (moved, listed):
        y = model.forward(x, training=True).copy()
        model.backward(g)
        outs.append((y, model.flat_grads.copy()))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    assert np.count_nonzero(outs[0][1]) > 0
    assert [i for i, _, _ in moved.outputs(x)] == moved._order
