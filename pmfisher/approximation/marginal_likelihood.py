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
- **With latent variables**: :math:`\log\int e^{L(\varphi)}d\varphi` by adaptive
  Gauss–Hermite quadrature (:mod:`pmfisher.approximation.adaptive_quadrature`), the error the
  change from :math:`k` to :math:`k + 2` nodes per dimension: ``hyper="gaussian"`` is
  :math:`k = 1` (the Laplace value), ``hyper="quadrature"`` its own :math:`k`, and
  ``hyper="nuts"`` the default :math:`k` (NUTS draws have no normalized density to weigh
  with). The inner Laplace error of :math:`L` is not in this error (``fit["inner_check_error"]``
  estimates it; zero for a Gaussian conditional).

An improper prior (``pm.Flat``, ``pm.HalfFlat``) has no normalizing constant, so neither has
:math:`p(y)`: the attrs say so and no number is given; so does ``terms="likelihood"``.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import xarray as xr
from pymc.distributions.continuous import FlatRV, HalfFlatRV
from scipy.special import logsumexp

from pmfisher._core.options import NotPositiveDefinite
from pmfisher.approximation.adaptive_quadrature import (
    DEFAULT_NODES,
    MarginalQuadrature,
    MarginalValues,
    integrate,
    mode_precision,
)
from pmfisher.approximation.importance_sampling import khat_threshold, psis

__all__ = ["importance_sampling_estimate", "joint_fit", "nested_fit", "not_available"]


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


def nested_fit(
    model: pm.Model,
    terms: str,
    values: MarginalValues,
    phi_mode: np.ndarray,
    nodes: int,
    *,
    hyper: str,
    action: NotPositiveDefinite,
    quadrature: MarginalQuadrature | None = None,
) -> xr.Dataset:
    """The nested routes' variables: the ``nodes`` rule's log-integral of :math:`e^L` and its
    change to ``nodes + 2`` (``quadrature``: the ``nodes`` rule already placed; ``nodes``
    is 1 for ``hyper="gaussian"``, the default for ``"nuts"``)."""
    reason = not_available(model, terms)
    if reason:
        return xr.Dataset(attrs={"log_marginal_likelihood_method": reason})
    nodes = {"gaussian": 1, "nuts": DEFAULT_NODES}.get(hyper, nodes)
    precision = (
        quadrature.precision if quadrature else mode_precision(values.marginal, phi_mode, action)
    )
    placed = quadrature or integrate(values, phi_mode, precision, nodes)
    finer = integrate(values, phi_mode, precision, nodes + 2)
    method = (
        f"adaptive Gauss–Hermite quadrature of the Laplace marginal ({placed.rule.kind} rule, "
        f"{nodes} nodes per dimension; error: the change to {nodes + 2})"
    )
    if hyper == "gaussian":
        method = "Laplace approximation of the integral of the Laplace marginal (" + (
            "error: the change to 3 Gauss–Hermite nodes per dimension)"
        )
    elif hyper == "nuts":
        method += "; the NUTS draws have no normalized density to weigh"
    return _variables(
        placed.log_integral,
        abs(finer.log_integral - placed.log_integral),
        method,
    )
