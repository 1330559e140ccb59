r"""Expected information by deterministic quadrature over each observation's distribution.

For conditionally independent univariate observations with densities (or mass functions)
:math:`p_i(y \mid \theta)`, the Fisher information is a sum of one-dimensional expectations,

.. math::

    I(\theta) = \sum_i E_{Y_i}\!\left[s_i(Y_i)\, s_i(Y_i)^\top\right], \qquad
    s_i(y) = \nabla_\theta \log p_i(y \mid \theta),

which are computed here by quadrature instead of simulation, so that distributions without
a closed form (zero-inflated, hurdle, truncated, custom) get an expected information with no
Monte Carlo noise:

* **discrete** observations (non-negative integers): the sum over :math:`y = 0, 1, \dots,
  y_{\max}`, with :math:`y_{\max}` doubled until the mass left beyond it is below
  :data:`TAIL_MASS` for every observation;
* **continuous** observations: Gauss–Hermite on the probit scale,
  :math:`E[g(Y)] = E_Z[g(F^{-1}(\Phi(Z)))]`, :math:`Z \sim N(0, 1)`, with
  :data:`HERMITE_NODES` nodes (exact for a Normal observation's polynomial scores), through
  the distribution's quantile function (``pm.icdf``).

The scores :math:`s_i(y_k)` at every node are one forward-mode Jacobian of the
log-densities at all nodes at once; :math:`I = S^\top \operatorname{diag}(w) S` is positive
semi-definite by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.traversal import ancestors
from scipy import special

from pmfisher._core import derivatives, labelled
from pmfisher._core.compilation import CompiledFunction, compile_function
from pmfisher._core.model_graph import ModelGraph
from pmfisher.errors import UnsupportedModelError

__all__ = ["HERMITE_NODES", "TAIL_MASS", "quadrature_fisher_matrix", "quadrature_reason"]

#: A discrete observation's support is summed until less probability than this is left.
TAIL_MASS = 1e-14
#: Gauss–Hermite nodes on the probit scale for a continuous observation. Sixteen keep the
#: outermost node's tail probability at 1.4e-6, where quantile functions written through
#: ``erfinv(2p - 1)`` are still accurate (at twenty, PyMC's Beta quantile is not finite), and
#: reproduce the closed forms of the Normal, Gamma and Beta to 6e-10, relative
#: (``tests/information/test_quadrature_fisher.py``).
HERMITE_NODES = 16
# The largest support searched for a discrete observation before giving up.
LARGEST_SUPPORT = 2**22


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


@dataclass(frozen=True)
class _Variable:
    """One observed variable's log-density at a matrix of nodes (nodes × observations) and
    its scores there, compiled; ``discrete`` says which quadrature applies."""

    name: str
    discrete: bool
    size: int
    log_density: CompiledFunction  # (theta, nodes) -> (K, n)
    information: CompiledFunction  # (theta, nodes, weights) -> (d, d)
    quantile: CompiledFunction | None  # (theta, probabilities) -> (K, n)


def _variables(graph: ModelGraph) -> list[_Variable]:
    reason = quadrature_reason(graph)
    if reason is not None:
        raise UnsupportedModelError(f"method='quadrature' is not available: {reason}.")
    variables = []
    for rv in graph.observed_rvs:
        [random] = graph.of_theta([rv], observed="random")
        data = graph.data_inputs[rv.name]
        size = int(np.prod(pt.as_tensor(data).shape.eval(), dtype=int))
        discrete = rv.dtype.startswith(("int", "uint"))
        nodes = pt.matrix("nodes", dtype=rv.dtype)
        flat_random = pt.broadcast_to(random, pt.as_tensor(data).shape).ravel()
        log_density = pt.cast(pm.logp(flat_random, nodes), "float64")
        weights = pt.matrix("weights", dtype="float64")
        scores = derivatives.jacobian_forward(log_density.ravel(), graph.theta)
        information = pt.dot(scores.T, weights.ravel()[:, None] * scores)
        quantile = None
        if not discrete:
            probabilities = pt.matrix("probabilities", dtype="float64")
            try:
                quantile_graph = pm.icdf(flat_random, probabilities)
            except NotImplementedError:
                raise UnsupportedModelError(
                    f"method='quadrature' is not available: the observed variable {rv.name} "
                    f"({labelled.distribution_name(rv)}) has no quantile function (icdf) in "
                    "PyMC, which the continuous quadrature needs."
                ) from None
            quantile = compile_function([graph.theta, probabilities], quantile_graph)
        variables.append(
            _Variable(
                rv.name,
                discrete,
                size,
                compile_function([graph.theta, nodes], log_density),
                compile_function([graph.theta, nodes, weights], information),
                quantile,
            )
        )
    return variables


def quadrature_fisher_matrix(graph: ModelGraph, theta: np.ndarray) -> np.ndarray:
    """The Fisher information of ``graph``'s likelihood at the flat ``theta`` by quadrature
    (see the module docstring), ``(d, d)``.

    Raises ``UnsupportedModelError`` naming the variable when quadrature does not apply.
    """
    theta = np.asarray(theta, dtype="float64")
    matrix = np.zeros((graph.size, graph.size))
    for variable in graph.companion(_variables):
        if variable.discrete:
            nodes, weights = _discrete_nodes(variable, theta)
        else:
            nodes, weights = _continuous_nodes(variable, theta)
        matrix += variable.information(theta, nodes, weights)
    return 0.5 * (matrix + matrix.T)


def _discrete_nodes(variable: _Variable, theta: np.ndarray):
    below = variable.log_density(theta, np.full((1, variable.size), -1, dtype="int64"))
    if np.any(np.isfinite(below) & (below > -np.inf)):
        raise UnsupportedModelError(
            f"method='quadrature' is not available: the observed variable {variable.name} puts "
            "mass on negative integers; the discrete quadrature sums over 0, 1, 2, ..."
        )
    upper = 64
    while True:
        nodes = np.broadcast_to(np.arange(upper)[:, None], (upper, variable.size))
        mass = np.exp(variable.log_density(theta, nodes.astype("int64")))
        left = 1.0 - mass.sum(axis=0)
        if np.all(left <= TAIL_MASS):
            return nodes.astype("int64"), mass
        if upper >= LARGEST_SUPPORT:
            raise UnsupportedModelError(
                f"method='quadrature': the observed variable {variable.name} leaves "
                f"{left.max():.2g} of its mass beyond {upper:,}; its tail is too heavy to sum."
            )
        upper *= 2


def _continuous_nodes(variable: _Variable, theta: np.ndarray):
    z, w = special.roots_hermitenorm(HERMITE_NODES)
    probabilities = np.broadcast_to(special.ndtr(z)[:, None], (z.size, variable.size))
    nodes = variable.quantile(theta, np.ascontiguousarray(probabilities))
    if not np.all(np.isfinite(nodes)):
        raise UnsupportedModelError(
            f"method='quadrature': the quantile function of the observed variable "
            f"{variable.name} is not finite at the Gauss–Hermite nodes' probabilities "
            f"({probabilities[0, 0]:.3g} to {probabilities[-1, 0]:.3g})."
        )
    weights = np.broadcast_to((w / w.sum())[:, None], nodes.shape)
    return np.asarray(nodes, dtype="float64"), np.ascontiguousarray(weights)
