"""The sequence layers against PyTorch's forward and gradients, in float64 (issue 16): the same
weights copied into torch's module (benchmarks/torch_twins.py, whose docstring gives the
mapping), the output and the gradients of sum(y * g) for the input and every weight compared to
1e-10. Needs torch: the test extra installs its CPU build (as the bench extra does).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nntrain import build_layer

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import torch_twins as twins  # noqa: E402 (benchmarks/torch_twins.py: the PyTorch side)

sys.path.pop(0)
TOL = 1e-10


def rnn(kind, units=6, **options):
    return {"type": kind, "units": units, **options}


CASES = {
    "lstm": (rnn("lstm", return_sequences=True), (7, 5), twins.torch_recurrent),
    "lstm last step, go_backwards": (rnn("lstm", go_backwards=True), (7, 5), twins.torch_recurrent),
    "gru": (rnn("gru", return_sequences=True), (7, 5), twins.torch_recurrent),
    "gru last step, go_backwards": (rnn("gru", go_backwards=True), (7, 5), twins.torch_recurrent),
    "simple_rnn": (rnn("simple_rnn", return_sequences=True), (7, 5), twins.torch_recurrent),
    "simple_rnn last step, go_backwards": (rnn("simple_rnn", go_backwards=True), (7, 5), twins.torch_recurrent),
    "bidirectional lstm": ({"type": "bidirectional", "layer": rnn("lstm", 4, return_sequences=True)}, (7, 5),
                           twins.torch_bidirectional),
    "bidirectional gru last step": ({"type": "bidirectional", "layer": rnn("gru", 4)}, (7, 5),
                                    twins.torch_bidirectional),
    "conv1d valid relu": ({"type": "conv1d", "filters": 4, "kernel_size": 3, "activation": "relu"}, (9, 3),
                          twins.torch_conv1d),
    "conv1d causal, dilation 2": ({"type": "conv1d", "filters": 4, "kernel_size": 3, "padding": "causal",
                                   "dilation_rate": 2}, (9, 3), twins.torch_conv1d),
    "conv1d same, stride 2": ({"type": "conv1d", "filters": 4, "kernel_size": 4, "padding": "same", "strides": 2},
                              (9, 3), twins.torch_conv1d),
    "embedding": ({"type": "embedding", "input_dim": 11, "output_dim": 4}, (6,), twins.torch_embedding),
    "embedding mask_zero": ({"type": "embedding", "input_dim": 11, "output_dim": 4, "mask_zero": True}, (6,),
                            twins.torch_embedding),
    "multi_head_attention": ({"type": "multi_head_attention", "num_heads": 2, "key_dim": 3}, (5, 6),
                             twins.torch_attention),
    "multi_head_attention causal": ({"type": "multi_head_attention", "num_heads": 3, "key_dim": 2, "causal": True},
                                    (5, 6), twins.torch_attention),
}


@pytest.mark.parametrize("case", list(CASES))
def test_forward_and_gradients_match_pytorch(case):
    spec, shape, reference = CASES[case]
    rng = np.random.default_rng(0)
    batch = 3
    if spec["type"] == "embedding":
        x = rng.integers(0, spec["input_dim"], (batch,) + shape).astype(np.float64)
        x[:, -1] = 0  # a padding id in every row
    else:
        x = rng.standard_normal((batch,) + shape)
    out_shape = build_layer(spec, input_shape=shape).output_shape
    g = rng.standard_normal((batch,) + tuple(out_shape))
    layer, y, grads = twins.nntrain_run(spec, x, g)
    ty, tgrads = reference(layer, x, g)
    np.testing.assert_allclose(y, ty, rtol=TOL, atol=TOL)
    assert sorted(grads) == sorted(tgrads)
    for name in grads:
        np.testing.assert_allclose(grads[name], tgrads[name], rtol=TOL, atol=TOL, err_msg=name)
