"""The NUTS reference posterior of a report or a case study, with its progress shown under
the report's step."""

from __future__ import annotations

import contextlib
import logging
import time
import warnings

import pymc as pm
import xarray as xr

from pmfisher.reporting.steps import Progress

__all__ = ["NutsLines", "pymc_messages_under", "sample_nuts"]


# PyMC's per-chain lines are replaced by one line at most this often when stderr is not a
# terminal (a log file, a CI job), where PyMC's own bar is not drawn.
NUTS_LINE_SECONDS = 10.0


def sample_nuts(
    model, *, draws: int, chains: int, seed, progress: Progress | None = None
) -> xr.DataTree:
    """The NUTS reference posterior, with the unconstrained (transformed) values kept so
    that pair plots can show the Laplace ellipses in the space they were fitted in.

    With ``progress``, PyMC's bar is drawn when someone watches a terminal; otherwise (a log,
    CI) a line under the step says how far the chains are every ``NUTS_LINE_SECONDS``, and
    PyMC's own messages are indented under the step.
    """
    from pmfisher._core.progress import progress_wanted

    bar = progress is not None and progress_wanted()
    lines = NutsLines(progress, chains * (draws + max(draws, 500))) if progress else None
    with warnings.catch_warnings(), pymc_messages_under(progress):
        warnings.simplefilter("ignore")
        return pm.sample(
            model=model,
            draws=draws,
            tune=max(draws, 500),
            chains=chains,
            random_seed=seed,
            progressbar=bar,
            callback=None if bar or lines is None else lines,
            idata_kwargs={"include_transformed": True},
        )


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
