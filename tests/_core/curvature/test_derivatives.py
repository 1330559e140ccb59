"""Every derivative engine against the finite-difference reference, on every model in the table."""

import numpy as np
import pytensor.tensor as pt
import pytest

import pmfisher
from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.curvature import derivatives
from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.model.model_graph import model_graph
from pmfisher.testing import finite_difference_hessian, finite_difference_jacobian
from tests.closed_forms import CASES

SPACES = ["constrained", "unconstrained"]
TERMS = ["likelihood", "posterior"]
MODELS = {case.factory.__name__: case for case in CASES}.values()


def graph_and_x(case, space, terms):
    graph = model_graph(case.model, space=space, terms=terms)
    return graph, graph.flatten(case.point)


@pytest.mark.parametrize("terms", TERMS)
@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("case", MODELS, ids=lambda case: case.factory.__name__)
def test_hessian_matches_finite_differences(case, space, terms):
    graph, x = graph_and_x(case, space, terms)
    exact = graph.hessian_fn(x)
    reference = finite_difference_hessian(lambda x: graph.logp_and_grad_fn(x)[1], x)
    np.testing.assert_allclose(exact, reference, rtol=1e-7, atol=1e-7 * np.abs(reference).max())


@pytest.mark.parametrize("case", MODELS, ids=lambda case: case.factory.__name__)
def test_scan_fallback_hessian_equals_vectorized(case):
    graph, x = graph_and_x(case, "unconstrained", "posterior")
    scanned = compile_function(
        [graph.theta], derivatives.hessian(graph.logp, graph.theta, vectorize=False)
    )
    np.testing.assert_allclose(scanned(x), graph.hessian_fn(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", MODELS, ids=lambda case: case.factory.__name__)
def test_hessian_vector_product_equals_dense(case):
    graph, x = graph_and_x(case, "unconstrained", "posterior")
    v = np.random.default_rng(1).normal(size=x.size)
    np.testing.assert_allclose(
        graph.hessian_vector_fn(x, v), graph.hessian_fn(x) @ v, rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("case", MODELS, ids=lambda case: case.factory.__name__)
def test_scores_match_finite_differences_and_sum_to_gradient(case, space):
    graph, x = graph_and_x(case, space, "likelihood")
    scores = pmfisher.scores(graph.constrained_point(x), model=graph.model, space=space).values
    assert scores.shape == (len(graph.observation_labels), graph.size)
    likelihood = data_likelihood(graph.model, space=space)
    pointwise = compile_function([graph.theta, *likelihood.data.values()], likelihood.pointwise)
    data = likelihood.observed_data.values()
    reference = finite_difference_jacobian(lambda theta: pointwise(theta, *data), x)
    np.testing.assert_allclose(scores, reference, rtol=1e-7, atol=1e-7 * np.abs(reference).max())
    np.testing.assert_allclose(
        scores.sum(axis=0), graph.logp_and_grad_fn(x)[1], rtol=1e-10, atol=1e-9
    )


def test_forward_jacobian_of_a_nonlinear_vector():
    theta = pt.vector("theta", dtype="float64")
    f = pt.stack([theta[0] * pt.sin(theta[1]), pt.exp(theta[0] + theta[1]), theta[1] ** 3])
    jac = compile_function([theta], derivatives.jacobian_forward(f, theta))
    x = np.array([0.3, -1.2])
    expected = [
        [np.sin(x[1]), x[0] * np.cos(x[1])],
        [np.exp(x.sum()), np.exp(x.sum())],
        [0.0, 3 * x[1] ** 2],
    ]
    np.testing.assert_allclose(jac(x), expected, rtol=1e-14)
