"""The log marginal likelihood of every route of ``laplace``, against closed forms (where the
Laplace approximation is exact) and against numerical integration written here (SciPy's
Gauss–Hermite rules and the trapezoid rule over fine grids), independent of pmfisher."""

import warnings

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, optimize, special, stats

from pmfisher import laplace
from pmfisher.approximation.importance_sampling import khat_threshold
from pmfisher.approximation.marginal_likelihood import importance_sampling_estimate
from pmfisher.reporting import datasets

RNG = np.random.default_rng(20261204)
# PyMC holds a Python float that float32 represents exactly (0.75, 2.0) as a float32 constant
# and takes its logarithm in float32: log p(y) moves by about 1e-8 a term. Scales are given
# as float64 so that the model is the one the closed forms describe.
F = np.float64


# -- exact: a conjugate normal model and a linear mixed model -----------------------------------

Y_NORMAL = np.array([0.3, -1.2, 2.1, 0.8, 1.5, 0.1])


def conjugate_normal() -> pm.Model:
    with pm.Model(coords={"obs": range(Y_NORMAL.size)}) as model:
        y_data = pm.Data("y_data", Y_NORMAL, dims="obs")
        mu = pm.Normal("mu", F(1.0), F(2.0))
        pm.Normal("y", mu, F(0.75), observed=y_data, shape=y_data.shape, dims="obs")
        pm.Deterministic("mu_squared", mu**2)
    return model


def test_conjugate_normal_is_exact():
    exact = stats.multivariate_normal(
        np.full(Y_NORMAL.size, 1.0), 0.75**2 * np.eye(Y_NORMAL.size) + 2.0**2
    ).logpdf(Y_NORMAL)
    fit = laplace(model=conjugate_normal(), draws=200, random_seed=1).fit
    assert abs(float(fit["log_marginal_likelihood"]) - exact) < 1e-8
    assert abs(float(fit["log_marginal_likelihood_laplace"]) - exact) < 1e-8
    # The Gaussian is the posterior: constant ratios, no Monte Carlo error.
    assert float(fit["log_marginal_likelihood_se"]) == 0.0
    assert float(fit["log_marginal_likelihood_pareto_k"]) == -np.inf
    assert fit.attrs["log_marginal_likelihood_warning"] == ""


# A linear mixed model with known variance components: fixed effects β ~ N(0, 1.5²),
# group effects u_j ~ N(0, 0.75²), y ~ N(Xβ + u[group], 0.625²); so y ~ N(0, 1.5²XX' +
# 0.75²ZZ' + 0.625²I).
GROUPS = 5
GROUP = np.repeat(np.arange(GROUPS), 3)
X = np.column_stack([np.ones(GROUP.size), RNG.normal(size=GROUP.size)])
Y_MIXED = (
    X @ [0.5, -1.0] + 0.75 * RNG.normal(size=GROUPS)[GROUP] + 0.625 * RNG.normal(size=GROUP.size)
)


def linear_mixed_model() -> pm.Model:
    coords = {"obs": range(GROUP.size), "group": range(GROUPS), "coef": ["intercept", "slope"]}
    with pm.Model(coords=coords) as model:
        x = pm.Data("x", X, dims=("obs", "coef"))
        group = pm.Data("group_index", GROUP, dims="obs")
        beta = pm.Normal("beta", 0.0, F(1.5), dims="coef")
        u = pm.Normal("u", 0.0, F(0.75), dims="group")
        pm.Normal("y", x @ beta + u[group], F(0.625), observed=Y_MIXED, dims="obs")
    return model


def linear_mixed_exact() -> float:
    z = np.eye(GROUPS)[GROUP]
    covariance = 1.5**2 * X @ X.T + 0.75**2 * z @ z.T + 0.625**2 * np.eye(GROUP.size)
    return stats.multivariate_normal(np.zeros(GROUP.size), covariance).logpdf(Y_MIXED)


@pytest.mark.parametrize("hyper", [None, "gaussian", "quadrature"])
def test_linear_mixed_model_is_exact(hyper):
    options = {} if hyper is None else {"latent": ["u"], "hyper": hyper}
    fit = laplace(model=linear_mixed_model(), draws=200, random_seed=2, **options).fit
    assert abs(float(fit["log_marginal_likelihood"]) - linear_mixed_exact()) < 1e-8
    # L(β) is quadratic: every number of nodes gives the same integral.
    assert float(fit["log_marginal_likelihood_se"]) < 1e-8


# -- importance sampling: a logistic regression against a brute-force integral -------------------

N_LOGISTIC = 40
X_LOGISTIC = np.column_stack([np.ones(N_LOGISTIC), RNG.normal(size=(N_LOGISTIC, 2))])
Y_LOGISTIC = RNG.binomial(1, special.expit(X_LOGISTIC @ [0.3, 1.2, -0.8]))
PRIOR_SD_LOGISTIC = np.array([2.0, 1.0, 1.0])


def logistic_regression() -> pm.Model:
    with pm.Model(coords={"obs": range(N_LOGISTIC), "coef": ["a", "b", "c"]}) as model:
        x = pm.Data("x", X_LOGISTIC, dims=("obs", "coef"))
        beta = pm.Normal("beta", 0.0, PRIOR_SD_LOGISTIC, dims="coef")
        pm.Bernoulli("y", logit_p=x @ beta, observed=Y_LOGISTIC, dims="obs")
    return model


def logistic_log_joint(beta: np.ndarray) -> np.ndarray:
    """log p(y, β) at rows of β."""
    eta = beta @ X_LOGISTIC.T
    likelihood = (Y_LOGISTIC * eta - np.logaddexp(0.0, eta)).sum(axis=-1)
    return likelihood + stats.norm(0.0, PRIOR_SD_LOGISTIC).logpdf(beta).sum(axis=-1)


def logistic_brute_force() -> float:
    """The trapezoid rule on a 101³ grid over ±9 sd of the posterior's own mode and curvature
    (found here by SciPy), in whitened coordinates."""
    found = optimize.minimize(lambda b: -logistic_log_joint(b), np.zeros(3), method="BFGS")
    mode = found.x
    p = special.expit(X_LOGISTIC @ mode)
    precision = (X_LOGISTIC.T * (p * (1 - p))) @ X_LOGISTIC + np.diag(PRIOR_SD_LOGISTIC**-2.0)
    root = np.linalg.cholesky(np.linalg.inv(precision))
    axis = np.linspace(-9.0, 9.0, 101)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    log_values = logistic_log_joint(mode + grid @ root.T).reshape(101, 101, 101)
    peak = log_values.max()
    mass = integrate.trapezoid(np.exp(log_values - peak), axis, axis=-1)
    mass = integrate.trapezoid(integrate.trapezoid(mass, axis, axis=-1), axis)
    return peak + np.log(mass) + np.log(np.linalg.det(root))


def test_importance_sampling_on_a_logistic_regression():
    fit = laplace(model=logistic_regression(), draws=4000, random_seed=3).fit
    exact = logistic_brute_force()
    estimate, se = float(fit["log_marginal_likelihood"]), float(fit["log_marginal_likelihood_se"])
    assert 0 < se < 0.01
    assert abs(estimate - exact) < 3 * se, (estimate, exact, se)
    assert fit.attrs["log_marginal_likelihood_warning"] == ""
    # The Laplace value is off by more than the Monte Carlo error: the estimate corrects it.
    assert abs(float(fit["log_marginal_likelihood_laplace"]) - exact) > 3 * se


def test_importance_sampling_estimate_of_a_known_mean():
    """Lognormal ratios: E r = exp(μ + s²/2) exactly; the delta-method MCSE is honest."""
    draws, repeats, s = 2000, 200, 0.4
    ratios = np.random.default_rng(4).normal(0.0, s, size=(repeats, draws))
    estimates, ses, khats = np.array([importance_sampling_estimate(r) for r in ratios]).T
    errors = estimates - s**2 / 2
    assert np.all(khats < 0.5)
    # The spread of the estimates is their standard error, to the sampling error of 200 sds.
    assert abs(errors.std() / ses.mean() - 1) < 0.15
    assert abs(errors.mean()) < 3 * errors.std() / np.sqrt(repeats)


def test_an_unreliable_estimate_is_flagged():
    """Eight schools' joint posterior is far from any Gaussian in (μ, log τ, z): k̂ says so."""
    model = datasets.eight_schools(centred=False)
    with pytest.warns(UserWarning, match="Pareto k̂"):
        fit = laplace(model=model, draws=400, random_seed=6).fit
    assert float(fit["log_marginal_likelihood_pareto_k"]) > khat_threshold(400)
    assert fit.attrs["log_marginal_likelihood_warning"].startswith("unreliable: Pareto k̂")


# -- improper priors -------------------------------------------------------------------------------


@pytest.mark.parametrize("flat", ["Flat", "HalfFlat"])
def test_an_improper_prior_has_no_marginal_likelihood(flat):
    with pm.Model() as model:
        scale = getattr(pm, flat)("scale") if flat == "HalfFlat" else 1.0
        mu = pm.Flat("mu") if flat == "Flat" else pm.Normal("mu")
        pm.Normal("y", mu, scale if flat == "HalfFlat" else 1.0, observed=Y_NORMAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the Gaussian is poor for σ's HalfFlat
        fit = laplace(model=model, draws=100, random_seed=5).fit
    assert "log_marginal_likelihood" not in fit
    method = fit.attrs["log_marginal_likelihood_method"]
    assert method.startswith("not available")
    assert f"pm.{flat}" in method
