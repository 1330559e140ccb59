r"""The quadrature information of each observation as a PyTensor graph.

The graph form of :mod:`pmfisher.information.quadrature_fisher`, for observations with no
closed form (zero-inflated, hurdle, truncated, custom): observation :math:`i`'s information
:math:`\sum_k w_{ik}\, s_i(y_{ik})\, s_i(y_{ik})^\top` with

* discrete observations: :math:`y_k = k` for :math:`k < K` and :math:`w_{ik} = p_i(k)`, the
  mass function itself (a graph of θ), and the mass left beyond :math:`K` as a second output,
  which the caller keeps below :data:`~pmfisher.information.quadrature_fisher.TAIL_MASS` by
  doubling :math:`K`;
* continuous observations: the nodes and weights of
  :func:`~pmfisher.information.symbolic_nodes.continuous_rule` (graphs of θ through the
  quantile and distribution functions): Gauss–Hermite on the probit scale, with the point
  masses of censored and hurdle distributions summed exactly and the interval of a censored
  or truncated one integrated by Gauss–Legendre.

The scores are taken at fixed :math:`y` and the nodes substituted afterwards, so the graph
differentiates correctly through both the weights and the nodes — with respect to anything
the distribution's parameters read, such as a design's containers.
"""

from __future__ import annotations

import pytensor.tensor as pt
from pytensor.graph.replace import vectorize_graph
from pytensor.graph.traversal import ancestors

from pmfisher._core.curvature import derivatives
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import ModelGraph
from pmfisher.information.symbolic_nodes import HERMITE_NODES, continuous_rule, log_density

__all__ = [
    "FIRST_SUPPORT",
    "HERMITE_NODES",
    "LARGEST_SUPPORT",
    "TAIL_MASS",
    "quadrature_observation_information",
    "quadrature_reason",
]

#: A discrete observation's support is summed until less probability than this is left.
TAIL_MASS = 1e-14
#: Below this, 1 − Σ p(k) is no longer trusted to measure the tail (see ``_tail_mass``).
ROUNDING = 1e-10
# The largest support searched for a discrete observation before giving up.
LARGEST_SUPPORT = 2**20


# The first support of a discrete observation, doubled until its tail is small.
FIRST_SUPPORT = 64


def quadrature_reason(graph: ModelGraph) -> str | None:
    """Why the quadrature estimator does not apply to ``graph``'s model, or ``None``."""
    if graph.model.potentials:
        names = ", ".join(repr(potential.name) for potential in graph.model.potentials)
        return (
            f"the model has the pm.Potential {names}, a term of the log density that is not "
            "the distribution of an observation, so quadrature has nothing to take its "
            "expectation over; write a likelihood term as pm.CustomDist(..., logp=..., "
            "observed=...), and leave a prior term out of the model given here (the "
            "likelihood's information does not depend on it)"
        )
    observed = set(graph.observed_rvs)
    for rv in graph.observed_rvs:
        if getattr(rv.owner.op, "ndim_supp", 0) != 0:
            return (
                f"the observed variable {rv.name} is multivariate "
                f"({labelled.distribution_name(rv)}); quadrature covers univariate observations"
            )
        dependent = [var.name for var in ancestors(rv.owner.inputs) if var in observed]
        if dependent:
            return (
                f"the distribution of {rv.name} depends on the observed {', '.join(dependent)}, "
                "so the observations are not conditionally independent given the parameters"
            )
    return None


def _tail_mass(weights, support: int):
    """The largest mass an observation leaves beyond ``support``: :math:`1 - \\sum_k p(k)`,
    which is exact only to the rounding of the masses (about 1e-13 for a Poisson mean in the
    hundreds, whose log-mass is a difference of terms near 700). Once that is below
    :data:`ROUNDING`, the mass on the support's upper half — which the last doubling added
    — is taken instead when smaller: for a mass function decreasing past ``support / 2`` at
    least as fast as :math:`y^{-2}` it bounds the tail beyond ``support`` within a factor of
    a few."""
    left = 1.0 - weights.sum(0)
    upper_half = weights[support // 2 :].sum(0)
    return pt.switch(left <= ROUNDING, pt.minimum(left, upper_half), left).max()


def quadrature_observation_information(graph: ModelGraph, rv, support: int):
    """``(information, tail)`` of observed variable ``rv``: its per-observation information
    ``(*shape, d, d)`` and, for a discrete variable, the largest mass left beyond ``support``
    (``None`` for a continuous one)."""
    [random] = graph.of_theta([rv], observed="random")
    batch_shape = random.shape
    flat = random.ravel()
    count = flat.shape[0]
    # One node per observation, then vectorized over the nodes: a variable whose shape is
    # specified (``shape=x.shape``) takes values of its own shape only.
    placeholder = pt.vector("node", dtype=rv.dtype)
    log_densities = pt.cast(log_density(random, placeholder), "float64")
    scores = derivatives.jacobian_forward(log_densities, graph.theta)
    if rv.dtype.startswith(("int", "uint")):
        nodes = pt.broadcast_to(pt.arange(support, dtype=rv.dtype)[:, None], (support, count))
        scores, log_mass = vectorize_graph([scores, log_densities], replace={placeholder: nodes})
        weights = pt.exp(log_mass)
        tail = _tail_mass(weights, support)
    else:
        pieces = continuous_rule(random, rv.name)
        nodes = pt.concatenate([n.reshape((n.shape[0], count)) for n, _ in pieces])
        weights = pt.concatenate([w.reshape((w.shape[0], count)) for _, w in pieces])
        [scores] = vectorize_graph([scores], replace={placeholder: pt.cast(nodes, rv.dtype)})
        tail = None
    d = graph.size
    # A node without mass (past a discrete support's end, a censoring bound that is
    # infinite in the data) may have a score that is not finite; it contributes nothing.
    outer = weights[:, :, None, None] * scores[:, :, :, None] * scores[:, :, None, :]
    information = pt.switch(weights[:, :, None, None] > 0, outer, 0.0).sum(0)
    shape = [batch_shape[i] for i in range(rv.ndim)]
    return information.reshape((*shape, d, d)), tail
