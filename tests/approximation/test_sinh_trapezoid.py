"""The sinh-trapezoid rule against closed forms: the standard normal's moments, and the
log-gamma density exp(a z − e^z)/Γ(a), whose exponential left tail (the posterior of a
log-scale under a prior density finite at zero) Gauss–Hermite integrates slowly."""

import numpy as np
import pytest
from scipy import special

from pmfisher.approximation.quadrature import rule
from pmfisher.approximation.sinh_trapezoid import COARSE_STEP, sinh_trapezoid_rule


def log_gamma_g(z: np.ndarray, a: float) -> np.ndarray:
    """log g with N(z|0,1) g(z) the density of log X, X ~ Gamma(a, 1), standardized at its
    mode log a (curvature a there)."""
    x = np.log(a) + z / np.sqrt(a)
    return (
        a * x
        - np.exp(x)
        - special.gammaln(a)
        - 0.5 * np.log(a)
        + 0.5 * z**2
        + 0.5 * np.log(2 * np.pi)
    )


@pytest.mark.parametrize("dimension", [1, 2])
def test_gaussian_moments(dimension):
    placed = sinh_trapezoid_rule(dimension=dimension, step=COARSE_STEP / 2)
    assert placed.nodes.shape == (25**dimension, dimension)
    # Geometric convergence in 1/h: 1.6e-4 at step 0.6, 6.1e-8 at 0.3 (per dimension).
    assert placed.weights.sum() == pytest.approx(1.0, abs=2e-7)
    assert placed.weights @ placed.nodes[:, 0] ** 2 == pytest.approx(1.0, rel=1e-5)
    assert placed.weights @ placed.nodes[:, -1] ** 4 == pytest.approx(3.0, rel=1e-4)


@pytest.mark.parametrize("a", [1.0, 2.5])
def test_an_exponential_tail(a):
    """Every rule integrates a density to 1: the sinh-trapezoid rule to 1e-5 nats with step
    0.3 (a = 1: 1.1e-3 at step 0.6, 5.9e-6 at 0.3), far below the change from step 0.6, its
    error indicator; Gauss–Hermite with 7 nodes misses by 8.7e-3 (a = 1) and 9.4e-4."""
    fine = sinh_trapezoid_rule(dimension=1, step=COARSE_STEP / 2)
    coarse = sinh_trapezoid_rule(dimension=1, step=COARSE_STEP)
    fine_error = abs(np.log(fine.weights @ np.exp(log_gamma_g(fine.nodes[:, 0], a))))
    coarse_error = abs(np.log(coarse.weights @ np.exp(log_gamma_g(coarse.nodes[:, 0], a))))
    assert fine_error < 1e-5
    assert fine_error < 0.01 * coarse_error
    gauss_hermite = rule(dimension=1, nodes=7)
    error = abs(np.log(gauss_hermite.weights @ np.exp(log_gamma_g(gauss_hermite.nodes[:, 0], a))))
    assert error > 100 * fine_error


def test_draws_follow_the_density():
    """The draws' mean and variance are log X's, ψ(a) and ψ'(a) (standardized), within Monte
    Carlo error; their log-density, constant over a cell in t, is the normalized density to
    within its change over a cell (0.056 nats on average)."""
    a, count = 1.0, 40_000
    placed = sinh_trapezoid_rule(dimension=1, step=COARSE_STEP / 2)
    log_g = log_gamma_g(placed.nodes[:, 0], a)
    z, log_q = placed.sample(log_g, count, np.random.default_rng(3))
    x = np.log(a) + z[:, 0] / np.sqrt(a)
    sd = np.sqrt(special.polygamma(1, a))
    assert abs(x.mean() - special.digamma(a)) < 4 * sd / np.sqrt(count)
    assert abs(x.var() / sd**2 - 1) < 4 * np.sqrt(2 / count) * 2  # the kurtosis of log X
    log_p = a * x - np.exp(x) - special.gammaln(a) - 0.5 * np.log(a)
    assert np.abs(log_q - log_p).mean() < 0.1
    assert placed.boundary_mass(log_g) < 1e-7  # e^-18 at z = -18
