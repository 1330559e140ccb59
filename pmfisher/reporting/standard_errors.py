"""The table of estimates the report and the command line show: :func:`pmfisher.summary` at
the MLE, with profile-likelihood intervals where the model is small enough to re-maximize it
at every point of every profile, Wald intervals above."""

from __future__ import annotations

from pmfisher.fitting.mode import Mode
from pmfisher.inference.summary import Summary, summary

__all__ = ["PROFILE_LIMIT", "mle_summary"]

#: Up to this many parameters the table's intervals are profile-likelihood ones (each profile
#: costs a few dozen re-maximizations over the others).
PROFILE_LIMIT = 8


def mle_summary(mode: Mode, model) -> Summary:
    """The summary at the MLE ``mode``: profile intervals up to ``PROFILE_LIMIT`` parameters.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher.fitting.mode_cache import current_mode
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> mode = current_mode(model, terms="likelihood", space="constrained")
    >>> mle_summary(mode, model).table.attrs["ci"]
    'profile'
    """
    ci = "profile" if len(mode.labels) <= PROFILE_LIMIT else "wald"
    return summary(mode, model=model, ci=ci)
