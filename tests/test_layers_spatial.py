"""Conv, pooling, normalization and smooth activations against values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nntrain import build_layer
from nntrain.tools.gradcheck import TOLERANCE, check_layer


def naive_conv(x, w, b, stride, pad):
    """Direct loops over output pixels: the definition, to compare the im2col version with."""
    (sh, sw), (pt, pb, pl, pr) = stride, pad
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kh, kw, _, f = w.shape
    oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    y = np.zeros((len(x), oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            y[:, i, j, :] = np.einsum("npqc,pqcf->nf", patch, w) + b
    return y


def test_conv2d_hand_computed():
    layer = build_layer({"type": "conv2d", "filters": 1, "kernel_size": 2}, (3, 3, 1), "float64")
    layer.params["W"][...] = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(2, 2, 1, 1)
    layer.params["b"][...] = 0.5
    x = np.arange(9.0).reshape(1, 3, 3, 1)  # [[0 1 2] [3 4 5] [6 7 8]]
    y = layer.forward(x, training=True)
    # y[i, j] = x[i, j] - x[i+1, j+1] + 0.5 = -4 + 0.5 everywhere
    assert np.array_equal(y[0, :, :, 0], [[-3.5, -3.5], [-3.5, -3.5]])
    layer.need_input_grad = True
    gx = layer.backward(np.ones((1, 2, 2, 1)))
    # dL/dW[p, q] = sum over outputs of x[i+p, j+q]: 0+1+3+4, 1+2+4+5, 3+4+6+7, 4+5+7+8
    assert np.array_equal(layer.grads["W"][:, :, 0, 0], [[8.0, 12.0], [20.0, 24.0]])
    assert layer.grads["b"][0] == 4.0
    # each input pixel gets +1 per window where it meets W[0,0] and -1 where it meets W[1,1]
    assert np.array_equal(gx[0, :, :, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])


@pytest.mark.parametrize("spec, shape, pad", [
    ({"filters": 4, "kernel_size": 3}, (6, 7, 2), (0, 0, 0, 0)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, (7, 8, 3), (1, 1, 0, 1)),
    ({"filters": 2, "kernel_size": [2, 3], "strides": [1, 2], "padding": "same"}, (5, 6, 1), (0, 1, 0, 1)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, (5, 4, 9), (1, 1, 0, 1)),  # >= 8 channels
])
def test_conv2d_matches_direct_loops(spec, shape, pad):
    layer = build_layer({"type": "conv2d", **spec}, shape, "float64", seed=4)
    x = np.random.default_rng(0).standard_normal((3,) + shape)
    y = layer.forward(x)
    ref = naive_conv(x, layer.params["W"], layer.params["b"], layer.strides, pad)
    assert y.shape == ref.shape == (3,) + layer.output_shape
    assert np.allclose(y, ref, atol=1e-12)


def test_conv2d_first_layer_skips_input_gradient_and_bad_inputs_are_clear():
    layer = build_layer({"type": "conv2d", "filters": 2}, (5, 5, 1), "float64")
    layer.need_input_grad = False
    layer.forward(np.ones((2, 5, 5, 1)), training=True)
    assert layer.backward(np.ones((2, 3, 3, 2))) is None
    assert layer.grads["b"].tolist() == [18.0, 18.0]
    from nntrain.errors import ConfigError
    with pytest.raises(ConfigError, match="padding must be one of valid, same"):
        build_layer({"type": "conv2d", "filters": 2, "padding": "full"})
    with pytest.raises(ConfigError, match="kernel_size must be a positive integer"):
        build_layer({"type": "conv2d", "filters": 2, "kernel_size": 0})
    with pytest.raises(ValueError, match="expects \\(height, width, channels\\)"):
        build_layer({"type": "conv2d", "filters": 2}, (784,))
    with pytest.raises(ValueError, match="does not fit"):
        build_layer({"type": "conv2d", "filters": 2, "kernel_size": 5}, (3, 3, 1))


def test_maxpool_hand_computed_and_ties_go_to_the_first():
    layer = build_layer("maxpool2d", (2, 4, 1), "float64")
    x = np.array([[1.0, 2.0, 7.0, 7.0], [3.0, 4.0, 7.0, 7.0]]).reshape(1, 2, 4, 1)
    y = layer.forward(x, training=True)
    assert y[0, :, :, 0].tolist() == [[4.0, 7.0]]
    gx = layer.backward(np.array([10.0, 20.0]).reshape(1, 1, 2, 1))
    assert gx[0, :, :, 0].tolist() == [[0, 0, 20, 0], [0, 10, 0, 0]]
    # odd sizes: the last row/column is dropped (valid) and gets no gradient
    odd = build_layer("maxpool2d", (3, 3, 1), "float64")
    assert odd.output_shape == (1, 1, 1)
    odd.forward(np.arange(9.0).reshape(1, 3, 3, 1), training=True)
    assert odd.backward(np.ones((1, 1, 1, 1)))[0, :, :, 0].tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]


@pytest.mark.parametrize("spec", [{"type": "maxpool2d"}, {"type": "maxpool2d", "padding": "same"},
                                  {"type": "maxpool2d", "pool_size": 3}, {"type": "maxpool2d", "strides": 1},
                                  {"type": "maxpool2d", "pool_size": 2, "strides": 3}])
@pytest.mark.parametrize("size", [(4, 4), (5, 5), (5, 6)])
def test_maxpool_backward_on_reused_buffers_equals_a_fresh_layer(spec, size):
    """The input gradient's buffer is zeroed only where no window writes (windows side by
    side): a second backward, on the buffer of the first, gives what a fresh layer gives."""
    rng = np.random.default_rng(0)
    reused = build_layer(spec, size + (2,), "float64")
    x1, x2 = rng.standard_normal((2, 3) + size + (2,))
    g1, g2 = rng.standard_normal((2, 3) + reused.output_shape)
    reused.forward(x1, training=True)
    reused.backward(g1)
    reused.forward(x2, training=True)
    fresh = build_layer(spec, size + (2,), "float64")
    fresh.forward(x2, training=True)
    np.testing.assert_array_equal(reused.backward(g2), fresh.backward(g2))
    # and each pixel gets the gradients of the windows whose maximum it is
    want = np.zeros_like(x2)
    (ph, pw), (sh, sw) = fresh.pool_size, fresh.strides
    xp = np.pad(x2, ((0, 0), (fresh.pad_top, 0), (fresh.pad_left, 0), (0, 0)), constant_values=-np.inf)
    big = np.full((3,) + fresh.padded_shape + (2,), -np.inf)
    big[:, :xp.shape[1], :xp.shape[2]] = xp[:, :fresh.padded_shape[0], :fresh.padded_shape[1]]
    grad = np.zeros_like(big)
    for b, i, j, c in np.ndindex(g2.shape):
        win = big[b, i * sh:i * sh + ph, j * sw:j * sw + pw, c]
        p, q = np.unravel_index(np.argmax(win), win.shape)  # the first maximum, row-major
        grad[b, i * sh + p, j * sw + q, c] += g2[b, i, j, c]
    want = grad[:, fresh.pad_top:fresh.pad_top + size[0], fresh.pad_left:fresh.pad_left + size[1]]
    np.testing.assert_allclose(fresh.backward(g2), want, rtol=1e-15, atol=1e-15)  # overlaps: sums in another order


def test_avgpool_hand_computed_with_same_padding():
    layer = build_layer({"type": "avgpool2d", "pool_size": 2, "padding": "same"}, (3, 3, 1), "float64")
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = layer.forward(x, training=True)[0, :, :, 0]
    # windows: {0,1,3,4} {2,5} {6,7} {8}: border windows average only the real pixels (Keras)
    assert y.tolist() == [[2.0, 3.5], [6.5, 8.0]]
    gx = layer.backward(np.ones((1, 2, 2, 1)))[0, :, :, 0]
    assert gx.tolist() == [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]]


def test_global_avgpool_hand_computed():
    layer = build_layer("global_avgpool2d", (2, 2, 2), "float64")
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    assert layer.forward(x).tolist() == [[3.0, 4.0]]
    assert np.array_equal(layer.backward(np.array([[4.0, 8.0]])), np.tile([1.0, 2.0], (1, 2, 2, 1)))


def test_batchnorm_training_inference_and_moving_statistics():
    layer = build_layer({"type": "batchnorm", "momentum": 0.9, "epsilon": 0.0001}, (1,), "float64")
    x = np.array([[1.0], [3.0]])  # mean 2, biased variance 1
    y = layer.forward(x, training=True)
    assert np.allclose(y[:, 0], np.array([-1.0, 1.0]) / math.sqrt(1.0001))
    assert np.allclose(layer.buffers["moving_mean"], [0.2])  # 0.9 * 0 + 0.1 * 2
    assert np.allclose(layer.buffers["moving_var"], [1.0])  # 0.9 * 1 + 0.1 * 1
    layer.params["gamma"][...] = 2.0
    layer.params["beta"][...] = 1.0
    y = layer.forward(np.array([[1.2]]), training=False)  # (1.2 - 0.2) / sqrt(1.0001) * 2 + 1
    assert np.allclose(y, [[1.0 / math.sqrt(1.0001) * 2 + 1]])
    # the running statistics are saved with the weights
    from nntrain.nn.model import Sequential
    model = Sequential.from_specs([{"type": "dense", "units": 2}, "batchnorm"], (3,), "float64")
    assert {"1.moving_mean", "1.moving_var", "1.gamma", "1.beta"} <= set(model.state_dict())


def test_batchnorm_over_channels_of_images():
    layer = build_layer("batchnorm", (2, 2, 3), "float64")
    x = np.random.default_rng(0).standard_normal((4, 2, 2, 3)) * 5 + 3
    y = layer.forward(x, training=True)
    assert np.allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-12)
    assert np.allclose(y.var(axis=(0, 1, 2)), 25 / (25 + 0.001), rtol=0.05)


def test_layernorm_hand_computed():
    layer = build_layer({"type": "layernorm", "epsilon": 1e-12}, (3,), "float64")
    y = layer.forward(np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 13.0]]), training=False)
    s = math.sqrt(2.0 / 3.0)  # std of [1, 2, 3]
    assert np.allclose(y[0], [-1 / s, 0, 1 / s])
    assert np.allclose(y[1], [-1 / math.sqrt(2), -1 / math.sqrt(2), math.sqrt(2)])


def test_smooth_activations_hand_computed():
    x = np.array([[-1.0, 0.0, 1.0]])

    def f(spec):
        return build_layer(spec, (3,), "float64").forward(x)

    e = math.exp(-1.0)
    assert np.allclose(f("elu"), [[e - 1, 0, 1]])
    assert np.allclose(f({"type": "elu", "alpha": 2.0}), [[2 * (e - 1), 0, 1]])
    assert np.allclose(f("selu"), [[1.0507009873554805 * 1.6732632423543772 * (e - 1), 0, 1.0507009873554805]])
    assert np.allclose(f("softplus"), [[math.log(1 + e), math.log(2), math.log(1 + math.e)]])
    sig = 1 / (1 + e)
    assert np.allclose(f("swish"), [[-(1 - sig), 0, sig]])
    assert np.allclose(f("silu"), f("swish"))
    phi1 = 0.5 * (1 + math.erf(1 / math.sqrt(2)))  # Phi(1) = 0.8413447...
    assert np.allclose(f("gelu"), [[-(1 - phi1), 0, phi1]])
    t = math.tanh(math.sqrt(2 / math.pi) * 1.044715)
    assert np.allclose(f({"type": "gelu", "approximate": True}), [[-0.5 * (1 - t), 0, 0.5 * (1 + t)]])
    big = np.array([[-800.0, 800.0]])
    with np.errstate(over="raise"):
        assert np.allclose(build_layer("softplus", (2,), "float64").forward(big), [[0.0, 800.0]])
        assert np.allclose(build_layer("elu", (2,), "float64").forward(big), [[-1.0, 800.0]])


def test_cnn_model_gradients_float64():
    from nntrain.nn.losses import build_loss
    from nntrain.nn.model import Sequential
    from nntrain.tools.gradcheck import check_model

    specs = [{"type": "conv2d", "filters": 3, "kernel_size": 3, "activation": "relu", "padding": "same",
              "kernel_regularizer": {"l2": 0.01}},
             "batchnorm", {"type": "maxpool2d"}, {"type": "conv2d", "filters": 4, "kernel_size": 2, "activation": "gelu"},
             "global_avgpool2d", {"type": "dense", "units": 3, "activation": "softmax"}]
    model = Sequential.from_specs(specs, (6, 6, 2), "float64", seed=0)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 6, 6, 2)), rng.integers(0, 3, 5)
    errors = check_model(model, build_loss("sparse_categorical_crossentropy"), x, y, max_entries=None)
    assert len(errors) == 4 and max(errors.values()) < TOLERANCE, errors


def test_kernel_regularizer_adds_penalty_and_gradient():
    from nntrain.nn.losses import build_loss
    from nntrain.nn.model import Sequential
    from nntrain.tools.gradcheck import check_model

    specs = [{"type": "dense", "units": 2, "kernel_regularizer": {"l2": 0.5, "l1": 0.25}, "use_bias": False}]
    model = Sequential.from_specs(specs, (2,), "float64")
    w = model.layers[0].params["W"]
    w[...] = [[1.0, -2.0], [0.5, 0.0]]
    # 0.25 * (1 + 2 + 0.5) + 0.5 * (1 + 4 + 0.25)
    assert model.penalty() == pytest.approx(0.875 + 2.625)
    x = np.zeros((1, 2))
    model.forward(x, training=True)
    model.backward(np.zeros((1, 2)))  # data gradient 0: only the penalty's remains
    assert np.allclose(model.layers[0].grads["W"], 0.25 * np.sign(w) + 2 * 0.5 * w)
    w[1, 1] = 0.3  # away from the l1 kink for finite differences
    rng = np.random.default_rng(0)
    errors = check_model(model, build_loss("mse"), rng.standard_normal((3, 2)), rng.standard_normal((3, 2)),
                         max_entries=None)
    assert max(errors.values()) < TOLERANCE


@pytest.mark.parametrize("bad", [{"l3": 0.1}, {"l2": -1}, 0.1, {"l2": "x"}])
def test_bad_kernel_regularizer(bad):
    from nntrain.errors import ConfigError

    with pytest.raises(ConfigError, match="kernel_regularizer"):
        build_layer({"type": "conv2d", "filters": 2, "kernel_regularizer": bad})


@pytest.mark.parametrize("name", ["conv2d", "maxpool2d", "avgpool2d", "global_avgpool2d", "batchnorm", "layernorm",
                                  "elu", "selu", "softplus", "swish", "silu", "gelu"])
def test_get_config_rebuilds_new_layers(name):
    from test_layers import EXAMPLES

    spec, shape = EXAMPLES[name]
    layer = build_layer(spec, shape)
    again = type(layer)(**layer.get_config())
    assert again.get_config() == layer.get_config()
    assert again.build(shape) == layer.output_shape


@pytest.mark.parametrize("channels", [1, 3, 8, 12])  # both im2col layouts (few channels or many)
def test_conv2d_gradients_for_both_im2col_layouts(channels):
    layer = build_layer({"type": "conv2d", "filters": 2, "kernel_size": 3, "strides": [2, 1], "padding": "same"},
                        (5, 4, channels), "float64", seed=3)
    x = np.random.default_rng(1).standard_normal((2, 5, 4, channels))
    assert max(check_layer(layer, x, max_entries=60).values()) < TOLERANCE
