r"""The Kullback–Leibler divergence between two parameter points, and its curvature.

For a model whose observations are conditionally independent given :math:`\theta`, with
observation :math:`i` drawn from a distribution with parameters :math:`\eta_i(\theta)`
(covariates and data containers held fixed),

.. math::

    D_{\mathrm{KL}}\big(p_\theta \,\|\, p_{\theta'}\big)
    = \sum_i D_{\mathrm{KL}}\big(f(\cdot\,;\eta_i(\theta)) \,\|\, f(\cdot\,;\eta_i(\theta'))\big),

and each term has a closed form for the common families. pmfisher builds this sum as a
PyTensor graph of :math:`(\theta, \theta')` from the model's own graph — the distribution
parameters of every observed variable, as functions of the flat parameter vector — so that
the divergence is exact (no Monte Carlo, no quadrature) and its Hessian in :math:`\theta'` at
:math:`\theta' = \theta` is exact autodiff. That Hessian is the Fisher information (the
second-order expansion of the divergence); computing it this way is an independent route to
the same matrix, which is what makes it a check on the score- and Hessian-based ones.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pytensor.graph.replace import graph_replace
from pytensor.tensor.random import basic as random_ops
from pytensor.tensor.special import xlogy

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.curvature import derivatives
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import ModelGraph, model_graph
from pmfisher._core.model.target import NO_MARGINAL_FISHER, refuse_latent, refuse_sparse
from pmfisher._core.options import Space, Structure
from pmfisher._core.progress import progress_switch
from pmfisher.errors import UnsupportedModelError
from pmfisher.fitting.mode_cache import point_on
from pmfisher.information.exact_fisher import exact_fisher_matrix

__all__ = ["kl_curvature", "kl_divergence"]


@progress_switch
def kl_divergence(
    point,
    other,
    *,
    model: pm.Model | None = None,
    progressbar: bool = True,
) -> float:
    r""":math:`D_{\mathrm{KL}}(p_\theta \,\|\, p_{\theta'})` of the model's data distribution.

    The divergence between the distributions of the observed variables at ``point``
    (:math:`\theta`) and at ``other`` (:math:`\theta'`), summed over observations, with
    covariates and data containers held fixed. It is computed exactly from closed forms per
    observation (see :data:`SUPPORTED`).

    Parameters
    ----------
    point, other : dict or Mode
        Free-variable name → value in the constrained space.
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    float

    Raises
    ------
    UnsupportedModelError
        If an observed variable's distribution has no closed-form divergence here.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import kl_divergence
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0.0, 10.0)
    ...     y = pm.Normal("y", mu, 2.0, observed=[0.1, 0.5, -0.3])
    >>> kl_divergence({"mu": 0.0}, {"mu": 1.0}, model=model)  # 3 · 1² / (2 · 2²)
    0.375
    """
    graph = model_graph(model, space="constrained", terms="likelihood")
    divergence = _divergence_graph(graph)
    divergence.require_closed_forms()
    x, y = graph.flatten(point), graph.flatten(other)
    graph.check_in_support(x)
    graph.check_in_support(y)
    return float(divergence.kl_fn(x, y))


@progress_switch
def kl_curvature(
    point=None,
    *,
    model: pm.Model | None = None,
    space: Space = "constrained",
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    progressbar: bool = True,
) -> xr.DataArray:
    r"""Hessian of :math:`\delta \mapsto D_{\mathrm{KL}}(p_\theta \,\|\, p_{\theta+\delta})` at 0.

    Expanding the divergence to a nearby point, the constant and linear terms vanish (the
    divergence is zero and minimal at :math:`\delta = 0`) and

    .. math::

        D_{\mathrm{KL}}\big(p_\theta \,\|\, p_{\theta+\delta}\big)
        = \tfrac12\,\delta^\top I(\theta)\,\delta + O(\|\delta\|^3),

    so the curvature returned is the expected (Fisher) information :math:`I(\theta)` of the
    whole data set, in the coordinates of ``space``.

    It is computed by exact autodiff of the closed-form divergence of every observed
    variable (``attrs["method"] == "closed-form KL"``). When some observed variable's
    family has no closed-form divergence here (Student-t, negative binomial), the theorem
    above is used the other way round: the curvature is the exact Fisher information
    :math:`\sum_i J_i^\top F_i J_i` of :func:`pmfisher.fisher_information`
    (``attrs["method"] == "exact Fisher"``). A family with neither (a multivariate
    likelihood, a mixture) raises an :class:`~pmfisher.errors.UnsupportedModelError` that
    names the variable.

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` (the default) is the
        MLE at the current data (``find_mode(terms="likelihood")``, found once and kept).
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    space : {"constrained", "unconstrained"}
        The coordinates of :math:`\theta` and :math:`\delta`.
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the expected information of the Laplace
        marginal is not available yet.
    structure : {"auto", "dense"}
        The result is dense: it is formed from dense per-distribution curvatures.
        ``"sparse"`` raises an
        :class:`~pmfisher.errors.ArgumentError`.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    xarray.DataArray
        Square, dims ``param_i`` × ``param_j``; ``attrs`` record ``space`` and ``method``.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import kl_curvature
    >>> with pm.Model() as model:
    ...     p = pm.Beta("p", 1.0, 1.0)
    ...     y = pm.Bernoulli("y", p=p, observed=[1, 0, 0, 1])
    >>> curvature = kl_curvature({"p": 0.2}, model=model)
    >>> round(float(curvature.values[0, 0]), 10)  # n / (p (1 - p)) = 4 / 0.16
    25.0
    >>> curvature = kl_curvature({"p": 0.2}, model=model, space="unconstrained")
    >>> round(float(curvature.values[0, 0]), 10)  # n p (1 - p) in the log-odds
    0.64
    """
    refuse_latent(latent, "kl_curvature", NO_MARGINAL_FISHER)
    refuse_sparse(structure, "kl_curvature", "it is formed dense.")
    graph = model_graph(model, space=space, terms="likelihood")
    x = point_on(graph, point)
    divergence = _divergence_graph(graph)
    if divergence.unsupported:
        matrix, method = exact_fisher_matrix(graph, x), "exact Fisher"
    else:
        matrix, method = np.asarray(divergence.curvature_fn(x, x)), "closed-form KL"
    return labelled.square(matrix, graph.labels, name="kl_curvature", space=space, method=method)


# -- closed forms per family, in the parameters of PyTensor's random-variable operations ----


def _normal(mu0, sigma0, mu1, sigma1):
    return pt.log(sigma1 / sigma0) + (sigma0**2 + (mu0 - mu1) ** 2) / (2 * sigma1**2) - 0.5


def _bernoulli(p0, p1):
    return xlogy(p0, p0 / p1) + xlogy(1 - p0, (1 - p0) / (1 - p1))


def _binomial(n0, p0, n1, p1):
    # The number of trials is data, not a parameter: it is the same at both points.
    return n0 * _bernoulli(p0, p1)


def _poisson(mu0, mu1):
    return xlogy(mu0, mu0 / mu1) - mu0 + mu1


def _exponential(scale0, scale1):
    return pt.log(scale1 / scale0) + scale0 / scale1 - 1


def _gamma(shape0, scale0, shape1, scale1):
    return (
        (shape0 - shape1) * pt.psi(shape0)
        - pt.gammaln(shape0)
        + pt.gammaln(shape1)
        + shape1 * pt.log(scale1 / scale0)
        + shape0 * (scale0 / scale1 - 1)
    )


def _beta(a0, b0, a1, b1):
    return (
        _log_beta_function(a1, b1)
        - _log_beta_function(a0, b0)
        + (a0 - a1) * pt.psi(a0)
        + (b0 - b1) * pt.psi(b0)
        + (a1 - a0 + b1 - b0) * pt.psi(a0 + b0)
    )


def _log_beta_function(a, b):
    return pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b)


#: Families with a closed-form divergence, by PyTensor random-variable operation.
SUPPORTED = {
    random_ops.NormalRV: _normal,
    random_ops.LogNormalRV: _normal,  # the divergence of the logs, which it equals
    random_ops.BernoulliRV: _bernoulli,
    random_ops.BinomialRV: _binomial,
    random_ops.PoissonRV: _poisson,
    random_ops.ExponentialRV: _exponential,
    random_ops.GammaRV: _gamma,
    random_ops.BetaRV: _beta,
}


class _DivergenceGraph:
    """The divergence as a graph of ``(theta, other)`` for one :class:`ModelGraph`."""

    def __init__(self, graph: ModelGraph):
        self.graph = graph
        self.other = graph.theta.type("theta_other")
        self.unsupported = [
            f"{rv.name} ({type(rv.owner.op).__name__.removesuffix('RV')})"
            for rv in graph.observed_rvs
            if type(rv.owner.op) not in SUPPORTED
        ]

    def require_closed_forms(self) -> None:
        if self.unsupported:
            families = ", ".join(op.__name__.removesuffix("RV") for op in SUPPORTED)
            raise UnsupportedModelError(
                f"observed variable(s) {', '.join(self.unsupported)} have no closed-form "
                f"Kullback–Leibler divergence in pmfisher; supported families: {families}."
            )

    @functools.cached_property
    def divergence(self):
        graph = self.graph
        model = graph.model
        terms = []
        for rv in graph.observed_rvs:
            at_theta = graph.of_theta(rv.owner.op.dist_params(rv.owner))
            at_other = graph_replace(at_theta, {graph.theta: self.other}, strict=False)
            elementwise = SUPPORTED[type(rv.owner.op)](*at_theta, *at_other)
            data = pt.as_tensor(model.rvs_to_values[rv])
            terms.append(pt.broadcast_to(pt.cast(elementwise, "float64"), data.shape).sum())
        return pt.add(*terms) if len(terms) > 1 else terms[0]

    @functools.cached_property
    def kl_fn(self):
        return compile_function([self.graph.theta, self.other], self.divergence)

    @functools.cached_property
    def curvature_fn(self):
        curvature = derivatives.hessian(self.divergence, self.other)
        return compile_function([self.graph.theta, self.other], curvature)


def _divergence_graph(graph: ModelGraph) -> _DivergenceGraph:
    return graph.companion(_DivergenceGraph)
