"""Bayes factors from fitted approximations: closed forms for conjugate normal models, the delta
method's standard errors, and refusals (other data, improper priors)."""

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

from pmfisher import bayes_factors, laplace
from pmfisher.errors import PMFisherError

Y = np.array([0.5, 1.5, 1.0, 2.25])
PRIOR_SDS = {"narrow": 0.5, "unit": 1.0, "wide": 4.0}


def normal_model(prior_sd: float, y=Y) -> pm.Model:
    with pm.Model(coords={"obs": range(len(y))}) as model:
        mu = pm.Normal("mu", 0.0, np.float64(prior_sd))
        pm.Normal("y", mu, 1.0, observed=y, dims="obs")
    return model


def exact_log_marginal(prior_sd: float) -> float:
    return stats.multivariate_normal(np.zeros(Y.size), np.eye(Y.size) + prior_sd**2).logpdf(Y)


@pytest.fixture(scope="module")
def fits():
    return {
        name: laplace(model=normal_model(sd), draws=100, random_seed=1)
        for name, sd in PRIOR_SDS.items()
    }


def test_closed_form_bayes_factors_and_probabilities(fits):
    comparison = bayes_factors(fits, prior_probabilities=[1, 1, 2])
    exact = np.array([exact_log_marginal(sd) for sd in PRIOR_SDS.values()])
    np.testing.assert_allclose(comparison["log_marginal_likelihood"], exact, atol=1e-8)
    np.testing.assert_allclose(
        comparison["log_bayes_factor"], exact[:, None] - exact[None, :], atol=1e-8
    )
    prior = np.array([0.25, 0.25, 0.5])
    posterior = prior * np.exp(exact) / (prior * np.exp(exact)).sum()
    np.testing.assert_allclose(comparison["posterior_probability"], posterior, rtol=1e-7)
    # Exact marginal likelihoods: no uncertainty anywhere.
    assert float(np.abs(comparison["posterior_probability_se"]).max()) == 0.0
    assert list(comparison.model.values) == list(PRIOR_SDS)


def fitted(log_marginal_likelihood, se, y=Y) -> xr.DataTree:
    """A result's groups as ``bayes_factors`` reads them."""
    fit = xr.Dataset(
        {"log_marginal_likelihood": log_marginal_likelihood, "log_marginal_likelihood_se": se},
        attrs={"log_marginal_likelihood_method": "given"},
    )
    return xr.DataTree.from_dict({"fit": fit, "observed_data": xr.Dataset({"y": ("obs", y)})})


def test_standard_errors_by_the_delta_method():
    """Against the spread of the probabilities over log marginal likelihoods drawn with the
    given standard errors (small ones, where the delta method is accurate)."""
    estimates, ses = np.array([-10.0, -10.5, -12.0]), np.array([0.01, 0.02, 0.005])
    comparison = bayes_factors([fitted(e, s) for e, s in zip(estimates, ses, strict=True)])
    assert list(comparison.model.values) == ["model_0", "model_1", "model_2"]
    draws = np.random.default_rng(0).normal(estimates, ses, size=(100_000, 3))
    probabilities = np.exp(draws) / np.exp(draws).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        comparison["posterior_probability_se"], probabilities.std(axis=0), rtol=0.02
    )
    np.testing.assert_allclose(
        comparison["log_bayes_factor_se"].sel(model="model_0", reference="model_1"),
        np.hypot(0.01, 0.02),
    )


def test_refuses_models_of_other_data(fits):
    other = laplace(model=normal_model(1.0, y=Y + 0.125), draws=100, random_seed=1)
    with pytest.raises(PMFisherError, match="observed values of 'y' differ"):
        bayes_factors({"unit": fits["unit"], "shifted": other})


def test_refuses_an_improper_prior(fits):
    with pm.Model(coords={"obs": range(len(Y))}) as model:
        mu = pm.Flat("mu")
        pm.Normal("y", mu, 1.0, observed=Y, dims="obs")
    flat = laplace(model=model, draws=100, random_seed=1)
    with pytest.raises(PMFisherError, match=r"'flat' has no marginal likelihood.*improper"):
        bayes_factors({"unit": fits["unit"], "flat": flat})


@pytest.mark.parametrize(
    ("results", "options", "match"),
    [
        ([fitted(-1.0, 0.0)], {}, "at least two"),
        ([fitted(-1.0, 0.0), fitted(-2.0, 0.0)], {"prior_probabilities": [1.0]}, "2 non-negative"),
        ([fitted(-1.0, 0.0), fitted(-2.0, 0.0)], {"prior_probabilities": [1, -1]}, "non-negative"),
    ],
)
def test_bad_arguments(results, options, match):
    with pytest.raises(PMFisherError, match=match):
        bayes_factors(results, **options)
