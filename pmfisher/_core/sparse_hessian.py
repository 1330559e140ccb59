"""TEMPORARY STAND-IN, on the ``sparseuse`` branch only, for the sparse Hessian engine that the
``sparse`` branch builds (issue 12, items 1–3). It has exactly the agreed interface so that
the code using it (sparse Newton in ``find_mode``, sparse Laplace) runs and is tested now;
at merge the real module replaces this file whole.

It is correct but not sparse in cost: the Hessian is the dense ``graph.hessian_fn`` with the
entries outside the pattern dropped, and the pattern is the union of the nonzeros of the dense
Hessian at two points (not a proof from the graph). Every column gets a colour of its own.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from pmfisher._core.model_graph import ModelGraph, model_graph

__all__ = ["SparseHessian", "hessian_pattern"]


class SparseHessian:
    """The Hessian of ``graph.logp`` (not negated) as a SciPy CSC array with ``pattern``'s
    structure; built once per graph with ``graph.companion(SparseHessian)``."""

    def __init__(self, graph: ModelGraph):
        self.graph = graph
        self.pattern = hessian_pattern(graph)
        self.colours = np.arange(graph.size)
        self.n_colours = graph.size
        coo = self.pattern.tocoo()
        self._rows, self._columns = coo.row, coo.col

    def __call__(self, x: np.ndarray) -> sparse.csc_array:
        dense = np.asarray(self.graph.hessian_fn(np.asarray(x, dtype="float64")))
        values = dense[self._rows, self._columns]
        shape = (self.graph.size, self.graph.size)
        return sparse.csc_array((values, (self._rows, self._columns)), shape=shape)


def hessian_pattern(graph: ModelGraph) -> sparse.csc_array:
    """Union of the dense Hessian's nonzeros at the initial point and a jittered one."""
    return graph.companion(_pattern)


def _pattern(graph: ModelGraph) -> sparse.csc_array:
    unconstrained = model_graph(graph.model, space="unconstrained", terms=graph.terms)
    start = unconstrained.flatten(graph.model.initial_point())
    jitter = np.random.default_rng(0).uniform(0.05, 0.1, size=start.size)
    nonzero = np.zeros((graph.size, graph.size), dtype=bool)
    for u in (start, start * (1 + jitter) + jitter):
        x = graph.flatten(unconstrained.constrained_point(u))
        nonzero |= np.asarray(graph.hessian_fn(x)) != 0
    nonzero |= nonzero.T | np.eye(graph.size, dtype=bool)
    return sparse.csc_array(nonzero)
