"""Every registered layer: finite-difference gradients (float64) and hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest

from nntrain import build_layer
from nntrain.nn.layers import LAYERS  # the package registers every layer
from nntrain.tools.gradcheck import TOLERANCE, check_layer

# One small example per registered layer: (spec, per-sample input shape).
# A new layer must add itself here: test_every_layer_has_an_example fails otherwise.
EXAMPLES = {
    "dense": ({"type": "dense", "units": 3}, (5,)),
    "flatten": ({"type": "flatten"}, (2, 3, 2)),
    "reshape": ({"type": "reshape", "target_shape": [3, -1]}, (6,)),
    "dropout": ({"type": "dropout", "rate": 0.4}, (7,)),
    "relu": ({"type": "relu"}, (6,)),
    "leaky_relu": ({"type": "leaky_relu", "negative_slope": 0.2}, (6,)),
    "sigmoid": ({"type": "sigmoid"}, (6,)),
    "tanh": ({"type": "tanh"}, (6,)),
    "linear": ({"type": "linear"}, (4,)),
    "softmax": ({"type": "softmax"}, (5,)),
    "conv2d": ({"type": "conv2d", "filters": 3, "kernel_size": [3, 2], "strides": [2, 1], "padding": "same"}, (5, 4, 2)),
    "maxpool2d": ({"type": "maxpool2d", "pool_size": 2}, (5, 4, 2)),
    "avgpool2d": ({"type": "avgpool2d", "pool_size": 3, "strides": 2, "padding": "same"}, (5, 4, 2)),
    "global_avgpool2d": ({"type": "global_avgpool2d"}, (3, 4, 2)),
    "batchnorm": ({"type": "batchnorm", "momentum": 0.5}, (3, 2, 3)),
    "layernorm": ({"type": "layernorm"}, (2, 5)),
    "elu": ({"type": "elu", "alpha": 0.7}, (6,)),
    "selu": ({"type": "selu"}, (6,)),
    "softplus": ({"type": "softplus"}, (6,)),
    "swish": ({"type": "swish"}, (6,)),
    "silu": ({"type": "silu"}, (6,)),
    "gelu": ({"type": "gelu"}, (6,)),
    # merge layers take a list of inputs: their example is a list of per-sample shapes
    "add": ({"type": "add"}, [(3, 2), (3, 2), (3, 2)]),
    "average": ({"type": "average"}, [(5,), (5,)]),
    "multiply": ({"type": "multiply"}, [(2, 3), (2, 3), (2, 3)]),
    "concatenate": ({"type": "concatenate", "axis": 0}, [(2, 3), (1, 3), (4, 3)]),
    # sequences: (steps, features); embedding takes integer ids (see IDS)
    "embedding": ({"type": "embedding", "input_dim": 7, "output_dim": 3, "mask_zero": True}, (5,)),
    "positional_embedding": ({"type": "positional_embedding", "sequence_length": 6}, (4, 3)),
    "conv1d": ({"type": "conv1d", "filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (7, 2)),
    "maxpool1d": ({"type": "maxpool1d", "pool_size": 3, "strides": 2, "padding": "same"}, (7, 2)),
    "avgpool1d": ({"type": "avgpool1d", "pool_size": 3, "strides": 2, "padding": "same"}, (7, 2)),
    "global_avgpool1d": ({"type": "global_avgpool1d"}, (5, 3)),
    "global_maxpool1d": ({"type": "global_maxpool1d"}, (5, 3)),
    "global_maxpool2d": ({"type": "global_maxpool2d"}, (3, 4, 2)),
    "simple_rnn": ({"type": "simple_rnn", "units": 3, "return_sequences": True}, (4, 2)),
    "lstm": ({"type": "lstm", "units": 3, "return_sequences": True}, (4, 2)),
    "gru": ({"type": "gru", "units": 3, "go_backwards": True}, (4, 2)),
    "bidirectional": ({"type": "bidirectional", "layer": {"type": "gru", "units": 2, "return_sequences": True}},
                      (4, 3)),
    "multi_head_attention": ({"type": "multi_head_attention", "num_heads": 2, "key_dim": 3, "value_dim": 2,
                              "causal": True}, (4, 5)),
}

# layers whose input is integer ids below this bound (a float array of whole numbers, as the
# data pipeline hands them over): the finite-difference test checks only their parameters
IDS = {"embedding": 7}


def example_input(shape, batch: int, rng=None, dtype=np.float64, name: str | None = None):
    """A batch for an example's shape: one array, or a list of them for a merge layer; ids in
    0 .. IDS[name] - 1 (every one of them, 0 the padding id included) for a layer that takes ids."""
    if isinstance(shape, list):
        return [example_input(s, batch, rng, dtype) for s in shape]
    if name in IDS:
        size = batch * int(np.prod(shape))
        return (np.arange(size) % IDS[name]).reshape((batch,) + shape).astype(dtype)
    if rng is None:
        return np.ones((batch,) + shape, dtype=dtype)
    return rng.standard_normal((batch,) + shape).astype(dtype)


def test_every_layer_has_an_example():
    assert sorted(EXAMPLES) == LAYERS.names()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
@pytest.mark.parametrize("training", [True, False])
def test_gradients_match_finite_differences(name, training):
    spec, shape = EXAMPLES[name]
    layer = build_layer(spec, input_shape=shape, dtype="float64", seed=1)
    x = example_input(shape, 4, np.random.default_rng(2), name=name)
    errors = check_layer(layer, x, training=training)
    assert errors, "nothing was checked"
    worst = max(errors.values())
    assert worst < TOLERANCE, errors


def test_dense_activation_shorthand_gradients():
    layer = build_layer({"type": "dense", "units": 3, "activation": "tanh"}, input_shape=(4,), dtype="float64")
    x = np.random.default_rng(0).standard_normal((5, 4))
    assert max(check_layer(layer, x).values()) < TOLERANCE
    assert np.allclose(layer.forward(x), np.tanh(x @ layer.params["W"] + layer.params["b"]))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
@pytest.mark.parametrize("batch", [1, 3, 17])
def test_output_shape_matches_build(name, batch):
    spec, shape = EXAMPLES[name]
    layer = build_layer(spec, input_shape=shape, dtype="float32")
    y = layer.forward(example_input(shape, batch, dtype=np.float32, name=name), training=False)
    assert y.shape == (batch,) + layer.output_shape
    assert y.dtype == np.float32


def test_dense_hand_computed():
    layer = build_layer({"type": "dense", "units": 2}, input_shape=(2,), dtype="float64")
    layer.params["W"][...] = [[1.0, 2.0], [3.0, 4.0]]
    layer.params["b"][...] = [0.5, -1.0]
    x = np.array([[1.0, 1.0], [2.0, 0.0]])
    assert np.array_equal(layer.forward(x, True), [[4.5, 5.0], [2.5, 3.0]])
    gx = layer.backward(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert np.array_equal(layer.grads["W"], [[1.0, 2.0], [1.0, 0.0]])  # x^T g
    assert np.array_equal(layer.grads["b"], [1.0, 1.0])
    assert np.array_equal(gx, [[1.0, 3.0], [2.0, 4.0]])  # g W^T


def test_activations_hand_computed():
    x = np.array([[-2.0, 0.0, 3.0]])
    assert np.array_equal(build_layer("relu", (3,), "float64").forward(x), [[0.0, 0.0, 3.0]])
    assert np.allclose(build_layer({"type": "leaky_relu", "negative_slope": 0.1}, (3,), "float64").forward(x),
                       [[-0.2, 0.0, 3.0]])
    sig = build_layer("sigmoid", (3,), "float64").forward(x)
    assert np.allclose(sig, [[0.11920292202211755, 0.5, 0.9525741268224334]])
    assert np.allclose(build_layer("tanh", (3,), "float64").forward(x), [[-0.9640275800758169, 0.0, 0.9950547536867305]])
    soft = build_layer("softmax", (3,), "float64").forward(np.array([[1.0, 2.0, 3.0]]))
    assert np.allclose(soft, [[0.09003057317038046, 0.24472847105479767, 0.6652409557748219]])


def test_softmax_and_sigmoid_do_not_overflow():
    big = np.array([[1000.0, -1000.0, 0.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        soft = build_layer("softmax", (3,)).forward(big)
        sig = build_layer("sigmoid", (3,)).forward(big)
    assert np.allclose(soft, [[1.0, 0.0, 0.0]])
    assert np.allclose(sig, [[1.0, 0.0, 0.5]])


def test_dropout_is_inverted_and_off_in_eval():
    layer = build_layer({"type": "dropout", "rate": 0.5}, (10_000,), seed=3)
    x = np.ones((2, 10_000), dtype=np.float32)
    assert layer.forward(x, training=False) is x
    y = layer.forward(x, training=True)
    kept = y != 0
    assert set(np.unique(y)) == {0.0, 2.0}  # survivors scaled by 1 / (1 - rate)
    assert 0.45 < kept.mean() < 0.55
    assert abs(y.mean() - 1.0) < 0.05  # expectation preserved


def test_backward_before_forward_is_a_clear_error():
    layer = build_layer({"type": "dense", "units": 2}, input_shape=(3,))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((1, 2), dtype=np.float32))


def test_get_config_rebuilds_the_layer():
    layer = build_layer({"type": "dense", "units": 7, "activation": "relu", "use_bias": False})
    again = type(layer)(**layer.get_config())
    assert again.get_config() == layer.get_config()


@pytest.mark.parametrize("spec, message", [
    ({"type": "dense", "units": -3}, "units must be a positive integer"),
    ({"type": "dense", "units": 4, "activation": "rleu"}, "did you mean 'relu'"),
    ({"type": "dropout", "rate": 1.5}, r"rate must be a number in \[0, 1\)"),
    ({"type": "denze", "units": 4}, "did you mean 'dense'"),
    ({"type": "dense", "unitz": 4}, "did you mean 'units'"),
])
def test_bad_layer_specs(spec, message):
    from nntrain.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        build_layer(spec)
