r"""The exact Fisher information of each observation as a PyTensor graph.

:mod:`pmfisher.information.exact_fisher` evaluates the information of a distribution in its
own parameters, :math:`F(\eta)`, in NumPy. Here the same closed forms are written in
PyTensor, so that the information of observation :math:`i`,

.. math::

    I_i(\theta) = J_i^\top F(\eta_i)\, J_i, \qquad J_i = \partial\eta_i/\partial\theta,

is a graph that can be differentiated again, with respect to anything :math:`\eta_i` reads:
the data containers of an experimental design (:mod:`pmfisher.design`). The two tables are
checked entry by entry against each other (``tests/information/test_symbolic_fisher.py``).

Each observed variable's parameters are broadcast to the variable's *own* shape (its
``size``, which the ``shape=x.shape`` idiom ties to a container), not to the shape of the
data it holds, so that the information follows a design of another length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytensor.tensor as pt
from pytensor.tensor.random import basic as random_ops
from pytensor.tensor.type_other import NoneTypeT

from pmfisher._core.curvature import derivatives
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import ModelGraph
from pmfisher.errors import UnsupportedModelError
from pmfisher.information.exact_fisher import unsupported_reason

__all__ = [
    "SYMBOLIC_FORMS",
    "SymbolicForm",
    "closed_form_information",
    "observation_information",
]


@dataclass(frozen=True)
class SymbolicForm:
    """The per-observation information of one distribution in its own parameters, as a
    PyTensor graph: ``information(*params)`` returns a list of rows of ``(n,)`` graphs over
    the parameters not in ``fixed`` (as :class:`~pmfisher.information.exact_fisher.ClosedForm`).
    """

    name: str
    information: Callable[..., list[list]]
    fixed: tuple[int, ...] = ()


def _normal(mu, sigma):
    return [[1 / sigma**2, 0], [0, 2 / sigma**2]]


def _student_t(nu, mu, sigma):
    # Lange, Little & Taylor (1989), as in exact_fisher.
    nu_nu = 0.25 * (pt.tri_gamma(nu / 2) - pt.tri_gamma((nu + 1) / 2)) - (nu + 5) / (
        2 * nu * (nu + 1) * (nu + 3)
    )
    nu_sigma = -2 / (sigma * (nu + 1) * (nu + 3))
    return [
        [nu_nu, 0, nu_sigma],
        [0, (nu + 1) / ((nu + 3) * sigma**2), 0],
        [nu_sigma, 0, 2 * nu / ((nu + 3) * sigma**2)],
    ]


def _bernoulli(p):
    return [[1 / (p * (1 - p))]]


def _binomial(n, p):
    return [[n / (p * (1 - p))]]


def _poisson(mu):
    return [[1 / mu]]


def _exponential(scale):
    return [[1 / scale**2]]


def _gamma(shape, scale):
    return [[pt.tri_gamma(shape), 1 / scale], [1 / scale, shape / scale**2]]


def _beta(alpha, beta):
    total = pt.tri_gamma(alpha + beta)
    return [[pt.tri_gamma(alpha) - total, -total], [-total, pt.tri_gamma(beta) - total]]


SYMBOLIC_FORMS: dict[type, SymbolicForm] = {
    random_ops.NormalRV: SymbolicForm("Normal", _normal),
    random_ops.StudentTRV: SymbolicForm("StudentT", _student_t),
    random_ops.BernoulliRV: SymbolicForm("Bernoulli", _bernoulli),
    random_ops.BinomialRV: SymbolicForm("Binomial", _binomial, fixed=(0,)),
    random_ops.PoissonRV: SymbolicForm("Poisson", _poisson),
    random_ops.ExponentialRV: SymbolicForm("Exponential", _exponential),
    random_ops.GammaRV: SymbolicForm("Gamma", _gamma),
    random_ops.BetaRV: SymbolicForm("Beta", _beta),
    random_ops.LogNormalRV: SymbolicForm("LogNormal", _normal),
}


def observation_information(graph: ModelGraph) -> dict[str, pt.TensorVariable]:
    """Observed-variable name → the information of each of its observations, a graph of
    ``graph.theta`` of shape ``(*shape, d, d)`` with ``shape`` the variable's own (batch)
    shape, reading the model's data containers as they are in the graph.

    Raises ``UnsupportedModelError`` naming the variable when its distribution has no
    symbolic closed form here, or when the observations are not conditionally independent.
    """
    graph.require_observations()
    reason = unsupported_reason(graph)
    if reason is None:
        reason = next(
            (
                f"the observed variable {rv.name} has a {labelled.distribution_name(rv)} "
                "distribution, whose Fisher information is not available as a differentiable "
                "closed form here (the table covers "
                + ", ".join(sorted(form.name for form in SYMBOLIC_FORMS.values()))
                + ")"
                for rv in graph.observed_rvs
                if type(rv.owner.op) not in SYMBOLIC_FORMS
            ),
            None,
        )
    if reason is not None:
        raise UnsupportedModelError(f"the information as a function of the design: {reason}.")
    return {rv.name: closed_form_information(graph, rv) for rv in graph.observed_rvs}


def closed_form_information(graph: ModelGraph, rv) -> pt.TensorVariable:
    """The information of each observation of ``rv`` (whose distribution is in
    :data:`SYMBOLIC_FORMS`), ``(*shape, d, d)``."""
    op = rv.owner.op
    form = SYMBOLIC_FORMS[type(op)]
    size = op.size_param(rv.owner)
    params = [pt.as_tensor(param) for param in op.dist_params(rv.owner)]
    if isinstance(size.type, NoneTypeT):
        shaped = pt.broadcast_arrays(*params)
    else:
        shaped = [pt.broadcast_to(param, size) for param in params]
    batch_shape = shaped[0].shape
    flat = graph.of_theta([pt.cast(param, "float64").ravel() for param in shaped])
    free = [position for position in range(len(flat)) if position not in form.fixed]
    jacobians = {
        position: derivatives.jacobian_forward(flat[position], graph.theta) for position in free
    }
    rows = form.information(*flat)
    terms = []
    for a, left in enumerate(free):
        for b, right in enumerate(free):
            weight = rows[a][b]
            if isinstance(weight, int) and weight == 0:
                continue
            outer = jacobians[left][:, :, None] * jacobians[right][:, None, :]
            terms.append(pt.as_tensor(weight)[..., None, None] * outer)
    information = pt.add(*terms) if len(terms) > 1 else terms[0]
    [batch_shape] = graph.of_theta([batch_shape])
    return information.reshape((*[batch_shape[i] for i in range(rv.ndim)], graph.size, graph.size))
