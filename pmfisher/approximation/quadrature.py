r"""Gauss–Hermite rules for :math:`\int \mathcal N(z \mid 0, I_d)\, g(z)\, dz`: the product
grid up to ``PRODUCT_GRID_MAX_DIMENSION`` dimensions, Smolyak's sparse grid above, and the
polynomial that each rule integrates exactly.

In one dimension the :math:`k`-node rule (probabilists' Hermite nodes, weights summing to 1)
is exact for polynomials of degree up to :math:`2k - 1`, and equals the integral of the
degree-:math:`(k-1)` polynomial :math:`P_g` that interpolates :math:`g` at its nodes. The
product rule in :math:`d` dimensions (:math:`k^d` nodes) integrates the tensor-product
interpolant exactly. Smolyak's sparse grid (the combination technique) is a signed sum of
small product rules,

.. math::

    A(\ell, d) = \sum_{\max(d,\,q-d+1) \le |i| \le q} (-1)^{q-|i|}\binom{d-1}{q-|i|}
      \,U^{i_1}\otimes\cdots\otimes U^{i_d}, \qquad q = d + \ell - 1,

with :math:`U^i` the one-dimensional rule of :math:`2i - 1` nodes, so that its widest
one-dimensional rule has :math:`k = 2\ell - 1` nodes, as the product grid's; it is exact for
the same one-dimensional polynomials and for their products up to total degree
:math:`2\ell - 1`, with far fewer nodes (:func:`rule` says how many). Its weights can be
negative, and its interpolant is the same signed sum of the terms' tensor interpolants.

Examples
--------
>>> r = rule(dimension=2, nodes=3)
>>> r.nodes.shape, round(float(r.weights.sum()), 12)
((9, 2), 1.0)
>>> round(float(r.weights @ r.nodes[:, 0] ** 4), 12)   # E z⁴ = 3, exact up to degree 5
3.0
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from math import comb

import numpy as np
from scipy.interpolate import BarycentricInterpolator
from scipy.special import roots_hermitenorm

from pmfisher.errors import ArgumentError

__all__ = ["PRODUCT_GRID_MAX_DIMENSION", "QuadratureRule", "check_nodes", "rule"]

#: Up to this many dimensions the rule is the full product grid (:math:`k^d` nodes); above
#: it Smolyak's sparse grid. At k = 5, three dimensions take 125 nodes; four would take 625
#: against the sparse grid's 49, ten 9,765,625 against 241 (with the k + 2 = 7 rule of the
#: error indicator, four dimensions take 2,401 against 201).
PRODUCT_GRID_MAX_DIMENSION = 3


@functools.cache
def gauss_hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The one-dimensional rule of ``nodes`` nodes for the standard normal (weights sum
    to 1)."""
    points, weights = roots_hermitenorm(nodes)
    return points, weights / np.sqrt(2 * np.pi)


def check_nodes(nodes) -> int | str:
    """``nodes`` as ``"auto"`` or an odd positive integer (the mode is the middle node), or
    an error."""
    if isinstance(nodes, str) and nodes == "auto":
        return nodes
    if (
        isinstance(nodes, str | bool)
        or not isinstance(nodes, int | np.integer)
        or nodes < 1
        or nodes % 2 == 0
    ):
        raise ArgumentError(
            f"nodes={nodes!r} must be 'auto' or an odd positive integer (1, 3, 5, ...): the "
            "middle node of each dimension is the mode; nodes=1 is the Gaussian at the mode."
        )
    return int(nodes)


@dataclass(frozen=True)
class _Term:
    """One product rule of a combination: its coefficient, its one-dimensional nodes per
    dimension and, for each of its grid points, the index of that node in the rule."""

    coefficient: float
    axes: tuple[np.ndarray, ...]
    index: np.ndarray  # shape (len(axes[0]), ..., len(axes[-1]))


@dataclass(frozen=True)
class QuadratureRule:
    r"""Nodes ``(n, d)`` and weights ``(n,)`` with :math:`\sum_i w_i g(z_i) \approx
    \int\mathcal N(z\mid 0,I) g(z)\,dz`, and the polynomial the rule integrates exactly
    (:meth:`interpolate`). ``kind`` is ``"product"`` or ``"smolyak"``."""

    nodes: np.ndarray
    weights: np.ndarray
    kind: str
    terms: tuple[_Term, ...]

    def interpolate(self, values: np.ndarray, at: np.ndarray) -> np.ndarray:
        r""":math:`P_g` at the rows of ``at``: the polynomial built from ``values`` (:math:`g`
        at the nodes) whose Gaussian integral is exactly :math:`\sum_i w_i g(z_i)`. For the
        product rule it interpolates :math:`g` at the nodes; Smolyak's signed sum of tensor
        interpolants of non-nested rules need not pass through them."""
        at = np.atleast_2d(at)
        total = np.zeros(at.shape[0])
        for term in self.terms:
            tensor = values[term.index]
            # Contract the grid's first axis with its Lagrange basis, then the others
            # row by row.
            first = _lagrange_basis(term.axes[0], at[:, 0])
            partial = np.tensordot(first, tensor, axes=(1, 0))
            for axis, points in enumerate(term.axes[1:], start=1):
                basis = _lagrange_basis(points, at[:, axis])
                partial = np.einsum("sa...,sa->s...", partial, basis)
            total += term.coefficient * partial
        return total


def _lagrange_basis(points: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``(len(at), len(points))``: each Lagrange basis polynomial of ``points`` at ``at``."""
    if points.size == 1:
        return np.ones((at.size, 1))
    return BarycentricInterpolator(points, np.eye(points.size))(at)


def rule(*, dimension: int, nodes: int) -> QuadratureRule:
    """The product rule of ``nodes`` nodes per dimension up to
    ``PRODUCT_GRID_MAX_DIMENSION`` dimensions, Smolyak's of the same widest rule above."""
    nodes = int(check_nodes(nodes))
    if dimension <= PRODUCT_GRID_MAX_DIMENSION or nodes == 1:
        return _combination([(1.0, (nodes,) * dimension)], "product")
    level = (nodes + 1) // 2
    q = dimension + level - 1
    parts = []
    for levels in itertools.product(range(1, level + 1), repeat=dimension):
        total = sum(levels)
        if max(dimension, q - dimension + 1) <= total <= q:
            coefficient = (-1) ** (q - total) * comb(dimension - 1, q - total)
            parts.append((float(coefficient), tuple(2 * i - 1 for i in levels)))
    return _combination(parts, "smolyak")


def _combination(parts, kind: str) -> QuadratureRule:
    """Merge the product rules ``(coefficient, nodes per dimension)`` into one rule: shared
    nodes (the one-dimensional rules of odd size all hold 0) are one node."""
    position: dict[bytes, int] = {}
    points: list[np.ndarray] = []
    weights: list[float] = []
    terms = []
    for coefficient, sizes in parts:
        axes = tuple(gauss_hermite(size)[0] for size in sizes)
        axis_weights = [gauss_hermite(size)[1] for size in sizes]
        index = np.empty(sizes, dtype=int)
        for grid_index in itertools.product(*(range(size) for size in sizes)):
            point = np.array([axes[j][i] for j, i in enumerate(grid_index)])
            # Nodes are symmetric about 0: round away the last bits before merging.
            key = (np.round(point, 12) + 0.0).tobytes()  # -0.0 is 0.0
            if key not in position:
                position[key] = len(points)
                points.append(point)
                weights.append(0.0)
            node = position[key]
            index[grid_index] = node
            weights[node] += coefficient * np.prod(
                [axis_weights[j][i] for j, i in enumerate(grid_index)]
            )
        terms.append(_Term(coefficient, axes, index))
    return QuadratureRule(
        nodes=np.array(points).reshape(len(points), -1),
        weights=np.array(weights),
        kind=kind,
        terms=tuple(terms),
    )
