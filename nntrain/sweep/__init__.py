"""Hyperparameter sweeps: expand a grid / random search into trials, run them in processes,
rank them. One machine (`run_sweep`), or any scheduler (`commands`, `run_sweep(trial=K)`),
and `report` ranks whatever a sweep folder holds.

    plan = plan_sweep("configs/xor.yaml", grid=["optimizer.lr=0.1,0.01"])
    board = run_sweep(plan, out="runs/xor-lr", workers=2)
    board["trials"][0]             # the best trial: params, metrics, run_dir

The sweep folder:

    <out>/sweep.json        the config, the fixed overrides and every trial (index, id, params)
    <out>/trials.jsonl      one JSON line per finished trial, appended as each ends
    <out>/<K>-<id>/         trial K's run folder (+ fit.stdout, fit.stderr of the process)
"""
from __future__ import annotations

from pathlib import Path

from ..errors import NntrainError, did_you_mean
from .board import FINAL, collect, leaderboard
from .display import Display, make_display, print_leaderboard
from .plan import Plan, build_spec, check_metric, check_out, default_out, make_plan, read_sweep_file, write_sweep_file
from .runner import drop_claims, run_trials, usable_cores
from .space import PRUNERS, SEARCHES, SweepError, value_text

__all__ = ["plan_sweep", "run_sweep", "run_study", "commands", "report", "report_study", "print_leaderboard",
           "Plan", "SweepError", "value_text"]


def plan_sweep(config, *, spec_file=None, sets=(), grid=(), zips=(), space=(), random=None, seed=None,
               metric=None, mode=None, search=None, trials=None, prune=None, storage=None, study=None) -> Plan:
    """Parse the sweep definition and validate every trial's config (nothing is written).
    With search (or a sweep file's `search:`), the plan is an Optuna study's: run it with `run_study`."""
    spec = build_spec(spec_file, sets=sets, grid=grid, zips=zips, space=space, random=random, seed=seed,
                      search=search, trials=trials, prune=prune, storage=storage, study=study)
    if spec.search is None:
        for flag, value in (("--trials", spec.trials), ("--prune", spec.prune), ("--storage", spec.storage),
                            ("--study", spec.study)):
            if value is not None:
                raise SweepError(f"{flag} belongs to an Optuna study: add --search tpe|cmaes|random|grid")
    elif spec.search not in SEARCHES:  # before the configs are validated, and before optuna is needed
        raise SweepError(f"--search {spec.search!r} is not a search{did_you_mean(str(spec.search), SEARCHES)}; "
                         f"valid: {', '.join(SEARCHES)}")
    name = spec.prune.get("type") if isinstance(spec.prune, dict) else spec.prune
    if spec.prune is not None and name not in PRUNERS:
        raise SweepError(f"--prune {name!r} is not a pruner{did_you_mean(str(name), PRUNERS)}; valid: {', '.join(PRUNERS)}")
    return make_plan(config, spec, metric=metric, mode=mode)


def run_study(plan: Plan, out=None, workers: int | None = None, display: Display | str = "none",
              heartbeat: float | None = None, root="runs") -> dict:
    """Work on the plan's Optuna study (search, trials, prune, storage, study) with `workers`
    trials at once until its budget of trials is used; the study's leaderboard."""
    from . import study, worker

    spec = plan.spec
    s = study.study_spec(plan, spec.search, spec.trials, spec.prune, spec.storage, spec.study, heartbeat)
    return worker.run_study(plan, s, out, workers, display, root)


def report_study(storage: str, study: str | None, metric: str | None = None, mode: str | None = None) -> dict:
    """The leaderboard of an Optuna study, read from its storage (any machine)."""
    from . import study as studies

    metric, mode = check_metric(metric, mode)
    if not study:
        raise SweepError("--storage needs --study NAME (the study to report)")
    return studies.report_study(storage, study, metric, mode)


def _out(plan: Plan, out, root, display: Display) -> Path:
    if out is not None:
        return check_out(Path(out), plan)
    path, resuming = default_out(plan, root)
    if resuming:
        display.note(f"resuming {path} (the same sweep ran there before; --out DIR starts another)")
    return path


def run_sweep(plan: Plan, out=None, workers: int | None = None, display: Display | str = "none",
              trial: int | None = None, root="runs") -> dict:
    """Run the trials not finished yet (or only trial K) and return the leaderboard."""
    if isinstance(display, str):
        display = make_display(display)
    if workers is not None and workers < 1:
        raise SweepError(f"--workers must be an integer >= 1, got {workers}")
    selected = plan.trials
    if trial is not None:
        if out is None:
            raise SweepError("--trial K needs --out DIR, so that every job writes into the same sweep folder")
        if not 0 <= trial < len(plan.trials):
            raise SweepError(f"--trial {trial}: the sweep has {len(plan.trials)} trials, numbered 0 to {len(plan.trials) - 1}")
        selected = [plan.trials[trial]]
    out = _out(plan, out, root, display)
    write_sweep_file(plan, out)
    if plan.dropped:
        display.note(f"{plan.dropped} random draws repeated an earlier trial and were dropped")
    finished, _ = collect(out, [t.as_dict() for t in selected])
    done_ids = {r["id"] for r in finished if r["status"] in FINAL}  # a corrupt record runs again
    todo = [t for t in selected if t.id not in done_ids]
    cores = usable_cores()
    workers = max(1, min(workers or cores, len(todo) or 1))
    display.begin(out, len(selected), len(todo), workers, max(1, cores // workers), plan.metric)
    try:
        if todo:
            run_trials(plan, out, todo, workers, display, cores)
    except KeyboardInterrupt:
        display.end()
        display.note(f"interrupted: finished trials are kept in {out}/trials.jsonl; "
                     "rerun the same command to run the others")
        raise
    finally:  # a live table stopped before the error line (a full disk, say) is printed below it
        display.end()
    finished, pending = collect(out, [t.as_dict() for t in selected])
    drop_claims(out, selected, {r["id"] for r in finished if r["status"] in FINAL})
    return leaderboard(out, finished, pending, plan.metric, plan.mode)


def commands(plan: Plan, out=None, root="runs") -> tuple[Path, list[str]]:
    """One `nntrain fit ...` shell line per trial; sweep.json is written so `report` knows them."""
    out = _out(plan, out, root, Display())
    write_sweep_file(plan, out)
    return out, [plan.command(t, out) for t in plan.trials]


def report(out, metric: str | None = None, mode: str | None = None) -> dict:
    """The leaderboard of a sweep folder: local, `--trial K` and `nntrain fit` trials alike."""
    out = Path(out)
    metric, mode = check_metric(metric, mode)
    if not out.is_dir():
        raise NntrainError(f"sweep folder not found: {out}")
    if not (out / "sweep.json").exists() and not (out / "trials.jsonl").exists():
        raise NntrainError(f"{out} is not a sweep folder (it has neither sweep.json nor trials.jsonl)")
    finished, pending = collect(out)
    if metric is None:
        saved = read_sweep_file(out)
        metric, mode = saved.get("metric"), mode if mode != "auto" else saved.get("mode") or "auto"
    return leaderboard(out, finished, pending, metric, mode)
