r"""The log marginal likelihood :math:`\log p(y) = \log\int p(y\mid\theta)\,p(\theta)\,d\theta`
of a Laplace approximation, with its error and how it was computed.

The integrand is the density of ``terms="posterior"`` in the unconstrained space with its
log-Jacobian, normalized as PyMC normalizes every density, so its integral over the
unconstrained coordinates is :math:`p(y)` whatever the transforms. Each route of
:func:`~pmfisher.laplace` reports it in its ``fit`` group:

``log_marginal_likelihood``, ``log_marginal_likelihood_se``
    the route's best estimate and its error, with ``attrs["log_marginal_likelihood_method"]``
    saying how it was computed.

- **Joint Laplace**: importance sampling from the Gaussian :math:`q` with the route's own
  draws, :math:`\log\frac1S\sum_s \tilde r_s` with :math:`\tilde r_s` the PSIS-smoothed ratios
  :math:`p(y, \theta_s)/q(\theta_s)`, its Monte Carlo standard error by the delta method,
  :math:`\operatorname{sd}(\tilde r)/(\sqrt S\,\bar{\tilde r})`, and the ratios' Pareto
  :math:`\hat k` (``log_marginal_likelihood_pareto_k``); above the threshold
  (:func:`~pmfisher.approximation.importance_sampling.khat_threshold`) the estimate is
  flagged (``attrs["log_marginal_likelihood_warning"]``; :func:`~pmfisher.bayes_factors`
  warns of it). The Laplace value
  :math:`\log p(y,\hat\theta) + \tfrac d2\log 2\pi - \tfrac12\log\det H` is
  ``log_marginal_likelihood_laplace``; both are exact where the posterior is Gaussian.
- **With latent variables**, :math:`\log\int e^{L(\varphi)}d\varphi`:
  ``hyper="gaussian"`` by its Laplace value (one Gauss–Hermite node), ``hyper="quadrature"``
  by its rule, each with the error bound of
  :func:`~pmfisher.approximation.adaptive_quadrature.adaptive_integral`; ``hyper="nuts"`` by
  reciprocal importance sampling of its draws (Gelfand and Dey, *JRSS B* 1994) against the
  Gaussian :math:`q` at the mode with the exact curvature, truncated to its central
  ``GELFAND_DEY_MASS`` (Geweke, *Econometric Reviews* 1999): :math:`1/\int e^L =
  \operatorname E_{\varphi\mid y}[q(\varphi)/e^{L(\varphi)}]`, with bounded ratios, the
  MCSE of correlated draws and the non-zero ratios' Pareto :math:`\hat k`
  (``log_marginal_likelihood_pareto_k``; flagged above the threshold). :math:`L` at each
  draw is NUTS's own log-density there. The inner Laplace error of :math:`L` is not in these
  errors (``fit["inner_check_error"]`` estimates it; zero for a Gaussian conditional).

An improper prior (``pm.Flat``, ``pm.HalfFlat``) has no normalizing constant, so neither has
:math:`p(y)`: the attrs say so and no number is given; so does ``terms="likelihood"``.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import xarray as xr
from pymc.distributions.continuous import FlatRV, HalfFlatRV
from scipy.special import gammaincinv, logsumexp

from pmfisher._core.first_use import import_on_first_use
from pmfisher.approximation.adaptive_quadrature import DEFAULT_NODES, MarginalQuadrature
from pmfisher.approximation.conditional_draws import gaussian_log_density
from pmfisher.approximation.importance_sampling import khat_threshold, psis

#: Gelfand and Dey's density for ``hyper="nuts"``: the Gaussian at the mode truncated to the
#: ellipsoid that holds this share of its mass (Geweke 1999), where :math:`e^L` is bounded
#: away from zero, so that the ratios are bounded. Untruncated, eight schools' ratios had
#: Pareto k̂ 0.63 (the posterior of log τ falls faster than the Gaussian on its right).
GELFAND_DEY_MASS = 0.9

__all__ = [
    "DEFAULT_NODES",
    "GELFAND_DEY_MASS",
    "importance_sampling_estimate",
    "joint_fit",
    "nested_fit",
    "not_available",
    "nuts_fit",
    "reciprocal_importance_sampling",
]


def not_available(model: pm.Model, terms: str) -> str:
    """Why the model has no marginal likelihood (``""`` if it has one)."""
    if terms != "posterior":
        return "not available: terms='likelihood' has no prior to integrate against"
    improper = [
        f"{rv.name} ({'pm.Flat' if isinstance(rv.owner.op, FlatRV) else 'pm.HalfFlat'})"
        for rv in model.free_RVs
        if isinstance(rv.owner.op, FlatRV | HalfFlatRV)
    ]
    if improper:
        return (
            f"not available: the prior of {', '.join(improper)} is improper, so p(y) has no "
            "normalizing constant"
        )
    return ""


def importance_sampling_estimate(log_ratios: np.ndarray) -> tuple[float, float, float]:
    r""":math:`\log` of the mean PSIS-smoothed ratio, its Monte Carlo standard error and the
    Pareto :math:`\hat k`.

    PSIS returns normalized log weights; the smallest ratio lies below the smoothed tail and
    is left as it was, so it gives the constant that un-normalizes them. Ratios constant to
    rounding (:math:`\hat k = -\infty`, the Gaussian is exact) are averaged as they are."""
    log_weights, pareto_k = psis(log_ratios)
    if pareto_k == -np.inf:
        return float(logsumexp(log_ratios) - np.log(log_ratios.size)), 0.0, pareto_k
    finite = np.isfinite(log_ratios)
    smallest = np.flatnonzero(finite)[np.argmin(log_ratios[finite])]
    estimate = log_ratios[smallest] - log_weights[smallest] - np.log(log_ratios.size)
    scaled = log_ratios.size * np.exp(log_weights)  # the ratios over their mean
    mcse = scaled.std(ddof=1) / np.sqrt(log_ratios.size)
    return float(estimate), float(mcse), float(pareto_k)


def _variables(estimate: float, se: float, method: str, **extra) -> xr.Dataset:
    data = {"log_marginal_likelihood": estimate, "log_marginal_likelihood_se": se}
    data |= {f"log_marginal_likelihood_{name}": value for name, value in extra.items()}
    return xr.Dataset(
        {name: xr.DataArray(float(value), name=name) for name, value in data.items()},
        attrs={"log_marginal_likelihood_method": method},
    )


def joint_fit(
    model: pm.Model, terms: str, space: str, log_ratios: np.ndarray, mode_logp, precision
) -> xr.Dataset:
    """The joint Laplace route's variables (module docstring) from its draws' log importance
    ratios, with the Laplace value (from the log-density at the mode and the ``precision``
    there) beside the estimate; attrs only where there is none."""
    reason = not_available(model, terms) or (
        ""
        if space == "unconstrained"
        else "not computed in the constrained space (the "
        "Gaussian's draws leave the support there); use space='unconstrained'"
    )
    if reason:
        return xr.Dataset(attrs={"log_marginal_likelihood_method": reason})
    estimate, mcse, pareto_k = importance_sampling_estimate(log_ratios)
    variables = _variables(
        estimate,
        mcse,
        "importance sampling (PSIS) from the Laplace approximation",
        laplace=float(mode_logp)
        + 0.5 * precision.matrix.shape[0] * np.log(2 * np.pi)
        - 0.5 * precision.log_determinant,
        pareto_k=pareto_k,
    )
    threshold = khat_threshold(log_ratios.size)
    warning = ""
    if pareto_k > threshold:
        # laplace() warns of this k̂ already; the flag stays with the estimate.
        warning = (
            f"unreliable: Pareto k̂ = {pareto_k:.2f} > {threshold:.2f}, the importance "
            "sampling estimate and its standard error cannot be trusted"
        )
    variables.attrs["log_marginal_likelihood_warning"] = warning
    return variables


def nested_fit(model: pm.Model, terms: str, quadrature: MarginalQuadrature) -> xr.Dataset:
    """The quadrature routes' variables: the rule's log-integral of :math:`e^L` and its error
    bound (:func:`~pmfisher.approximation.adaptive_quadrature.adaptive_integral`)."""
    reason = not_available(model, terms)
    if reason:
        return xr.Dataset(attrs={"log_marginal_likelihood_method": reason})
    return _variables(quadrature.log_integral, quadrature.error, quadrature.method)


def reciprocal_importance_sampling(log_ratios: np.ndarray) -> tuple[float, float, float]:
    r""":math:`\log p(y)` from posterior draws: ``log_ratios`` ``(chains, draws)`` holds
    :math:`\log q(\varphi_s) - L(\varphi_s)` (``-inf`` outside :math:`q`'s support), whose
    ratios have mean :math:`1/\int e^L`; returns minus the log of their mean, its Monte Carlo
    standard error (the ratios' MCSE for correlated draws over their mean, the delta method)
    and the Pareto :math:`\hat k` of the non-zero ratios."""
    array_stats = import_on_first_use("arviz_stats.base").array_stats
    top = log_ratios[np.isfinite(log_ratios)].max()
    ratios = np.exp(log_ratios - top)
    mean = ratios.mean()
    mcse = float(array_stats.mcse(ratios, chain_axis=0, draw_axis=1, method="mean")) / mean
    estimate = -(float(top) + float(np.log(mean)))
    return estimate, mcse, float(psis(log_ratios[np.isfinite(log_ratios)])[1])


def nuts_fit(
    model: pm.Model,
    terms: str,
    standard: np.ndarray | None,
    log_determinant: float = np.nan,
    log_marginals: np.ndarray | None = None,
    reason: str = "",
) -> xr.Dataset:
    r"""``hyper="nuts"``'s variables (module docstring) from the draws standardized by the
    Gaussian at the mode (``standard`` ``(chains, draws, d)``, :math:`z = L^\top(\varphi -
    \hat\varphi)`, its precision's ``log_determinant``) and :math:`L` there
    (``log_marginals``); ``standard`` ``None`` with the ``reason`` where there is none."""
    reason = not_available(model, terms) or reason
    if reason:
        return xr.Dataset(attrs={"log_marginal_likelihood_method": reason})
    dimension = standard.shape[-1]
    radius_squared = 2 * gammaincinv(dimension / 2, GELFAND_DEY_MASS)  # the χ²_d quantile
    flat = standard.reshape(-1, dimension)
    log_q = gaussian_log_density(flat, log_determinant) - np.log(GELFAND_DEY_MASS)
    inside = np.einsum("sd,sd->s", flat, flat) <= radius_squared
    log_q = np.where(inside, log_q, -np.inf).reshape(log_marginals.shape)
    estimate, mcse, pareto_k = reciprocal_importance_sampling(log_q - log_marginals)
    variables = _variables(
        estimate,
        mcse,
        "reciprocal importance sampling of the NUTS draws against the Gaussian at the mode of "
        f"the Laplace marginal truncated to its central {GELFAND_DEY_MASS:.0%}",
        pareto_k=pareto_k,
    )
    threshold = khat_threshold(int(inside.sum()))
    variables.attrs["log_marginal_likelihood_warning"] = (
        f"unreliable: Pareto k̂ = {pareto_k:.2f} > {threshold:.2f}, the Gaussian at the mode "
        "is wider than the posterior somewhere; the estimate and its standard error cannot "
        "be trusted"
        if pareto_k > threshold
        else ""
    )
    return variables
