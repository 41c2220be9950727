"""The sequence layers against PyTorch CPU with identical weights, in float64: forward outputs
and the gradients of sum(y * g) for the input and every weight.

    python benchmarks/sequence_vs_torch.py            # a table of max abs differences
    python benchmarks/sequence_vs_torch.py --json out.json

Weights map between the layouts as follows (nntrain keeps Keras'):

    lstm        torch weight_ih = kernel^T (gates i, f, g, o in both), weight_hh = recurrent_kernel^T,
                bias_ih = bias, bias_hh = 0
    gru         torch gates r, z, n vs Keras z, r, h: columns [r, z, h] of kernel^T, bias[0] ->
                bias_ih and bias[1] -> bias_hh (torch's GRU is Keras' reset_after=True)
    simple_rnn  torch RNN(tanh) with weight_ih = kernel^T, weight_hh = recurrent_kernel^T
    go_backwards / bidirectional   torch on the flipped sequence (outputs in processing order)
    multi_head_attention   torch MultiheadAttention(batch_first) with key_dim = features / heads:
                in_proj_weight rows = [Wq; Wk; Wv] as (heads*key_dim, features), out_proj = Wo^T
    conv1d      torch Conv1d weight = W transposed (filters, channels, k); causal = left padding
    embedding   torch Embedding(padding_idx=0) when mask_zero

Every case also runs nntrain's backward and prints the worst difference; the README quotes it.
Needs torch (`pip install -e '.[bench]'`).
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def nn_run(spec, x, g, seed=0):
    """nntrain's output and gradients (float64) for input x and upstream gradient g."""
    from nntrain import build_layer

    layer = build_layer(spec, input_shape=x.shape[1:], dtype="float64", seed=seed)
    rng = np.random.default_rng(seed + 1)
    for p in layer.params.values():  # biases too: non-zero everywhere
        p[...] = rng.uniform(-0.5, 0.5, p.shape)
    if spec.get("mask_zero"):
        layer.params["embeddings"][0] = 0.0
    y = np.array(layer.forward(x, training=True))
    gx = layer.backward(g)
    grads = {k: np.array(v) for k, v in layer.grads.items()}
    if gx is not None:
        grads["input"] = np.array(gx)
    return layer, y, grads


def t(a, grad=False):
    import torch

    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=grad)


def torch_recurrent(layer, x, g):
    """(output, {name: grad}) of torch's RNN/LSTM/GRU with the layer's weights."""
    import torch

    u = layer.units
    kernel, rec, bias = (layer.params[k] for k in ("kernel", "recurrent_kernel", "bias"))
    kind = layer.registry_name
    if kind == "gru":
        order = [1, 0, 2]  # Keras z, r, h -> torch r, z, n

        def reorder(a):
            return np.concatenate([a[..., j * u:(j + 1) * u] for j in order], axis=-1)
        w_ih, w_hh, b_ih, b_hh = reorder(kernel).T, reorder(rec).T, reorder(bias[0]), reorder(bias[1])
        mod = torch.nn.GRU(x.shape[2], u, batch_first=True, dtype=torch.float64)
    else:
        w_ih, w_hh, b_ih, b_hh = kernel.T, rec.T, bias, np.zeros_like(bias)
        cls = torch.nn.LSTM if kind == "lstm" else torch.nn.RNN
        mod = cls(x.shape[2], u, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
            getattr(mod, name).copy_(t(value))
    xt = t(x[:, ::-1] if layer.go_backwards else x, grad=True)
    out, _ = mod(xt)
    y = out if layer.return_sequences else out[:, -1]
    y.backward(t(g))
    gi = xt.grad.numpy()
    grads = {"input": gi[:, ::-1] if layer.go_backwards else gi}

    # back to Keras' layout (the GRU's reorder is its own inverse: it swaps the first two gates)
    keras = reorder if kind == "gru" else (lambda a: a)
    grads["kernel"] = keras(mod.weight_ih_l0.grad.numpy().T)
    grads["recurrent_kernel"] = keras(mod.weight_hh_l0.grad.numpy().T)
    if kind == "gru":
        grads["bias"] = np.stack([keras(mod.bias_ih_l0.grad.numpy()), keras(mod.bias_hh_l0.grad.numpy())])
    else:
        grads["bias"] = mod.bias_ih_l0.grad.numpy()
    return y.detach().numpy(), grads


def torch_attention(layer, x, g):
    import torch

    n, steps, d = x.shape
    h, k, v = layer._dims()
    assert h * k == d and v == k, "torch's MultiheadAttention needs key_dim = value_dim = features / heads"
    mod = torch.nn.MultiheadAttention(d, h, batch_first=True, dtype=torch.float64)
    p = layer.params
    w_in = np.concatenate([p[f"{name}_kernel"].reshape(d, h * k).T for name in ("query", "key", "value")])
    b_in = np.concatenate([p[f"{name}_bias"].reshape(-1) for name in ("query", "key", "value")])
    with torch.no_grad():
        mod.in_proj_weight.copy_(t(w_in))
        mod.in_proj_bias.copy_(t(b_in))
        mod.out_proj.weight.copy_(t(p["output_kernel"].reshape(h * v, d).T))
        mod.out_proj.bias.copy_(t(p["output_bias"]))
    xt = t(x, grad=True)
    mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1) if layer.causal else None
    y, _ = mod(xt, xt, xt, attn_mask=mask, need_weights=False)
    y.backward(t(g))
    gw, gb = mod.in_proj_weight.grad.numpy(), mod.in_proj_bias.grad.numpy()
    grads = {"input": xt.grad.numpy(),
             "output_kernel": mod.out_proj.weight.grad.numpy().T.reshape(h, v, d),
             "output_bias": mod.out_proj.bias.grad.numpy()}
    for j, name in enumerate(("query", "key", "value")):
        grads[f"{name}_kernel"] = gw[j * d:(j + 1) * d].T.reshape(d, h, k)
        grads[f"{name}_bias"] = gb[j * d:(j + 1) * d].reshape(h, k)
    return y.detach().numpy(), grads


def torch_conv1d(layer, x, g):
    import torch
    import torch.nn.functional as F

    xt, w, b = t(x, grad=True), t(layer.params["W"].transpose(2, 1, 0), grad=True), t(layer.params["b"], grad=True)
    xp = xt.transpose(1, 2)
    after = layer.padded_steps - x.shape[1] - layer.pad_before
    xp = F.pad(xp, (layer.pad_before, after))
    y = F.conv1d(xp, w, b, stride=layer.strides, dilation=layer.dilation_rate).transpose(1, 2)
    y.backward(t(g))
    return y.detach().numpy(), {"input": xt.grad.numpy(), "W": w.grad.numpy().transpose(2, 1, 0), "b": b.grad.numpy()}


def torch_embedding(layer, x, g):
    import torch

    mod = torch.nn.Embedding(layer.input_dim, layer.output_dim, padding_idx=0 if layer.mask_zero else None,
                             dtype=torch.float64)
    with torch.no_grad():
        mod.weight.copy_(t(layer.params["embeddings"]))
    y = mod(torch.tensor(x.astype(np.int64)))
    y.backward(t(g))
    return y.detach().numpy(), {"embeddings": mod.weight.grad.numpy()}


def torch_bidirectional(layer, x, g):
    fwd, bwd = layer.directions()
    u = fwd.units
    gf, gb = g[..., :u], g[..., u:]
    yf, grads_f = torch_recurrent(fwd, x, gf)
    yb, grads_b = torch_recurrent(bwd, x, gb[:, ::-1] if fwd.return_sequences else gb)
    if fwd.return_sequences:
        yb = yb[:, ::-1]
    grads = {"input": grads_f.pop("input") + grads_b.pop("input")}
    grads.update({f"forward_{k}": v for k, v in grads_f.items()})
    grads.update({f"backward_{k}": v for k, v in grads_b.items()})
    return np.concatenate([yf, yb], axis=-1), grads


CASES = [
    ("lstm", {"type": "lstm", "units": 16, "return_sequences": True}, (20, 8), torch_recurrent),
    ("lstm last step, go_backwards", {"type": "lstm", "units": 16, "go_backwards": True}, (20, 8), torch_recurrent),
    ("gru", {"type": "gru", "units": 16, "return_sequences": True}, (20, 8), torch_recurrent),
    ("gru last step, go_backwards", {"type": "gru", "units": 16, "go_backwards": True}, (20, 8), torch_recurrent),
    ("simple_rnn", {"type": "simple_rnn", "units": 16, "return_sequences": True}, (20, 8), torch_recurrent),
    ("bidirectional lstm", {"type": "bidirectional", "layer": {"type": "lstm", "units": 8, "return_sequences": True}},
     (20, 8), torch_bidirectional),
    ("multi_head_attention", {"type": "multi_head_attention", "num_heads": 4, "key_dim": 4}, (12, 16), torch_attention),
    ("multi_head_attention causal", {"type": "multi_head_attention", "num_heads": 2, "key_dim": 8, "causal": True},
     (12, 16), torch_attention),
    ("conv1d causal, dilation 2", {"type": "conv1d", "filters": 6, "kernel_size": 3, "padding": "causal",
                                   "dilation_rate": 2}, (20, 8), torch_conv1d),
    ("conv1d same, stride 2", {"type": "conv1d", "filters": 6, "kernel_size": 4, "padding": "same", "strides": 2},
     (21, 8), torch_conv1d),
    ("embedding mask_zero", {"type": "embedding", "input_dim": 50, "output_dim": 8, "mask_zero": True}, (20,),
     torch_embedding),
]


def compare(batch: int = 4) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for label, spec, shape, ref in CASES:
        if spec["type"] == "embedding":
            x = rng.integers(0, spec["input_dim"], (batch,) + shape).astype(np.float64)
        else:
            x = rng.standard_normal((batch,) + shape)
        from nntrain import build_layer

        out_shape = build_layer(spec, input_shape=shape).output_shape
        g = rng.standard_normal((batch,) + out_shape)
        layer, y, grads = nn_run(spec, x, g)
        ty, tgrads = ref(layer, x, g)
        row = {"layer": label, "output": float(np.abs(y - ty).max())}
        missing = set(grads) ^ set(tgrads)
        assert not missing, (label, missing)
        row["gradients"] = max(float(np.abs(grads[k] - tgrads[k]).max()) for k in grads)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("needs torch: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    rows = compare()
    print(f"torch {torch.__version__}, float64, max abs difference to nntrain")
    print(f"{'layer':34} {'output':>10} {'gradients':>10}")
    for r in rows:
        print(f"{r['layer']:34} {r['output']:10.1e} {r['gradients']:10.1e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
