"""The sandwich covariance against statsmodels' HC0 covariance."""

import numpy as np
import pytest

from pmfisher.errors import NotPositiveDefiniteError
from pmfisher.information.sandwich import sandwich_covariance
from tests.closed_forms import (
    BERNOULLI_Y,
    NORMAL_Y,
    POISSON_Y,
    bernoulli,
    model_for,
    normal,
    poisson,
)
from tests.statsmodels_cases import CASES, point_of, statsmodels_fit


@pytest.mark.parametrize("name", list(CASES))
def test_matches_statsmodels_hc0_at_its_estimate(name):
    _, results = statsmodels_fit(name)
    covariance = sandwich_covariance(point_of(name, results.params), model=CASES[name]())
    np.testing.assert_allclose(covariance.values, results.cov_params(), rtol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_default_point_is_the_mle(name):
    _, results = statsmodels_fit(name)
    covariance = sandwich_covariance(model=CASES[name]())
    np.testing.assert_allclose(covariance.values, results.cov_params(), rtol=1e-6)


def test_poisson_closed_form():
    """λ̂ = ȳ: J = n/ȳ, K = Σ(y−ȳ)²/ȳ², so the sandwich is Σ(y−ȳ)²/n²."""
    covariance = sandwich_covariance(model=model_for(poisson))
    expected = np.sum((POISSON_Y - POISSON_Y.mean()) ** 2) / POISSON_Y.size**2
    np.testing.assert_allclose(covariance.values, [[expected]], rtol=1e-8)
    assert list(covariance.param_i.values) == ["lam"]


def test_not_positive_definite_names_the_parameter():
    """Far above the residual scale, the Normal's σ direction has negative curvature."""
    with pytest.raises(NotPositiveDefiniteError, match="sigma") as error:
        sandwich_covariance({"mu": NORMAL_Y.mean(), "sigma": 100.0}, model=model_for(normal))
    assert error.value.eigenvalues[0] < 0
    assert "sigma" in error.value.loadings


def test_spaces_are_related_by_the_jacobian_at_the_mle():
    """Σ_u = J⁻¹ Σ_c J⁻ᵀ with J = ∂θ/∂φ = diag(1, σ̂) (σ = exp φ): the sandwich of each space
    is built from that space's scores and Hessian."""
    model = model_for(normal)
    constrained = sandwich_covariance(model=model)
    unconstrained = sandwich_covariance(model=model, space="unconstrained")
    inverse_jacobian = np.diag([1.0, 1.0 / NORMAL_Y.std()])
    np.testing.assert_allclose(
        unconstrained.values,
        inverse_jacobian @ constrained.values @ inverse_jacobian,
        rtol=1e-8,
        atol=1e-12,
    )
    assert list(unconstrained.param_i.values) == ["mu", "sigma_log__"]


def test_bernoulli_sandwich_in_both_spaces_is_the_inverse_information():
    """At p̂ the information equality holds exactly (J = K): p̂(1 − p̂)/n for p, and
    1/(n p̂(1 − p̂)) for its log-odds (a non-log transform)."""
    model = model_for(bernoulli)
    p_hat, n = BERNOULLI_Y.mean(), BERNOULLI_Y.size
    np.testing.assert_allclose(
        sandwich_covariance(model=model).values, [[p_hat * (1 - p_hat) / n]], rtol=1e-7
    )
    np.testing.assert_allclose(
        sandwich_covariance(model=model, space="unconstrained").values,
        [[1 / (n * p_hat * (1 - p_hat))]],
        rtol=1e-7,
    )
