"""nntrain's sequence layers and the same layers in PyTorch with identical weights, in float64:
each `torch_*` function takes an nntrain layer (after its forward and backward), the input x and
the upstream gradient g, and returns torch's output and the gradients of sum(y * g) for the
input and every weight, under nntrain's names and in its layout. tests/test_sequence_torch.py
compares them to 1e-10; benchmarks/sequence_vs_torch.py prints the differences.

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
import torch

from nntrain import build_layer

F = torch.nn.functional


def t(a, grad=False):
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
            getattr(mod, f"{name}_l0{suffix}").copy_(t(value))

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
    xt = t(x[:, ::-1] if layer.go_backwards else x, grad=True)
    out, _ = mod(xt)
    y = out if layer.return_sequences else out[:, -1]
    y.backward(t(g))
    gi = xt.grad.numpy()
    return y.detach().numpy(), {"input": gi[:, ::-1] if layer.go_backwards else gi, **back()}


def torch_bidirectional(layer, x, g):
    fwd, bwd = layer.directions()
    mod = torch_rnn_module(fwd.registry_name, x.shape[2], fwd.units, bidirectional=True)
    back_f, back_b = to_torch_rnn(fwd, mod), to_torch_rnn(bwd, mod, "_reverse")
    xt = t(x, grad=True)
    out, _ = mod(xt)
    u = fwd.units
    # without return_sequences: Keras takes each direction's last step, the backward one's being step 0
    y = out if fwd.return_sequences else torch.cat([out[:, -1, :u], out[:, 0, u:]], dim=1)
    y.backward(t(g))
    grads = {"input": xt.grad.numpy()}
    grads.update({f"forward_{k}": v for k, v in back_f().items()})
    grads.update({f"backward_{k}": v for k, v in back_b().items()})
    return y.detach().numpy(), grads


def torch_conv1d(layer, x, g):
    xt, w, b = t(x, grad=True), t(layer.params["W"].transpose(2, 1, 0), grad=True), t(layer.params["b"], grad=True)
    after = layer.padded_steps - x.shape[1] - layer.pad_before
    xp = F.pad(xt.transpose(1, 2), (layer.pad_before, after))
    y = F.conv1d(xp, w, b, stride=layer.strides, dilation=layer.dilation_rate).transpose(1, 2)
    if layer.activation == "relu":
        y = torch.relu(y)
    y.backward(t(g))
    return y.detach().numpy(), {"input": xt.grad.numpy(), "W": w.grad.numpy().transpose(2, 1, 0),
                                "b": b.grad.numpy()}


def torch_embedding(layer, x, g):
    mod = torch.nn.Embedding(layer.input_dim, layer.output_dim, padding_idx=0 if layer.mask_zero else None,
                             dtype=torch.float64)
    with torch.no_grad():
        mod.weight.copy_(t(layer.params["embeddings"]))
    y = mod(torch.tensor(x.astype(np.int64)))
    y.backward(t(g))
    return y.detach().numpy(), {"embeddings": mod.weight.grad.numpy()}


def torch_attention(layer, x, g):
    _, steps, d = x.shape
    h, k, v = layer._dims()
    assert h * k == d and v == k, "torch's MultiheadAttention needs key_dim = value_dim = features / heads"
    mod = torch.nn.MultiheadAttention(d, h, batch_first=True, dtype=torch.float64)
    p = layer.params
    names = ("query", "key", "value")
    with torch.no_grad():
        mod.in_proj_weight.copy_(t(np.concatenate([p[f"{n}_kernel"].reshape(d, h * k).T for n in names])))
        mod.in_proj_bias.copy_(t(np.concatenate([p[f"{n}_bias"].reshape(-1) for n in names])))
        mod.out_proj.weight.copy_(t(p["output_kernel"].reshape(h * v, d).T))
        mod.out_proj.bias.copy_(t(p["output_bias"]))
    xt = t(x, grad=True)
    mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1) if layer.causal else None
    y, _ = mod(xt, xt, xt, attn_mask=mask, need_weights=False)
    y.backward(t(g))
    gw, gb = mod.in_proj_weight.grad.numpy(), mod.in_proj_bias.grad.numpy()
    grads = {"input": xt.grad.numpy(), "output_kernel": mod.out_proj.weight.grad.numpy().T.reshape(h, v, d),
             "output_bias": mod.out_proj.bias.grad.numpy()}
    for j, n in enumerate(names):
        grads[f"{n}_kernel"] = gw[j * d:(j + 1) * d].T.reshape(d, h, k)
        grads[f"{n}_bias"] = gb[j * d:(j + 1) * d].reshape(h, k)
    return y.detach().numpy(), grads
