r"""Standard errors and 95% Wald intervals from an observed information matrix, as the
report and the command line print them: :math:`\mathrm{se}_i = \sqrt{(J^{-1})_{ii}}` and
:math:`\hat\theta_i \pm z_{0.975}\,\mathrm{se}_i`."""

from __future__ import annotations

import numpy as np
from scipy import stats

from pmfisher._core.linalg.definiteness import PositiveDefinite

__all__ = ["WALD_QUANTILE", "standard_errors", "wald_interval"]

#: The 97.5% standard normal quantile of a two-sided 95% Wald interval.
WALD_QUANTILE = float(stats.norm.ppf(0.975))


def standard_errors(precision: PositiveDefinite) -> np.ndarray:
    """The square roots of the diagonal of the inverse of a checked information matrix."""
    return np.sqrt(np.diag(precision.inverse()))


def wald_interval(estimates, errors) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of the 95% Wald intervals.

    Examples
    --------
    >>> low, high = wald_interval(np.array([1.0]), np.array([0.5]))
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.02, 1.98)
    """
    estimates, errors = np.asarray(estimates), np.asarray(errors)
    return estimates - WALD_QUANTILE * errors, estimates + WALD_QUANTILE * errors
