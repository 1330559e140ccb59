r"""Exact Fisher information from closed forms in each distribution's own parameters.

When the observed variables are conditionally independent given :math:`\theta` and
observation :math:`i` has distribution parameters :math:`\eta_i(\theta)` (a Normal's
:math:`(\mu_i, \sigma_i)`) whose per-observation information :math:`F(\eta_i)` is known in
closed form, the chain rule gives

.. math::

    I(\theta) = \sum_i J_i^\top F(\eta_i)\, J_i, \qquad
    J_i = \partial \eta_i / \partial \theta ,

exactly. This is also the generalized Gauss–Newton matrix of the negative log-likelihood.
The Jacobians come from the model graph by forward-mode autodiff, vectorized over the
parameter directions; the table below gives :math:`F` as NumPy functions of the
distribution parameters, in the parameterization of the PyTensor random variable that PyMC
builds (an ``Exponential(lam)`` is an ``ExponentialRV`` with ``scale = 1/lam``, a
``NegativeBinomial(mu, alpha)`` is a ``NegBinomialRV`` with ``n = alpha``,
``p = alpha / (mu + alpha)``).

The entry point for other modules is :func:`exact_fisher_matrix` (flat matrix for a
:class:`~pmfisher._core.model.model_graph.ModelGraph` and a flat ``theta``);
:func:`unsupported_reason` says why a model has no exact form. The dense Jacobians take
``n × d`` memory each; :mod:`pmfisher.information.sparse_fisher` forms the same matrix from
their sparsity patterns (:func:`fisher_sparsity`; :func:`fisher_structure` chooses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.traversal import ancestors
from pytensor.tensor.random import basic as random_ops
from pytensor.tensor.random.op import RandomVariable
from scipy import sparse, special

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.curvature import derivatives
from pmfisher._core.curvature.colouring import column_colouring
from pmfisher._core.curvature.sparsity import jacobian_sparsity
from pmfisher._core.curvature.structure import choose_structure
from pmfisher._core.data.simulation import require_forward_samplers
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import ModelGraph
from pmfisher._core.options import Structure
from pmfisher.errors import UnsupportedModelError

__all__ = [
    "CLOSED_FORMS",
    "ClosedForm",
    "DistributionParameters",
    "FisherSparsity",
    "distribution_parameters",
    "exact_fisher_matrix",
    "fisher_sparsity",
    "fisher_structure",
    "unsupported_reason",
]

# Elements of the negative-binomial tail sum evaluated at once.
_SERIES_BUDGET = 2**22


@dataclass(frozen=True)
class ClosedForm:
    """Per-observation Fisher information of one distribution in its own parameters.

    ``information(*params)`` takes the random variable's distribution parameters (broadcast
    arrays, in the op's order) and returns ``(..., k, k)`` over the parameters that are not
    ``fixed``; ``fixed`` lists the positions of parameters that must not depend on θ
    (a Binomial's number of trials).
    """

    name: str
    information: Callable[..., np.ndarray]
    fixed: tuple[int, ...] = ()


def _matrix(*rows) -> np.ndarray:
    """Stack rows of broadcastable arrays into ``(..., k, k)``."""
    rows = [np.broadcast_arrays(*row) for row in rows]
    shape = np.broadcast_shapes(*(row[0].shape for row in rows))
    return np.stack(
        [np.stack([np.broadcast_to(entry, shape) for entry in row], axis=-1) for row in rows],
        axis=-2,
    )


def _normal(mu, sigma):
    zero = np.zeros_like(mu * sigma)
    return _matrix((1 / sigma**2, zero), (zero, 2 / sigma**2))


def _student_t(nu, mu, sigma):
    # Lange, Little & Taylor (1989), in (nu, mu, sigma); mu is orthogonal to (nu, sigma).
    zero = np.zeros_like(nu * mu * sigma)
    nu_nu = 0.25 * (special.polygamma(1, nu / 2) - special.polygamma(1, (nu + 1) / 2)) - (
        nu + 5
    ) / (2 * nu * (nu + 1) * (nu + 3))
    nu_sigma = -2 / (sigma * (nu + 1) * (nu + 3))
    return _matrix(
        (nu_nu, zero, nu_sigma),
        (zero, (nu + 1) / ((nu + 3) * sigma**2), zero),
        (nu_sigma, zero, 2 * nu / ((nu + 3) * sigma**2)),
    )


def _bernoulli(p):
    return (1 / (p * (1 - p)))[..., None, None]


def _binomial(n, p):
    return (n / (p * (1 - p)))[..., None, None]


def _poisson(mu):
    return (1 / mu)[..., None, None]


def _negative_binomial(n, p):
    r"""``Y ~ NB(n, p)``, :math:`P(y) = \binom{y+n-1}{y} p^n (1-p)^y`.

    :math:`I_{nn} = E[\psi'(n) - \psi'(n + Y)] = \sum_{k\ge 0} P(Y > k) / (n+k)^2`, summed
    until the tail probability is below double precision.
    """
    from scipy import stats  # 0.4 s, imported by the functions that use it

    n, p = np.broadcast_arrays(np.asarray(n, dtype="float64"), np.asarray(p, dtype="float64"))
    flat_n, flat_p = n.ravel(), p.ravel()
    nn = np.empty(flat_n.size)
    upper = stats.nbinom.isf(1e-17, flat_n, flat_p)
    upper = np.where(np.isfinite(upper), upper, stats.nbinom.ppf(1 - 1e-16, flat_n, flat_p))
    terms = int(np.max(upper, initial=0)) + 2
    step = max(1, _SERIES_BUDGET // terms)
    k = np.arange(terms)
    for start in range(0, flat_n.size, step):
        rows = slice(start, start + step)
        tail = stats.nbinom.sf(k, flat_n[rows, None], flat_p[rows, None])
        nn[rows] = (tail / (flat_n[rows, None] + k) ** 2).sum(axis=1)
    nn = nn.reshape(n.shape)
    return _matrix((nn, -1 / p), (-1 / p, n / (p**2 * (1 - p))))


def _exponential(scale):
    return (1 / scale**2)[..., None, None]


def _gamma(shape, scale):
    return _matrix((special.polygamma(1, shape), 1 / scale), (1 / scale, shape / scale**2))


def _beta(alpha, beta):
    total = special.polygamma(1, alpha + beta)
    return _matrix(
        (special.polygamma(1, alpha) - total, -total), (-total, special.polygamma(1, beta) - total)
    )


CLOSED_FORMS: dict[type, ClosedForm] = {
    random_ops.NormalRV: ClosedForm("Normal", _normal),
    random_ops.StudentTRV: ClosedForm("StudentT", _student_t),
    random_ops.BernoulliRV: ClosedForm("Bernoulli", _bernoulli),
    random_ops.BinomialRV: ClosedForm("Binomial", _binomial, fixed=(0,)),
    random_ops.PoissonRV: ClosedForm("Poisson", _poisson),
    random_ops.NegBinomialRV: ClosedForm("NegativeBinomial", _negative_binomial),
    random_ops.ExponentialRV: ClosedForm("Exponential", _exponential),
    random_ops.GammaRV: ClosedForm("Gamma", _gamma),
    random_ops.BetaRV: ClosedForm("Beta", _beta),
    random_ops.LogNormalRV: ClosedForm("LogNormal", _normal),
}


def unsupported_reason(graph: ModelGraph) -> str | None:
    """Why the exact Fisher information is not available for ``graph``'s model, or ``None``."""
    observed = set(graph.observed_rvs)
    for rv in graph.observed_rvs:
        op = rv.owner.op
        form = CLOSED_FORMS.get(type(op))
        if form is None:
            supported = ", ".join(sorted({form.name for form in CLOSED_FORMS.values()}))
            return (
                f"the observed variable {rv.name} has a {labelled.distribution_name(rv)} "
                "distribution, which has no closed-form Fisher information here (the table covers "
                f"{supported})"
            )
        params = op.dist_params(rv.owner)
        upstream = ancestors(params, blockers=graph.free_rvs)
        dependent = [var.name for var in upstream if var in observed]
        if dependent:
            return (
                f"the distribution of {rv.name} depends on the observed {', '.join(dependent)}, "
                "so the observations are not conditionally independent given the parameters"
            )
        random_parents = [
            var.name or "an unnamed variable"
            for var in upstream
            if var.owner is not None
            and isinstance(var.owner.op, RandomVariable)
            and var not in graph.free_rvs
            and var.owner.outputs[1] is var
        ]
        if random_parents:
            return f"the parameters of {rv.name} depend on the random {', '.join(random_parents)}"
        for position in form.fixed:
            if set(graph.free_rvs) & set(ancestors([params[position]])):
                return (
                    f"parameter {position} of {rv.name} ({form.name}) depends on the free "
                    "variables, and only its other parameters can"
                )
    return None


def exact_fisher_matrix(graph: ModelGraph, theta: np.ndarray) -> np.ndarray:
    r"""The exact Fisher information (generalized Gauss–Newton matrix) of ``graph``'s
    likelihood at the flat ``theta`` of ``graph.space``, as a ``(d, d)`` NumPy array, from
    dense Jacobians.

    Raises ``UnsupportedModelError`` (naming the variable and the distribution, and
    suggesting ``method="monte_carlo"``) if the model has no exact form, and
    ``InsufficientMemoryError`` if the dense Jacobians would not fit in memory (the sparse
    route, :class:`~pmfisher.information.sparse_fisher.SparseFisher`, needs no dense
    intermediate).
    """
    fisher_structure(graph, "dense")
    parameters = graph.companion(distribution_parameters)
    values = graph.companion(_dense_function)(np.asarray(theta, dtype="float64"))
    information = np.zeros((graph.size, graph.size))
    position = 0
    for index, form in enumerate(parameters.forms):
        n_params = len(parameters.params[index])
        params, position = values[position : position + n_params], position + n_params
        jacobians, position = values[position : position + n_params], position + n_params
        free = parameters.free(index)
        weights = form.information(*params)  # (n, k, k) over the free parameters
        # One (d × n)(n × d) matrix product (BLAS) per pair of parameters, with one weighted
        # n × d copy alive at a time: a three-operand einsum loops in C instead (7.1 s
        # against 0.28 s at n = 5,000, k = 2, d = 503), and stacking the Jacobians doubles
        # the memory this route already needs.
        for a, left in enumerate(free):
            for b, right in enumerate(free):
                information += jacobians[left].T @ (weights[:, a, b, None] * jacobians[right])
    return 0.5 * (information + information.T)


def fisher_structure(graph: ModelGraph, structure: Structure) -> Literal["dense", "sparse"]:
    """The route of the exact Fisher information under the ``structure`` option, by the rule
    of the Hessian's (:func:`~pmfisher._core.curvature.structure.choose_structure`): forward mode
    batched over ``d`` tangents gives every θ-dependent intermediate a ``d``-fold copy, as
    the dense Hessian's reverse pass does, and the sparse route costs one forward product per
    column colour.

    Raises ``InsufficientMemoryError`` for ``structure="dense"`` when the dense Jacobians
    would not fit, and ``UnsupportedModelError`` when the model has no exact form.
    """
    graph.companion(distribution_parameters)  # no exact form: say so, whatever the route
    return choose_structure(
        structure,
        size=graph.size,
        pattern=lambda: graph.companion(fisher_sparsity),
        n_colours=lambda: graph.companion(fisher_sparsity).n_colours,
        what=f"the dense exact Fisher information of {graph.size} parameters",
    )


@dataclass(frozen=True)
class DistributionParameters:
    """Per observed variable, its closed form and its distribution parameters, one entry per
    observation (broadcast to the data's shape, flattened), as graphs of ``graph.theta``."""

    forms: tuple[ClosedForm, ...]
    params: tuple[tuple[pt.TensorVariable, ...], ...]

    def free(self, index: int) -> list[int]:
        """Positions of variable ``index``'s parameters that may depend on θ."""
        return [i for i in range(len(self.params[index])) if i not in self.forms[index].fixed]


def distribution_parameters(graph: ModelGraph) -> DistributionParameters:
    """The :class:`DistributionParameters` of ``graph``'s model (a companion builder).

    Raises ``UnsupportedModelError`` if the model has no exact form, saying whether
    ``method="monte_carlo"`` can be used instead.
    """
    graph.require_observations()
    reason = unsupported_reason(graph)
    if reason is not None:
        try:
            require_forward_samplers(graph.model)
            alternative = (
                "Use method='monte_carlo', which estimates the Fisher information by "
                "simulating data from the model."
            )
        except UnsupportedModelError as no_sampler:
            # Never send the user to the Monte Carlo estimator when that cannot work either.
            alternative = f"method='monte_carlo' is not available either: {no_sampler}"
        raise UnsupportedModelError(f"method='exact' is not available: {reason}. {alternative}")
    forms, params = [], []
    for rv in graph.observed_rvs:
        op = rv.owner.op
        data_shape = pt.as_tensor(graph.data_inputs[rv.name]).shape
        flat = [
            pt.cast(pt.broadcast_to(param, data_shape), "float64").ravel()
            for param in op.dist_params(rv.owner)
        ]
        forms.append(CLOSED_FORMS[type(op)])
        params.append(tuple(graph.of_theta(flat)))
    return DistributionParameters(tuple(forms), tuple(params))


@dataclass(frozen=True)
class FisherSparsity:
    r"""The patterns the sparse route works from, read from the graph.

    Attributes
    ----------
    jacobians : tuple of scipy.sparse.csr_array
        Per variable of :class:`DistributionParameters` and per free parameter, the pattern of
        :math:`\partial\eta/\partial\theta` (observations × ``d``), a superset of its
        nonzeros at every θ (:func:`~pmfisher._core.curvature.sparsity.jacobian_sparsity`).
    pattern : scipy.sparse.csc_array
        The pattern of :math:`I = \sum_i J_i^\top F_i J_i`: columns sharing an observation.
    colours : numpy.ndarray
        Column colouring of the Jacobians
        (:func:`~pmfisher._core.curvature.colouring.column_colouring` of the per-observation union,
        so that one seed serves every parameter).
    intermediate_elements : int
        θ-dependent elements of the parameters' graph, and one parameter's more for the
        weighted copy the dense route makes: what a dense route copies ``d``-fold.
    """

    jacobians: tuple[tuple[sparse.csr_array, ...], ...]
    pattern: sparse.csc_array
    colours: np.ndarray
    intermediate_elements: int

    @property
    def n_colours(self) -> int:
        return int(self.colours.max(initial=-1)) + 1

    @property
    def density(self) -> float:
        d = self.pattern.shape[0]
        return self.pattern.nnz / d**2 if d else 0.0


def fisher_sparsity(graph: ModelGraph) -> FisherSparsity:
    """The :class:`FisherSparsity` of ``graph``'s exact Fisher information (a companion
    builder)."""
    parameters = graph.companion(distribution_parameters)
    outputs = [
        parameters.params[index][position]
        for index in range(len(parameters.forms))
        for position in parameters.free(index)
    ]
    traced_sparsity = jacobian_sparsity(graph, outputs)
    traced = iter(traced_sparsity.patterns)
    jacobians = tuple(
        tuple(next(traced) for _ in parameters.free(index))
        for index in range(len(parameters.forms))
    )
    per_observation = sparse.vstack(
        [sparse.csr_array(sum(patterns[1:], patterns[0]), dtype=bool) for patterns in jacobians],
        format="csr",
    )
    counts = per_observation.astype(np.int64)  # int64: no count of shared rows wraps to zero
    pattern = sparse.csc_array(counts.T @ counts, dtype=bool)
    weighted_copy = max((patterns[0].shape[0] for patterns in jacobians), default=0)
    return FisherSparsity(
        jacobians,
        pattern,
        column_colouring(per_observation),
        traced_sparsity.intermediate_elements + weighted_copy,
    )


def _dense_function(graph: ModelGraph):
    """The compiled map θ → (each observed variable's parameters per observation, and their
    dense Jacobians), built once per graph."""
    parameters = graph.companion(distribution_parameters)
    outputs = []
    for index, params in enumerate(parameters.params):
        free = parameters.free(index)
        jacobians = [
            derivatives.jacobian_forward(param, graph.theta)
            if position in free
            else pt.zeros((param.shape[0], graph.size))
            for position, param in enumerate(params)
        ]
        outputs += [*params, *jacobians]
    return compile_function([graph.theta], outputs)
