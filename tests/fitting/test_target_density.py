"""The target density the options name, and its curvature by either route."""

import numpy as np
import pymc as pm
import pytest

from pmfisher._core.model.model_graph import ModelGraph
from pmfisher.fitting.laplace_marginal import LaplaceMarginal
from pmfisher.fitting.target_density import hessian_route, negative_hessian, target_density
from pmfisher.testing import finite_difference_hessian


def grouped() -> pm.Model:
    group = np.repeat(np.arange(3), 2)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.LogNormal("tau", 0.0, 1.0)
        b = pm.Normal("b", 0.0, tau, shape=3)
        pm.Normal("y", mu + b[group], 1.0, observed=[0.3, 1.2, -0.4, 0.1, 2.0, 1.1])
    return model


def test_no_latent_variables_is_the_models_graph_and_some_is_its_laplace_marginal():
    model = grouped()
    graph = target_density(model, terms="posterior", space="unconstrained")
    assert isinstance(graph, ModelGraph)
    assert graph.latent == ()
    marginal = target_density(model, terms="likelihood", space="constrained", latent="b")
    assert isinstance(marginal, LaplaceMarginal)
    assert marginal.latent == ("b",)
    assert marginal.labels == ("mu", "tau")
    assert target_density(model, terms="likelihood", space="constrained", latent="b") is marginal


@pytest.mark.parametrize("route", ["dense", "sparse"])
def test_both_routes_give_the_finite_difference_hessian(route):
    model = grouped()
    graph = target_density(model, terms="posterior", space="unconstrained")
    x = np.array([0.4, -0.2, 0.3, -0.5, 0.8])
    found = negative_hessian(graph, x, route)
    found = found.toarray() if route == "sparse" else found
    expected = -finite_difference_hessian(lambda x: graph.logp_and_grad_fn(x)[1], x)
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-6)


def test_a_laplace_marginals_hessian_is_dense_and_its_own():
    model = grouped()
    marginal = target_density(model, terms="likelihood", space="unconstrained", latent="b")
    assert hessian_route(marginal, "sparse") == "dense"
    phi = np.array([0.7, -0.3])
    np.testing.assert_allclose(
        negative_hessian(marginal, phi, "dense"),
        -finite_difference_hessian(lambda phi: marginal.value_and_gradient(phi)[1], phi),
        rtol=1e-5,
        atol=1e-6,
    )
