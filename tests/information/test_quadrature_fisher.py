"""The quadrature estimator: equal to every closed form that exists, and to the Monte Carlo
estimator within its MCSE where none does."""

import numpy as np
import pymc as pm
import pytest

from pmfisher import UnsupportedModelError, fisher_information

X = np.linspace(-1.0, 1.0, 5)


@pytest.fixture(scope="module")
def closed_form_models():
    """Every observation has a closed form: quadrature must reproduce it."""
    with pm.Model() as counts:
        a, b = pm.Normal("a"), pm.Normal("b")
        pm.Poisson("y", pm.math.exp(a + b * X), observed=np.ones(5, dtype=int))
        pm.NegativeBinomial(
            "z", mu=pm.math.exp(a - b * X), alpha=3.0, observed=np.ones(5, dtype=int)
        )
        pm.Binomial("k", n=12, p=pm.math.sigmoid(a + b * X), observed=np.ones(5, dtype=int))
    with pm.Model() as continuous:
        a, s, shape = pm.Normal("a"), pm.HalfNormal("s"), pm.HalfNormal("shape")
        pm.Normal("y", a + X, s, observed=np.ones(5))
        pm.Gamma("g", alpha=shape, beta=pm.math.exp(a * X), observed=np.ones(5))
        pm.Beta("b", alpha=shape, beta=pm.math.exp(a * X), observed=np.full(5, 0.5))
    return [
        (counts, {"a": 0.3, "b": 0.8}, 1e-12),
        (continuous, {"a": 0.3, "s": 0.7, "shape": 2.5}, 1e-8),
    ]


def test_quadrature_equals_the_closed_forms(closed_form_models):
    for model, point, tolerance in closed_form_models:
        exact = fisher_information(point, model=model, method="exact").matrix.values
        quadrature = fisher_information(point, model=model, method="quadrature")
        assert quadrature.method == "quadrature"
        np.testing.assert_allclose(
            quadrature.matrix.values, exact, rtol=tolerance, atol=tolerance * np.abs(exact).max()
        )


def test_quadrature_agrees_with_monte_carlo_without_a_closed_form():
    """Zero-inflated Poisson (discrete, a mixture) and Weibull (continuous): no closed form
    in the table; Monte Carlo's two estimators within 4 MCSE of the quadrature."""
    with pm.Model() as model:
        a, b = pm.Normal("a"), pm.Normal("b")
        psi = pm.Beta("psi", 2.0, 2.0)
        pm.ZeroInflatedPoisson(
            "y", psi=psi, mu=pm.math.exp(a + b * X), observed=np.ones(5, dtype=int)
        )
        pm.Weibull("w", alpha=2.0, beta=pm.math.exp(a - b * X), observed=np.ones(5))
    point = {"a": 0.3, "b": 0.8, "psi": 0.6}
    with pytest.raises(UnsupportedModelError):
        fisher_information(point, model=model, method="exact")
    quadrature = fisher_information(point, model=model, method="quadrature").matrix.values
    mc = fisher_information(
        point, model=model, method="monte_carlo", replicates=4000, random_seed=7
    )
    for estimate, mcse in [
        (mc.score_covariance.values, mc.mcse.score_covariance.values),
        (mc.negative_hessian.values, mc.mcse.negative_hessian.values),
    ]:
        assert np.all(np.abs(quadrature - estimate) <= 4 * mcse)
    assert np.all(np.linalg.eigvalsh(quadrature) > 0)


def test_multivariate_observations_are_refused():
    with pm.Model() as model:
        mu = pm.Normal("mu", shape=2)
        pm.MvNormal("y", mu, np.eye(2), observed=np.zeros((3, 2)))
    with pytest.raises(UnsupportedModelError, match="y is multivariate"):
        fisher_information({"mu": np.zeros(2)}, model=model, method="quadrature")
