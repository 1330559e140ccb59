"""The sandwich covariance against statsmodels' HC0 covariance."""

import numpy as np
import pytest

from pmfisher.errors import NotPositiveDefiniteError
from pmfisher.information.sandwich import sandwich_covariance
from tests.closed_forms import NORMAL_Y, POISSON_Y, model_for, normal, poisson
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
