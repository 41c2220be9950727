"""Layers, each registered in `nntrain.nn.registry.LAYERS` under its config name (importing this
package registers them all)."""
from __future__ import annotations

from ..registry import LAYERS
from .activations import Activation, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .base import Layer
from .conv import Conv2D
from .core import Dense, Dropout, Flatten, Reshape
from .merge import Add, Average, Concatenate, Merge, Multiply
from .norm import BatchNorm, LayerNorm
from .pool import (AvgPool1D, AvgPool2D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalMaxPool1D, GlobalMaxPool2D,
                   MaxPool1D, MaxPool2D)
from .attention import MultiHeadAttention
from .conv1d import Conv1D
from .embedding import Embedding, PositionalEmbedding
from .gru import GRU
from .lstm import LSTM
from .recurrent import Bidirectional
from .simple_rnn import SimpleRNN
from .smooth import ELU, GELU, SELU, SiLU, Softplus, Swish


def build_layer(spec, input_shape=None, dtype="float32", seed: int = 0) -> Layer:
    """A layer from a config spec ({'type': 'dense', 'units': 4}); built when input_shape is given."""
    import numpy as np

    layer = LAYERS.build(spec)
    if input_shape is not None:
        layer.build(tuple(input_shape), rng=np.random.default_rng(seed), dtype=dtype)
    return layer


__all__ = ["Layer", "LAYERS", "build_layer", "Activation", "Add", "Average", "Concatenate", "Merge", "Multiply", "AvgPool2D", "BatchNorm", "Conv2D", "Dense", "ELU", "GELU", "Dropout", "Flatten",
           "GlobalAvgPool2D", "LayerNorm", "LeakyReLU", "Linear", "MaxPool2D", "SELU", "SiLU",
           "Softplus", "Swish", "ReLU", "Reshape", "Sigmoid", "Softmax", "Tanh",
           "AvgPool1D", "GlobalAvgPool1D", "GlobalMaxPool1D", "GlobalMaxPool2D", "MaxPool1D", "MultiHeadAttention",
           "Conv1D", "Embedding", "PositionalEmbedding", "GRU", "LSTM", "Bidirectional", "SimpleRNN"]
