"""TEMPORARY STAND-IN, on the ``sparseuse`` branch only, for the ``structure`` option's
chooser that the ``sparse`` branch builds (same name, same signature: at merge the real
module replaces this file whole).

``hessian_structure(graph, structure)`` is the route for a graph's Hessian: ``"dense"``
(``ModelGraph.hessian_fn``, LAPACK) or ``"sparse"``
(:class:`~pmfisher._core.sparse_hessian.SparseHessian`, CHOLMOD). Here ``"auto"`` takes the
sparse route when the model has at least ``AUTO_MIN_SIZE`` parameters and at most
``DENSE_PATTERN`` of the Hessian's entries can be nonzero.
"""

from __future__ import annotations

from typing import Literal

from pmfisher._core.model_graph import ModelGraph
from pmfisher._core.options import Structure, check_option
from pmfisher._core.sparse_hessian import hessian_pattern

__all__ = ["AUTO_MIN_SIZE", "DENSE_PATTERN", "hessian_structure"]

AUTO_MIN_SIZE = 400
DENSE_PATTERN = 0.05


def hessian_structure(graph: ModelGraph, structure: Structure) -> Literal["dense", "sparse"]:
    """The route ``structure`` asks for on ``graph``: ``"auto"`` resolved as described above."""
    check_option("structure", structure, Structure)
    if structure != "auto":
        return structure
    if graph.size < AUTO_MIN_SIZE:
        return "dense"
    pattern = hessian_pattern(graph)
    return "sparse" if pattern.nnz <= DENSE_PATTERN * graph.size**2 else "dense"
