"""``laplace(latent=..., hyper="quadrature")`` against brute-force integration written here: a
Poisson GLMM with two hyperparameters (its Laplace marginal recomputed group by group with
NumPy, integrated by the trapezoid rule) and eight schools (exact given (μ, τ)).

Gauss–Hermite converges fast where the posterior of log τ is close to Gaussian (30 groups
below: errors 2.5e-2, 1.6e-3, 1.5e-4, 2.2e-5 nats at 1, 3, 5, 7 nodes) and slowly where few
groups leave it the exponential left tail that a prior density finite at τ = 0 gives log τ
(eight schools: 0.14, 0.090, 0.036, 0.016; this GLMM with 6 groups: 0.14, 0.048, 0.024,
0.014)."""

import warnings

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, special, stats

from pmfisher import laplace
from pmfisher.approximation.adaptive_quadrature import DEFAULT_NODES
from pmfisher.reporting import datasets
from pmfisher.reporting.datasets import EIGHT_SCHOOLS_EFFECTS, EIGHT_SCHOOLS_STANDARD_ERRORS

# -- a Poisson GLMM: y_ij ~ Poisson(exp(μ + u_j)), u_j ~ N(0, τ²), μ ~ N(1, 1), τ ~ HalfNormal(1)
GROUPS, PER_GROUP = 30, 4
GROUP = np.repeat(np.arange(GROUPS), PER_GROUP)
COUNTS = np.random.default_rng(8).poisson(np.exp(1.0 + 0.8 * np.sin(np.arange(GROUPS)))[GROUP])


def poisson_glmm() -> pm.Model:
    with pm.Model(coords={"obs": range(GROUP.size), "group": range(GROUPS)}) as model:
        group = pm.Data("group_index", GROUP, dims="obs")
        mu = pm.Normal("mu", 1.0, 1.0)
        tau = pm.HalfNormal("tau", 1.0)
        u = pm.Normal("u", 0.0, tau, dims="group")
        pm.Poisson("y", pm.math.exp(mu + u[group]), observed=COUNTS, dims="obs")
        pm.Deterministic("rate", pm.math.exp(mu + u), dims="group")
    return model


def group_log_joint(u, mu, tau):
    """log p(y_j, u_j | μ, τ) for every group: arrays (..., groups)."""
    totals = np.bincount(GROUP, weights=COUNTS, minlength=GROUPS)
    log_factorials = np.bincount(GROUP, weights=special.gammaln(COUNTS + 1), minlength=GROUPS)
    eta = mu[..., None] + u
    return (
        totals * eta
        - PER_GROUP * np.exp(eta)
        - log_factorials
        + stats.norm(0.0, tau[..., None]).logpdf(u)
    )


def group_modes(mu, tau):
    """û_j and h_j = -∂²f_j at û_j by Newton's method, on a whole grid of (μ, τ) at once."""
    totals = np.bincount(GROUP, weights=COUNTS, minlength=GROUPS)
    u = np.zeros((*mu.shape, GROUPS))
    for _ in range(100):
        rate = PER_GROUP * np.exp(mu[..., None] + u)
        gradient = totals - rate - u / tau[..., None] ** 2
        step = gradient / (rate + 1 / tau[..., None] ** 2)
        u = u + step
        if np.abs(step).max() < 1e-12:
            break
    return u, PER_GROUP * np.exp(mu[..., None] + u) + 1 / tau[..., None] ** 2


def hyper_log_prior(mu, log_tau):
    """log p(μ) + log p(τ) + log τ (the Jacobian of τ = exp(log τ))."""
    return stats.norm(1.0, 1.0).logpdf(mu) + stats.halfnorm().logpdf(np.exp(log_tau)) + log_tau


def laplace_marginal_by_hand(mu, log_tau):
    tau = np.exp(log_tau)
    u, h = group_modes(mu, tau)
    inner = group_log_joint(u, mu, tau) + 0.5 * np.log(2 * np.pi) - 0.5 * np.log(h)
    return hyper_log_prior(mu, log_tau) + inner.sum(axis=-1)


def exact_log_marginal(mu, log_tau):
    """log p(y | μ, τ) p(μ, log τ), each group's integral by 60-node Gauss–Hermite around its
    own mode and scale (the exact marginal, for ``benchmarks/marginal_likelihood.py``)."""
    tau = np.exp(log_tau)
    u, h = group_modes(mu, tau)
    nodes, weights = special.roots_hermitenorm(60)
    scale = 1 / np.sqrt(h)
    groups = np.full(u.shape, -np.inf)
    for x, w in zip(nodes, weights, strict=True):  # a running sum: 60 grids would take GBs
        groups = np.logaddexp(
            groups, group_log_joint(u + scale * x, mu, tau) + 0.5 * x**2 + np.log(w)
        )
    groups += np.log(scale)
    return hyper_log_prior(mu, log_tau) + groups.sum(axis=-1)


def log_integral(log_density) -> float:
    """log ∫∫ exp(log_density(μ, log τ)) by the trapezoid rule on a fine grid."""
    mu = np.linspace(-3.0, 5.0, 321)
    log_tau = np.linspace(-30.0, 3.0, 1321)
    values = log_density(*np.meshgrid(mu, log_tau, indexing="ij"))
    peak = values.max()
    mass = integrate.trapezoid(integrate.trapezoid(np.exp(values - peak), log_tau), mu)
    return float(peak + np.log(mass))


@pytest.fixture(scope="module")
def glmm_results():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the inner check's Monte Carlo
        return {
            hyper: laplace(
                model=poisson_glmm(), latent=["u"], hyper=hyper, draws=1000, random_seed=9
            )
            for hyper in ("gaussian", "quadrature")
        }


def test_quadrature_integrates_the_laplace_marginal(glmm_results):
    brute_force = log_integral(laplace_marginal_by_hand)
    fit = glmm_results["quadrature"].fit
    estimate = float(fit["log_marginal_likelihood"])
    assert abs(estimate - brute_force) < 1e-3
    assert float(fit["log_marginal_likelihood_se"]) < 1e-3
    # L at the nodes is the Laplace marginal computed by hand.
    phi = fit["quadrature_phi"].values
    np.testing.assert_allclose(
        fit["quadrature_log_marginal"], laplace_marginal_by_hand(phi[:, 0], phi[:, 1]), atol=1e-8
    )
    # The Gaussian at the mode (one node) is further off, and its error indicator says so.
    gaussian = glmm_results["gaussian"].fit
    error = abs(float(gaussian["log_marginal_likelihood"]) - brute_force)
    assert error > 3 * abs(estimate - brute_force)
    assert float(gaussian["log_marginal_likelihood_se"]) > 0.3 * error
    assert fit.attrs["log_marginal_likelihood_method"].startswith("adaptive Gauss–Hermite")


def test_quadrature_result_structure(glmm_results):
    result = glmm_results["quadrature"]
    fit = result.fit
    assert fit.sizes["quadrature_node"] == DEFAULT_NODES**2
    np.testing.assert_allclose(float(fit["quadrature_weight"].sum()), 1.0, rtol=1e-12)
    assert result.attrs["hyper"] == "quadrature"
    posterior = result["posterior"]
    assert dict(posterior["u"].sizes) == {"chain": 1, "draw": 1000, "group": GROUPS}
    np.testing.assert_allclose(posterior["rate"], np.exp(posterior["mu"] + posterior["u"]))
    # The draws' moments of φ match the rule's, within Monte Carlo error.
    draws = result["unconstrained_posterior"]
    for index, name in enumerate(["mu", "tau_log__"]):
        values = draws[name].values.ravel()
        gap = values.mean() - float(fit["mean_vector"][index])
        assert abs(gap) < 4 * values.std() / np.sqrt(values.size), name


# -- eight schools (non-centred): the effects given (μ, τ) are Gaussian, L is exact -------------


@pytest.fixture(scope="module")
def eight_schools_exact():
    """log p(y) and the posterior mean and sd of τ, by the trapezoid rule over (μ, log τ) with
    y_j ~ N(μ, σ_j² + τ²)."""
    y, sigma = EIGHT_SCHOOLS_EFFECTS, EIGHT_SCHOOLS_STANDARD_ERRORS
    mu = np.linspace(-40.0, 50.0, 901)
    log_tau = np.linspace(-14.0, 8.0, 1101)
    m, t = np.meshgrid(mu, np.exp(log_tau), indexing="ij")
    log_density = (
        stats.norm(0, 5).logpdf(m)
        + stats.halfcauchy(scale=5).logpdf(t)
        + np.log(t)
        + stats.norm(m[..., None], np.sqrt(sigma**2 + t[..., None] ** 2)).logpdf(y).sum(-1)
    )
    peak = log_density.max()
    density = np.exp(log_density - peak)

    def integral(values):
        return integrate.trapezoid(integrate.trapezoid(values * density, log_tau, axis=1), mu)

    mass = integral(1.0)
    mean = integral(t) / mass
    return {
        "log_marginal_likelihood": peak + np.log(mass),
        "tau_mean": mean,
        "tau_sd": np.sqrt(integral(t**2) / mass - mean**2),
    }


def test_eight_schools_tau(eight_schools_exact):
    model = datasets.eight_schools(centred=False, non_centred_name="theta_tilde")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the joint k̂ of both
        results = {
            hyper: laplace(
                model=model, latent="theta_tilde", hyper=hyper, draws=4000, random_seed=1
            )
            for hyper in ("gaussian", "quadrature")
        }
    exact = eight_schools_exact
    tau = results["quadrature"]["posterior"]["tau"].values.ravel()
    tau_gaussian = results["gaussian"]["posterior"]["tau"].values.ravel()
    # τ's right skew: the Gaussian on log τ puts its mean 0.4 sd too high, the quadrature's
    # draws within 0.1 sd (plus their Monte Carlo error).
    mcse = tau.std() / np.sqrt(tau.size)
    assert abs(tau.mean() - exact["tau_mean"]) < 0.1 * exact["tau_sd"] + 3 * mcse
    assert tau_gaussian.mean() - exact["tau_mean"] > 0.3 * exact["tau_sd"]
    # log p(y): log τ's exponential left tail makes Gauss–Hermite converge slowly here.
    errors = {
        hyper: float(result.fit["log_marginal_likelihood"]) - exact["log_marginal_likelihood"]
        for hyper, result in results.items()
    }
    assert abs(errors["quadrature"]) < 0.05 < abs(errors["gaussian"])


def test_one_node_is_the_gaussian_at_the_mode(glmm_results):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        one = laplace(
            model=poisson_glmm(),
            latent=["u"],
            hyper="quadrature",
            nodes=1,
            draws=100,
            random_seed=9,
        ).fit
    gaussian = glmm_results["gaussian"].fit
    for name in ("log_marginal_likelihood", "log_marginal_likelihood_se"):
        assert float(one[name]) == pytest.approx(float(gaussian[name]), abs=1e-10)
    np.testing.assert_allclose(one["covariance_matrix"], gaussian["covariance_matrix"], rtol=1e-10)
