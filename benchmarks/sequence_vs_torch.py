"""The sequence layers against PyTorch CPU with identical weights, in float64: forward outputs
and the gradients of sum(y * g) for the input and every weight.

    python benchmarks/sequence_vs_torch.py            # a table of max abs differences
    python benchmarks/sequence_vs_torch.py --json out.json

The weights map between the layouts as benchmarks/torch_twins.py says (nntrain keeps Keras');
its functions are the PyTorch side of this table and of tests/test_sequence_torch.py.

Every case also runs nntrain's backward and prints the worst difference; the README quotes it.
tests/test_sequence_torch.py checks the same cases, as tests.

Speed (issue 16): `--speed` times a training step (forward + backward + Adam, epsilon 1e-7,
softmax cross-entropy over 10 classes, one fixed batch) of two models, nntrain against the same
model in PyTorch in the same process, the systems alternating round by round:

    python benchmarks/sequence_vs_torch.py --speed --threads 1
    python benchmarks/sequence_vs_torch.py --speed --threads 2 --rounds 21 --json out.json

    lstm     LSTM(64) over (32, 50, 32) float32, last step -> dense 10       (Adam lr 1e-3)
    conv1d   configs/languages_conv1d.yaml's stack over 32 lines of 64 character ids:
             embedding 100x32 (mask_zero) -> conv1d 64x5 same relu -> global max -> dense 10
    gru      (with --models gru) as lstm with GRU(64), reset_after (torch's GRU)

and, for the LSTM, its matrix products alone at the same shapes ("gemms", the floor of a numpy
LSTM that runs step by step). Both systems get `--threads` threads; neither flushes denormals.
Reported per model: each system's median ms per step over the rounds and their ratio nntrain /
PyTorch (below 1: nntrain is faster); the median and range of the per-round ratios (within a
round the systems run back to back, so a slow spell of a shared machine hits both); and the
same from the process's CPU time, steadier than wall time on a loaded machine with one thread
(with two it also counts threads spinning while they wait). Needs torch (`pip install -e '.[bench]'`).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
ROOT = Path(__file__).resolve().parent.parent


CASES = [
    ("lstm", {"type": "lstm", "units": 16, "return_sequences": True}, (20, 8), "torch_recurrent"),
    ("lstm last step, go_backwards", {"type": "lstm", "units": 16, "go_backwards": True}, (20, 8), "torch_recurrent"),
    ("gru", {"type": "gru", "units": 16, "return_sequences": True}, (20, 8), "torch_recurrent"),
    ("gru last step, go_backwards", {"type": "gru", "units": 16, "go_backwards": True}, (20, 8), "torch_recurrent"),
    ("simple_rnn", {"type": "simple_rnn", "units": 16, "return_sequences": True}, (20, 8), "torch_recurrent"),
    ("bidirectional lstm", {"type": "bidirectional", "layer": {"type": "lstm", "units": 8, "return_sequences": True}},
     (20, 8), "torch_bidirectional"),
    ("multi_head_attention", {"type": "multi_head_attention", "num_heads": 4, "key_dim": 4}, (12, 16),
     "torch_attention"),
    ("multi_head_attention causal", {"type": "multi_head_attention", "num_heads": 2, "key_dim": 8, "causal": True},
     (12, 16), "torch_attention"),
    ("conv1d causal, dilation 2", {"type": "conv1d", "filters": 6, "kernel_size": 3, "padding": "causal",
                                   "dilation_rate": 2}, (20, 8), "torch_conv1d"),
    ("conv1d same, stride 2", {"type": "conv1d", "filters": 6, "kernel_size": 4, "padding": "same", "strides": 2},
     (21, 8), "torch_conv1d"),
    ("embedding mask_zero", {"type": "embedding", "input_dim": 50, "output_dim": 8, "mask_zero": True}, (20,),
     "torch_embedding"),
]


def compare(batch: int = 4) -> list[dict]:
    import numpy as np

    import torch_twins  # benchmarks/torch_twins.py, next to this script: the translations

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
        layer, y, grads = torch_twins.nntrain_run(spec, x, g)
        ty, tgrads = getattr(torch_twins, ref)(layer, x, g)
        row = {"layer": label, "output": float(np.abs(y - ty).max())}
        missing = set(grads) ^ set(tgrads)
        assert not missing, (label, missing)
        row["gradients"] = max(float(np.abs(grads[k] - tgrads[k]).max()) for k in grads)
        rows.append(row)
    return rows


# ---- speed: a training step (forward + backward + Adam), nntrain against torch in one process ----

def recurrent_modules() -> dict:
    import torch

    return {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def text_example_layers() -> tuple[list, int, dict]:
    """(model.layers, sequence_length, optimizer) of configs/languages_conv1d.yaml, the text example."""
    import yaml

    cfg = yaml.safe_load((ROOT / "configs" / "languages_conv1d.yaml").read_text())
    return cfg["model"]["layers"], cfg["data"]["sequence_length"], cfg["optimizer"]


def speed_batch(model: str, batch: int, steps: int, features: int):
    """(x, y) for a model: float32 features for lstm and gru, character ids (0-padded at the end) for conv1d."""
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, batch).astype(np.int64)
    if model in ("lstm", "gru"):
        return rng.standard_normal((batch, steps, features)).astype(np.float32), y
    layers, length, _ = text_example_layers()
    ids = rng.integers(2, layers[0]["input_dim"], (batch, length))
    lengths = rng.integers(length // 4, length + 1, batch)  # lines shorter than 64 characters end in padding
    ids[np.arange(length) >= lengths[:, None]] = 0
    return ids.astype(np.float32), y


def nntrain_speed_step(model: str, x, y, units: int):
    """One nntrain training step on (x, y) as a function; Adam as the config says (lstm, gru: lr 1e-3)."""
    from nntrain.nn.graph import build_model
    from nntrain.nn.losses import build_loss
    from nntrain.nn.optimizers import build_optimizer
    from nntrain.train.trainer import Trainer

    if model in ("lstm", "gru"):
        specs, opt = [{"type": model, "units": units}, {"type": "dense", "units": 10, "activation": "softmax"}], \
            {"type": "adam", "lr": 1e-3}
    else:
        specs, _, opt = text_example_layers()
    net = build_model(specs, x.shape[1:], dtype="float32", seed=0)
    trainer = Trainer(net, build_loss("sparse_categorical_crossentropy"), build_optimizer(opt), [])
    return lambda: trainer.train_step(x, y)


def torch_speed_step(model: str, x, y, units: int, threads: int):
    """The same model and step in PyTorch (Adam with Keras' epsilon 1e-7; torch's own initialization)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    if model in ("lstm", "gru"):
        cell = recurrent_modules()[model]

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = cell(x.shape[2], units, batch_first=True)
                self.head = nn.Linear(units, 10)

            def forward(self, t):
                out, _ = self.rnn(t)
                return self.head(out[:, -1])
        lr, xt = 1e-3, torch.from_numpy(x)
    else:
        layers, _, opt = text_example_layers()
        emb, conv, dense = layers[0], layers[1], layers[3]
        assert conv["padding"] == "same" and conv["kernel_size"] % 2 == 1

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(emb["input_dim"], emb["output_dim"], padding_idx=0)
                self.conv = nn.Conv1d(emb["output_dim"], conv["filters"], conv["kernel_size"],
                                      padding=conv["kernel_size"] // 2)
                self.head = nn.Linear(conv["filters"], dense["units"])

            def forward(self, t):
                h = torch.relu(self.conv(self.emb(t).transpose(1, 2)))  # (n, filters, steps)
                return self.head(h.amax(dim=2))                          # global max over time
        lr, xt = opt["lr"], torch.from_numpy(x.astype("int64"))
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=lr, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    yt = torch.from_numpy(y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def lstm_gemms_step(x, units: int):
    """Only the matrix products of the LSTM's forward and backward at these shapes (float32): the
    floor of any numpy LSTM that runs the steps one by one. Forward X W, then per step h U;
    backward per step dZ U^T, then X^T dZ, H^T dZ and dZ W^T over all steps."""
    import numpy as np

    n, steps, f = x.shape
    k = 4 * units
    rng = np.random.default_rng(0)
    w, u = rng.standard_normal((f, k), dtype=np.float32), rng.standard_normal((units, k), dtype=np.float32)
    xs = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(steps * n, f)
    xw, z = np.empty((steps * n, k), np.float32), np.empty((steps, n, k), np.float32)
    h = rng.standard_normal((steps + 1, n, units), dtype=np.float32) * 0.1
    dh = np.empty((n, units), np.float32)
    dw, du, dx = np.empty_like(w), np.empty_like(u), np.empty_like(xs)
    u_t = u.T

    def step():
        np.matmul(xs, w, out=xw)
        for t in range(steps):
            np.matmul(h[t], u, out=z[t])
        for t in range(steps - 1, -1, -1):
            np.matmul(z[t], u_t, out=dh)
        z2 = z.reshape(steps * n, k)
        np.matmul(xs.T, z2, out=dw)
        np.matmul(h[:-1].reshape(steps * n, units).T, z2, out=du)
        np.matmul(z2, w.T, out=dx)
    return step


def timed(step, steps: int, warmup: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of this process) of `steps` calls after `warmup`
    untimed ones. On a shared machine the CPU time is the steadier of the two with one thread;
    with two, it also counts threads that spin while they wait."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def speed(args) -> dict:
    """Alternate the systems round by round for each model; medians of the rounds and the ratios."""
    import numpy as np

    results = {}
    for model in args.models.split(","):
        x, y = speed_batch(model, args.batch, args.steps, args.features)
        systems = {"nntrain": nntrain_speed_step(model, x, y, args.units),
                   "torch": torch_speed_step(model, x, y, args.units, args.threads)}
        if model == "lstm":
            systems["gemms"] = lstm_gemms_step(x, args.units)
        rounds = {name: [] for name in systems}
        cpu = {name: [] for name in systems}
        for r in range(args.rounds):
            for name, step in systems.items():
                wall_s, cpu_s = timed(step, args.repeat, args.warmup)
                rounds[name].append(wall_s * 1e3)
                cpu[name].append(cpu_s * 1e3)
            print(f"{model} round {r + 1}/{args.rounds}  " + "  ".join(f"{k} {v[-1]:.2f}" for k, v in rounds.items())
                  + " ms", file=sys.stderr)
        ms = {k: statistics.median(v) for k, v in rounds.items()}
        cpu_ms = {k: statistics.median(v) for k, v in cpu.items()}
        per_round = [a / b for a, b in zip(rounds["nntrain"], rounds["torch"])]
        results[model] = {"ms_per_step": ms, "ms_per_step_rounds": rounds,
                          "ratio": ms["nntrain"] / ms["torch"], "ratio_rounds": [min(per_round), max(per_round)],
                          "ratio_round_median": statistics.median(per_round),
                          "cpu_ms_per_step": cpu_ms, "cpu_ratio": cpu_ms["nntrain"] / cpu_ms["torch"],
                          "input": list(x.shape)}
        if "gemms" in ms:
            results[model]["gemms_over_torch"] = ms["gemms"] / ms["torch"]
    return {"threads": args.threads, "rounds": args.rounds, "steps_per_round": args.repeat,
            "load_average": list(os.getloadavg()), "numpy": np.__version__, "python": platform.python_version(),
            "torch": __import__("torch").__version__, "models": results}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows (or the timings) to this file")
    parser.add_argument("--speed", action="store_true", help="time training steps instead of comparing values")
    parser.add_argument("--models", default="lstm,conv1d", help="--speed: comma-separated lstm, conv1d, gru")
    parser.add_argument("--threads", type=int, default=2, help="--speed: BLAS and torch threads")
    parser.add_argument("--rounds", type=int, default=11, help="--speed: rounds, the systems alternating")
    parser.add_argument("--repeat", type=int, default=10, help="--speed: timed steps per round and system")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50, help="--speed: the LSTM's sequence length")
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--units", type=int, default=64)
    args = parser.parse_args(argv)
    for var in THREAD_VARS:  # before numpy and torch start their thread pools
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(ROOT))  # nntrain, also when not installed
    try:
        import torch
    except ImportError:
        print("needs torch: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    if args.speed:
        out = speed(args)
        print(f"torch {out['torch']}, numpy {out['numpy']}, {args.threads} thread(s), median of {args.rounds} "
              f"rounds x {args.repeat} steps, load average {' '.join(f'{v:.2f}' for v in out['load_average'])} "
              f"(at the start), ms per step")
        print(f"{'model':8} {'nntrain ms':>11} {'torch ms':>9} {'ratio':>6} {'rounds: median [min-max]':>25}   "
              f"CPU ms: nntrain, torch, ratio")
        for model, r in out["models"].items():
            ms, cpu = r["ms_per_step"], r["cpu_ms_per_step"]
            print(f"{model:8} {ms['nntrain']:11.2f} {ms['torch']:9.2f} {r['ratio']:6.2f}  {'':10}"
                  f"{r['ratio_round_median']:.2f} [{r['ratio_rounds'][0]:.2f}-{r['ratio_rounds'][1]:.2f}]   "
                  f"{cpu['nntrain']:.2f} {cpu['torch']:.2f} {r['cpu_ratio']:.2f}")
            if "gemms" in ms:
                print(f"{'':8} its matrix products alone: {ms['gemms']:.2f} ms = {r['gemms_over_torch']:.2f} x torch"
                      f" (CPU {cpu['gemms']:.2f} ms)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=1)
        return 0
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
