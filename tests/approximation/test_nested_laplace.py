"""Nested Laplace on eight schools: the school effects integrated out, (μ, τ) by a Gaussian
or by NUTS on the Laplace marginal. Given (μ, τ) the effects are Gaussian in both the centred
and the non-centred form, so the Laplace marginal is exact and NUTS on it must reproduce the
exact marginal posterior of (μ, τ), computed here by quadrature."""

import warnings

import arviz_stats
import numpy as np
import pymc as pm
import pytest
from scipy import stats
from scipy.integrate import trapezoid

from pmfisher import find_mode, laplace, observed_information
from pmfisher.approximation.nested_laplace import _inner_check
from pmfisher.errors import PMFisherError
from pmfisher.fitting.laplace_marginal import laplace_marginal
from pmfisher.reporting import datasets
from pmfisher.reporting.datasets import (
    EIGHT_SCHOOLS,
    EIGHT_SCHOOLS_EFFECTS,
    EIGHT_SCHOOLS_STANDARD_ERRORS,
)

Y, SIGMA = EIGHT_SCHOOLS_EFFECTS, EIGHT_SCHOOLS_STANDARD_ERRORS
SCHOOLS = list(EIGHT_SCHOOLS)


def eight_schools(centred: bool) -> pm.Model:
    return datasets.eight_schools(centred=centred, non_centred_name="theta_tilde")


@pytest.fixture(scope="module")
def exact_moments():
    """Posterior means of μ and τ and log p(y) by quadrature of p(μ, log τ | y),
    y_j ~ N(μ, σ_j² + τ²)."""
    mu = np.linspace(-40.0, 50.0, 901)
    log_tau = np.linspace(-14.0, 8.0, 1101)
    m, t = np.meshgrid(mu, np.exp(log_tau), indexing="ij")
    log_density = (
        stats.norm(0, 5).logpdf(m)
        + stats.halfcauchy(scale=5).logpdf(t)
        + np.log(t)
        + stats.norm(m[..., None], np.sqrt(SIGMA**2 + t[..., None] ** 2)).logpdf(Y).sum(-1)
    )
    peak = log_density.max()
    density = np.exp(log_density - peak)
    mass = trapezoid(trapezoid(density, log_tau, axis=1), mu)

    def mean(values):
        return trapezoid(trapezoid(values * density, log_tau, axis=1), mu) / mass

    return {"mu": mean(m), "tau": mean(t), "log_marginal_likelihood": peak + np.log(mass)}


@pytest.fixture(scope="module")
def nuts_results():
    return {
        name: laplace(
            model=eight_schools(centred),
            latent=latent,
            hyper="nuts",
            draws=1000,
            tune=500,
            random_seed=11,
        )
        for name, centred, latent in (
            ("centred", True, "theta"),
            ("non-centred", False, "theta_tilde"),
        )
    }


@pytest.mark.parametrize("name", ["centred", "non-centred"])
def test_nuts_on_the_marginal_reproduces_the_exact_posterior(nuts_results, exact_moments, name):
    result = nuts_results[name]
    posterior = result["posterior"]
    assert dict(posterior["theta"].sizes) == {"chain": 2, "draw": 500, "school": 8}
    assert list(posterior["theta"].school.values) == SCHOOLS
    assert {"diverging", "step_size", "log_p", "log_q_latent"} <= set(result["sample_stats"])
    mcse = arviz_stats.mcse(result, var_names=["mu", "tau"])
    for var in ("mu", "tau"):
        gap = float(posterior[var].mean()) - exact_moments[var]
        assert abs(gap) < 4 * float(mcse[var]), (var, gap)
    # The effects given (μ, τ) are Gaussian: the inner check finds no error.
    np.testing.assert_allclose(result.fit["inner_check_error"], 0.0, atol=1e-8)


@pytest.mark.parametrize("name", ["centred", "non-centred"])
def test_nuts_marginal_likelihood_by_reciprocal_importance_sampling(
    nuts_results, exact_moments, name
):
    """The Laplace marginal is exact here, so its integral is log p(y): the NUTS draws
    weighed against the Gaussian at the mode find it within 3 MCSE, an MCSE of a few
    hundredths, with bounded ratios (k̂ < 0.5: the Gaussian's tails are lighter than log τ's)."""
    fit = nuts_results[name].fit
    estimate = float(fit["log_marginal_likelihood"])
    mcse = float(fit["log_marginal_likelihood_se"])
    assert fit.attrs["log_marginal_likelihood_method"].startswith("reciprocal importance")
    assert 0 < mcse < 0.05
    assert abs(estimate - exact_moments["log_marginal_likelihood"]) < 3 * mcse
    assert float(fit["log_marginal_likelihood_pareto_k"]) < 0.5
    assert fit.attrs["log_marginal_likelihood_warning"] == ""


def test_the_two_parameterizations_agree(nuts_results):
    centred, non_centred = nuts_results["centred"], nuts_results["non-centred"]
    for var in ("mu", "tau", "theta"):
        a = centred["posterior"][var].mean(("chain", "draw"))
        b = non_centred["posterior"][var].mean(("chain", "draw"))
        se_a = arviz_stats.mcse(centred, var_names=[var])[var]
        se_b = arviz_stats.mcse(non_centred, var_names=[var])[var]
        assert np.all(np.abs(a - b) < 4 * np.sqrt(se_a**2 + se_b**2)), var


def test_gaussian_hyperparameters_and_the_result_structure():
    model = eight_schools(centred=False)
    # A Gaussian on (μ, log τ) is poor for eight schools, and the joint k̂ says so.
    with pytest.warns(UserWarning, match="Pareto k̂"):
        result = laplace(model=model, latent=["theta_tilde"], draws=500, random_seed=3)
    mode = find_mode(model=model, latent="theta_tilde")
    fit = result.fit
    assert list(fit["mean_vector"].param.values) == ["mu", "tau_log__"]
    np.testing.assert_allclose(fit["mean_vector"], mode.x)
    information = observed_information(
        mode, model=model, latent="theta_tilde", terms="posterior", space="unconstrained"
    )
    np.testing.assert_allclose(fit["covariance_matrix"], np.linalg.inv(information.values))
    posterior = result["posterior"]
    assert set(posterior.data_vars) == {"mu", "tau", "theta_tilde", "theta"}
    assert dict(posterior["theta"].sizes) == {"chain": 1, "draw": 500, "school": 8}
    # The deterministic is pushed forward from the same draws.
    np.testing.assert_allclose(
        posterior["theta"], posterior["mu"] + posterior["tau"] * posterior["theta_tilde"]
    )
    assert set(result["unconstrained_posterior"].data_vars) == {"mu", "tau_log__", "theta_tilde"}
    assert {"log_p", "log_q"} <= set(result["sample_stats"].data_vars)
    assert result.attrs["latent"] == ["theta_tilde"]
    assert result.attrs["hyper"] == "gaussian"
    assert result.attrs["latent_structure"] == "dense"  # 8 latent entries: "auto" is dense
    np.testing.assert_allclose(fit["inner_check_error"], 0.0, atol=1e-8)
    # Given the hyperparameters the approximation is exact, so the importance ratios vary only
    # through the Gaussian on (μ, log τ).
    assert float(fit["pareto_k"]) > 0.7


def test_latent_needs_the_unconstrained_space():
    with pytest.raises(PMFisherError, match="space='unconstrained'"):
        laplace(model=eight_schools(centred=True), latent="theta", space="constrained")


def test_the_inner_check_measures_a_poor_laplace_marginal():
    """Binary data, one observation per group and a large random-effect scale: the classic case
    where the Laplace marginal is biased. The importance-sampling check must find the error
    that Gauss–Hermite quadrature of each group's one-dimensional integral gives."""
    rng = np.random.default_rng(5)
    y = rng.binomial(1, 0.5, size=20)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        z = pm.Normal("z", 0.0, 1.0, shape=y.size)
        pm.Bernoulli("y", logit_p=mu + 3.0 * z, observed=y)
    marginal = laplace_marginal(model, "z", space="unconstrained", terms="likelihood")
    phis = np.array([[0.0], [0.8]])
    with pytest.warns(UserWarning, match="inner Laplace approximation over z is poor"):
        check = _inner_check(marginal, phis, np.random.default_rng(0))
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    for row, (phi,) in enumerate(phis):
        p = 1 / (1 + np.exp(-(phi + 3.0 * nodes)))
        exact = np.log(np.where(y[:, None] == 1, p, 1 - p) @ weights).sum()
        error = exact - marginal.value(np.array([phi]))
        assert abs(error) > 0.1
        estimate = float(check["inner_check_error"][row])
        assert abs(estimate - error) < 4 * float(check["inner_check_mcse"][row]) + 1e-3


def test_an_error_that_does_not_change_with_the_hyperparameters_is_not_warned_about():
    """Poisson counts on 40 non-Gaussian conditionals that the hyperparameter never touches
    (it has data of its own): the Laplace marginal is off by the same amount at every φ,
    which cancels in the posterior of φ, so the check records the error and stays quiet."""
    rng = np.random.default_rng(8)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("w", mu, 1.0, observed=rng.normal(size=5))
        z = pm.Normal("z", 0.0, 1.0, shape=40)
        pm.Poisson("y", pm.math.exp(z), observed=rng.poisson(1.0, size=40))
    marginal = laplace_marginal(model, "z", space="unconstrained", terms="posterior")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check = _inner_check(marginal, np.array([[0.0], [1.5], [-2.0]]), np.random.default_rng(0))
    errors = check["inner_check_error"].values
    assert abs(errors[0]) > 0.1  # the Laplace marginal is off ...
    mcses = check["inner_check_mcse"].values
    noise = 3 * np.sqrt(mcses**2 + mcses[0] ** 2)
    assert np.all(np.abs(errors - errors[0]) <= noise)  # ... by the same amount everywhere


def hierarchical_normal(*, predictor: str) -> pm.Model:
    """Forty groups of five rows; the group means written into the likelihood, or kept as a
    ``pm.Deterministic`` over groups and indexed by observation (the user's idiom)."""
    rng = np.random.default_rng(5)
    index = np.repeat(np.arange(40), 5)
    y = rng.normal(rng.normal(1.0, 0.7, size=40)[index], 1.0)
    with pm.Model(coords={"group": range(40), "obs": range(200)}) as model:
        group = pm.Data("group_index", index, dims="obs")
        mu, tau = pm.Normal("mu", 0, 5), pm.HalfNormal("tau", 2)
        sigma = pm.HalfNormal("sigma", 2)
        z = pm.Normal("z", 0, 1, dims="group")
        if predictor == "deterministic":
            means = pm.Deterministic("means", mu + tau * z, dims="group")[group]
        else:
            means = mu + tau * z[group]
        pm.Normal("y", means, sigma, observed=y, dims="obs")
    return model


def test_a_deterministic_predictor_takes_the_gaussian_conditionals_route():
    """The same model with its group means as a deterministic is known to have a Gaussian
    conditional (its inner check exact, not estimated) and gives the same approximation."""
    results = {
        predictor: laplace(
            model=hierarchical_normal(predictor=predictor),
            latent="z",
            hyper="quadrature",
            draws=200,
            random_seed=2,
        )
        for predictor in ("inline", "deterministic")
    }
    inline, deterministic = results["inline"], results["deterministic"]
    for result in results.values():
        assert result.fit["inner_check_error"].attrs["method"] == "exact: Gaussian conditional"
    np.testing.assert_allclose(
        float(deterministic.fit["log_marginal_likelihood"]),
        float(inline.fit["log_marginal_likelihood"]),
        rtol=0,
        atol=1e-9,
    )
    for name in ("mu", "tau", "sigma", "z"):
        np.testing.assert_allclose(
            deterministic["posterior"][name], inline["posterior"][name], rtol=1e-9, atol=1e-12
        )
