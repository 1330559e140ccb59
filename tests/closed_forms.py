"""The table of closed forms shared by the tests.

Each :class:`Case` is a model, a point, and the analytic observed information of one density
(``terms``) in one ``space`` at that point, written out by hand from the textbook formulas
(the score's two moments, XᵀWX, the Gaussian information matrix). Models are built once per
session (``model_for`` caches them), so that their compiled functions are shared by every
test that uses them.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pymc as pm

from pmfisher.reporting.datasets import eight_schools

RNG = np.random.default_rng(20261122)

POISSON_Y = RNG.poisson(3.0, size=40)
EXPONENTIAL_Y = RNG.exponential(1 / 2.0, size=30)
BERNOULLI_Y = RNG.binomial(1, 0.3, size=50)
NORMAL_Y = RNG.normal(1.0, 2.0, size=60)
LOGIT_X = RNG.normal(size=(80, 3))
LOGIT_Y = RNG.binomial(1, 1 / (1 + np.exp(-LOGIT_X @ np.array([0.5, -1.0, 0.25]))))
GROUPS = np.repeat(np.arange(3), [4, 7, 9])
GROUP_Y = RNG.normal(np.array([0.0, 1.0, 2.0])[GROUPS], 1.5)
MV_COV = np.array([[2.0, 0.6], [0.6, 1.0]])
MV_Y = RNG.multivariate_normal([0.5, -0.5], MV_COV, size=25)
COUNT_X = RNG.normal(size=35)
COUNT_Y = RNG.poisson(np.exp(0.3 + 0.7 * COUNT_X))
REG_X = RNG.normal(size=30)
REG_Y = 1.0 + 2.0 * REG_X + RNG.normal(scale=0.5, size=30)


def poisson():
    with pm.Model() as model:
        lam = pm.Gamma("lam", 2.0, 1.0)
        pm.Poisson("y", lam, observed=POISSON_Y)
    return model


def exponential():
    with pm.Model() as model:
        lam = pm.HalfNormal("lam", 5.0)
        pm.Exponential("y", lam=lam, observed=EXPONENTIAL_Y)
    return model


def bernoulli():
    with pm.Model() as model:
        p = pm.Beta("p", 1.0, 1.0)
        pm.Bernoulli("y", p=p, observed=BERNOULLI_Y)
    return model


def normal():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Normal("y", mu, sigma, observed=NORMAL_Y)
    return model


LOGIT_PRIOR_SD = 2.0


def logistic():
    with pm.Model(coords={"x": ["x1", "x2", "x3"], "obs": range(len(LOGIT_Y))}) as model:
        X = pm.Data("X", LOGIT_X, dims=("obs", "x"))
        beta = pm.Normal("beta", 0.0, LOGIT_PRIOR_SD, dims="x")
        pm.Bernoulli("y", logit_p=X @ beta, observed=LOGIT_Y, dims="obs")
    return model


GROUP_SIGMA = 1.5


def grouped_means():
    with pm.Model(coords={"group": ["A", "B", "C"]}) as model:
        mu = pm.Normal("mu", 0.0, 10.0, dims="group")
        pm.Normal("y", mu[GROUPS], GROUP_SIGMA, observed=GROUP_Y)
    return model


def mv_normal():
    with pm.Model(coords={"coord": ["u", "v"]}) as model:
        mu = pm.Normal("mu", 0.0, 10.0, dims="coord")
        pm.MvNormal("y", mu=mu, cov=MV_COV, observed=MV_Y)
    return model


def poisson_regression_data():
    with pm.Model() as model:
        x = pm.Data("x", COUNT_X)
        a = pm.Normal("a", 0.0, 5.0)
        b = pm.Normal("b", 0.0, 5.0)
        pm.Poisson("y", pm.math.exp(a + b * x), observed=COUNT_Y)
    return model


REG_SIGMA = 0.5


def regression_deterministic():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 5.0)
        b = pm.Normal("b", 0.0, 5.0)
        mean = pm.Deterministic("mean", a + b * REG_X)
        pm.Normal("y", mean, REG_SIGMA, observed=REG_Y)
    return model


@functools.cache
def model_for(factory: Callable[[], pm.Model]) -> pm.Model:
    """One model per factory for the whole test session."""
    return factory()


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _logit_information(beta):
    p = _sigmoid(LOGIT_X @ beta)
    return LOGIT_X.T @ (LOGIT_X * (p * (1 - p))[:, None])


def _normal_information(mu, sigma):
    r = NORMAL_Y - mu
    n = r.size
    return np.array(
        [
            [n / sigma**2, 2 * r.sum() / sigma**3],
            [2 * r.sum() / sigma**3, -n / sigma**2 + 3 * (r**2).sum() / sigma**4],
        ]
    )


def _normal_information_log_sigma(mu, sigma):
    r = NORMAL_Y - mu
    n = r.size
    return np.array(
        [
            [n / sigma**2, 2 * r.sum() / sigma**2],
            [2 * r.sum() / sigma**2, 2 * (r**2).sum() / sigma**2],
        ]
    )


def _count_information(a, b):
    design = np.column_stack([np.ones_like(COUNT_X), COUNT_X])
    rate = np.exp(a + b * COUNT_X)
    return design.T @ (design * rate[:, None])


@dataclass(frozen=True)
class Case:
    """Analytic observed information of ``terms`` in ``space`` at ``point``."""

    id: str
    factory: Callable[[], pm.Model]
    point: dict
    information: np.ndarray
    labels: tuple[str, ...]
    terms: str = "likelihood"
    space: str = "constrained"

    @property
    def model(self) -> pm.Model:
        return model_for(self.factory)


n_pois, lam_hat = POISSON_Y.size, POISSON_Y.mean()
p_hat = BERNOULLI_Y.mean()
mu_hat, sigma_hat = NORMAL_Y.mean(), NORMAL_Y.std()
beta_at = np.array([0.3, -0.8, 0.1])
GROUP_COUNTS = np.bincount(GROUPS)

CASES = [
    Case("poisson-mle", poisson, {"lam": lam_hat}, np.array([[n_pois / lam_hat]]), ("lam",)),
    Case("poisson-away", poisson, {"lam": 2.0}, np.array([[POISSON_Y.sum() / 4.0]]), ("lam",)),
    Case(
        "exponential",
        exponential,
        {"lam": 1.7},
        np.array([[EXPONENTIAL_Y.size / 1.7**2]]),
        ("lam",),
    ),
    Case(
        "bernoulli-mle",
        bernoulli,
        {"p": p_hat},
        np.array([[BERNOULLI_Y.size / (p_hat * (1 - p_hat))]]),
        ("p",),
    ),
    Case(
        "bernoulli-away",
        bernoulli,
        {"p": 0.6},
        np.array([[BERNOULLI_Y.sum() / 0.36 + (BERNOULLI_Y.size - BERNOULLI_Y.sum()) / 0.16]]),
        ("p",),
    ),
    Case(
        "bernoulli-logit",
        bernoulli,
        {"p": 0.6},
        np.array([[BERNOULLI_Y.size * 0.6 * 0.4]]),
        ("p_logodds__",),
        space="unconstrained",
    ),
    # Beta(1, 1) prior: the unconstrained posterior k log p + (n − k) log(1 − p) + log p(1 − p)
    # includes the log-Jacobian, so its curvature is (n + 2) p(1 − p), not n p(1 − p).
    Case(
        "bernoulli-logit-posterior",
        bernoulli,
        {"p": 0.3},
        np.array([[(BERNOULLI_Y.size + 2) * 0.3 * 0.7]]),
        ("p_logodds__",),
        terms="posterior",
        space="unconstrained",
    ),
    Case(
        "normal-mle",
        normal,
        {"mu": mu_hat, "sigma": sigma_hat},
        np.diag([NORMAL_Y.size / sigma_hat**2, 2 * NORMAL_Y.size / sigma_hat**2]),
        ("mu", "sigma"),
    ),
    Case(
        "normal-away",
        normal,
        {"mu": 0.2, "sigma": 1.3},
        _normal_information(0.2, 1.3),
        ("mu", "sigma"),
    ),
    Case(
        "normal-log-sigma-mle",
        normal,
        {"mu": mu_hat, "sigma": sigma_hat},
        np.diag([NORMAL_Y.size / sigma_hat**2, 2.0 * NORMAL_Y.size]),
        ("mu", "sigma_log__"),
        space="unconstrained",
    ),
    Case(
        "normal-log-sigma-away",
        normal,
        {"mu": 0.2, "sigma": 1.3},
        _normal_information_log_sigma(0.2, 1.3),
        ("mu", "sigma_log__"),
        space="unconstrained",
    ),
    Case(
        "logistic",
        logistic,
        {"beta": beta_at},
        _logit_information(beta_at),
        ("beta[x1]", "beta[x2]", "beta[x3]"),
    ),
    Case(
        "logistic-posterior",
        logistic,
        {"beta": beta_at},
        _logit_information(beta_at) + np.eye(3) / LOGIT_PRIOR_SD**2,
        ("beta[x1]", "beta[x2]", "beta[x3]"),
        terms="posterior",
    ),
    Case(
        "grouped-means-dims",
        grouped_means,
        {"mu": np.array([0.1, 0.9, 2.2])},
        np.diag(GROUP_COUNTS / GROUP_SIGMA**2),
        ("mu[A]", "mu[B]", "mu[C]"),
    ),
    Case(
        "mv-normal",
        mv_normal,
        {"mu": np.array([0.4, -0.3])},
        MV_Y.shape[0] * np.linalg.inv(MV_COV),
        ("mu[u]", "mu[v]"),
    ),
    Case(
        "pm-data",
        poisson_regression_data,
        {"a": 0.2, "b": 0.6},
        _count_information(0.2, 0.6),
        ("a", "b"),
    ),
    Case(
        "deterministic",
        regression_deterministic,
        {"a": 0.9, "b": 2.1},
        np.array([[REG_X.size, REG_X.sum()], [REG_X.sum(), (REG_X**2).sum()]]) / REG_SIGMA**2,
        ("a", "b"),
    ),
]


# -- Laplace approximation (tests/test_laplace.py, tests/test_delta.py) ----------------------


def eight_schools_noncentred():
    return eight_schools(centred=False)


def eight_schools_centred():
    return eight_schools(centred=True)


# Normal mean with known sigma and a conjugate normal prior: the posterior is Gaussian.
CONJUGATE_PRIOR = (1.0, 2.0)
CONJUGATE_SIGMA = 2.0


def conjugate_normal_mean():
    with pm.Model() as model:
        mu = pm.Normal("mu", *CONJUGATE_PRIOR)
        pm.Deterministic("mu_squared", mu**2)
        pm.Normal("y", mu, CONJUGATE_SIGMA, observed=NORMAL_Y)
    return model


def conjugate_posterior() -> tuple[float, float]:
    """Exact posterior mean and variance of ``mu`` in :func:`conjugate_normal_mean`."""
    prior_mean, prior_sd = CONJUGATE_PRIOR
    precision = 1 / prior_sd**2 + NORMAL_Y.size / CONJUGATE_SIGMA**2
    mean = (prior_mean / prior_sd**2 + NORMAL_Y.sum() / CONJUGATE_SIGMA**2) / precision
    return mean, 1 / precision


# Linear regression with flat coefficients and the Jeffreys prior p(sigma) ∝ 1/sigma: the
# marginal posterior of sigma² is scaled-inverse-χ²(n - p, s²), while the joint mode has
# sigma² = RSS / n, biased low.
JEFFREYS_X = np.column_stack([np.ones(50), RNG.normal(size=(50, 4))])
JEFFREYS_Y = JEFFREYS_X @ np.array([1.0, 0.5, -0.5, 0.25, 0.0]) + RNG.normal(scale=0.7, size=50)


def jeffreys_regression():
    with pm.Model() as model:
        beta = pm.Flat("beta", shape=JEFFREYS_X.shape[1])
        sigma = pm.HalfFlat("sigma")
        pm.Potential("jeffreys", -pm.math.log(sigma))
        pm.Normal("y", JEFFREYS_X @ beta, sigma, observed=JEFFREYS_Y)
    return model
