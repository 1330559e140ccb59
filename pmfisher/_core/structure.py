"""Dense or sparse: the route a function takes for a model's Hessian (``structure=``).

``"dense"`` forms the d × d Hessian (``ModelGraph.hessian_fn``) and factorizes it with
LAPACK; ``"sparse"`` forms it with the structure of its sparsity pattern
(:class:`~pmfisher._core.sparse_hessian.SparseHessian`) and factorizes it with CHOLMOD.
``"auto"`` reads the pattern (never the dense matrix) and takes the sparse route when the
model has at least ``SPARSE_MINIMUM_SIZE`` parameters and at most ``SPARSE_MAXIMUM_DENSITY``
of the Hessian's entries can be nonzero; below that size a dense d × d matrix is small
(< 2 MB) and LAPACK on it is as fast as any sparse factorization.
"""

from __future__ import annotations

from typing import Literal

from pmfisher._core.model_graph import ModelGraph
from pmfisher._core.options import check_option
from pmfisher._core.sparse_hessian import hessian_pattern

__all__ = ["SPARSE_MAXIMUM_DENSITY", "SPARSE_MINIMUM_SIZE", "Route", "Structure", "route"]

Structure = Literal["auto", "dense", "sparse"]
Route = Literal["dense", "sparse"]

SPARSE_MINIMUM_SIZE = 400
SPARSE_MAXIMUM_DENSITY = 0.05


def route(graph: ModelGraph, structure: Structure) -> Route:
    """The route ``structure`` asks for on ``graph``: ``"auto"`` resolved as described above."""
    check_option("structure", structure, Structure)
    if structure != "auto":
        return structure
    if graph.size < SPARSE_MINIMUM_SIZE:
        return "dense"
    pattern = hessian_pattern(graph)
    return "sparse" if pattern.nnz <= SPARSE_MAXIMUM_DENSITY * graph.size**2 else "dense"
