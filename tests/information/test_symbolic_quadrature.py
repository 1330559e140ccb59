"""The quadrature information as a graph: each observation's information against its closed
form, the tail of a discrete support, the models quadrature does not apply to, and the
graph's derivative with respect to a design's containers."""

import numpy as np
import pymc as pm
import pytest

from pmfisher import UnsupportedModelError, design_criterion, fisher_information
from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.model.model_graph import model_graph
from pmfisher.information.symbolic_quadrature import (
    TAIL_MASS,
    quadrature_observation_information,
    quadrature_reason,
)
from pmfisher.testing import finite_difference_jacobian


def likelihood_graph(model):
    return model_graph(model, space="constrained", terms="likelihood")


def test_normal_observations_have_their_closed_form_information():
    """Per observation, w.r.t. (μ, σ): diag(1/σ², 2/σ²) — the score's second moments under
    the normal, which Gauss–Hermite reproduces exactly."""
    with pm.Model() as model:
        mu, sigma = pm.Normal("mu"), pm.HalfNormal("sigma")
        pm.Normal("y", mu, sigma, observed=np.array([0.1, 0.4, -0.3]))
    graph = likelihood_graph(model)
    information, tail = quadrature_observation_information(graph, model["y"], 64)
    assert tail is None  # continuous: no support to grow
    sigma = 0.7
    values = compile_function([graph.theta], information)(np.array([0.2, sigma]))
    expected = np.broadcast_to(np.diag([1 / sigma**2, 2 / sigma**2]), (3, 2, 2))
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-13)


def test_poisson_information_and_the_mass_beyond_its_support():
    """Y ~ Poisson(λx): information x/λ about λ; with mean 30 a support of 64 leaves a
    tail above TAIL_MASS (P(Y ≥ 64) ≈ 3e-8), one of 256 does not."""
    exposure = np.array([1.0, 3.0, 20.0])
    with pm.Model() as model:
        lam = pm.HalfNormal("lam")
        pm.Poisson("y", lam * exposure, observed=np.array([1, 4, 33]))
    graph = likelihood_graph(model)
    rate = np.array([1.5])
    for support, tail_above in ((64, True), (256, False)):
        information, tail = quadrature_observation_information(graph, model["y"], support)
        values, left = compile_function([graph.theta], [information, tail])(rate)
        assert bool(left > TAIL_MASS) == tail_above
        if not tail_above:
            np.testing.assert_allclose(values[:, 0, 0], exposure / rate[0], rtol=1e-12)


def test_quadrature_reason_names_what_quadrature_cannot_take():
    with pm.Model() as plain:
        mu = pm.Normal("mu")
        pm.Normal("y", mu, 1.0, observed=np.zeros(2))
    assert quadrature_reason(likelihood_graph(plain)) is None
    with pm.Model() as potential:
        mu = pm.Normal("mu")
        pm.Normal("y", mu, 1.0, observed=np.zeros(2))
        pm.Potential("penalty", -(mu**2))
    assert "pm.Potential 'penalty'" in quadrature_reason(likelihood_graph(potential))
    with pm.Model() as multivariate:
        mu = pm.Normal("mu", shape=2)
        pm.MvNormal("y", mu, np.eye(2), observed=np.zeros((3, 2)))
    assert "y is multivariate (MultivariateNormal)" in quadrature_reason(
        likelihood_graph(multivariate)
    )
    with pm.Model() as chained:
        mu = pm.Normal("mu")
        first = pm.Normal("first", mu, 1.0, observed=np.zeros(2))
        pm.Normal("second", first, 1.0, observed=np.zeros(2))
    assert "second depends on the observed first" in quadrature_reason(likelihood_graph(chained))


X5 = np.linspace(-1.0, 1.0, 5)
X4 = np.array([-1.0, -0.3, 0.4, 1.0])
COUNT_POINT = {"a": 0.3, "b": 0.8, "psi": 0.6}


def zero_inflated(x_values):
    """Zero-inflated Poisson counts and Weibull times: no closed form, so quadrature."""
    with pm.Model() as model:
        x = pm.Data("x", x_values)
        a, b = pm.Normal("a"), pm.Normal("b")
        psi = pm.Beta("psi", 2.0, 2.0)
        n = x_values.size
        pm.ZeroInflatedPoisson(
            "y", psi=psi, mu=pm.math.exp(a + b * x), observed=np.ones(n, dtype=int), shape=x.shape
        )
        pm.Weibull("w", alpha=2.0, beta=pm.math.exp(a - b * x), observed=np.ones(n), shape=x.shape)
    return model


def test_quadrature_design_information_is_fisher_information_by_quadrature():
    model = zero_inflated(X5)
    result = design_criterion({"x": X4}, model=model, point=COUNT_POINT)
    at_design = fisher_information(COUNT_POINT, model=zero_inflated(X4), method="quadrature")
    np.testing.assert_allclose(result.information.values, at_design.matrix.values, rtol=1e-12)

    def value(x):
        return design_criterion({"x": x}, model=model, point=COUNT_POINT).value

    reference = finite_difference_jacobian(value, X4, step=1e-3)
    np.testing.assert_allclose(result.gradient["x"], reference, rtol=1e-6, atol=1e-9)
    with pytest.raises(UnsupportedModelError, match=r"y has a Mixture .* information='quadrature'"):
        design_criterion({"x": X4}, model=model, point=COUNT_POINT, information="exact")


def test_quadrature_equals_the_closed_forms_with_its_gradient():
    with pm.Model() as model:
        x = pm.Data("x", X5)
        a, b = pm.Normal("a"), pm.Normal("b")
        pm.Poisson("y", pm.math.exp(a + b * x), observed=np.ones(5, dtype=int), shape=x.shape)
        pm.Gamma("g", alpha=3.0, beta=pm.math.exp(a * x), observed=np.ones(5), shape=x.shape)
    point = {"a": 0.3, "b": 0.8}
    exact = design_criterion({"x": X4}, model=model, point=point, information="exact")
    quadrature = design_criterion({"x": X4}, model=model, point=point, information="quadrature")
    assert quadrature.value == pytest.approx(exact.value, rel=1e-12)
    np.testing.assert_allclose(quadrature.gradient["x"], exact.gradient["x"], rtol=1e-9)
