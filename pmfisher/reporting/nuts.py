"""The NUTS reference posterior of a report or a case study, with its progress shown under
the report's step."""

from __future__ import annotations

import contextlib
import logging
import time
import warnings

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher.approximation.nested_laplace import warm_nuts_step
from pmfisher.reporting.steps import Progress

__all__ = ["NutsLines", "pymc_messages_under", "sample_nuts"]


# PyMC's per-chain lines are replaced by one line at most this often when stderr is not a
# terminal (a log file, a CI job), where PyMC's own bar is not drawn.
NUTS_LINE_SECONDS = 10.0


def sample_nuts(
    model,
    *,
    draws: int,
    chains: int,
    seed,
    progress: Progress | None = None,
    warm_start: xr.DataTree | None = None,
) -> xr.DataTree:
    """The NUTS reference posterior, with the unconstrained (transformed) values kept so
    that pair plots can show the Laplace ellipses in the space they were fitted in.

    ``warm_start``, a :func:`~pmfisher.laplace` fit of ``model``, starts every chain at its
    mean and the diagonal mass matrix at its variances (in the value variables' space, with
    the weight of PyMC's own ``adapt_diag`` start, so tuning still adapts it). PyMC's default
    start, unit variances, makes the first tuning windows of a model whose scales differ by
    orders of magnitude take tiny steps in long trajectories: with 10,000 groups the shared
    slope's posterior sd is 0.0015, the group effects' 0.15.

    With ``progress``, PyMC's bar is drawn when someone watches a terminal; otherwise (a log,
    CI) a line under the step says how far the chains are every ``NUTS_LINE_SECONDS``, and
    PyMC's own messages are indented under the step.
    """
    from pmfisher._core.progress import progress_wanted

    bar = progress is not None and progress_wanted()
    lines = NutsLines(progress, chains * (draws + max(draws, 500))) if progress else None
    with warnings.catch_warnings(), pymc_messages_under(progress):
        warnings.simplefilter("ignore")
        started = {} if warm_start is None else _warm_started(model, warm_start, seed)
        return pm.sample(
            model=model,
            draws=draws,
            tune=max(draws, 500),
            chains=chains,
            random_seed=seed,
            progressbar=bar,
            callback=None if bar or lines is None else lines,
            idata_kwargs={"include_transformed": True},
            **started,
        )


def _warm_started(model, fit: xr.DataTree, seed) -> dict:
    """``pm.sample`` keywords starting NUTS from a Laplace fit: the initial point, and a NUTS
    step whose adaptive diagonal mass matrix starts at the fit's variances."""
    draws = fit["unconstrained_posterior"]
    value_vars = model.continuous_value_vars
    flat = [draws[var.name].stack(sample=("chain", "draw")) for var in value_vars]
    flat = [
        values.transpose(..., "sample").values.reshape(-1, values.sizes["sample"])
        for values in flat
    ]
    stacked = np.concatenate(flat, axis=0)
    means = fit["posterior"].mean(("chain", "draw"))
    return {
        "step": warm_nuts_step(model, stacked.mean(axis=1), stacked.var(axis=1, ddof=1), seed=seed),
        "initvals": {rv.name: means[rv.name].values for rv in model.free_RVs},
    }


class NutsLines:
    """A ``pm.sample`` callback printing how far the chains are, now and then."""

    def __init__(self, progress: Progress, total: int):
        self.progress, self.total = progress, total
        self.done = self.divergences = 0
        self.start = self.last = time.perf_counter()

    def __call__(self, trace, draw):
        self.done += 1
        stats = draw.stats[0] if isinstance(draw.stats, list | tuple) else draw.stats
        self.divergences += bool(stats.get("diverging", False)) and not draw.tuning
        now = time.perf_counter()
        if now - self.last >= NUTS_LINE_SECONDS:
            self.last = now
            self.progress.note(
                f"NUTS: {self.done}/{self.total} iterations of all chains "
                f"({100 * self.done / self.total:.0f}%), {self.divergences} divergent so far, "
                f"{now - self.start:.0f} s"
            )


@contextlib.contextmanager
def pymc_messages_under(progress: Progress | None):
    """PyMC's log lines ("Sampling 2 chains …") indented under the report's step."""
    logger = logging.getLogger("pymc")
    if progress is None:
        yield
        return
    handler = logging.StreamHandler(progress.stream)
    handler.setFormatter(logging.Formatter("      pymc: %(message)s"))
    saved = logger.handlers, logger.propagate
    logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved
