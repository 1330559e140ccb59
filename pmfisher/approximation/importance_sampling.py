r"""Importance sampling from an approximation to a posterior: Pareto-smoothed weights, their
:math:`\hat k` diagnostic and its threshold, and resampling."""

from __future__ import annotations

import warnings

import numpy as np

from pmfisher._core.first_use import import_on_first_use

__all__ = ["MIN_DRAWS", "khat_threshold", "pareto_ks", "psis", "systematic_resample"]

#: Fewest draws PSIS can smooth: it fits the generalized Pareto distribution to the
#: :math:`\min(S/5,\ 3\sqrt S)` largest ratios and needs at least 5 of them.
MIN_DRAWS = 25


def khat_threshold(draws: int) -> float:
    r"""ArviZ's sample-size-dependent Pareto :math:`\hat k` threshold
    :math:`\min(1 - 1/\log_{10}S, 0.7)` above which importance sampling from an approximation
    with :math:`S` draws is unreliable (Vehtari et al., *Pareto smoothed importance sampling*,
    2024; arviz-stats applies the same rule to its LOO diagnostics but does not export it).

    Examples
    --------
    >>> khat_threshold(4000)
    0.7
    >>> round(khat_threshold(100), 2)
    0.5
    """
    return float(min(1 - 1 / np.log10(draws), 0.7)) if draws > 1 else 0.7


def psis(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """PSIS-smoothed normalized log weights and Pareto k̂ of the log importance ratios.

    arviz-stats' ``psislw`` smooths the weights ``exp(-ary)`` (it is written for
    leave-one-out, where the ratios are inverse likelihoods), hence the sign. When the
    ratios are constant (the Gaussian is exact) the weights are uniform and bounded:
    k̂ = -inf. When the log ratios span more than float64's exponent range (about 700 nats,
    as in a Laplace approximation of thousands of parameters that is not exact) the tail
    weights underflow to zero beside the largest, the generalized Pareto fit has nothing to
    fit and arviz-stats returns NaN; one draw carries all the weight, which is k̂ = +inf.
    """
    if _constant(log_ratios[None, :])[0]:
        finite = np.isfinite(log_ratios)
        return np.where(finite, 0.0, -np.inf) - np.log(finite.sum()), -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        log_weights, pareto_k = _psislw(-log_ratios, r_eff=1.0)
    if np.isnan(pareto_k):
        pareto_k = np.inf
    return np.asarray(log_weights), float(pareto_k)


def pareto_ks(log_ratios: np.ndarray) -> np.ndarray:
    """The Pareto k̂ of :func:`psis` for each row of ``log_ratios`` (draws along the last
    axis): ``-inf`` for a constant row, ``+inf`` where the fit has nothing to fit."""
    log_ratios = np.atleast_2d(log_ratios)
    khats = np.full(log_ratios.shape[0], -np.inf)
    varying = ~_constant(log_ratios)
    if varying.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _, khats[varying] = _psislw(-log_ratios[varying], r_eff=1.0, axis=-1)
    return np.where(np.isnan(khats), np.inf, khats)


def _psislw(*args, **kwargs):
    """arviz-stats' ``psislw``, imported at the first smoothing (arviz-stats loads SciPy's
    signal processing and statistics with it: 0.5 s that ``import pmfisher`` need not
    pay)."""
    return import_on_first_use("arviz_stats.base").array_stats.psislw(*args, **kwargs)


def _constant(log_ratios: np.ndarray) -> np.ndarray:
    """Which rows have the same finite value throughout, to rounding (the Gaussian is exact)."""
    finite = np.isfinite(log_ratios)
    high = np.where(finite, log_ratios, -np.inf).max(axis=-1)
    low = np.where(finite, log_ratios, np.inf).min(axis=-1)
    scale = np.maximum(1.0, np.where(finite, np.abs(log_ratios), 0.0).max(axis=-1))
    return high - low <= 1e-9 * scale


def systematic_resample(log_weights: np.ndarray, size: int, rng) -> np.ndarray:
    """Indices of ``size`` draws resampled with probabilities ``exp(log_weights)``
    (systematic resampling: one uniform offset, the lowest-variance unbiased scheme)."""
    cumulative = np.cumsum(np.exp(log_weights - np.logaddexp.reduce(log_weights)))
    positions = (rng.random() + np.arange(size)) / size
    return np.minimum(np.searchsorted(cumulative, positions), log_weights.size - 1)
