"""Start-up time: what every trial of a sweep pays before it trains.

    python benchmarks/startup.py [--repeat 15] [--json]

Median wall time (and min/max) of fresh processes:

    python -c pass                  the interpreter alone
    python -c "import numpy"        the floor of any numpy program
    nntrain --help                  the CLI (imports no numpy: heavy modules load in the commands)
    python -c "import nntrain.cli"  the CLI module alone
    nntrain fit xor (1 epoch)       a whole trivial trial: imports, config, data, 1 epoch, run folder

Run it on an idle machine; the numbers are relative to `import numpy` on the same machine.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

XOR = """\
seed: 0
data: {name: xor}
model:
  input_shape: [2]
  layers: [{type: dense, units: 8, activation: tanh}, {type: dense, units: 2, activation: softmax}]
loss: sparse_categorical_crossentropy
metrics: [accuracy]
train: {epochs: 1, batch_size: full}
"""


def nntrain() -> list[str]:
    """The console script next to this interpreter, else `python -m nntrain`."""
    script = Path(sys.executable).parent / "nntrain"
    return [str(script)] if script.exists() else [sys.executable, "-m", "nntrain"]


def timed(cmd: list[str], repeat: int, before=None) -> list[float]:
    times = []
    for i in range(repeat + 1):  # the first run warms the file cache and is dropped
        if before:
            before(i)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nntrain-startup-"))
    try:
        (work / "xor.yaml").write_text(XOR)
        run_dir = work / "run"

        def fresh_run_dir(_):
            shutil.rmtree(run_dir, ignore_errors=True)

        py = sys.executable
        cases = [
            ("python -c pass", [py, "-c", "pass"], None),
            ('python -c "import numpy"', [py, "-c", "import numpy"], None),
            ("nntrain --help", [*nntrain(), "--help"], None),
            ('python -c "import nntrain.cli"', [py, "-c", "import nntrain.cli"], None),
            ("nntrain fit xor (1 epoch)", [*nntrain(), "fit", str(work / "xor.yaml"), "--run-dir", str(run_dir),
                                           "--quiet", "--json"], fresh_run_dir),
        ]
        results = {}
        for name, cmd, before in cases:
            t = timed(cmd, args.repeat, before)
            results[name] = {"median_ms": round(1000 * statistics.median(t), 1),
                             "min_ms": round(1000 * min(t), 1), "max_ms": round(1000 * max(t), 1)}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    numpy_ms = results['python -c "import numpy"']["median_ms"]
    for r in results.values():
        r["vs_numpy"] = round(r["median_ms"] / numpy_ms, 2)
    if args.json:
        print(json.dumps({"repeat": args.repeat, "python": sys.version.split()[0], "results": results}))
        return
    print(f"{'command':<34}{'median':>10}{'min':>10}{'max':>10}{'x numpy':>10}   ({args.repeat} runs each)")
    for name, r in results.items():
        print(f"{name:<34}{r['median_ms']:>8.1f}ms{r['min_ms']:>8.1f}ms{r['max_ms']:>8.1f}ms{r['vs_numpy']:>10.2f}")


if __name__ == "__main__":
    main()
