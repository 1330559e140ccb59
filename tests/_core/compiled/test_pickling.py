"""Graphs and compiled functions pickle without PyTensor's link- and gradient-time state."""

import pickle

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.builders import OpFromGraph

from pmfisher._core.compiled.graph_digest import graph_digest
from pmfisher._core.compiled.pickling import pickled


def test_an_inner_graph_digests_the_same_before_and_after_its_gradient_is_built():
    """Building a gradient fills the OpFromGraph's cache of gradient builders (closures):
    the cache key of a graph holding it must not depend on whether this process did."""
    x = pt.vector("x")
    square = OpFromGraph([x], [x**2 + pt.sin(x)])
    y = pt.vector("y")
    output = square(y).sum()
    before = graph_digest([y], [output], ())
    pytensor.grad(output, y)
    assert square._lop_op_cache  # the state this is about exists
    assert graph_digest([y], [output], ()) == before


def test_a_linked_function_with_batched_linear_algebra_and_an_inner_graph_round_trips():
    """A Blockwise solve (its node holds a gufunc closure once called) inside and outside
    an OpFromGraph that has been linked and differentiated: the pickle loads and computes
    the same, where plain pickling fails."""
    a, b = pt.tensor3("a"), pt.matrix("b")
    inner_a, inner_b = pt.tensor3("inner_a"), pt.matrix("inner_b")
    solve = OpFromGraph([inner_a, inner_b], [pt.linalg.solve(inner_a, inner_b, b_ndim=1)])
    value = (solve(a, b) ** 2).sum() + pt.linalg.solve(a, b, b_ndim=1).sum()
    function = pytensor.function([a, b], [value, pytensor.grad(value, b)])
    rng = np.random.default_rng(0)
    matrices = rng.normal(size=(4, 3, 3)) + 3 * np.eye(3)
    vectors = rng.normal(size=(4, 3))
    expected = function(matrices, vectors)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(function)  # the state it must leave out is there
    loaded = pickle.loads(pickled(function))
    for got, want in zip(loaded(matrices, vectors), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_rewritten_function_pickles_without_the_variables_rewritten_away():
    """A rewritten graph keeps a ``clients`` entry (and a destroy-handler entry, and a
    history record) for every variable it ever held; the pickle keeps the live ones only,
    and computes the same."""
    x = pt.vector("x", shape=(5,))
    logp = pt.exp(x[:-1] * x[1:]).sum() - pt.log1p(x**2).sum()
    hessian = pytensor.gradient.hessian(logp, x)
    third = pytensor.grad((hessian * pt.outer(x, x)).sum(), x)
    function = pytensor.function([x], [hessian, third])
    graph = function.maker.fgraph
    assert len(graph.clients) > 2 * len(graph.variables)  # the dead entries exist
    loaded = pickle.loads(pickled(function))
    loaded_graph = loaded.maker.fgraph
    assert set(loaded_graph.clients) == set(loaded_graph.variables)
    assert set(loaded_graph.destroy_handler.clients) <= set(loaded_graph.variables)
    point = np.linspace(-0.8, 0.9, 5)
    for got, want in zip(loaded(point), function(point), strict=True):
        np.testing.assert_array_equal(got, want)
