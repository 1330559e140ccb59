r"""The quadrature information of each observation as a PyTensor graph.

The graph form of :mod:`pmfisher.information.quadrature_fisher`, for observations with no
closed form (zero-inflated, hurdle, truncated, custom): observation :math:`i`'s information
:math:`\sum_k w_{ik}\, s_i(y_{ik})\, s_i(y_{ik})^\top` with

* discrete observations: :math:`y_k = k` for :math:`k < K` and :math:`w_{ik} = p_i(k)`, the
  mass function itself (a graph of θ), and the mass left beyond :math:`K` as a second output,
  which the caller keeps below :data:`~pmfisher.information.quadrature_fisher.TAIL_MASS` by
  doubling :math:`K`;
* continuous observations: :math:`y_{ik} = F_i^{-1}(\Phi(z_k))` at the Gauss–Hermite nodes
  :math:`z_k` (a graph of θ through the quantile function) and :math:`w_k` their weights.

The scores are taken at fixed :math:`y` and the nodes substituted afterwards, so the graph
differentiates correctly through both the weights and the nodes — with respect to anything
the distribution's parameters read, such as a design's containers.
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.replace import vectorize_graph
from pytensor.graph.traversal import ancestors
from scipy import special

from pmfisher._core.curvature import derivatives
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import ModelGraph
from pmfisher.errors import UnsupportedModelError

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
#: Gauss–Hermite nodes on the probit scale for a continuous observation. Sixteen keep the
#: outermost node's tail probability at 1.4e-6, where quantile functions written through
#: ``erfinv(2p - 1)`` are still accurate (at twenty, PyMC's Beta quantile is not finite), and
#: reproduce the closed forms of the Normal, Gamma and Beta to 6e-10, relative
#: (``tests/information/test_quadrature_fisher.py``).
HERMITE_NODES = 16
# The largest support searched for a discrete observation before giving up.
LARGEST_SUPPORT = 2**20


# The first support of a discrete observation, doubled until its tail is small.
FIRST_SUPPORT = 64


def quadrature_reason(graph: ModelGraph) -> str | None:
    """Why the quadrature estimator does not apply to ``graph``'s model, or ``None``."""
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


def quadrature_observation_information(graph: ModelGraph, rv, support: int):
    """``(information, tail)`` of observed variable ``rv``: its per-observation information
    ``(*shape, d, d)`` and, for a discrete variable, the largest mass left beyond ``support``
    (``None`` for a continuous one)."""
    [random] = graph.of_theta([rv], observed="random")
    batch_shape = random.shape
    flat = random.ravel()
    count = flat.shape[0]
    discrete = rv.dtype.startswith(("int", "uint"))
    # One node per observation, then vectorized over the nodes: a variable whose shape is
    # specified (``shape=x.shape``) takes values of its own shape only.
    placeholder = pt.vector("node", dtype=rv.dtype)
    log_density = pt.cast(pm.logp(flat, placeholder), "float64")
    scores = derivatives.jacobian_forward(log_density, graph.theta)
    if discrete:
        nodes = pt.broadcast_to(pt.arange(support, dtype=rv.dtype)[:, None], (support, count))
        scores, log_mass = vectorize_graph([scores, log_density], replace={placeholder: nodes})
        weights = pt.exp(log_mass)
        tail = (1.0 - weights.sum(0)).max()
    else:
        z, w = special.roots_hermitenorm(HERMITE_NODES)
        probability = pt.vector("probability", dtype="float64")
        try:
            quantile = pm.icdf(flat, probability)
        except NotImplementedError:
            raise UnsupportedModelError(
                f"the observed variable {rv.name} ({labelled.distribution_name(rv)}) has no "
                "closed-form information and no quantile function (icdf) in PyMC, which the "
                "continuous quadrature needs."
            ) from None
        probabilities = pt.broadcast_to(pt.as_tensor(special.ndtr(z))[:, None], (z.size, count))
        [nodes] = vectorize_graph([quantile], replace={probability: probabilities})
        [scores] = vectorize_graph([scores], replace={placeholder: pt.cast(nodes, rv.dtype)})
        weights = pt.broadcast_to(pt.as_tensor(w / w.sum())[:, None], (z.size, count))
        tail = None
    d = graph.size
    information = (weights[:, :, None, None] * scores[:, :, :, None] * scores[:, :, None, :]).sum(0)
    shape = [batch_shape[i] for i in range(rv.ndim)]
    return information.reshape((*shape, d, d)), tail
