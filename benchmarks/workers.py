"""The systems benchmarks/compare.py runs, one per process: each trains the config's model
with one engine and returns its seconds per training epoch and test accuracy as a dict.

`python benchmarks/compare.py --worker NAME --config C --batch B --epochs E --threads T` runs
one of them and prints its JSON; compare.py sets the thread variables before the process starts.
"""
from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple

N_TRAIN = 60_000  # MNIST training samples: the GEMM bound's steps per epoch


class Loop(NamedTuple):
    """A system ready to train: one_epoch() trains one more epoch and returns its seconds."""

    one_epoch: Callable[[], float]
    test_accuracy: Callable[[], float] | None = None  # None: the system does not learn
    n_train: int = N_TRAIN  # training samples per epoch
    info: dict | None = None  # more for the report (flush_denormals, versions)


def run(loop: "Loop | dict", epochs: int) -> dict:
    """A worker's JSON: `epochs` epochs of `loop`, or the dict saying why it was skipped."""
    if isinstance(loop, dict):
        return loop
    out = {"epoch_seconds": [loop.one_epoch() for _ in range(epochs)], **(loop.info or {})}
    if loop.test_accuracy is not None:
        out["test_accuracy"] = loop.test_accuracy()
    return out


def nntrain_loop(config: str, batch: int, extra: tuple[str, ...] = ()) -> Loop:
    """nntrain's fit loop as `nntrain fit` runs it, flush_denormals included (by default auto:
    on, on x86-64 Linux); `extra` holds more --set overrides."""
    from nntrain.api import setup
    from nntrain.config import load_config
    from nntrain.train.denormals import flush_denormals
    from nntrain.nn.optimizers import build_optimizer
    from nntrain.train.trainer import Trainer, evaluate

    overrides = [f"train.batch_size={batch}", "data.validation_split=0.0"]
    cfg = load_config(config, overrides + list(extra))
    s = setup(cfg)
    trainer = Trainer(s.model, s.loss, build_optimizer(cfg.optimizer), s.metrics)

    def one_epoch() -> float:
        with flush_denormals(cfg.train.flush_denormals):
            st = trainer.fit(s.splits.train.x, s.y_train, trainer.state.epoch + 1, batch, shuffle=True)
        return st.history[-1]["seconds"]

    def test_accuracy() -> float:
        return evaluate(s.model, s.loss, s.metrics, s.splits.test.x, s.y_test)["accuracy"]

    with flush_denormals(cfg.train.flush_denormals) as flushing:  # whether one_epoch will flush
        pass
    return Loop(one_epoch, test_accuracy, len(s.splits.train.x), {"flush_denormals": flushing})


def _torch_layers(model, nn):
    """The nntrain model's layers as torch modules (NCHW for images); softmax last -> logits."""
    out = []
    for i, layer in enumerate(model.layers):
        kind, last = layer.registry_name, i == len(model.layers) - 1
        if kind == "dense":
            out.append(nn.Linear(layer.input_shape[0], layer.units))
        elif kind == "conv2d":
            out.append(nn.Conv2d(layer.input_shape[-1], layer.filters, tuple(layer.kernel_size),
                                 stride=tuple(layer.strides), padding=layer.padding))
        elif kind == "maxpool2d":
            out.append(nn.MaxPool2d(tuple(layer.pool_size), stride=tuple(layer.strides or layer.pool_size)))
        elif kind in ("flatten", "relu", "tanh", "sigmoid", "dropout"):
            out.append({"flatten": nn.Flatten, "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[kind]()
                       if kind != "dropout" else nn.Dropout(layer.rate))
        elif kind == "softmax" and last:
            continue  # CrossEntropyLoss takes logits
        else:
            raise SystemExit(f"compare.py: no PyTorch translation for layer {kind!r}")
    for m in out:  # the nntrain/Keras init: Glorot uniform kernels, zero biases
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return out


def torch_run(config: str, batch: int, epochs: int, threads: int) -> dict:
    import numpy as np
    import torch

    from nntrain.api import setup
    from nntrain.config import load_config

    torch.set_num_threads(threads)
    cfg = load_config(config, ["data.validation_split=0.0"])
    s = setup(cfg)
    torch.manual_seed(cfg.seed)
    model = torch.nn.Sequential(*_torch_layers(s.model, torch.nn))
    x, xt = s.splits.train.x, s.splits.test.x
    if x.ndim == 4:  # channels-last (n, H, W, C) -> NCHW
        x, xt = (np.ascontiguousarray(a.transpose(0, 3, 1, 2)) for a in (x, xt))
    X, Y = torch.from_numpy(x), torch.from_numpy(s.y_train)
    opt_cfg = cfg.optimizer
    opt = torch.optim.Adam(model.parameters(), lr=opt_cfg.get("lr", 1e-3), eps=opt_cfg.get("epsilon", 1e-7),
                           betas=(opt_cfg.get("beta_1", 0.9), opt_cfg.get("beta_2", 0.999)))
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)
    seconds = []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch):
            idx = perm[i:i + batch]
            xb, yb = X[idx], Y[idx]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xb), yb).backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(xt[i:i + 1000])).argmax(1) for i in range(0, len(xt), 1000)])
    return {"epoch_seconds": seconds, "test_accuracy": float((pred.numpy() == s.y_test).mean()),
            "version": torch.__version__}


def sklearn_run(config: str, batch: int, epochs: int) -> dict:
    import numpy as np
    import sklearn
    from sklearn.neural_network import MLPClassifier

    from nntrain.api import setup
    from nntrain.config import load_config

    cfg = load_config(config, ["data.validation_split=0.0"])
    s = setup(cfg)
    kinds = [layer.registry_name for layer in s.model.layers]
    if kinds[-1] != "softmax" or any(k not in ("dense", "relu", "softmax") for k in kinds):
        return {"skipped": "MLPClassifier only covers dense + relu + softmax models"}
    hidden = tuple(layer.units for layer in s.model.layers[:-2] if layer.registry_name == "dense")
    clf = MLPClassifier(hidden, activation="relu", solver="adam", alpha=0.0, batch_size=batch,
                        learning_rate_init=cfg.optimizer.get("lr", 1e-3), epsilon=1e-7, shuffle=True,
                        random_state=cfg.seed)
    x, classes = s.splits.train.x.reshape(len(s.splits.train.x), -1), np.arange(s.model.output_shape[-1])
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        clf.partial_fit(x, s.y_train, classes=classes)  # one pass over the data
        seconds.append(time.perf_counter() - start)
    acc = float((clf.predict(s.splits.test.x.reshape(len(s.splits.test.x), -1)) == s.y_test).mean())
    return {"epoch_seconds": seconds, "test_accuracy": acc, "version": sklearn.__version__}


def gemm_loop(config: str, batch: int, n_train: int = N_TRAIN) -> "Loop | dict":
    """An epoch of only the matrix products a step needs, for ceil(n_train / batch) steps; or a
    dict saying why the model is not covered. Per layer with weights, as its forward, dL/dW and
    dL/dx products (no dL/dx for the first layer):

        dense   y = x W          dW = x^T g          dx = g W^T          x (b, in), W (in, out)
        conv2d  y = cols K       dK = cols^T g       dcols = g K^T       cols (b*oh*ow, kh*kw*c),
                                                                         K (kh*kw*c, filters)

    a conv as its im2col GEMM: the window copies, col2im's adds, bias, activations, pooling and
    the optimizer are left out, so no engine that multiplies matrices this way can be faster.
    The products are made with the same numpy calls as nntrain's layers, the fastest found for
    them (seed MLP: five GEMMs; the MNIST CNN: five, plus the dense layer's two)."""
    import numpy as np

    from nntrain.config import load_config
    from nntrain.nn.model import Sequential

    cfg = load_config(config)
    model = Sequential.from_specs(cfg.model.layers, cfg.model.input_shape, cfg.model.dtype, cfg.seed)
    weighted = [layer for layer in model.layers if layer.params]
    if any(layer.registry_name not in ("dense", "conv2d") for layer in weighted):
        return {"skipped": "the GEMM bound covers dense and conv2d models"}
    rng = np.random.default_rng(0)
    bufs = []
    for k, layer in enumerate(weighted):
        w = layer.params["W"]
        if layer.registry_name == "conv2d":
            oh, ow = layer.output_shape[:2]
            rows, w = batch * oh * ow, w.reshape(-1, w.shape[-1])
        else:
            rows = batch
        n_in, n_out = w.shape
        bufs.append((rng.random((rows, n_in), np.float32), w, np.empty((rows, n_out), np.float32),
                     rng.random((rows, n_out), np.float32), np.empty((n_in, n_out), np.float32),
                     None if k == 0 else np.empty((rows, n_in), np.float32)))
    steps = math.ceil(n_train / batch)

    def one_epoch() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            for x, w, y, g, gw, gx in bufs:
                np.matmul(x, w, out=y) if len(x) > batch else np.dot(x, w, out=y)
            for x, w, y, g, gw, gx in reversed(bufs):
                # the faster of np.dot / np.matmul for x^T g, as nntrain's dense layer picks it
                (np.matmul if gw.size >= 4096 else np.dot)(x.T, g, out=gw)
                if gx is not None:
                    (np.matmul if len(x) > batch else np.dot)(g, w.T, out=gx)
        return time.perf_counter() - start

    return Loop(one_epoch, n_train=n_train, info={"numpy": np.__version__, "blas": _blas()})


def numpy_loop(config: str, batch: int, report: bool = False) -> "Loop | dict":
    """A hand-written numpy training loop for a dense + relu model with a softmax output (or a
    dict saying why the model is not covered): the fewest numpy calls found for each part of a
    step, no registry, no layer objects, no callbacks. What any numpy engine can reach;
    nntrain's overhead is its time over this one's.

    Same math as nntrain: Glorot uniform weights, zero biases, fused softmax + sparse
    cross-entropy gradient, Adam (Keras' form, epsilon 1e-7) over one flat parameter vector in
    ten passes, batches gathered with `take` from a fresh permutation every epoch; the same
    cheapest-call choices as nntrain's layers (README, "Where the time goes").

    The loop runs with flush-to-zero as nntrain does by default (flush_denormals: auto, where the
    platform allows): without it Adam's moments decay into denormals, which this Intel Xeon
    computes several times more slowly (compare.py on 2026-11-30: the bare loop at 1.46x
    nntrain's epoch time at batch 32), and the floor would measure the floating-point mode.

    report=True also computes, every step, what nntrain's fit reports: the batch's loss value
    -mean(log clip(p[i, y_i])) (also its check for a non-finite loss) and the accuracy's hits,
    count(argmax p == y), summed over the epoch: the floor of a loop that shows them."""
    import numpy as np

    from nntrain.api import setup
    from nntrain.config import load_config
    from nntrain.train.denormals import flush_denormals

    cfg = load_config(config, ["data.validation_split=0.0"])
    s = setup(cfg)
    kinds = [layer.registry_name for layer in s.model.layers]
    if kinds[-1] != "softmax" or any(k not in ("dense", "relu") for k in kinds[:-1]) or kinds[0] != "dense":
        return {"skipped": "the hand-written loop covers dense + relu models with a softmax output"}
    opt = cfg.optimizer if isinstance(cfg.optimizer, dict) else {"type": cfg.optimizer}
    loss = cfg.loss if isinstance(cfg.loss, str) else cfg.loss.get("type")
    if opt.get("type") != "adam" or loss != "sparse_categorical_crossentropy":
        return {"skipped": "the hand-written loop runs Adam on sparse categorical cross-entropy only"}
    lr, b1, b2, eps = (float(opt.get(k, d)) for k, d in (("lr", 1e-3), ("beta_1", 0.9), ("beta_2", 0.999),
                                                          ("epsilon", 1e-7)))
    x, y = s.splits.train.x.reshape(len(s.splits.train.x), -1), s.y_train.astype(np.intp)
    n, f32 = len(x), np.float32
    # layers: (W, b, relu after?) as views into one flat parameter vector and one flat gradient
    shapes = []
    for i, layer in enumerate(s.model.layers):
        if layer.registry_name == "dense":
            shapes.append((layer.params["W"].shape, i + 1 < len(kinds) and kinds[i + 1] == "relu"))
    total = sum(a * c + c for (a, c), _ in shapes)
    flat, gflat = np.zeros(total, f32), np.zeros(total, f32)
    m, v = np.zeros(total, f32), np.zeros(total, f32)
    rng = np.random.default_rng(cfg.seed)
    layers, off = [], 0
    for (a, c), relu in shapes:
        W, gW = flat[off:off + a * c].reshape(a, c), gflat[off:off + a * c].reshape(a, c)
        off += a * c
        b, gb = flat[off:off + c], gflat[off:off + c]
        off += c
        limit = math.sqrt(6.0 / (a + c))
        W[...] = rng.uniform(-limit, limit, (a, c))
        layers.append((W, b, gW, gb, relu))
    sizes = [x.shape[1]] + [W.shape[1] for W, *_ in layers]

    def buffers(rows):
        """Per batch shape: activations, their gradients, ReLU's zeros, the ones for row and
        column sums, softmax's row column, and the flat row starts i * C of the output."""
        return ([np.empty((rows, k), f32) for k in sizes], [np.empty((rows, k), f32) for k in sizes],
                [np.zeros((rows, k), f32) for k in sizes], np.ones(rows, f32), np.ones((sizes[-1], 1), f32),
                np.empty((rows, 1), f32), np.arange(rows) * sizes[-1], np.empty(rows, np.intp),
                [np.empty((rows, k), np.bool_) for k in sizes])

    shaped = {}
    pbuf = {rows: np.empty(rows, f32) for rows in {batch, n % batch or batch}}  # p[i, y_i] per batch size
    stats = [0.0, 0]  # the epoch's summed loss and accuracy hits (report=True)
    root = math.sqrt(1.0 - b2)
    t = 0

    def one_epoch() -> float:
        with flush_denormals(True):  # True: where available (auto); what nntrain's fit does
            return epoch()

    def epoch() -> float:
        nonlocal t
        stats[:] = [0.0, 0]
        start = time.perf_counter()
        perm = rng.permutation(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            rows = len(idx)
            if rows not in shaped:
                shaped[rows] = buffers(rows)
            acts, dacts, zeros, ones_rows, ones_cols, col, starts, picks, on = shaped[rows]
            x.take(idx, axis=0, out=acts[0])
            for k, (W, b, _, _, relu) in enumerate(layers):
                h = acts[k + 1]
                np.dot(acts[k], W, out=h)
                h += b
                if relu:
                    np.maximum(h, zeros[k + 1], out=h)
            # softmax + sparse cross-entropy gradient, fused: (softmax(z) - onehot(y)) / rows
            z, d = acts[-1], dacts[-1]
            np.maximum.reduce(z, axis=1, keepdims=True, out=col)
            z -= col
            np.exp(z, out=z)
            np.dot(z, ones_cols, out=col)  # row sums
            np.divide(z, col, out=d)
            yb = y.take(idx)
            np.add(starts, yb, out=picks)
            if report:  # p[i, y_i] = e[i, y_i] / s_i, clipped as the loss clips it, then its log
                picked = d.reshape(-1).take(picks, out=pbuf[rows])
                np.maximum(picked, 1e-7, out=picked)
                np.minimum(picked, 1.0 - 1e-7, out=picked)
                np.log(picked, out=picked)
                value = -float(np.add.reduce(picked)) / rows
                if not math.isfinite(value):
                    raise FloatingPointError("the loss is not finite")
                stats[0] += value * rows
                stats[1] += int(np.count_nonzero(d.argmax(axis=1) == yb))
            d.reshape(-1)[picks] -= 1.0
            d *= 1.0 / rows
            for k in range(len(layers) - 1, -1, -1):
                W, b, gW, gb, relu = layers[k]
                d = dacts[k + 1]
                np.matmul(acts[k].T, d, out=gW)
                np.dot(ones_rows, d, out=gb)  # column sums
                if k:
                    dx = dacts[k]
                    np.dot(d, W.T, out=dx)
                    if layers[k - 1][4]:  # relu before this layer: zero where its output was 0
                        np.greater(acts[k], zeros[k], out=on[k])
                        np.multiply(dx, on[k], out=dx)
            # Adam over the flat vector, M = m / (1 - b1), V = v / (1 - b2), in ten passes; the
            # gradient is scratch space once read (ufuncs with out=, what `m *= b1` calls)
            t += 1
            np.multiply(m, b1, out=m)
            np.add(m, gflat, out=m)
            np.multiply(v, b2, out=v)
            np.multiply(gflat, gflat, out=gflat)
            np.add(v, gflat, out=v)
            np.sqrt(v, out=gflat)
            np.add(gflat, eps / root, out=gflat)
            np.divide(m, gflat, out=gflat)
            np.multiply(gflat, lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t) * (1.0 - b1) / root, out=gflat)
            np.subtract(flat, gflat, out=flat)
        return time.perf_counter() - start

    def test_accuracy() -> float:
        out = s.splits.test.x.reshape(len(s.splits.test.x), -1)
        for W, b, _, _, relu in layers:
            out = out @ W + b
            if relu:
                out = np.maximum(out, 0)
        return float((out.argmax(1) == s.y_test).mean())

    with flush_denormals(True) as flushing:
        pass
    return Loop(one_epoch, test_accuracy, n, {"flush_denormals": flushing})


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info

        return ", ".join(f"{i['internal_api']} {i['version']} {i.get('architecture', '')} x{i['num_threads']}"
                         for i in threadpool_info() if i["user_api"] == "blas")
    except ImportError:
        return "?"


WORKERS = {"nntrain": lambda a: run(nntrain_loop(a.config, a.batch), a.epochs),
           "nntrain_noftz": lambda a: run(nntrain_loop(a.config, a.batch, ("train.flush_denormals=false",)), a.epochs),
           "torch": lambda a: torch_run(a.config, a.batch, a.epochs, a.threads),
           "sklearn": lambda a: sklearn_run(a.config, a.batch, a.epochs),
           "numpy": lambda a: run(numpy_loop(a.config, a.batch), a.epochs),
           "numpy_report": lambda a: run(numpy_loop(a.config, a.batch, report=True), a.epochs),
           "gemm": lambda a: run(gemm_loop(a.config, a.batch), a.epochs)}
