"""kl_divergence and kl_curvature against closed forms and independent integrals."""

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, special, stats

from pmfisher.errors import UnsupportedModelError
from pmfisher.geometry.kl import kl_curvature, kl_divergence
from tests.closed_forms import (
    BERNOULLI_Y,
    COUNT_X,
    EXPONENTIAL_Y,
    LOGIT_X,
    NORMAL_Y,
    POISSON_Y,
    bernoulli,
    exponential,
    logistic,
    model_for,
    mv_normal,
    normal,
    poisson,
    poisson_regression_data,
)

GAMMA_Y = np.array([0.7, 1.9, 2.4, 0.3, 1.1])
BETA_Y = np.array([0.2, 0.55, 0.7, 0.35])
TRIALS = np.array([3, 5, 8, 2])


def gamma():
    with pm.Model() as model:
        alpha = pm.HalfNormal("alpha", 5.0)
        beta = pm.HalfNormal("beta", 5.0)
        pm.Gamma("y", alpha=alpha, beta=beta, observed=GAMMA_Y)
    return model


def beta_model():
    with pm.Model() as model:
        a = pm.HalfNormal("a", 5.0)
        b = pm.HalfNormal("b", 5.0)
        pm.Beta("y", alpha=a, beta=b, observed=BETA_Y)
    return model


def binomial():
    with pm.Model() as model:
        p = pm.Beta("p", 1.0, 1.0)
        pm.Binomial("y", n=TRIALS, p=p, observed=[1, 2, 5, 0])
    return model


def lognormal():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.LogNormal("y", mu, sigma, observed=np.exp(NORMAL_Y[:10]))
    return model


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


beta_at = np.array([0.3, -0.8, 0.1])
p_logit = _sigmoid(LOGIT_X @ beta_at)
design = np.column_stack([np.ones_like(COUNT_X), COUNT_X])
rate = np.exp(0.2 + 0.6 * COUNT_X)
psi1 = special.polygamma(1, [1.5, 2.0, 2.5, 3.5])  # ψ'(α), ψ'(a), ψ'(b), ψ'(a + b)

CURVATURES = [
    ("bernoulli", bernoulli, {"p": 0.6}, [[BERNOULLI_Y.size / 0.24]], "constrained"),
    ("bernoulli-logit", bernoulli, {"p": 0.6}, [[BERNOULLI_Y.size * 0.24]], "unconstrained"),
    ("binomial", binomial, {"p": 0.4}, [[TRIALS.sum() / 0.24]], "constrained"),
    ("poisson", poisson, {"lam": 2.5}, [[POISSON_Y.size / 2.5]], "constrained"),
    ("exponential", exponential, {"lam": 1.7}, [[EXPONENTIAL_Y.size / 1.7**2]], "constrained"),
    (
        "normal",
        normal,
        {"mu": 0.2, "sigma": 1.3},
        np.diag([NORMAL_Y.size / 1.3**2, 2 * NORMAL_Y.size / 1.3**2]),
        "constrained",
    ),
    (
        "normal-log-sigma",
        normal,
        {"mu": 0.2, "sigma": 1.3},
        np.diag([NORMAL_Y.size / 1.3**2, 2 * NORMAL_Y.size]),
        "unconstrained",
    ),
    (
        "lognormal",
        lognormal,
        {"mu": 0.1, "sigma": 0.8},
        np.diag([10 / 0.64, 20 / 0.64]),
        "constrained",
    ),
    (
        "gamma",
        gamma,
        {"alpha": 1.5, "beta": 0.8},
        GAMMA_Y.size * np.array([[psi1[0], -1 / 0.8], [-1 / 0.8, 1.5 / 0.8**2]]),
        "constrained",
    ),
    (
        "beta",
        beta_model,
        {"a": 2.0, "b": 1.5},
        BETA_Y.size
        * np.array(
            [
                [special.polygamma(1, 2.0) - psi1[3], -psi1[3]],
                [-psi1[3], special.polygamma(1, 1.5) - psi1[3]],
            ]
        ),
        "constrained",
    ),
    (
        "logistic",
        logistic,
        {"beta": beta_at},
        LOGIT_X.T @ (LOGIT_X * (p_logit * (1 - p_logit))[:, None]),
        "constrained",
    ),
    (
        "poisson-regression",
        poisson_regression_data,
        {"a": 0.2, "b": 0.6},
        design.T @ (design * rate[:, None]),
        "constrained",
    ),
]


@pytest.mark.parametrize(
    ("factory", "point", "fisher", "space"),
    [case[1:] for case in CURVATURES],
    ids=[case[0] for case in CURVATURES],
)
def test_curvature_is_the_fisher_information(factory, point, fisher, space):
    curvature = kl_curvature(point, model=model_for(factory), space=space)
    np.testing.assert_allclose(curvature.values, fisher, rtol=1e-8, atol=1e-10)
    assert curvature.attrs == {"space": space, "method": "closed-form KL"}


def test_divergence_is_zero_at_the_same_point():
    point = {"alpha": 1.5, "beta": 0.8}
    assert kl_divergence(point, point, model=model_for(gamma)) == pytest.approx(0, abs=1e-14)


@pytest.mark.parametrize(
    ("factory", "point", "other", "density"),
    [
        (
            gamma,
            {"alpha": 1.5, "beta": 0.8},
            {"alpha": 2.2, "beta": 1.4},
            lambda a, b: stats.gamma(a, scale=1 / b),
        ),
        (beta_model, {"a": 2.0, "b": 1.5}, {"a": 0.9, "b": 3.0}, stats.beta),
        (lognormal, {"mu": 0.1, "sigma": 0.8}, {"mu": -0.4, "sigma": 1.3}, None),
    ],
    ids=["gamma", "beta", "lognormal"],
)
def test_divergence_matches_numerical_integration(factory, point, other, density):
    """The closed forms, checked against quadrature of E_p[log p − log q] per observation."""
    model = model_for(factory)
    if density is None:  # LogNormal(μ, σ) is scipy's lognorm(σ, scale=e^μ)
        first = stats.lognorm(point["sigma"], scale=np.exp(point["mu"]))
        second = stats.lognorm(other["sigma"], scale=np.exp(other["mu"]))
    else:
        first, second = density(*point.values()), density(*other.values())
    lower, upper = first.support()
    per_observation, _ = integrate.quad(
        lambda y: first.pdf(y) * (first.logpdf(y) - second.logpdf(y)),
        lower,
        upper,
        epsabs=1e-13,
        epsrel=1e-11,
    )
    observations = model.rvs_to_values[model.observed_RVs[0]].data.size
    expected = observations * per_observation
    assert kl_divergence(point, other, model=model) == pytest.approx(expected, rel=1e-8)


def test_poisson_divergence_matches_the_sum_over_the_support():
    counts = np.arange(200)
    first, second = stats.poisson(2.5), stats.poisson(4.0)
    per_observation = np.sum(first.pmf(counts) * (first.logpmf(counts) - second.logpmf(counts)))
    divergence = kl_divergence({"lam": 2.5}, {"lam": 4.0}, model=model_for(poisson))
    assert divergence == pytest.approx(POISSON_Y.size * per_observation, rel=1e-10)


def test_divergence_without_closed_form_names_the_variable():
    with pytest.raises(UnsupportedModelError, match=r"y \(MvNormal\)"):
        kl_divergence({"mu": np.zeros(2)}, {"mu": np.ones(2)}, model=model_for(mv_normal))


def negative_binomial():
    with pm.Model() as model:
        mu = pm.HalfNormal("mu", 5.0)
        alpha = pm.HalfNormal("alpha", 5.0)
        pm.NegativeBinomial("y", mu=mu, alpha=alpha, observed=[0, 3, 1, 7, 2])
    return model


def test_curvature_falls_back_to_the_exact_fisher_information():
    """No closed-form divergence for the negative binomial: the curvature is the theorem's
    other side, the exact Fisher information."""
    from pmfisher.information.fisher import fisher_information

    point = {"mu": 2.5, "alpha": 1.5}
    model = model_for(negative_binomial)
    curvature = kl_curvature(point, model=model)
    exact = fisher_information(point, model=model, method="exact").matrix
    np.testing.assert_allclose(curvature.values, exact.values, rtol=1e-12)
    assert curvature.attrs["method"] == "exact Fisher"
    # In (mu, alpha) the NB information has mu-entry n·alpha / (mu (mu + alpha)).
    assert curvature.values[0, 0] == pytest.approx(5 * 1.5 / (2.5 * 4.0), rel=1e-10)


def test_closed_form_curvature_agrees_with_the_exact_fisher_information():
    from pmfisher.information.fisher import fisher_information

    point = {"alpha": 1.5, "beta": 0.8}
    for space in ("constrained", "unconstrained"):
        curvature = kl_curvature(point, model=model_for(gamma), space=space)
        exact = fisher_information(point, model=model_for(gamma), space=space, method="exact")
        # PyTensor's trigamma (the autodiff of ψ) is good to ~1e-9, SciPy's to ~1e-15.
        np.testing.assert_allclose(curvature.values, exact.matrix.values, rtol=1e-8)
