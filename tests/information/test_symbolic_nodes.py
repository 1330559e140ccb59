"""Quadrature rules: the moments of censored, truncated and hurdle distributions, summed
from the rule's nodes and weights, against their closed forms."""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import stats

from pmfisher.information.symbolic_nodes import continuous_rule


def expectation(rv, function):
    """Σ over pieces of Σ_k w_k g(y_k), per observation."""
    pieces = continuous_rule(rv, "y")
    return sum((w * function(n)).sum(0) for n, w in pieces).eval()


MU = np.array([-0.4, 0.2, 1.1])
SIGMA = 0.8


def test_a_censored_normal_has_its_point_masses_and_its_moments():
    """Y = clip(X, −0.8, 0.5), X ~ N(μ, σ): total mass 1, and E[Y], E[Y²] from the truncated
    moments plus the bounds times their masses."""
    low, high = -0.8, 0.5
    rv = pm.Censored.dist(pm.Normal.dist(MU, SIGMA), lower=low, upper=high)
    a, b = (low - MU) / SIGMA, (high - MU) / SIGMA
    interior = stats.truncnorm(a, b, loc=MU, scale=SIGMA)
    inside = stats.norm.cdf(b) - stats.norm.cdf(a)
    below, above = stats.norm.cdf(a), stats.norm.sf(b)
    for power in (0, 1, 2):
        expected = inside * interior.moment(power) + below * low**power + above * high**power
        np.testing.assert_allclose(expectation(rv, lambda y, k=power: y**k), expected, rtol=1e-12)


def test_a_right_censored_exponential_puts_its_survival_at_the_bound():
    """E[min(X, c)] = β(1 − e^{−c/β}) for X ~ Exponential(scale β)."""
    scale = np.array([0.5, 1.0, 3.0])
    rv = pm.Censored.dist(pm.Exponential.dist(scale=scale), lower=None, upper=1.0)
    np.testing.assert_allclose(
        expectation(rv, lambda y: y), scale * (1 - np.exp(-1.0 / scale)), rtol=1e-12
    )
    np.testing.assert_allclose(expectation(rv, lambda y: y**0), 1.0, rtol=1e-14)


@pytest.mark.parametrize("upper", [None, 1.5])
def test_a_truncated_normal_has_its_moments(upper):
    rv = pm.Truncated.dist(pm.Normal.dist(MU, SIGMA), lower=0.0, upper=upper)
    b = np.inf if upper is None else (upper - MU) / SIGMA
    reference = stats.truncnorm(-MU / SIGMA, b, loc=MU, scale=SIGMA)
    for power in (0, 1, 2, 3):
        np.testing.assert_allclose(
            expectation(rv, lambda y, k=power: y**k), reference.moment(power), rtol=1e-11
        )


def test_a_hurdle_gamma_weighs_its_zero_and_its_gamma():
    """E[Y] = ψ α/β and P(Y = 0) = 1 − ψ."""
    rv = pm.HurdleGamma.dist(psi=0.6, alpha=2.5, beta=np.array([0.5, 2.0]))
    np.testing.assert_allclose(expectation(rv, lambda y: y), 0.6 * 2.5 / np.array([0.5, 2.0]))
    np.testing.assert_allclose(expectation(rv, lambda y: pt.eq(y, 0)), 0.4, rtol=1e-14)
