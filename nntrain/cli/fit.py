"""`nntrain fit`: what the command does once its flags are parsed, and the plain command lines
that reach it without typer.

A sweep runs every trial as `nntrain fit CONFIG --set K=V ... --run-dir DIR --json --quiet` in a
process of its own, and the trial's start-up is paid once per trial: typer, click and the
pydantic that typer converts values with take about as long to import as numpy (see
benchmarks/sweep_overhead.py). `plain_args` reads such a command line (CONFIG plus --set,
--run-dir, --name, --progress, --json, --quiet, in any order) and `run_plain` runs it with the
same body, error lines and exit codes as the typer command, which `launch` uses for anything
else: --help, --resume, short or `--opt=value` forms, a value starting with `-`, a second
CONFIG, shell completion.
"""
from __future__ import annotations

import os
from pathlib import Path

from .boundary import REPORTED, failure_code, prepare_process

# the options `plain_args` reads: option -> its parameter of fit_command
VALUED = {"--set": "set_", "--run-dir": "run_dir", "--name": "name", "--progress": "progress"}
FLAGS = {"--json": "as_json", "--quiet": "quiet"}
COMPLETE_VAR = "_NNTRAIN_COMPLETE"  # click's shell completion for prog_name nntrain


def fit_command(config: Path | None = None, resume: Path | None = None, set_: list[str] | None = None,
                run_dir: Path | None = None, name: str | None = None, as_json: bool = False, quiet: bool = False,
                progress: str = "auto") -> None:
    """Train a config (or resume a run) and print the result: the body of `nntrain fit`."""
    from ..api import fit as run_fit
    from ..api import resume as run_resume
    from ..config.load import load_config
    from ..errors import NntrainError
    from .boundary import emit_json, format_metrics, progress_mode

    mode = progress_mode(progress, quiet, as_json)
    if resume is not None:
        if config is not None or run_dir is not None or name is not None:
            raise NntrainError("--resume RUN_DIR takes the config from the run folder; "
                               "drop CONFIG, --run-dir and --name")
        result = run_resume(resume, set_ or [], progress=mode)
    elif config is None:
        raise NntrainError("give a CONFIG to train (e.g. nntrain fit configs/mnist_mlp.yaml) "
                           "or --resume RUN_DIR")
    else:
        cfg = load_config(config, set_ or [])
        result = run_fit(cfg, run_dir=run_dir, progress=mode, name=name)
    if as_json:
        emit_json(result)
    elif not quiet:
        for split in ("train", "val", "test"):
            if result.get(split):
                print(f"{split:<6}{format_metrics(result[split])}")
        from ..train.progress import format_value

        stop, best = result.get("early_stopping") or {}, result.get("best")
        if stop.get("stopped_epoch"):
            print(f"stop  early, after epoch {stop['stopped_epoch']}: {stop['monitor']} "
                  f"{format_value(stop['stopped_value'])} did not improve")
        if best:
            where = f"  (weights in {best['weights']})" if best.get("weights") else ""
            print(f"best  epoch {best['epoch']}: {best['monitor']} {format_value(best['value'])}{where}")
        print(f"run   {result['run_dir']}  ({result['epochs']} epochs, {result['seconds']:.1f}s)")


def plain_args(argv: list[str]) -> dict | None:
    """fit_command's arguments from `fit ...` (argv without the program), or None when the
    command line is anything but plain and typer should parse it. Like click: an option given
    twice keeps the last value, --set accumulates."""
    if not argv or argv[0] != "fit" or COMPLETE_VAR in os.environ:
        return None
    args: dict = {"progress": "auto", "as_json": False, "quiet": False}
    configs, rest = [], iter(argv[1:])
    for token in rest:
        if token in FLAGS:
            args[FLAGS[token]] = True
        elif token in VALUED:
            value = next(rest, None)
            if not value or value.startswith("-"):  # missing, or what click might read as an option
                return None
            if token == "--set":
                args.setdefault("set_", []).append(value)
            else:
                args[VALUED[token]] = value
        elif token and not token.startswith("-"):
            configs.append(token)
        else:  # --help, --resume, -q, --json=..., --, -, '' ...
            return None
    if len(configs) != 1:
        return None
    args["config"] = Path(configs[0])
    if "run_dir" in args:
        args["run_dir"] = Path(args["run_dir"])
    return args


def run_plain(args: dict) -> int:
    """Run fit_command(**args) as the typer command would: its exit code, errors as one line."""
    prepare_process()
    try:
        fit_command(**args)
    except REPORTED as exc:
        return failure_code(exc)
    return 0
