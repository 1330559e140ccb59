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
  the distribution's quantile function (``pm.icdf``); the point masses of a censored or
  hurdle distribution are summed exactly, and the interval of a censored or truncated one
  is integrated by Gauss–Legendre on the probit scale between its bounds
  (:mod:`pmfisher.information.symbolic_nodes`).

The result's ``attrs`` state what was left out: ``discrete_support``, ``tail_mass`` (the
largest mass of an observation beyond it) and ``tail_mass_tolerance``; ``hermite_nodes``,
``legendre_nodes`` and ``probit_limit`` (the probit scale is integrated over
:math:`[-8, 8]`, leaving out :math:`2\Phi(-8) = 1.2\times10^{-15}` of the mass).

The scores :math:`s_i(y_k)` at every node are one forward-mode Jacobian of the
log-densities at all nodes at once; :math:`I = S^\top \operatorname{diag}(w) S` is positive
semi-definite by construction.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.model.model_graph import ModelGraph
from pmfisher.errors import UnsupportedModelError
from pmfisher.information.symbolic_nodes import HERMITE_NODES, LEGENDRE_NODES, PROBIT_LIMIT
from pmfisher.information.symbolic_quadrature import (
    FIRST_SUPPORT,
    LARGEST_SUPPORT,
    TAIL_MASS,
    quadrature_observation_information,
    quadrature_reason,
)

__all__ = ["quadrature_fisher_matrix"]


def quadrature_fisher_matrix(graph: ModelGraph, theta: np.ndarray) -> tuple[np.ndarray, dict]:
    """The Fisher information of ``graph``'s likelihood at the flat ``theta`` by quadrature
    (see the module docstring), ``(d, d)``, and what the quadrature left out (attributes for
    the result): a discrete support is doubled until less than ``TAIL_MASS`` of every
    observation's mass lies beyond it.

    Raises ``UnsupportedModelError`` naming the variable when quadrature does not apply.
    """
    theta = np.asarray(theta, dtype="float64")
    functions = graph.companion(_Functions)
    _refuse_negative_support(graph, functions, theta)
    support = FIRST_SUPPORT
    while True:
        matrix, tail = functions.information(support)(theta)
        if tail <= TAIL_MASS:
            return 0.5 * (matrix + matrix.T), _statement(functions, support, float(tail))
        if support >= LARGEST_SUPPORT:
            raise UnsupportedModelError(
                f"method='quadrature': a discrete observation leaves {tail:.2g} of its mass "
                f"beyond {support:,}; its tail is too heavy to sum."
            )
        support *= 2


def _statement(functions: _Functions, support: int, tail: float) -> dict:
    """What the quadrature summed and what it left out, for ``attrs``."""
    statement = {}
    if functions.below_support is not None:
        statement.update(
            discrete_support=support, tail_mass=max(tail, 0.0), tail_mass_tolerance=TAIL_MASS
        )
    if functions.continuous:
        statement.update(
            hermite_nodes=HERMITE_NODES,
            legendre_nodes=LEGENDRE_NODES,
            probit_limit=PROBIT_LIMIT,
        )
    return statement


class _Functions:
    """The compiled information for each discrete support tried, and the log-mass at −1."""

    def __init__(self, graph: ModelGraph):
        reason = quadrature_reason(graph)
        if reason is not None:
            raise UnsupportedModelError(f"method='quadrature' is not available: {reason}.")
        self.graph = graph
        self._by_support: dict = {}
        discrete = [rv for rv in graph.observed_rvs if rv.dtype.startswith(("int", "uint"))]
        self.continuous = len(discrete) < len(graph.observed_rvs)
        self.below_support = None
        if discrete:
            values = []
            for rv in discrete:
                [random] = graph.of_theta([rv], observed="random")
                flat = random.ravel()
                # The value reads the variable's shape only, so its random graph is harmless.
                below = pm.logp(flat, pt.full_like(flat, -1), warn_rvs=False)
                values.append(below.max())
            self.below_support = (
                [rv.name for rv in discrete],
                compile_function([graph.theta], pt.stack(values)),
            )

    def information(self, support: int):
        if support not in self._by_support:
            graph = self.graph
            parts = [
                quadrature_observation_information(graph, rv, support) for rv in graph.observed_rvs
            ]
            d = graph.size
            matrix = pt.add(*[info.reshape((-1, d, d)).sum(0) for info, _ in parts])
            tails = [tail for _, tail in parts if tail is not None]
            tail = pt.max(pt.stack(tails)) if tails else pt.constant(0.0)
            self._by_support[support] = compile_function([graph.theta], [matrix, tail])
        return self._by_support[support]


def _refuse_negative_support(graph, functions: _Functions, theta) -> None:
    if functions.below_support is None:
        return
    names, function = functions.below_support
    for name, value in zip(names, function(theta), strict=True):
        if np.isfinite(value):
            raise UnsupportedModelError(
                f"method='quadrature' is not available: the observed variable {name} puts "
                "mass on negative integers; the discrete quadrature sums over 0, 1, 2, ..."
            )
