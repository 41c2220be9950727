"""How a study searches: the sampler that draws each trial's params over the --space (tpe, cmaes,
random, grid) and the pruner that stops a hopeless trial after any epoch (median, percentile,
asha, hyperband). pruning.py is the pruner's other end, inside the trial's process.
"""
from __future__ import annotations

from ..errors import did_you_mean
from .space import PRUNERS, SweepError
from .storage import need_optuna


def make_pruner(spec, epochs: int | None = None):
    """`median`, `percentile`, `asha` or `hyperband`, or {type: NAME, option: value...} with Optuna's options."""
    optuna = need_optuna()
    options = dict(spec) if isinstance(spec, dict) else {"type": spec}
    name = options.pop("type", None)
    if name not in PRUNERS:
        raise SweepError(f"--prune {name!r} is not a pruner{did_you_mean(str(name), PRUNERS)}; valid: {', '.join(PRUNERS)}")
    # defaults for short nntrain runs, measured on 30-trial spirals sweeps over 5 seeds
    # (benchmarks/sweep_search.py): a small lr that ends best starts slowly, so no verdict comes
    # before a third (median) or a tenth (percentile, asha) of the epochs. median stops the half
    # below the median and lost the best trial on 2 of 5 seeds; percentile stops only the worst
    # fifth (a trial above the 80th percentile), after 3 baseline trials as in Ray Tune's median
    # stopping rule, and lost it on none.
    tenth = max(1, (epochs or 10) // 10)
    cls, defaults = {
        "median": (optuna.pruners.MedianPruner, {"n_startup_trials": 5, "n_warmup_steps": max(1, (epochs or 3) // 3)}),
        "percentile": (optuna.pruners.PercentilePruner, {"percentile": 80.0, "n_startup_trials": 3,
                                                          "n_warmup_steps": tenth}),
        "asha": (optuna.pruners.SuccessiveHalvingPruner, {"min_resource": tenth, "reduction_factor": 3}),
        "hyperband": (optuna.pruners.HyperbandPruner, {"min_resource": 1, "max_resource": epochs or "auto",
                                                       "reduction_factor": 3}),
    }[name]
    try:
        return cls(**{**defaults, **options})
    except (TypeError, ValueError) as exc:
        raise SweepError(f"prune: {name}: {exc}") from None


def make_sampler(search: str, space: dict, seed: int | None):
    optuna = need_optuna()
    if search == "grid":
        return optuna.samplers.GridSampler({k: list(d.args) for k, d in space.items()}, seed=seed)
    if search == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise SweepError("--search cmaes needs the cmaes package; install the `tune` extra: pip install 'nntrain[tune]'") from None
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)
