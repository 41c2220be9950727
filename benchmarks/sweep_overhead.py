"""Per-trial overhead of a sweep of tiny models: what a trial costs beyond its training.

    python benchmarks/sweep_overhead.py [--trials 64] [--workers 2] [--rounds 2] [--starts 5]
                                        [--code LABEL=DIR ...] [--only-code] [--no-sweep] [--json]

1. The sweep. `nntrain sweep configs/spirals.yaml --grid seed=0,...,63 --workers 2 --out TMP
   --quiet --json`, timed from before the process starts to after it ends (`wall`). Each
   trial's run folder gives its training time, and

       overhead per trial = (wall * workers - sum of the trials' training seconds) / trials

   where a trial's training seconds are summary.json's `seconds`: the sum over its epochs of the
   step loop (batches, forward, backward, optimizer, metric updates), as metrics.csv's
   per-epoch `seconds` add up. Everything else is overhead: the process start, imports, the
   command line, the config, the data, the model build, the run folder, the per-epoch
   validation pass and per-epoch writes (weights, metrics.csv, summary.json, checkpoint), the
   test evaluation, the exit, the sweep's own start-up and planning, the runner noticing that a
   trial ended, and worker slots idle at the end. `wall * workers` charges a worker for every
   second of the sweep, so an idle slot counts against the trials, as it should.

   Also from trials.jsonl: each trial's process wall (`wall`, from its start to the runner
   seeing it end) minus its training seconds: the overhead per process. And the CPU overhead:
   (user + system CPU seconds of the sweep and all its trials, from getrusage(RUSAGE_CHILDREN),
   - the sum of training seconds) / trials, which a machine shared with other work inflates far
   less than wall time, and which leaves out waiting for the disk (fsync).

2. The start-up of one trial: the same `python -m nntrain fit` command line the runner gives,
   with the runner's environment (BLAS threads = cores // workers), run `--starts` times:
   - `python -X importtime`: self time of the imports, grouped (numpy, yaml, rich,
     typer + click, pydantic and what it brings, nntrain, the rest);
   - a timeline, in wall time (a monotonic clock shared by parent and child) and in the
     child's CPU time (process_time; wait4 for the whole process): process start to the first
     line of Python, imports and the command line up to `load_config`, config, data, model, the
     run folder up to the first training step, the epochs (step loops vs validation and
     writes), the test evaluation and final summary, and the exit; and the fsync calls of the
     run folder's writes with the time spent waiting for the disk in them. It comes from
     wrapping nntrain's functions as their modules are imported (a meta path hook), so the
     import order is the real one.

`--code LABEL=DIR` runs another copy of the package (DIR holds its `nntrain/`, put first on
PYTHONPATH), e.g. a `git archive` of the commit before a change; `--only-code` leaves out this
checkout (which others may be editing while it runs). Every process runs in a temporary folder,
so that `python -m` does not find this checkout through the current directory. The variants
alternate within each round, so changes of load hit them alike. Medians; the spread is min-max.
Run it on an idle machine: the machine line prints the load average before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "spirals.yaml"

# the child's side of the timeline: runs as `python -c BOOT fit ...` instead of `python -m nntrain`
BOOT = r"""
import sys, time
_t, _c = time.monotonic, time.process_time
marks = [("python", _t(), _c())]
WRAP = {}

def wrap(owner, attr, label, once=False):
    orig = getattr(owner, attr)
    state = {"n": 0}
    def wrapper(*a, **k):
        state["n"] += 1
        first = state["n"] == 1
        if first or not once:
            marks.append((label + ">", _t(), _c()))
        try:
            return orig(*a, **k)
        finally:
            if first or not once:
                marks.append((label + "<", _t(), _c()))
    setattr(owner, attr, wrapper)

def on_nntrain_config_load(m):
    wrap(m, "load_config", "config")

def on_nntrain_train_setup(m):
    wrap(m, "load_splits", "data")
    wrap(m, "build_model", "model")

def on_nntrain_api(m):
    wrap(m.RunWriter, "on_epoch_end", "epoch writes")
    wrap(m, "evaluate", "test evaluation")
    wrap(m.RunWriter, "summary", "summary")

def on_nntrain_train_trainer(m):
    wrap(m.Trainer, "fit", "fit")
    wrap(m.Trainer, "train_step", "step", once=True)
    wrap(m, "evaluate", "validation")

HOOKS = {"nntrain.config.load": on_nntrain_config_load, "nntrain.train.setup": on_nntrain_train_setup,
         "nntrain.api": on_nntrain_api,
         "nntrain.train.trainer": on_nntrain_train_trainer}
SEEN = ("typer", "rich", "numpy", "yaml", "pydantic", "nntrain.cli", "nntrain.api")

class Hook:
    def find_spec(self, name, path, target=None):
        if name in SEEN:
            marks.append(("import " + name, _t(), _c()))
        if name not in HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        run = spec.loader.exec_module
        def exec_module(module, run=run, hook=HOOKS[name]):
            run(module)
            hook(module)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Hook())
import os
_fsync, FSYNC = os.fsync, [0, 0.0]

def fsync(fd):  # the run folder's writes are flushed to disk: count them and their time
    t = _t()
    try:
        return _fsync(fd)
    finally:
        FSYNC[0] += 1
        FSYNC[1] += _t() - t

os.fsync = fsync
out = sys.argv.pop(1)
sys.argv[0] = "nntrain"
from nntrain.launch import main
try:
    code = main()
finally:
    marks.append(("end", _t(), _c()))
    marks.append(("fsync calls", FSYNC[0], 0))
    marks.append(("fsync seconds", FSYNC[1], 0))
    import json
    with open(out, "w") as f:
        json.dump(marks, f)
sys.exit(code)
"""

GROUPS = {  # top-level module -> group of the import breakdown
    "numpy": "numpy", "yaml": "yaml", "_yaml": "yaml", "rich": "rich", "pygments": "rich", "markdown_it": "rich",
    "mdurl": "rich", "typer": "typer + click", "click": "typer + click", "shellingham": "typer + click",
    "pydantic": "pydantic", "pydantic_core": "pydantic", "annotated_types": "pydantic",
    "typing_inspection": "pydantic", "typing_extensions": "pydantic", "nntrain": "nntrain",
}


def machine_line() -> str:
    """compare.py's machine line (CPU, vector width, numpy and its BLAS), with the load now."""
    from compare import machine  # benchmarks/compare.py, next to this script

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{machine()}; load average {load}"


PYCACHE = Path(tempfile.gettempdir()) / "nntrain-sweep-overhead-pycache"


def env_for(code_dir: str | None, workers: int) -> dict:
    """The environment of the sweep (and so of its trials): bytecode cached, as in any install,
    but outside the checkout (PYTHONPYCACHEPREFIX), even where PYTHONDONTWRITEBYTECODE is set:
    without .pyc files every process compiles nntrain's modules again (~0.2 s here)."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    env.pop("NNTRAIN_PROGRESS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if code_dir:
        env["PYTHONPATH"] = code_dir + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def trial_env(env: dict, workers: int) -> dict:
    """The runner's environment for a trial: BLAS threads = cores // workers."""
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    return {**env, **{v: threads for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}}


def sweep_command(out: Path, trials: int, workers: int) -> list[str]:
    seeds = ",".join(str(i) for i in range(trials))
    return [sys.executable, "-m", "nntrain", "sweep", str(CONFIG), "--grid", f"seed={seeds}", "--workers",
            str(workers), "--out", str(out), "--quiet", "--json"]


def run_sweep(env: dict, trials: int, workers: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="nntrain-sweep-overhead-"))
    try:
        cmd = sweep_command(out / "sweep", trials, workers)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        proc = subprocess.run(cmd, check=False, env=env, cwd=out, capture_output=True, text=True)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sweep and every trial it reaped
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if proc.returncode != 0:
            sys.exit(f"the sweep failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        records = [json.loads(line) for line in (out / "sweep" / "trials.jsonl").read_text().splitlines() if line]
        done = [r for r in records if r.get("status") == "done"]
        if len(done) != trials:
            bad = [r for r in records if r.get("status") != "done"]
            sys.exit(f"{len(done)} of {trials} trials done; the others: "
                     + "; ".join(f"{r['name']} {r.get('status')} ({r.get('error')})" for r in bad[:5]))
        train = []
        for r in done:
            summary = json.loads((out / "sweep" / r["name"] / "summary.json").read_text())
            train.append(summary["seconds"])
        proc_walls = [r["wall"] for r in done]
        return {"wall": wall, "train_sum": sum(train), "train_mean": statistics.mean(train),
                "overhead": (wall * workers - sum(train)) / trials, "cpu_overhead": (cpu - sum(train)) / trials,
                "process_overhead": statistics.mean(w - s for w, s in zip(proc_walls, train))}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def fit_args(run_dir: Path) -> list[str]:
    """What the runner gives a trial's process (Plan.argv), for one trial of the sweep."""
    return ["fit", str(CONFIG), "--set", "seed=0", "--run-dir", str(run_dir), "--json", "--quiet"]


def import_groups(env: dict) -> dict[str, float]:
    """Self time (ms) of the imports of one trial's process, by group (python -X importtime)."""
    work = Path(tempfile.mkdtemp(prefix="nntrain-importtime-"))
    try:
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "nntrain", *fit_args(work / "run")], check=False,
                              env=env, cwd=work, capture_output=True, text=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    groups: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)", line)
        if not m:
            continue
        top = m.group(3).split(".")[0]
        group = GROUPS.get(top, "other (stdlib, site)")
        groups[group] = groups.get(group, 0.0) + int(m.group(1)) / 1000
    return groups


def timeline(env: dict) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of each phase of one trial's process: the BOOT marks (monotonic clock,
    shared with this process, and the child's process_time), this process's clock around it and
    the child's CPU time from wait4."""
    work = Path(tempfile.mkdtemp(prefix="nntrain-timeline-"))
    try:
        marks_file = work / "marks.json"
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", BOOT, str(marks_file), *fit_args(work / "run")], env=env,
                                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        end = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stderr.close()
        if proc.returncode != 0:
            sys.exit(f"the timed fit failed ({proc.returncode}):\n{err[-2000:].decode(errors='replace')}")
        marks = json.loads(marks_file.read_text())
        lines = (work / "run" / "metrics.csv").read_text().splitlines()
        column = lines[0].split(",").index("seconds")
        steps = sum(float(row.split(",")[column]) for row in lines[1:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cpu_total = usage.ru_utime + usage.ru_stime
    first: dict[str, tuple[float, float]] = {}
    spans: dict[str, tuple[float, float]] = {}
    opened: dict[str, tuple[float, float]] = {}
    for label, wall, cpu in marks:
        first.setdefault(label, (wall, cpu))
        if label.endswith(">"):
            opened[label[:-1]] = (wall, cpu)
        elif label.endswith("<"):
            name, (w0, c0) = label[:-1], opened.pop(label[:-1])
            w, c = spans.get(name, (0.0, 0.0))
            spans[name] = (w + wall - w0, c + cpu - c0)
    first["start"], first["exit"] = (start, 0.0), (end, cpu_total)
    zero = (0.0, 0.0)

    def between(a: str, b: str) -> tuple[float, float]:
        a = a if a in first else b  # a mark never reached (no such import): an empty phase
        return first[b][0] - first[a][0], first[b][1] - first[a][1]

    def minus(x, *ys):
        return x[0] - sum(y[0] for y in ys), x[1] - sum(y[1] for y in ys)

    validation = minus(spans.get("validation", zero), spans.get("test evaluation", zero))
    fit = between("fit>", "fit<")
    # the step loops' time is wall time (summary seconds); their CPU time is taken to be the same
    loops = (steps, min(steps, fit[1]))
    phases = {
        "process start (fork, exec, interpreter, site)": between("start", "python"),
        "imports and command line, up to load_config": between("python", "config>"),
        "  of which the CLI: launch to the fit command's body": between("python", "import nntrain.api"),
        "  of which importing nntrain.api (numpy, the library)": between("import nntrain.api", "config>"),
        "config (load_config)": spans["config"],
        "data (load_splits)": spans["data"],
        "model (build_model)": spans["model"],
        "from the model to the first step (loss, metrics, run folder, config.yaml)": between("model<", "step>"),
        "fit: the epochs' step loops (summary seconds)": loops,
        "fit: per-epoch validation": validation,
        "fit: per-epoch writes (weights, metrics.csv, summary)": spans.get("epoch writes", zero),
        "fit: the rest (checkpoints, callbacks)": minus(fit, loops, validation, spans.get("epoch writes", zero),
                                                       between("fit>", "step>")),
        "after fit: test evaluation, final summary, --json": between("fit<", "end"),
        "exit (atexit, interpreter teardown, reaped)": between("end", "exit"),
        "  fsync: calls (a count, not ms)": (first["fsync calls"][0] / 1000, 0.0),
        "  fsync: time waiting for the disk (wall)": (first["fsync seconds"][0], 0.0),
        "total": between("start", "exit"),
        "time to first step": between("start", "step>"),
        "start-up + after-fit (all but fit)": minus(between("start", "exit"), fit),
    }
    return phases


def spread(values: list[float], scale: float = 1.0, fmt: str = "{:.3f}") -> str:
    values = [v * scale for v in values]
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="sweeps per code variant (alternating)")
    parser.add_argument("--starts", type=int, default=5, help="single-trial start-up measurements per variant")
    parser.add_argument("--code", action="append", default=[], metavar="LABEL=DIR",
                        help="another copy of the package to compare (DIR/nntrain), e.g. base=/tmp/nntrain-base")
    parser.add_argument("--no-sweep", action="store_true", help="only the single-trial start-up breakdown")
    parser.add_argument("--only-code", action="store_true", help="only the --code variants, not this checkout")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()

    variants = [] if args.only_code else [("this tree", None)]
    variants += [tuple(c.split("=", 1)) for c in args.code]
    print(f"machine: {machine_line()}", flush=True)
    print(f"bytecode: cached in {PYCACHE}" + (" (PYTHONDONTWRITEBYTECODE is set here: not for the benchmark's processes)"
                                              if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""), flush=True)
    print(f"command: {' '.join(sweep_command(Path('TMP'), args.trials, args.workers)[1:]).replace(str(ROOT) + '/', '')}"
          .replace(",".join(str(i) for i in range(args.trials)), f"0,1,...,{args.trials - 1}"), flush=True)
    results: dict = {label: {"sweeps": [], "imports": [], "timelines": []} for label, _ in variants}
    for _, code in variants:  # compile each variant's bytecode once, before anything is timed
        subprocess.run([sys.executable, "-c", "import nntrain.api, nntrain.cli.main, nntrain.sweep, nntrain.config.plugins"],
                       check=True, env=env_for(code, args.workers), cwd=tempfile.gettempdir())
    for r in range(args.rounds if not args.no_sweep else 0):
        for label, code in variants:
            res = run_sweep(env_for(code, args.workers), args.trials, args.workers)
            results[label]["sweeps"].append(res)
            print(f"round {r + 1} {label:>10}: wall {res['wall']:.2f} s, training {res['train_sum']:.2f} s "
                  f"({res['train_mean']:.3f} s/trial), overhead {res['overhead']:.3f} s/trial, "
                  f"per process {res['process_overhead']:.3f} s, CPU {res['cpu_overhead']:.3f} s; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    for i in range(args.starts + 1 if args.starts else 0):  # the first round warms the caches and is dropped
        for label, code in variants:
            env = trial_env(env_for(code, args.workers), args.workers)
            imports, phases = import_groups(env), timeline(env)
            if i:
                results[label]["imports"].append(imports)
                results[label]["timelines"].append(phases)
    print(f"machine after: {machine_line()}")

    for label, _ in variants:
        res = results[label]
        print(f"\n== {label} ==")
        if res["sweeps"]:
            sweeps = res["sweeps"]
            print(f"sweep of {args.trials} trials at {args.workers} workers, {len(sweeps)} runs: "
                  f"wall {spread([s['wall'] for s in sweeps], fmt='{:.2f}')} s; "
                  f"overhead per trial {spread([s['overhead'] for s in sweeps])} s; "
                  f"per process {spread([s['process_overhead'] for s in sweeps])} s; "
                  f"CPU {spread([s['cpu_overhead'] for s in sweeps])} s; "
                  f"training {spread([s['train_mean'] for s in sweeps])} s/trial")
        if res["timelines"]:
            print(f"one trial's process, {len(res['timelines'])} runs (ms, median [min-max]):")
            print(f"  {'':<76} {'wall':>16} {'CPU':>16}")
            for phase in res["timelines"][0]:
                wall = spread([t[phase][0] for t in res["timelines"]], 1000, "{:.0f}")
                cpu = spread([t[phase][1] for t in res["timelines"]], 1000, "{:.0f}")
                print(f"  {phase:<76} {wall:>16} {cpu:>16}")
            groups = sorted({g for i in res["imports"] for g in i}, key=lambda g: -statistics.median(
                [i.get(g, 0.0) for i in res["imports"]]))
            print("  imports under -X importtime (self ms, which the tool inflates):")
            for g in groups:
                print(f"    {g:<40} {spread([i.get(g, 0.0) for i in res['imports']], 1, '{:.0f}')}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
