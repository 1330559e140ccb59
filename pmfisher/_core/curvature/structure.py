"""The ``structure`` option: whether a Hessian is formed densely or from its sparsity pattern.

The same rule (:func:`choose_structure`) chooses the route of the exact Fisher information,
whose sparse route compresses the Jacobians of the distribution parameters
(:mod:`pmfisher.information.sparse_fisher`) as the sparse Hessian compresses its products.

``"dense"`` is the batched reverse pass of :func:`pmfisher._core.curvature.derivatives.hessian`
(about ``d`` gradients of work at once, ``d × n`` memory); ``"sparse"`` is the compressed Hessian of
:class:`~pmfisher._core.curvature.sparse_hessian.SparseHessian` (``k`` Hessian-vector products,
``k`` the number of star colours of the pattern read from the graph). ``"auto"`` chooses:

* dense below :data:`AUTO_MIN_SIZE` parameters, where the pattern is not worth reading, and
  where the pattern cannot be read (an operation that does not evaluate in Python);
* sparse whenever the dense route's batched graph would not fit in memory
  (:mod:`pmfisher._core.curvature.memory`);
* otherwise sparse when the pattern needs at most ``d`` / :data:`AUTO_COLOURS_PER_SIZE`
  colours, dense if not (a pattern more than :data:`DENSE_PATTERN` full is not coloured).

The thresholds come from ``benchmarks/sparse_hessian.py`` on the hierarchical model (four
colours at every size), steady state on this project's 2-core machine:

======  ========  ==========  ============
d       sparse    dense       dense/sparse
======  ========  ==========  ============
23      0.73 ms   0.99 ms     1.3×
503     0.65 ms   222 ms      340×
5,003   12.8 ms   (19.6 GiB)  —
======  ========  ==========  ============

The sparse Hessian costs about ``k`` forward-over-reverse products (5–12 gradients here), the
dense one a batched pass over all ``d`` directions, so sparse wins from a few dozen parameters
on once ``k`` is a small fraction of ``d``; below :data:`AUTO_MIN_SIZE` both take about a
millisecond and the pattern is not worth reading.
"""

from __future__ import annotations

from typing import Literal

from pmfisher._core.curvature import memory
from pmfisher._core.curvature.sparse_hessian import SparseHessian
from pmfisher._core.curvature.sparsity import hessian_sparsity
from pmfisher._core.options import Structure, check_option
from pmfisher.errors import UnsupportedModelError

__all__ = [
    "AUTO_COLOURS_PER_SIZE",
    "AUTO_MIN_SIZE",
    "DENSE_PATTERN",
    "choose_structure",
    "hessian_structure",
]

AUTO_MIN_SIZE = 50
AUTO_COLOURS_PER_SIZE = 4
DENSE_PATTERN = 0.25


def hessian_structure(graph, structure: Structure) -> Literal["dense", "sparse"]:
    """The route for ``graph``'s Hessian under the ``structure`` option.

    Raises :class:`~pmfisher.errors.InsufficientMemoryError` for ``structure="dense"`` when
    the dense route would not fit, saying what it would need.
    """
    return choose_structure(
        structure,
        size=graph.size,
        pattern=lambda: graph.companion(hessian_sparsity),
        n_colours=lambda: graph.companion(SparseHessian).n_colours,
        what=f"the dense Hessian of {graph.size} parameters",
    )


def choose_structure(
    structure: Structure, *, size: int, pattern, n_colours, what: str
) -> Literal["dense", "sparse"]:
    """The rule of the module docstring, shared by every matrix with a sparse route.

    ``pattern()`` returns the matrix's sparsity (``intermediate_elements``, the θ-dependent
    elements a dense route batches ``size``-fold, and ``density``) or raises
    :class:`~pmfisher.errors.UnsupportedModelError` when it cannot be read; ``n_colours()``
    the number of compressed products of the sparse route; ``what`` names the dense matrix.
    Both are called only when needed.
    """
    check_option("structure", structure, Structure)
    if structure == "sparse":
        return "sparse"
    if size < AUTO_MIN_SIZE:
        # At most AUTO_MIN_SIZE times the gradient's memory: not worth estimating.
        return "dense"
    try:
        sparsity = pattern()
    except UnsupportedModelError:
        return "dense"  # no pattern: neither a sparse route nor an estimate to guard with
    needed = memory.dense_hessian_bytes(size, sparsity.intermediate_elements)
    if structure == "dense":
        memory.require_fits(
            needed,
            f"{what} (a batched graph of {size} × {sparsity.intermediate_elements} elements)",
            instead="pass structure='sparse' (or 'auto') to form it from its sparsity pattern.",
        )
        return "dense"
    if not memory.fits(needed):
        return "sparse"
    if sparsity.density > DENSE_PATTERN:
        return "dense"
    return "sparse" if n_colours() * AUTO_COLOURS_PER_SIZE <= size else "dense"
