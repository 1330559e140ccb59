"""The exact Fisher information's closed forms, per observation in each distribution's own
parameters, against E[s sᵀ] of SciPy's log-density (scores by finite differences, the
expectation by quadrature or summation over the support)."""

import numpy as np
import pytest
from pytensor.tensor.random import basic as random_ops
from scipy import integrate, special, stats

from pmfisher.information import exact_fisher
from pmfisher.information.exact_fisher import CLOSED_FORMS
from pmfisher.testing import finite_difference_jacobian

# Distribution → (parameters in the op's order, SciPy log-density of y given them, support).
CONTINUOUS = {
    random_ops.NormalRV: (
        (0.4, 1.6),
        lambda y, m, s: stats.norm.logpdf(y, m, s),
        (-np.inf, np.inf),
    ),
    random_ops.StudentTRV: (
        (4.5, 0.3, 1.4),
        lambda y, nu, m, s: stats.t.logpdf(y, nu, m, s),
        (-np.inf, np.inf),
    ),
    random_ops.ExponentialRV: (
        (1.7,),
        lambda y, scale: stats.expon.logpdf(y, 0, scale),
        (0, np.inf),
    ),
    random_ops.GammaRV: (
        (2.3, 0.6),
        lambda y, shape, scale: stats.gamma.logpdf(y, shape, 0, scale),
        (0, np.inf),
    ),
    random_ops.BetaRV: ((2.5, 1.3), lambda y, a, b: stats.beta.logpdf(y, a, b), (0, 1)),
    random_ops.LogNormalRV: (
        (0.2, 0.7),
        lambda y, m, s: stats.lognorm.logpdf(y, s, 0, np.exp(m)),
        (0, np.inf),
    ),
}
DISCRETE = {
    random_ops.BernoulliRV: ((0.3,), lambda k, p: stats.bernoulli.logpmf(k, p), 2),
    random_ops.PoissonRV: ((2.5,), lambda k, mu: stats.poisson.logpmf(k, mu), 60),
    random_ops.NegBinomialRV: ((2.5, 0.4), lambda k, n, p: stats.nbinom.logpmf(k, n, p), 400),
}


def score_outer(logdensity, params, y):
    """s sᵀ at y, s the finite-difference gradient of the log-density in the parameters."""
    score = finite_difference_jacobian(lambda x: np.atleast_1d(logdensity(y, *x)), np.array(params))
    return score.T @ score


@pytest.mark.parametrize("op", list(CONTINUOUS), ids=lambda op: CLOSED_FORMS[op].name)
def test_continuous_closed_forms_are_the_expected_outer_product_of_scores(op):
    params, logdensity, (low, high) = CONTINUOUS[op]

    def integrand(y):
        return np.exp(logdensity(y, *params)) * score_outer(logdensity, params, y)

    expected, _ = integrate.quad_vec(integrand, low, high, epsabs=1e-12, epsrel=1e-10)
    closed = CLOSED_FORMS[op].information(*(np.float64(p) for p in params))
    assert closed.shape == (len(params), len(params))
    np.testing.assert_allclose(closed, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("op", list(DISCRETE), ids=lambda op: CLOSED_FORMS[op].name)
def test_discrete_closed_forms_are_the_expected_outer_product_of_scores(op):
    params, logdensity, support = DISCRETE[op]
    expected = sum(
        np.exp(logdensity(k, *params)) * score_outer(logdensity, params, k) for k in range(support)
    )
    closed = CLOSED_FORMS[op].information(*(np.float64(p) for p in params))
    np.testing.assert_allclose(closed, expected, rtol=1e-6, atol=1e-9)


def test_the_binomial_is_informative_about_p_only_with_n_trials():
    n, p = 7, 0.35
    closed = CLOSED_FORMS[random_ops.BinomialRV]
    assert closed.fixed == (0,)
    expected = sum(
        stats.binom.pmf(k, n, p) * (k / p - (n - k) / (1 - p)) ** 2 for k in range(n + 1)
    )
    np.testing.assert_allclose(
        closed.information(np.float64(n), np.float64(p)), [[expected]], rtol=1e-12
    )


def test_closed_forms_broadcast_over_observations():
    mu = np.array([0.0, 1.0, -2.0])
    sigma = np.array([[0.5], [2.0]])
    information = CLOSED_FORMS[random_ops.NormalRV].information(mu, sigma)
    assert information.shape == (2, 3, 2, 2)
    np.testing.assert_allclose(information[1, 2], [[0.25, 0.0], [0.0, 0.5]], rtol=1e-15)


@pytest.mark.parametrize("budget", [1, 700, 2000, 10**9])
def test_negative_binomial_series_in_uneven_chunks(monkeypatch, budget):
    """I_nn = E[ψ'(n) − ψ'(n + Y)] summed over the pmf directly, against the tail-sum series
    evaluated in chunks of rows of every size (one row, uneven chunks, all at once)."""
    n = np.array([0.5, 1.3, 2.0, 4.5, 7.0, 10.0, 0.8])
    p = np.array([0.2, 0.5, 0.35, 0.6, 0.3, 0.8, 0.05])
    k = np.arange(20000)[:, None]
    direct = np.sum(
        stats.nbinom.pmf(k, n, p) * (special.polygamma(1, n) - special.polygamma(1, n + k)), axis=0
    )
    monkeypatch.setattr(exact_fisher, "_SERIES_BUDGET", budget)
    information = exact_fisher._negative_binomial(n, p)
    np.testing.assert_allclose(information[:, 0, 0], direct, rtol=1e-10)
    np.testing.assert_allclose(information[:, 0, 1], -1 / p, rtol=1e-14)
    np.testing.assert_allclose(information[:, 1, 1], n / (p**2 * (1 - p)), rtol=1e-14)
