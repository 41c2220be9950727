"""The sequence layers against PyTorch's forward and gradients, in float64 (issue 16): the same
weights copied into torch's module, the output and the gradients of sum(y * g) for the input and
every weight compared to 1e-10. Needs torch: the test extra installs its CPU build (as the bench extra does).

How nntrain's (Keras') weights map onto torch's:

    lstm        gates i, f, c, o in both (torch calls c~ g): weight_ih = kernel^T (4u, features),
                weight_hh = recurrent_kernel^T, bias_ih = bias, bias_hh = 0 (Keras has one bias)
    gru         Keras' reset_after=True GRU is torch's GRU: h~ = tanh(x W_h + b_xh + r (h U_h + b_hh)),
                h_t = z h_{t-1} + (1 - z) h~. Gate order z, r, h (Keras) vs r, z, n (torch): swap
                the first two blocks; bias[0] -> bias_ih, bias[1] -> bias_hh
    simple_rnn  torch RNN(tanh): weight_ih = kernel^T, weight_hh = recurrent_kernel^T, bias_ih = bias
    go_backwards   torch on the reversed steps (the outputs stay in processing order, as Keras')
    bidirectional  torch's bidirectional=True module: forward_* weights -> *_l0, backward_* -> *_l0_reverse,
                outputs [forward, backward] side by side, the backward one in input order
    conv1d      torch Conv1d on (n, channels, steps): weight = W.transpose(2, 1, 0) (filters, channels, k);
                same/causal padding as explicit zeros (causal: all before the sequence)
    embedding   torch Embedding (padding_idx=0 with mask_zero: row 0 zero and untrained)
    multi_head_attention   torch MultiheadAttention(batch_first) with key_dim = value_dim = features /
                heads: in_proj_weight = [Wq; Wk; Wv] as (heads*key_dim, features) each, in_proj_bias the
                biases flattened, out_proj.weight = output_kernel as (heads*value_dim, features)^T;
                causal: attn_mask = the strict upper triangle
"""
from __future__ import annotations

import numpy as np
import pytest

from nntrain import build_layer

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = 1e-10


def tt(a, grad=False):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=grad)


def nntrain_run(spec, x, g):
    """The layer (float64, every weight drawn from U(-0.5, 0.5)), its output and gradients."""
    layer = build_layer(spec, input_shape=x.shape[1:], dtype="float64", seed=0)
    rng = np.random.default_rng(1)
    for p in layer.params.values():
        p[...] = rng.uniform(-0.5, 0.5, p.shape)
    if spec.get("mask_zero"):
        layer.params["embeddings"][0] = 0.0
    y = np.array(layer.forward(x, training=True))
    gx = layer.backward(g)
    grads = {k: np.array(v) for k, v in layer.grads.items()}
    if gx is not None:
        grads["input"] = np.array(gx)
    return layer, y, grads


def gru_order(a, u):
    """Keras' z, r, h blocks (last axis) <-> torch's r, z, n: swaps the first two; its own inverse."""
    return np.concatenate([a[..., u:2 * u], a[..., :u], a[..., 2 * u:]], axis=-1)


def to_torch_rnn(layer, mod, suffix=""):
    """Copy a simple_rnn/lstm/gru layer's weights into torch's module (suffix "_reverse" for the
    backward direction of a bidirectional module); return a function mapping torch's gradients
    back to nntrain's names and layout."""
    u, p = layer.units, layer.params
    kind = layer.registry_name
    order = (lambda a: gru_order(a, u)) if kind == "gru" else (lambda a: a)
    if kind == "gru":
        b_ih, b_hh = order(p["bias"][0]), order(p["bias"][1])
    else:
        b_ih, b_hh = p["bias"], np.zeros_like(p["bias"])
    values = {"weight_ih": order(p["kernel"]).T, "weight_hh": order(p["recurrent_kernel"]).T,
              "bias_ih": b_ih, "bias_hh": b_hh}
    with torch.no_grad():
        for name, value in values.items():
            getattr(mod, f"{name}_l0{suffix}").copy_(tt(value))

    def grads():
        gr = {name: getattr(mod, f"{name}_l0{suffix}").grad.numpy() for name in values}
        out = {"kernel": order(gr["weight_ih"].T), "recurrent_kernel": order(gr["weight_hh"].T)}
        out["bias"] = np.stack([order(gr["bias_ih"]), order(gr["bias_hh"])]) if kind == "gru" else gr["bias_ih"]
        return out
    return grads


def torch_rnn_module(kind, features, units, bidirectional=False):
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_rnn": torch.nn.RNN}[kind]
    return cls(features, units, batch_first=True, bidirectional=bidirectional, dtype=torch.float64)


def torch_recurrent(layer, x, g):
    mod = torch_rnn_module(layer.registry_name, x.shape[2], layer.units)
    back = to_torch_rnn(layer, mod)
    xt = tt(x[:, ::-1] if layer.go_backwards else x, grad=True)
    out, _ = mod(xt)
    y = out if layer.return_sequences else out[:, -1]
    y.backward(tt(g))
    gi = xt.grad.numpy()
    return y.detach().numpy(), {"input": gi[:, ::-1] if layer.go_backwards else gi, **back()}


def torch_bidirectional(layer, x, g):
    fwd, bwd = layer.directions()
    mod = torch_rnn_module(fwd.registry_name, x.shape[2], fwd.units, bidirectional=True)
    back_f, back_b = to_torch_rnn(fwd, mod), to_torch_rnn(bwd, mod, "_reverse")
    xt = tt(x, grad=True)
    out, _ = mod(xt)
    u = fwd.units
    # without return_sequences: Keras takes each direction's last step, the backward one's being step 0
    y = out if fwd.return_sequences else torch.cat([out[:, -1, :u], out[:, 0, u:]], dim=1)
    y.backward(tt(g))
    grads = {"input": xt.grad.numpy()}
    grads.update({f"forward_{k}": v for k, v in back_f().items()})
    grads.update({f"backward_{k}": v for k, v in back_b().items()})
    return y.detach().numpy(), grads


def torch_conv1d(layer, x, g):
    xt, w, b = tt(x, grad=True), tt(layer.params["W"].transpose(2, 1, 0), grad=True), tt(layer.params["b"], grad=True)
    after = layer.padded_steps - x.shape[1] - layer.pad_before
    xp = F.pad(xt.transpose(1, 2), (layer.pad_before, after))
    y = F.conv1d(xp, w, b, stride=layer.strides, dilation=layer.dilation_rate).transpose(1, 2)
    if layer.activation == "relu":
        y = torch.relu(y)
    y.backward(tt(g))
    return y.detach().numpy(), {"input": xt.grad.numpy(), "W": w.grad.numpy().transpose(2, 1, 0),
                                "b": b.grad.numpy()}


def torch_embedding(layer, x, g):
    mod = torch.nn.Embedding(layer.input_dim, layer.output_dim, padding_idx=0 if layer.mask_zero else None,
                             dtype=torch.float64)
    with torch.no_grad():
        mod.weight.copy_(tt(layer.params["embeddings"]))
    y = mod(torch.tensor(x.astype(np.int64)))
    y.backward(tt(g))
    return y.detach().numpy(), {"embeddings": mod.weight.grad.numpy()}


def torch_attention(layer, x, g):
    _, steps, d = x.shape
    h, k, v = layer._dims()
    assert h * k == d and v == k, "torch's MultiheadAttention needs key_dim = value_dim = features / heads"
    mod = torch.nn.MultiheadAttention(d, h, batch_first=True, dtype=torch.float64)
    p = layer.params
    names = ("query", "key", "value")
    with torch.no_grad():
        mod.in_proj_weight.copy_(tt(np.concatenate([p[f"{n}_kernel"].reshape(d, h * k).T for n in names])))
        mod.in_proj_bias.copy_(tt(np.concatenate([p[f"{n}_bias"].reshape(-1) for n in names])))
        mod.out_proj.weight.copy_(tt(p["output_kernel"].reshape(h * v, d).T))
        mod.out_proj.bias.copy_(tt(p["output_bias"]))
    xt = tt(x, grad=True)
    mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1) if layer.causal else None
    y, _ = mod(xt, xt, xt, attn_mask=mask, need_weights=False)
    y.backward(tt(g))
    gw, gb = mod.in_proj_weight.grad.numpy(), mod.in_proj_bias.grad.numpy()
    grads = {"input": xt.grad.numpy(), "output_kernel": mod.out_proj.weight.grad.numpy().T.reshape(h, v, d),
             "output_bias": mod.out_proj.bias.grad.numpy()}
    for j, n in enumerate(names):
        grads[f"{n}_kernel"] = gw[j * d:(j + 1) * d].T.reshape(d, h, k)
        grads[f"{n}_bias"] = gb[j * d:(j + 1) * d].reshape(h, k)
    return y.detach().numpy(), grads


def rnn(kind, units=6, **options):
    return {"type": kind, "units": units, **options}


CASES = {
    "lstm": (rnn("lstm", return_sequences=True), (7, 5), torch_recurrent),
    "lstm last step, go_backwards": (rnn("lstm", go_backwards=True), (7, 5), torch_recurrent),
    "gru": (rnn("gru", return_sequences=True), (7, 5), torch_recurrent),
    "gru last step, go_backwards": (rnn("gru", go_backwards=True), (7, 5), torch_recurrent),
    "simple_rnn": (rnn("simple_rnn", return_sequences=True), (7, 5), torch_recurrent),
    "simple_rnn last step, go_backwards": (rnn("simple_rnn", go_backwards=True), (7, 5), torch_recurrent),
    "bidirectional lstm": ({"type": "bidirectional", "layer": rnn("lstm", 4, return_sequences=True)}, (7, 5),
                           torch_bidirectional),
    "bidirectional gru last step": ({"type": "bidirectional", "layer": rnn("gru", 4)}, (7, 5), torch_bidirectional),
    "conv1d valid relu": ({"type": "conv1d", "filters": 4, "kernel_size": 3, "activation": "relu"}, (9, 3),
                          torch_conv1d),
    "conv1d causal, dilation 2": ({"type": "conv1d", "filters": 4, "kernel_size": 3, "padding": "causal",
                                   "dilation_rate": 2}, (9, 3), torch_conv1d),
    "conv1d same, stride 2": ({"type": "conv1d", "filters": 4, "kernel_size": 4, "padding": "same", "strides": 2},
                              (9, 3), torch_conv1d),
    "embedding": ({"type": "embedding", "input_dim": 11, "output_dim": 4}, (6,), torch_embedding),
    "embedding mask_zero": ({"type": "embedding", "input_dim": 11, "output_dim": 4, "mask_zero": True}, (6,),
                            torch_embedding),
    "multi_head_attention": ({"type": "multi_head_attention", "num_heads": 2, "key_dim": 3}, (5, 6),
                             torch_attention),
    "multi_head_attention causal": ({"type": "multi_head_attention", "num_heads": 3, "key_dim": 2, "causal": True},
                                    (5, 6), torch_attention),
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
    layer, y, grads = nntrain_run(spec, x, g)
    ty, tgrads = reference(layer, x, g)
    np.testing.assert_allclose(y, ty, rtol=TOL, atol=TOL)
    assert sorted(grads) == sorted(tgrads)
    for name in grads:
        np.testing.assert_allclose(grads[name], tgrads[name], rtol=TOL, atol=TOL, err_msg=name)
