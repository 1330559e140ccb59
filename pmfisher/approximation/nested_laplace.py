r"""Laplace with latent variables integrated out: the hyperparameters from the Laplace
marginal, the latent variables from their conditional Gaussians.

For a split of the free variables into latent :math:`u` and hyperparameters :math:`\varphi`
(:mod:`pmfisher.fitting.laplace_marginal`), the approximation is

.. math::

    q(u, \varphi) = q(\varphi)\;\mathcal N\!\big(u \mid \hat u_\varphi + \delta_\varphi,\,
    H(\varphi)^{-1}\big),

with :math:`q(\varphi)` the Gaussian at the mode of the Laplace marginal
:math:`L(\varphi)` with its exact curvature (``hyper="gaussian"``, the empirical-Bayes / TMB
route), adaptive Gauss–Hermite quadrature of :math:`e^{L}` on nodes placed by that mode and
curvature (``hyper="quadrature"``, :mod:`pmfisher.approximation.adaptive_quadrature`: ``fit``
holds the nodes, their weights and the moments by the rule, and the draws of :math:`\varphi`
come from the density the rule integrates; the latent variables given each draw from their
conditional Gaussian, the continuous form of R-INLA's mixture over the nodes), or draws of
:math:`\exp L(\varphi)` by PyMC's NUTS (``hyper="nuts"``): a model with one flat vector
``phi`` and a ``pm.Potential`` made of an operation that computes :math:`L` and, as its
gradient, the exact implicit-function gradient. All work in the unconstrained space, where
every draw is in the support. ``fit`` holds the log marginal likelihood of every route
(:mod:`pmfisher.approximation.marginal_likelihood`).

The result is the same DataTree as :func:`~pmfisher.laplace`'s, with these differences:
``fit`` holds the moments of :math:`q(\varphi)` over the hyperparameters only (with NUTS,
the sample mean and covariance, and no ``pareto_k``: the sampled :math:`q(\varphi)` has no
normalized density to weigh draws with), and the inner-approximation check below; ``sample_stats``
holds ``log_p`` (the joint log-density :math:`f(u, \varphi)`) and ``log_q`` (the
approximation's normalized log-density, for ``hyper="gaussian"``) or, with NUTS, the
sampler's statistics and ``log_q_latent`` (:math:`\log q(u \mid \varphi)`). The attrs add
``latent``, ``hyper`` and ``conditional``: :math:`\delta_\varphi = -\tfrac12
H^{-1}\nabla_u\log\det H` moves the mean from the conditional mode to the conditional mean
to first order (``"mean_corrected"``, :mod:`pmfisher.fitting.conditional_mean`), or is 0
(``"gaussian"``, R-INLA's Gaussian strategy).

**Checking the inner Laplace** (TMB's ``checkConsistency`` idea). At the mode and a few
draws of :math:`\varphi`, importance sampling with the conditional Gaussian as proposal
estimates the exact :math:`\log\int e^{f(u,\varphi)}du` by
:math:`\log\frac1M\sum_m e^{f(u_m,\varphi)}/q(u_m)`; its difference from :math:`L(\varphi)`
(``fit["inner_check_error"]``, with its Monte Carlo standard error and the weights' Pareto
:math:`\hat k`) says how good the Laplace marginal is there. A Gaussian conditional gives
exactly zero. An error that is the same at every φ cancels in the normalization and leaves
the posterior of φ as it is — and a sum of small per-group errors grows with the number of
groups — so what is warned about is how the error *changes* with φ: a draw's error more than
``INNER_ERROR_THRESHOLD`` nats (beyond Monte Carlo error) from the error at the mode, or
:math:`\hat k` above the draws' threshold (the importance weights cannot be trusted).

**Group by group.** Importance sampling over the whole :math:`u` degenerates as the groups
grow in number: the log-weights' variance is the sum of the groups', so a non-Gaussian
conditional ends with :math:`\hat k` over the threshold, and at J = 20,000 its 2,000 joint
densities per φ were the largest cost of ``hyper="gaussian"``. Where the latent Hessian is
diagonal and the joint density splits as :math:`f = c(\varphi) + \sum_j g_j(u_j,\varphi)`
(read from the graph), the error is a sum of one-dimensional ones, :math:`e = \sum_j e_j`,
:math:`e_j = \log\int e^{g_j}du_j - [g_j(\hat u_j) + \tfrac12\log 2\pi - \tfrac12\log
h_j]`, each estimated by one-dimensional importance sampling with all groups drawn at once
(:mod:`pmfisher.approximation.group_check`: a Student-t proposal at the Laplace location and
scale, the Laplace Gaussian as control variate, antithetic pairs); the error's Monte Carlo
standard error is :math:`(\sum_j\operatorname{mcse}_j^2)^{1/2}` and its :math:`\hat k` the
largest over the groups, against the threshold for the per-group draws. The warning rule is
the same. ``fit["inner_check_error"].attrs["method"]`` says which check ran: ``"per group"``
or ``"joint"`` (any other structure, or a term of two latent entries).

**No check where the graph proves it exact.** When the joint density is quadratic in ``u``
(``split.conditional_is_gaussian``: a Hessian-vector product in ``u`` that, rewritten, no
longer reads ``u`` — a linear mixed model, a hierarchical normal model), :math:`L` is the
exact marginal: the errors and their Monte Carlo standard errors are zero, :math:`\hat k` is
NaN (nothing was sampled) and the method is ``"exact: Gaussian conditional"``. At J = 20,000
groups of ``benchmarks/nested_laplace.py`` the check took 4–7 s there, for a known zero.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pymc.step_methods.hmc.quadpotential import QuadPotentialDiagAdapt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from scipy.special import logsumexp

from pmfisher._core.compiled.modes import COMPILE_MODE
from pmfisher._core.linalg.definiteness import positive_definite
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.options import (
    Conditional,
    Hyper,
    NotPositiveDefinite,
    Structure,
    Terms,
    check_option,
)
from pmfisher._core.progress import progress_wanted
from pmfisher.approximation.adaptive_quadrature import (
    MarginalValues,
    adaptive_integral,
    mode_precision,
)
from pmfisher.approximation.conditional_draws import (
    JointOverDraws,
    conditional_draws,
    gaussian_log_density,
)
from pmfisher.approximation.group_check import GROUP_CHECK_DRAWS, GroupTerms, group_errors
from pmfisher.approximation.importance_sampling import khat_threshold, psis
from pmfisher.approximation.laplace_draws import laplace_datatree, values_pushforward
from pmfisher.approximation.marginal_likelihood import nested_fit, nuts_fit
from pmfisher.approximation.quadrature import check_nodes
from pmfisher.errors import ArgumentError, NotPositiveDefiniteError, warn
from pmfisher.fitting.laplace_marginal import InnerModeError, LaplaceMarginal, laplace_marginal
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent
from pmfisher.fitting.mode import require_converged
from pmfisher.fitting.mode_cache import current_mode

__all__ = ["nested_laplace"]

# Values of φ at which the inner Laplace is checked, and importance draws at each.
INNER_CHECKS = 4
# The inner check's method where the conditional is Gaussian: no sampling, the error is zero.
EXACT = "exact: Gaussian conditional"
INNER_CHECK_DRAWS = 2000
# A Laplace marginal off by more than this many nats (beyond 3 MCSE) is warned about.
INNER_ERROR_THRESHOLD = 0.1
# NUTS on the marginal counts its initial variances as this many draws (PyMC's adapt_diag).
NUTS_INITIAL_WEIGHT = 10
# Marginal evaluations NUTS on it keeps: a trajectory of PyMC's deepest tree (depth 10).
EVALUATIONS_KEPT = 2**10


def nested_laplace(
    *,
    model: pm.Model,
    latent: Sequence[str] | str,
    draws: int,
    terms: Terms,
    hyper: Hyper,
    conditional: Conditional,
    not_positive_definite: NotPositiveDefinite,
    random_seed,
    chains: int = 2,
    tune: int = 1000,
    structure: Structure = "auto",
    progressbar: bool = True,
    nodes: int | Literal["auto"],
) -> xr.DataTree:
    """The nested Laplace approximation (module docstring); called by
    :func:`~pmfisher.laplace` with ``latent``. ``chains`` and ``tune`` apply to NUTS,
    ``nodes`` to quadrature (:mod:`pmfisher.approximation.adaptive_quadrature`);
    ``structure`` chooses the route of the latent Hessian; ``progressbar`` shows NUTS's."""
    check_option("hyper", hyper, Hyper)
    check_option("conditional", conditional, Conditional)
    nodes = check_nodes(nodes)
    rng = np.random.default_rng(random_seed)
    marginal = laplace_marginal(
        model, latent, space="unconstrained", terms=terms, structure=structure
    )
    split = marginal.split
    # The mode cache's own seed: the search never draws from the caller's generator.
    mode = require_converged(
        current_mode(model, terms=terms, space="unconstrained", latent=latent, structure=structure)
    )
    u_mode = marginal.conditional_mode(mode.x).u
    attrs = {
        "method": "laplace",
        "terms": terms,
        "space": "unconstrained",
        "latent": list(split.latent),
        "hyper": hyper,
        "conditional": conditional,
        "latent_structure": marginal.structure,
        "importance_sampling": "none",
        "mode_logp": float(mode.logp),
        "mode_grad_norm": float(mode.grad_norm),
    }
    if hyper == "gaussian":
        precision = mode_precision(marginal, mode.x, not_positive_definite)
        phis, log_q_phi, fit = _gaussian_hyper(marginal, mode.x, precision, draws, rng)
        attrs["regularization"] = precision.regularization
        sampler_stats, n_chains = None, 1
        # One node: the Laplace value of the integral, its error bounded from three.
        quadrature = adaptive_integral(MarginalValues(marginal), mode.x, precision, 1)
    elif hyper == "quadrature":
        precision = mode_precision(marginal, mode.x, not_positive_definite)
        quadrature = adaptive_integral(MarginalValues(marginal), mode.x, precision, nodes)
        phis, log_q_phi = quadrature.draws(draws, rng)
        fit = quadrature.fit(split.phi_labels)
        attrs["regularization"] = precision.regularization
        sampler_stats, n_chains = None, 1
    else:
        precision = _precision_or_none(marginal, mode.x)
        variances = np.ones(marginal.size) if precision is None else np.diag(precision.inverse())
        phis, sampler_stats, n_chains = _nuts_hyper(
            marginal,
            mode.x,
            draws,
            variances,
            chains=chains,
            tune=tune,
            rng=rng,
            progressbar=progressbar,
        )
        fit = _sample_moments(phis, split.phi_labels)
        attrs["regularization"], quadrature = "", None

    latent_draws, log_q_latent, log_p = conditional_draws(
        marginal, phis, mode.x, u_mode, rng, conditional=conditional
    )
    full = model_graph(model, space="unconstrained", terms=terms)
    thetas = np.empty((phis.shape[0], full.size))
    thetas[:, split.u_columns] = latent_draws
    thetas[:, split.phi_index] = phis
    pushed = values_pushforward(full)(thetas)

    if hyper != "nuts":
        log_q = log_q_phi + log_q_latent
        _, pareto_k = psis(log_p - log_q)
        fit["pareto_k"] = xr.DataArray(float(pareto_k), name="pareto_k")
        attrs["pareto_k"] = float(pareto_k)
        threshold = khat_threshold(len(log_p))
        if pareto_k > threshold:
            warn(
                f"Pareto k̂ = {pareto_k:.2f} > {threshold:.2f}: the nested Laplace "
                f"approximation (hyperparameters by {hyper}, Gaussian latent variables given "
                f"them) is far from the joint {terms} in the tails; hyper='nuts' samples the "
                "Laplace marginal of the hyperparameters.",
            )
        stats = {"log_p": log_p, "log_q": log_q}
    else:
        stats = {"log_p": log_p, "log_q_latent": log_q_latent}

    if quadrature is not None:
        likelihood = nested_fit(model, terms, quadrature)
    elif precision is None:
        likelihood = nuts_fit(
            model,
            terms,
            None,
            reason="not available: the negative Hessian of the Laplace marginal is not "
            "positive definite at its mode, so there is no Gaussian to weigh the NUTS draws "
            "against",
        )
    else:
        log_marginals = sampler_stats["lp"].values  # L at each draw: NUTS's log-density
        standard = (phis - mode.x) @ precision.cholesky  # z = Lᵀ(φ − φ̂), row by row
        likelihood = nuts_fit(
            model,
            terms,
            standard.reshape(*log_marginals.shape, -1),
            precision.log_determinant,
            log_marginals,
        )
    attrs |= likelihood.attrs
    checked = np.vstack([mode.x, phis[: INNER_CHECKS - 1]])
    fit = fit.merge(likelihood).merge(_inner_check(marginal, checked, rng))
    fit.attrs = attrs
    tree = laplace_datatree(model, full, pushed, stats, fit, attrs, chains=n_chains)
    if sampler_stats is not None:
        tree["sample_stats"] = xr.DataTree(
            sampler_stats.merge(tree["sample_stats"].to_dataset(), compat="override")
        )
    return tree


# -- q(φ) ----------------------------------------------------------------------------------------


def _gaussian_hyper(marginal: LaplaceMarginal, phi_mode, precision, draws, rng):
    labels = marginal.labels
    standard = rng.standard_normal((draws, marginal.size))
    phis = phi_mode + precision.deviations(standard)
    log_q = gaussian_log_density(standard, precision.log_determinant)
    covariance = precision.inverse()
    fit = xr.Dataset(
        {
            "mean_vector": labelled.vector(phi_mode, labels, name="mean_vector"),
            "covariance_matrix": labelled.square(covariance, labels, name="covariance_matrix"),
            "precision_matrix": labelled.square(precision.matrix, labels, name="precision_matrix"),
        }
    )
    return phis, log_q, fit


def warm_nuts_step(model: pm.Model, mean, variances, *, seed, mode=None) -> pm.NUTS:
    """PyMC's NUTS step over ``model``'s continuous value variables (flat, in PyMC's order),
    its adaptive diagonal mass matrix starting at ``variances`` around ``mean`` with the
    weight of PyMC's own ``adapt_diag`` start, so that tuning still adapts it; its functions
    compiled in PyTensor ``mode`` (PyMC's default if ``None``)."""
    potential = QuadPotentialDiagAdapt(
        len(mean), mean, variances, NUTS_INITIAL_WEIGHT, rng=np.random.default_rng(seed)
    )
    return pm.NUTS(
        vars=model.continuous_value_vars,
        potential=potential,
        model=model,
        compile_kwargs={} if mode is None else {"mode": mode},
    )


def _precision_or_none(marginal: LaplaceMarginal, phi_mode):
    """:math:`-\\nabla^2 L` at the mode (the Gaussian hyper's precision), or ``None`` where
    it is not positive definite."""
    try:
        return positive_definite(-marginal.hessian(phi_mode), marginal.labels, what="Hessian")
    except NotPositiveDefiniteError:
        return None


def _sample_moments(phis: np.ndarray, labels) -> xr.Dataset:
    covariance = np.atleast_2d(np.cov(phis, rowvar=False))
    return xr.Dataset(
        {
            "mean_vector": labelled.vector(phis.mean(axis=0), labels, name="mean_vector"),
            "covariance_matrix": labelled.square(covariance, labels, name="covariance_matrix"),
        }
    )


def _nuts_hyper(
    marginal: LaplaceMarginal, phi_mode, draws, variances, *, chains, tune, rng, progressbar
):
    """Draws of :math:`\\exp L(\\varphi)` by PyMC's NUTS, flat ``(chains·draws, n_φ)``, and
    the sampler's statistics (dims chain, draw); tuning starts from ``variances``."""
    if draws % chains:
        raise ArgumentError(f"draws={draws} must be a multiple of chains={chains} with NUTS.")
    density = _MarginalDensityOp(marginal)
    seeds = rng.integers(2**31, size=chains).tolist()
    with pm.Model() as hyper_model:
        phi = pm.Flat("phi", shape=(marginal.size,))
        pm.Potential("laplace_marginal", density(phi))
        # Tuning starts from the marginal's own scales at its mode, not unit variances.
        # pmfisher's compile mode (C, cached on disk), not PyMC's default numba, which would
        # JIT the marginal's operations in object mode in every process.
        step = warm_nuts_step(
            hyper_model,
            phi_mode,
            variances,
            seed=seeds[0],
            mode=COMPILE_MODE,
        )
    with warnings.catch_warnings():
        # The sampler's own summaries of chains and runtime are not this function's warnings.
        warnings.filterwarnings("ignore", category=UserWarning, module="pymc")
        idata = pm.sample(
            draws=draws // chains,
            tune=tune,
            chains=chains,
            cores=1,
            model=hyper_model,
            step=step,
            initvals={"phi": phi_mode},
            random_seed=seeds,
            progressbar=progress_wanted(progressbar),
            compute_convergence_checks=False,
            compile_kwargs={"mode": COMPILE_MODE},
        )
    phis = np.asarray(idata["posterior"]["phi"].values).reshape(-1, marginal.size)
    return phis, idata["sample_stats"].to_dataset(), chains


class _MarginalDensityOp(Op):
    """:math:`\\varphi \\mapsto L(\\varphi)` for PyMC's sampler; its gradient is the exact one
    (:class:`_MarginalGradientOp`). Both share one inner solve per point. Where the inner
    problem has no mode the density is :math:`-\\infty` (a rejected proposal)."""

    def __init__(self, marginal: LaplaceMarginal):
        self.marginal = marginal
        self.gradient = _MarginalGradientOp(self)
        self._evaluated: OrderedDict[bytes, tuple[float, np.ndarray]] = OrderedDict()

    def value_and_gradient(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        # The value and the gradient are asked for separately, and each NUTS iteration
        # starts by evaluating the point it accepted, one of its trajectory's: the points of
        # the last trajectories are kept (2,000 of 10,000 evaluations at J = 2,000).
        key = np.asarray(phi, dtype="float64").tobytes()
        if key in self._evaluated:
            self._evaluated.move_to_end(key)
            return self._evaluated[key]
        try:
            result = self.marginal.value_and_gradient(phi)
        except InnerModeError:
            result = (-np.inf, np.zeros(self.marginal.size))
        self._evaluated[key] = result
        if len(self._evaluated) > EVALUATIONS_KEPT:
            self._evaluated.popitem(last=False)
        return result

    def make_node(self, phi):
        return Apply(self, [pt.as_tensor(phi)], [pt.dscalar()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = np.asarray(self.value_and_gradient(inputs[0])[0], dtype="float64")

    def pullback(self, inputs, outputs, cotangents):
        return [cotangents[0] * self.gradient(inputs[0])]


class _MarginalGradientOp(Op):
    """:math:`\\nabla L(\\varphi)`, computed alongside the value."""

    def __init__(self, density: _MarginalDensityOp):
        self.density = density

    def make_node(self, phi):
        return Apply(self, [pt.as_tensor(phi)], [pt.dvector()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = np.asarray(self.density.value_and_gradient(inputs[0])[1])


# -- the inner check -----------------------------------------------------------------------------


def _inner_check(marginal: LaplaceMarginal, phis: np.ndarray, rng) -> xr.Dataset:
    """Importance-sampling estimates of the exact marginal against :math:`L` at ``phis``,
    group by group where the joint density is separable in ``u``, else jointly; none for a
    Gaussian conditional, where :math:`L` is the exact marginal."""
    if marginal.split.conditional_is_gaussian:
        zeros = np.zeros(phis.shape[0])
        errors, mcses, pareto_ks, method = zeros, zeros, np.full_like(zeros, np.nan), EXACT
    else:
        errors, mcses, pareto_ks, method = _estimated_errors(marginal, phis, rng)
    checks = np.arange(phis.shape[0])
    return xr.Dataset(
        {
            "inner_check_phi": xr.DataArray(
                phis,
                dims=("inner_check", "param"),
                coords={"inner_check": checks, "param": list(marginal.labels)},
            ),
            "inner_check_error": ("inner_check", errors, {"method": method}),
            "inner_check_mcse": ("inner_check", mcses),
            "inner_check_pareto_k": ("inner_check", pareto_ks),
        },
        coords={"inner_check": checks},
    )


def _estimated_errors(marginal: LaplaceMarginal, phis: np.ndarray, rng):
    """The errors of :math:`L` at ``phis``, their Monte Carlo standard errors, the weights'
    :math:`\\hat k` and the method's name; a warning where the inner Laplace is poor."""
    per_group = (
        isinstance(marginal.structured, DiagonalLatent)
        and marginal.split.companion(GroupTerms).group is not None
    )
    estimate, draws = (
        (group_errors, GROUP_CHECK_DRAWS) if per_group else (_joint_error, INNER_CHECK_DRAWS)
    )
    errors, mcses, pareto_ks = np.array([estimate(marginal, phi, rng) for phi in phis]).T
    threshold = khat_threshold(draws)
    # The first φ is the mode: each error against it, with both Monte Carlo errors.
    changes = np.abs(errors - errors[0])
    noise = 3 * np.sqrt(mcses**2 + mcses[0] ** 2)
    poor = (changes > INNER_ERROR_THRESHOLD + noise) | (pareto_ks > threshold)
    if poor.any():
        worst = int(np.argmax(np.where(pareto_ks > threshold, np.inf, changes)))
        unreliable = (
            f" > {threshold:.2f}: the estimate itself is unreliable"
            if pareto_ks[worst] > threshold
            else ""
        )
        shown = ", ".join(
            f"{label}={value:.3g}"
            for label, value in zip(marginal.labels, phis[worst], strict=True)
        )
        largest = "largest per-group " if per_group else ""
        warn(
            f"the inner Laplace approximation over {', '.join(marginal.split.latent)} is poor: "
            f"importance sampling puts the exact log-marginal {errors[worst]:+.3g} ± "
            f"{mcses[worst]:.2g} nats from the Laplace one at {shown} and {errors[0]:+.3g} at "
            f"the mode ({largest}Pareto k̂ {pareto_ks[worst]:.2f}{unreliable}): an error that "
            "changes with the hyperparameters shifts their posterior; see "
            "fit['inner_check_error']. "
            "Integrate fewer variables out, or compare with NUTS on the whole model.",
        )
    return errors, mcses, pareto_ks, "per group" if per_group else "joint"


def _joint_error(marginal: LaplaceMarginal, phi: np.ndarray, rng) -> tuple[float, float, float]:
    """The error of :math:`L` at ``phi`` by importance sampling over the whole ``u``, its
    Monte Carlo standard error and the weights' Pareto :math:`\\hat k`."""
    joint = marginal.split.companion(JointOverDraws)
    inner = marginal.conditional_mode(phi)
    standard = rng.standard_normal((INNER_CHECK_DRAWS, marginal.split.n_u))
    us = inner.u + inner.precision.deviations(standard)
    log_q = gaussian_log_density(standard, inner.precision.log_determinant)
    log_w = joint(us, np.broadcast_to(phi, (INNER_CHECK_DRAWS, phi.size))) - log_q
    log_w = np.where(np.isnan(log_w), -np.inf, log_w)
    error = logsumexp(log_w) - np.log(INNER_CHECK_DRAWS) - marginal.value(phi)
    weights = np.exp(log_w - log_w.max())
    # The delta method: the relative standard error of the mean weight.
    mcse = weights.std() / (np.sqrt(weights.size) * weights.mean())
    return float(error), float(mcse), psis(log_w)[1]
