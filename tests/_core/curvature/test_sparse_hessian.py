"""Compressed sparse Hessians equal the dense ones, on the closed-form table and on
structured models, in every space and term set."""

import numpy as np
import pytest

from pmfisher._core.curvature.sparse_hessian import SparseHessian
from pmfisher._core.model.model_graph import model_graph
from tests.closed_forms import CASES
from tests.structured_models import STRUCTURED, random_point, structured_model


def assert_close(sparse_matrix, dense):
    scale = np.abs(dense).max()
    np.testing.assert_allclose(sparse_matrix.toarray(), dense, rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_sparse_hessian_equals_the_closed_form(case):
    """The table's analytic matrices are what the dense Hessian is tested against elsewhere
    (tests/information/test_observed.py); comparing with them spares a compiled dense
    Hessian per case."""
    graph = model_graph(case.model, space=case.space, terms=case.terms)
    x = graph.flatten(case.point)
    hessian = graph.companion(SparseHessian)(x)
    np.testing.assert_allclose(-hessian.toarray(), case.information, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "space", "terms"),
    [(name, "unconstrained", "posterior") for name in STRUCTURED]
    + [("hierarchical", "constrained", "likelihood")],
)
def test_sparse_hessian_equals_the_dense_hessian(name, space, terms):
    graph = model_graph(structured_model(name), space=space, terms=terms)
    x = random_point(graph, seed=1)
    hessian = graph.companion(SparseHessian)
    result = hessian(x)
    assert result.format == "csc"
    assert (result != result.T).nnz == 0  # exactly symmetric
    assert result.nnz == hessian.pattern.nnz
    assert hessian.n_colours < graph.size
    assert_close(result, graph.hessian_fn(x))


def test_the_compressed_products_hold_every_entry():
    """B = H V with one indicator column per colour: summing B's columns gives H·1."""
    graph = model_graph(structured_model("crossed"), space="unconstrained", terms="posterior")
    x = random_point(graph, seed=2)
    hessian = graph.companion(SparseHessian)
    compressed = hessian.products(x)
    assert compressed.shape == (graph.size, hessian.n_colours)
    np.testing.assert_allclose(
        compressed.sum(axis=1), graph.hessian_fn(x).sum(axis=1), rtol=1e-10, atol=1e-10
    )
