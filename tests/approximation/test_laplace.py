"""laplace: exact Gaussians at the mode, an honest Pareto k̂, and a DataTree ArviZ can read."""

import warnings

import matplotlib
import numpy as np
import pymc as pm
import pytest
from scipy import special

import pmfisher
from pmfisher.approximation.importance_sampling import psis
from pmfisher.approximation.laplace import laplace
from tests.closed_forms import (
    JEFFREYS_X,
    JEFFREYS_Y,
    LOGIT_PRIOR_SD,
    LOGIT_X,
    LOGIT_Y,
    NORMAL_Y,
    conjugate_normal_mean,
    conjugate_posterior,
    eight_schools_centred,
    eight_schools_noncentred,
    jeffreys_regression,
    logistic,
    model_for,
    normal,
)

matplotlib.use("Agg")

GROUPS = {
    "posterior",
    "unconstrained_posterior",
    "fit",
    "sample_stats",
    "observed_data",
    "constant_data",
}


def mcse_z(draws, expected, sd):
    """Distance of the mean of independent draws from ``expected`` in Monte Carlo SEs."""
    return (np.mean(draws) - expected) / (sd / np.sqrt(np.size(draws)))


@pytest.fixture(scope="module")
def conjugate():
    return laplace(model=model_for(conjugate_normal_mean), random_seed=11)


@pytest.fixture(scope="module")
def eight_schools():
    with pytest.warns(UserWarning, match="Pareto k̂"):
        return laplace(model=model_for(eight_schools_noncentred), random_seed=3)


def _logistic_map():
    """MAP of the logistic regression by Newton's method in NumPy, independent of pmfisher."""
    beta = np.zeros(LOGIT_X.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-LOGIT_X @ beta))
        gradient = LOGIT_X.T @ (LOGIT_Y - p) - beta / LOGIT_PRIOR_SD**2
        precision = LOGIT_X.T @ (LOGIT_X * (p * (1 - p))[:, None]) + np.eye(3) / LOGIT_PRIOR_SD**2
        beta = beta + np.linalg.solve(precision, gradient)
    return beta, precision


def test_logistic_mean_is_map_and_covariance_is_inverse_posterior_information():
    beta_map, precision = _logistic_map()
    result = laplace(model=model_for(logistic), draws=500, random_seed=0)
    np.testing.assert_allclose(result.fit["mean_vector"], beta_map, rtol=1e-6)
    np.testing.assert_allclose(result.fit["precision_matrix"], precision, rtol=1e-6)
    np.testing.assert_allclose(result.fit["covariance_matrix"], np.linalg.inv(precision), rtol=1e-6)
    assert result.fit["mean_vector"]["param"].values.tolist() == [
        "beta[x1]",
        "beta[x2]",
        "beta[x3]",
    ]
    assert result.posterior["beta"].dims == ("chain", "draw", "x")
    np.testing.assert_array_equal(result.constant_data["X"], LOGIT_X)
    np.testing.assert_array_equal(result.observed_data["y"], LOGIT_Y)


def test_conjugate_normal_mean_is_exact(conjugate):
    mean, variance = conjugate_posterior()
    np.testing.assert_allclose(conjugate.fit["mean_vector"], [mean], rtol=1e-10)
    np.testing.assert_allclose(conjugate.fit["covariance_matrix"], [[variance]], rtol=1e-10)
    # log p - log q is constant: the weights are uniform, bounded, k̂ = -inf.
    assert conjugate.fit["pareto_k"] <= 0
    ratio = (conjugate.sample_stats["log_p"] - conjugate.sample_stats["log_q"]).values
    assert float(np.ptp(ratio)) < 1e-9


def test_draws_are_centred_and_scaled_within_mcse(conjugate):
    mean, variance = conjugate_posterior()
    draws = conjugate.posterior["mu"].values.ravel()
    assert abs(mcse_z(draws, mean, np.sqrt(variance))) < 4
    # The sample variance of n Gaussian draws has sd variance·sqrt(2 / (n - 1)).
    assert abs(draws.var(ddof=1) - variance) < 4 * variance * np.sqrt(2 / (draws.size - 1))
    np.testing.assert_allclose(conjugate.posterior["mu_squared"], draws[None] ** 2)


def test_datatree_structure_with_dims_deterministics_and_transforms(eight_schools):
    assert set(eight_schools.children) == GROUPS
    posterior = eight_schools.posterior
    assert set(posterior.data_vars) == {"mu", "tau", "z", "theta"}
    assert posterior["theta"].dims == ("chain", "draw", "school")
    assert posterior.sizes["chain"] == 1
    assert posterior.sizes["draw"] == 4000
    assert posterior["school"].values.tolist() == list("ABCDEFGH")
    # Deterministics and transforms are pushed through exactly, draw by draw.
    np.testing.assert_allclose(
        posterior["theta"], posterior["mu"] + posterior["tau"] * posterior["z"], atol=1e-12
    )
    unconstrained = eight_schools.unconstrained_posterior
    assert set(unconstrained.data_vars) == {"mu", "tau_log__", "z"}
    assert unconstrained["z"].dims == ("chain", "draw", "school")
    np.testing.assert_allclose(np.exp(unconstrained["tau_log__"]), posterior["tau"], rtol=1e-12)
    assert eight_schools.sample_stats["log_p"].dims == ("chain", "draw")
    assert eight_schools.fit["covariance_matrix"].dims == ("param_i", "param_j")
    assert eight_schools.fit["mean_vector"]["param"].values[1] == "tau_log__"
    assert eight_schools.observed_data["y"].dims == ("school",)
    for attrs in (eight_schools.attrs, posterior.attrs, eight_schools.fit.attrs):
        assert attrs["terms"] == "posterior"
        assert attrs["space"] == "unconstrained"


def test_log_q_is_the_gaussian_density(conjugate):
    mean, variance = conjugate_posterior()
    mu = conjugate.posterior["mu"].values.ravel()
    expected = -0.5 * (mu - mean) ** 2 / variance - 0.5 * np.log(2 * np.pi * variance)
    np.testing.assert_allclose(conjugate.sample_stats["log_q"].values.ravel(), expected, rtol=1e-9)


def test_arviz_reads_the_datatree_unchanged(eight_schools):
    import arviz as az

    summary = az.summary(eight_schools)
    assert "theta[A]" in summary.index
    row = summary.loc["mu"]
    np.testing.assert_allclose(
        float(row["mean"]), float(eight_schools.posterior["mu"].mean()), rtol=1e-2
    )
    az.plot_dist(eight_schools, var_names=["mu", "tau"])
    az.plot_pair(eight_schools, var_names=["mu", "tau"])
    matplotlib.pyplot.close("all")


def test_pareto_k_is_good_for_a_near_gaussian_regression():
    result = laplace(model=model_for(normal), random_seed=5)
    assert result.fit["pareto_k"] < 0.5
    assert result.attrs["pareto_k"] == float(result.fit["pareto_k"])


def test_pareto_k_is_bad_for_noncentred_eight_schools(eight_schools):
    assert eight_schools.fit["pareto_k"] > 0.7


def test_psis_fixes_the_joint_mode_bias_of_sigma():
    # Exact marginal posterior: sigma² ~ scaled-inverse-χ²(ν, s²), ν = n - p.
    n, p = JEFFREYS_X.shape
    beta_hat = np.linalg.lstsq(JEFFREYS_X, JEFFREYS_Y)[0]
    rss = float(((JEFFREYS_Y - JEFFREYS_X @ beta_hat) ** 2).sum())
    nu = n - p
    mean_sigma = np.sqrt(rss / 2) * np.exp(special.gammaln((nu - 1) / 2) - special.gammaln(nu / 2))
    sd_sigma = np.sqrt(rss / (nu - 2) - mean_sigma**2)

    model = model_for(jeffreys_regression)
    plain = laplace(model=model, random_seed=2)
    corrected = laplace(model=model, random_seed=2, importance_sampling="psis")
    assert plain.fit["pareto_k"] < 0.7
    np.testing.assert_allclose(
        plain.fit["mean_vector"].sel(param="sigma_log__"), np.log(rss / n) / 2
    )

    # The same Gaussian draws (same seed), resampled with their PSIS weights.
    sigma = plain.posterior["sigma"].values.ravel()
    assert np.isin(corrected.posterior["sigma"].values, sigma).all()
    log_ratio = (plain.sample_stats["log_p"] - plain.sample_stats["log_q"]).values.ravel()
    weights = np.exp(psis(log_ratio)[0])
    # MCSE of the self-normalized importance estimate, plus the resampling noise.
    estimate = np.sum(weights * sigma)
    mcse = np.sqrt(np.sum(weights**2 * (sigma - estimate) ** 2) + sigma.var() / sigma.size)
    assert (sigma.mean() - mean_sigma) / mcse < -8  # the joint mode's bias
    resampled = corrected.posterior["sigma"].values.mean()
    assert abs(resampled - mean_sigma) < 4 * mcse
    # The resampled draws' sd: its standard error, √(μ₄ − σ⁴) / (2σ√N), with the importance
    # weights' effective sample size for N.
    ess = 1 / np.sum(weights**2)
    fourth = np.sum(weights * (sigma - estimate) ** 4)
    sd_mcse = np.sqrt(max(fourth - sd_sigma**4, 0.0) / ess) / (2 * sd_sigma)
    assert abs(corrected.posterior["sigma"].values.std() - sd_sigma) < 4 * sd_mcse
    assert corrected.attrs["importance_sampling"] == "psis"
    assert corrected.sample_stats["log_weight"].dims == ("chain", "draw")
    # Once the resampling indices overwrote the route taken.
    assert corrected.attrs["structure"] == corrected.fit.attrs["structure"] == "dense"


def test_centred_eight_schools_has_no_mode_and_says_why():
    with (
        pytest.warns(UserWarning, match="did not converge"),
        pytest.raises(
            pmfisher.PMFisherError, match=r"no mode exists.*tau_log__|tau_log__.*no mode"
        ),
    ):
        laplace(model=model_for(eight_schools_centred), random_seed=0)


def _unidentified():
    with pm.Model() as model:
        a = pm.Flat("a")
        b = pm.Flat("b")
        pm.Normal("y", a + b, 1.0, observed=NORMAL_Y)
    return model


def test_not_positive_definite_hessian_is_reported_with_the_parameters():
    with pytest.raises(pmfisher.NotPositiveDefiniteError, match="not positive definite") as error:
        laplace(model=model_for(_unidentified), draws=100, random_seed=0)
    assert abs(error.value.eigenvalues[0]) < 1e-8
    loadings = error.value.loadings
    assert set(loadings) == {"a", "b"}
    np.testing.assert_allclose(sorted(loadings.values()), [-np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)


def test_regularizing_is_a_choice_and_is_recorded():
    # The regularized Gaussian is very wide along a - b, where the flat density is improper:
    # k̂ says so too.
    with pytest.warns(UserWarning, match="replaced by"), pytest.warns(UserWarning, match="k̂"):
        result = laplace(
            model=model_for(_unidentified),
            draws=100,
            not_positive_definite="regularize",
            random_seed=0,
        )
    assert "floored" in result.attrs["regularization"]
    eigenvalues = np.linalg.eigvalsh(result.fit["precision_matrix"])
    np.testing.assert_allclose(eigenvalues, [1e-6 * 2 * NORMAL_Y.size, 2 * NORMAL_Y.size])


@pytest.mark.filterwarnings("ignore:Pareto k̂")  # about the tails; not what is tested here
def test_likelihood_laplace_in_constrained_space_is_the_asymptotic_normal():
    mu_hat, sigma_hat, n = NORMAL_Y.mean(), NORMAL_Y.std(), NORMAL_Y.size
    result = laplace(
        model=model_for(normal),
        terms="likelihood",
        space="constrained",
        draws=500,
        random_seed=0,
    )
    np.testing.assert_allclose(result.fit["mean_vector"], [mu_hat, sigma_hat], rtol=1e-8)
    np.testing.assert_allclose(
        result.fit["covariance_matrix"],
        np.diag([sigma_hat**2 / n, sigma_hat**2 / (2 * n)]),
        rtol=1e-6,
        atol=1e-10,
    )
    assert result.fit["mean_vector"]["param"].values.tolist() == ["mu", "sigma"]
    assert result.attrs["terms"] == "likelihood"
    assert result.attrs["space"] == "constrained"


def test_draws_outside_the_support_are_flagged_in_the_constrained_space():
    with pm.Model() as model:
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", 0.0, sigma, observed=[0.4, -0.2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = laplace(model=model, space="constrained", draws=2000, random_seed=0)
    outside = result.posterior["sigma"].values <= 0
    assert outside.any()
    assert any("outside the support" in str(warning.message) for warning in caught)
    assert np.all(np.isneginf(result.sample_stats["log_p"].values[outside]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"importance_sampling": "is"}, "importance_sampling='is' is not allowed.*'psis'"),
        ({"not_positive_definite": "fix"}, "'raise', 'regularize'"),
        ({"space": "natural"}, "space="),
        ({"draws": 0}, "draws=0"),
        # PSIS's k̂ needs a tail of 5 weights: below 25 draws ArviZ raises a raw ValueError.
        ({"draws": 24}, "draws=24 must be an integer of at least 25"),
    ],
)
def test_options_are_checked(options, message):
    with pytest.raises(pmfisher.PMFisherError, match=message):
        laplace(model=model_for(conjugate_normal_mean), **options)
