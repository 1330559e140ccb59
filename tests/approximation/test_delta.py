"""delta_method: first-order moments of deterministics, exact where the map is linear."""

import numpy as np
import pytest

import pmfisher
from pmfisher.approximation.delta import delta_method
from pmfisher.approximation.laplace import laplace
from pmfisher.testing import finite_difference_jacobian
from tests.closed_forms import (
    REG_SIGMA,
    REG_X,
    REG_Y,
    conjugate_normal_mean,
    conjugate_posterior,
    eight_schools_noncentred,
    model_for,
    normal,
    regression_deterministic,
)


@pytest.fixture(scope="module")
def regression():
    model = model_for(regression_deterministic)
    return model, laplace(model=model, random_seed=4)


def test_linear_deterministic_is_exact(regression):
    model, result = regression
    design = np.column_stack([np.ones_like(REG_X), REG_X])
    precision = design.T @ design / REG_SIGMA**2 + np.eye(2) / 5.0**2
    covariance = np.linalg.inv(precision)
    coefficients = covariance @ design.T @ REG_Y / REG_SIGMA**2
    summary = delta_method(result, model=model)
    assert summary["mean"].dims == ("stat", "mean_dim_0")
    assert summary["stat"].values.tolist() == ["mean", "sd"]
    np.testing.assert_allclose(summary["mean"].sel(stat="mean"), design @ coefficients, rtol=1e-8)
    np.testing.assert_allclose(
        summary["mean"].sel(stat="sd"),
        np.sqrt(np.einsum("ij,jk,ik->i", design, covariance, design)),
        rtol=1e-8,
    )


def test_delta_sd_matches_the_draws_of_a_linear_deterministic_within_mcse(regression):
    model, result = regression
    summary = delta_method(result, var_names="mean", model=model)
    draws = result.posterior["mean"].values.reshape(-1, REG_X.size)
    sd = summary["mean"].sel(stat="sd").values
    # The sample sd of n Gaussian draws has standard error sd / sqrt(2(n - 1)).
    z = (draws.std(axis=0, ddof=1) - sd) / (sd / np.sqrt(2 * (draws.shape[0] - 1)))
    assert np.all(np.abs(z) < 4.5)


def test_nonlinear_deterministic_uses_the_gradient():
    model = model_for(conjugate_normal_mean)
    mean, variance = conjugate_posterior()
    summary = delta_method(laplace(model=model, draws=100, random_seed=0), model=model)
    assert summary["mu_squared"].dims == ("stat",)
    np.testing.assert_allclose(summary["mu_squared"].sel(stat="mean"), mean**2, rtol=1e-10)
    np.testing.assert_allclose(
        summary["mu_squared"].sel(stat="sd"), 2 * abs(mean) * np.sqrt(variance), rtol=1e-10
    )


@pytest.mark.filterwarnings("ignore:Pareto k̂")
def test_dims_and_jacobian_against_finite_differences():
    model = model_for(eight_schools_noncentred)
    result = laplace(model=model, draws=100, random_seed=0)
    summary = delta_method(result, model=model)
    assert summary["theta"].dims == ("stat", "school")
    assert summary["theta"]["school"].values.tolist() == list("ABCDEFGH")
    x = result.fit["mean_vector"].values
    covariance = result.fit["covariance_matrix"].values

    def theta(flat):  # (mu, tau_log__, z[8]) → mu + tau z
        return flat[0] + np.exp(flat[1]) * flat[2:]

    jacobian = finite_difference_jacobian(theta, x)
    np.testing.assert_allclose(summary["theta"].sel(stat="mean"), theta(x), rtol=1e-10)
    np.testing.assert_allclose(
        summary["theta"].sel(stat="sd"),
        np.sqrt(np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian)),
        rtol=1e-7,
    )


def test_unknown_names_and_foreign_models_are_errors(regression):
    model, result = regression
    with pytest.raises(pmfisher.PMFisherError, match=r"nope: .* the model's are mean"):
        delta_method(result, var_names=["nope"], model=model)
    with pytest.raises(pmfisher.PMFisherError, match="pass the model the result was computed"):
        delta_method(result, model=model_for(normal))
    with pytest.raises(pmfisher.PMFisherError, match=r"needs a pmfisher\.laplace result"):
        delta_method(result.posterior, model=model)
