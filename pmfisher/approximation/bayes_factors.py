r"""Bayes factors and posterior model probabilities from the log marginal likelihoods of
fitted approximations (:mod:`pmfisher.approximation.marginal_likelihood`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr
from scipy.special import softmax

from pmfisher.errors import ArgumentError, warn

__all__ = ["bayes_factors"]


def bayes_factors(
    results: Mapping[str, xr.DataTree] | Sequence[xr.DataTree],
    *,
    prior_probabilities: Sequence[float] | None = None,
) -> xr.Dataset:
    r"""Log Bayes factors and posterior model probabilities of models fitted to the same data.

    With :math:`\ell_m = \log p(y\mid M_m)` the ``log_marginal_likelihood`` of each result's
    ``fit`` and :math:`s_m` its ``log_marginal_likelihood_se`` (independent across fits),

    .. math::

        \log B_{mn} = \ell_m - \ell_n, \qquad
        \operatorname{se}(\log B_{mn}) = \sqrt{s_m^2 + s_n^2}, \qquad
        P(M_m\mid y) = \frac{\pi_m e^{\ell_m}}{\sum_n \pi_n e^{\ell_n}},

    the probabilities' standard errors by the delta method,
    :math:`\partial P_m/\partial\ell_n = P_m(\delta_{mn} - P_n)`.

    Parameters
    ----------
    results : dict of str to DataTree, or list of DataTree
        Results of :func:`~pmfisher.laplace` (any route), by model name (a list is named
        ``model_0``, ``model_1``, ...). Their ``observed_data`` must be the same: the same
        variables with the same values.
    prior_probabilities : list of float, optional
        Prior probabilities of the models (normalized here); equal by default.

    Returns
    -------
    xarray.Dataset
        Over ``model``: ``log_marginal_likelihood``, ``log_marginal_likelihood_se``,
        ``prior_probability``, ``posterior_probability`` and ``posterior_probability_se``;
        over (``model``, ``reference``): ``log_bayes_factor`` (the row's model against the
        column's) and ``log_bayes_factor_se``. ``attrs["methods"]`` lists how each
        marginal likelihood was computed.

    Raises
    ------
    ArgumentError
        Fewer than two results, observed data that differ, or a result without a marginal
        likelihood (an improper prior: its ``attrs`` say why).

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import bayes_factors, laplace
    >>> def model(prior_sd):
    ...     with pm.Model() as m:
    ...         mu = pm.Normal("mu", 0.0, prior_sd)
    ...         pm.Normal("y", mu, 1.0, observed=[0.5, 1.5, 1.0])
    ...     return m
    >>> fits = {
    ...     name: laplace(model=model(sd), draws=100, random_seed=1)
    ...     for name, sd in (("narrow", 1.0), ("wide", 4.0))
    ... }
    >>> comparison = bayes_factors(fits)
    >>> round(float(comparison["log_bayes_factor"].sel(model="narrow", reference="wide")), 4)
    0.9084
    """
    named = (
        dict(results)
        if isinstance(results, Mapping)
        else {f"model_{index}": result for index, result in enumerate(results)}
    )
    if len(named) < 2:
        raise ArgumentError("bayes_factors needs the results of at least two models.")
    names = list(named)
    _require_same_data(named)
    estimates, ses, methods = [], [], []
    for name, result in named.items():
        fit = result["fit"]
        method = fit.attrs.get("log_marginal_likelihood_method", "not computed by this version")
        if "log_marginal_likelihood" not in fit:
            raise ArgumentError(f"model {name!r} has no marginal likelihood: {method}.")
        warning = fit.attrs.get("log_marginal_likelihood_warning", "")
        if warning:
            warn(f"the log marginal likelihood of model {name!r} is {warning}.")
        estimates.append(float(fit["log_marginal_likelihood"]))
        ses.append(float(fit["log_marginal_likelihood_se"]))
        methods.append(f"{name}: {method}")
    estimates, ses = np.array(estimates), np.array(ses)
    prior = _prior(prior_probabilities, len(names))
    with np.errstate(divide="ignore"):
        posterior = softmax(estimates + np.log(prior))
    jacobian = posterior[:, None] * (np.eye(len(names)) - posterior[None, :])
    model = xr.DataArray(names, dims="model")
    pair = {"model": names, "reference": names}
    return xr.Dataset(
        {
            "log_marginal_likelihood": ("model", estimates),
            "log_marginal_likelihood_se": ("model", ses),
            "prior_probability": ("model", prior),
            "posterior_probability": ("model", posterior),
            "posterior_probability_se": ("model", np.sqrt((jacobian**2) @ ses**2)),
            "log_bayes_factor": xr.DataArray(
                estimates[:, None] - estimates[None, :], dims=("model", "reference"), coords=pair
            ),
            "log_bayes_factor_se": xr.DataArray(
                np.hypot(ses[:, None], ses[None, :]), dims=("model", "reference"), coords=pair
            ),
        },
        coords={"model": model},
        attrs={"methods": methods},
    )


def _prior(prior_probabilities, count: int) -> np.ndarray:
    if prior_probabilities is None:
        return np.full(count, 1.0 / count)
    prior = np.asarray(prior_probabilities, dtype="float64")
    if prior.shape != (count,) or np.any(prior < 0) or not prior.sum() > 0:
        raise ArgumentError(
            f"prior_probabilities must be {count} non-negative numbers, not all zero; got "
            f"{prior_probabilities!r}."
        )
    return prior / prior.sum()


def _require_same_data(named: Mapping[str, xr.DataTree]) -> None:
    """The same observed variables with the same values in every result."""
    (first_name, first), *others = named.items()
    reference = first["observed_data"].to_dataset() if "observed_data" in first else None
    for name, result in others:
        observed = result["observed_data"].to_dataset() if "observed_data" in result else None
        if reference is None or observed is None:
            raise ArgumentError(
                f"the results of {first_name!r} and {name!r} must both hold their observed "
                "data (the 'observed_data' group) to be compared."
            )
        if set(reference.data_vars) != set(observed.data_vars):
            raise ArgumentError(
                f"models {first_name!r} and {name!r} observe different variables "
                f"({sorted(reference.data_vars)} against {sorted(observed.data_vars)}): Bayes "
                "factors compare models of the same data."
            )
        for variable in reference.data_vars:
            if not np.array_equal(reference[variable].values, observed[variable].values):
                raise ArgumentError(
                    f"the observed values of {variable!r} differ between models "
                    f"{first_name!r} and {name!r}: Bayes factors compare models of the same "
                    "data."
                )
