"""`nntrain sweep CONFIG ...` and `nntrain sweep report DIR`: the sweep commands of the CLI.

`sweep` is a group with two commands, `run` and `report`; any first argument other than `report`
means `run`, so `nntrain sweep CONFIG --grid ...` needs no sub-command word.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from .options import JsonOpt, SetOpt, emit_json, guarded, progress_mode


class SweepGroup(TyperGroup):
    """Dispatches `sweep report ...` to report and everything else (incl. --help) to run."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not Path(args[0]).exists():
            close = difflib.get_close_matches(args[0], [c for c in self.commands if c != "run"], n=1)
            if close:
                ctx.fail(f"no config file {args[0]!r} and no command {args[0]!r} (did you mean {close[0]!r}?)")
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


class _RunContext(TyperCommand.context_class):
    """`run` is implied, so usage lines and hints name `nntrain sweep`, not `nntrain sweep run`."""

    @property
    def command_path(self):
        return self.parent.command_path if self.parent is not None else super().command_path


class DefaultCommand(TyperCommand):
    context_class = _RunContext


sweep_app = typer.Typer(
    cls=SweepGroup,
    help="Run a hyperparameter sweep (nntrain sweep CONFIG --grid K=V1,V2 ...) or rank one (nntrain sweep report DIR).\n\n"
         "Example: nntrain sweep configs/xor.yaml --grid optimizer.lr=0.1,0.01 --workers 2",
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@sweep_app.command("run", cls=DefaultCommand, no_args_is_help=True,
                   epilog="See also: nntrain sweep report DIR (the leaderboard of a sweep folder).")
@guarded
def run(
    config: Path = typer.Argument(..., help="The YAML config every trial starts from. e.g. configs/xor.yaml", show_default=False),
    grid: Optional[List[str]] = typer.Option(None, "--grid", "-g", metavar="KEY=V1,V2,...",
                                             help="Try each value (YAML); several --grid form a cartesian product. e.g. --grid optimizer.lr=0.1,0.01"),
    zip_: Optional[List[str]] = typer.Option(None, "--zip", metavar="KEY=V1,V2,...",
                                             help="Values paired one to one with every other --zip (not a product). e.g. --zip model.layers.0.units=64,128 --zip optimizer.lr=0.01,0.005"),
    random: Optional[int] = typer.Option(None, "--random", metavar="N", help="Draw N random trials from the --space entries. e.g. --random 20"),
    space: Optional[List[str]] = typer.Option(None, "--space", metavar="KEY=DIST",
                                              help="loguniform(a,b), uniform(a,b), int(a,b) or choice(v1,v2,...). e.g. --space optimizer.lr=loguniform(1e-4,1e-1)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the --random draws (default 0); "
                                       "vary the training seed with --grid seed=0,1,2. e.g. --seed 3"),
    spec: Optional[Path] = typer.Option(None, "--spec", metavar="SWEEP.yaml",
                                        help="A sweep file with grid:, zip:, random:, space:, seed:, set:, metric:. e.g. --spec sweep.yaml"),
    set_: Optional[List[str]] = SetOpt,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", metavar="N",
                                          help="Trials at once, each in its own process (default: the number of cores). e.g. --workers 2"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                       help="The sweep folder (default runs/<config>-sweep-<time>/, reused by the same command). e.g. --out runs/lr-sweep"),
    metric: Optional[str] = typer.Option(None, "--metric", metavar="SPLIT.NAME",
                                         help="Rank by this, e.g. val.loss, test.accuracy (default: val.loss, else test.accuracy ...)."),
    mode: Optional[str] = typer.Option(None, "--mode", metavar="min|max", help="Whether smaller or larger --metric is better (default: from its name). e.g. --mode max"),
    print_commands: bool = typer.Option(False, "--print-commands", help="Print one `nntrain fit` command per trial instead of running them. e.g. --print-commands | parallel -j 4"),
    trial: Optional[int] = typer.Option(None, "--trial", metavar="K", help="Run only trial K; needs --out. e.g. --trial $SLURM_ARRAY_TASK_ID"),
    search: Optional[str] = typer.Option(None, "--search", metavar="tpe|cmaes|random|grid",
                                         help="Search the --space with an Optuna study (the `tune` extra). e.g. --search tpe --trials 30"),
    trials: Optional[int] = typer.Option(None, "--trials", metavar="N", help="The study's budget of trials, shared by all its workers. e.g. --trials 30"),
    prune: Optional[str] = typer.Option(None, "--prune", metavar="median|percentile|asha|hyperband",
                                        help="Stop hopeless trials after any epoch (needs --search); percentile stops only the worst fifth. e.g. --prune percentile"),
    storage: Optional[str] = typer.Option(None, "--storage", metavar="URL",
                                          help="Where the study lives, shared by every worker (default: study.db in the sweep folder). "
                                               "e.g. --storage sqlite:///sweep.db, journal:/nfs/sweep.journal, postgresql://u:p@host/db"),
    study: Optional[str] = typer.Option(None, "--study", metavar="NAME", help="The study's name in --storage. e.g. --study spirals-tpe"),
    heartbeat: Optional[float] = typer.Option(None, "--heartbeat", metavar="SECONDS",
                                              help="A running trial's heartbeat (default 60): a worker silent for twice that is dead and its trial runs again. e.g. --heartbeat 10"),
    as_json: bool = JsonOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live table and no leaderboard (errors and --json only). e.g. -q --json"),
    progress: str = typer.Option("auto", "--progress", metavar="auto|rich|plain|none",
                                 help="Live display; auto = a rich table on a terminal, plain lines otherwise. e.g. --progress plain"),
):
    """Run trials over a grid or a random search; rank them by --metric.

    Trials run in separate `nntrain fit` processes; each finished trial is appended to
    <out>/trials.jsonl, so rerunning the same command runs only the unfinished ones.

    Example: nntrain sweep configs/xor.yaml --grid optimizer.lr=0.1,0.01 --grid train.batch_size=4,8 --workers 2
    """
    from ..sweep import SweepError, commands, plan_sweep, run_study, run_sweep

    mode_ = progress_mode(progress, quiet, as_json)
    plan = plan_sweep(config, spec_file=spec, sets=set_ or [], grid=grid or [], zips=zip_ or [],
                      space=space or [], random=random, seed=seed, metric=metric, mode=mode,
                      search=search, trials=trials, prune=prune, storage=storage, study=study)
    if plan.spec.search is not None:
        if print_commands or trial is not None:
            raise SweepError(f"{'--print-commands' if print_commands else '--trial'} lists a plain sweep's trials; "
                             "a study's workers share it with --storage URL --study NAME")
        _render(run_study(plan, out, workers, mode_, heartbeat), as_json, quiet)
        return
    if print_commands:
        folder, lines = commands(plan, out)
        if as_json:
            emit_json({"sweep_dir": str(folder), "commands": lines})
        else:
            print("\n".join(lines))
        return
    board = run_sweep(plan, out, workers, mode_, trial)
    _render(board, as_json, quiet)
    if trial is not None and board["trials"]:
        status = board["trials"][0]["status"]
        if status != "done":
            raise typer.Exit(2 if status == "failed" else 1)


@sweep_app.command("report")
@guarded
def report(
    sweep_dir: Optional[Path] = typer.Argument(None, metavar="[DIR]", help="A sweep folder (written by nntrain sweep). e.g. runs/lr-sweep", show_default=False),
    storage: Optional[str] = typer.Option(None, "--storage", metavar="URL", help="An Optuna study's storage, instead of DIR. e.g. --storage sqlite:///sweep.db --study spirals"),
    study: Optional[str] = typer.Option(None, "--study", metavar="NAME", help="The study in --storage. e.g. --study spirals-tpe"),
    metric: Optional[str] = typer.Option(None, "--metric", metavar="SPLIT.NAME", help="Rank by this (default: the sweep's). e.g. --metric val.loss"),
    mode: Optional[str] = typer.Option(None, "--mode", metavar="min|max", help="Whether smaller or larger is better. e.g. --mode min"),
    as_json: bool = JsonOpt,
):
    """The leaderboard of a sweep folder, from local, --trial K and --print-commands trials alike,
    or of an Optuna study from its storage (any machine).

    Example: nntrain sweep report runs/xor-sweep-20261126-141500 --json
    Example: nntrain sweep report --storage sqlite:///sweep.db --study spirals-tpe
    """
    from ..sweep import SweepError, report as build_report, report_study

    if storage is not None:
        if sweep_dir is not None:
            raise SweepError("give a sweep folder DIR or --storage URL --study NAME, not both")
        _render(report_study(storage, study, metric, mode), as_json, quiet=False)
        return
    if sweep_dir is None:
        raise SweepError("sweep report needs a sweep folder DIR, or --storage URL --study NAME")
    _render(build_report(sweep_dir, metric, mode), as_json, quiet=False)


def _render(board: dict, as_json: bool, quiet: bool) -> None:
    from ..sweep import print_leaderboard

    if as_json:
        emit_json(board)
    elif not quiet:
        print_leaderboard(board)
