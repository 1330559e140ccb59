"""find_mode: closed-form maxima of likelihoods and posteriors, and the flag when none exists."""

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher.fitting.mode import DENSE_HESSIAN_LIMIT, require_converged
from tests.closed_forms import (
    BERNOULLI_Y,
    NORMAL_Y,
    POISSON_Y,
    bernoulli,
    model_for,
    normal,
    poisson,
)


def test_mle_of_normal_is_mean_and_biased_sd():
    mode = pmfisher.find_mode(model=model_for(normal), terms="likelihood", space="constrained")
    assert mode.converged
    np.testing.assert_allclose(mode.x, [NORMAL_Y.mean(), NORMAL_Y.std()], rtol=1e-8)
    assert mode.labels == ("mu", "sigma")


def test_map_depends_on_the_space_through_the_jacobian():
    # Beta(1, 1) prior: constrained MAP = k/n; in the logit space the Jacobian p(1-p)
    # makes it the mode of Beta(k+1, n-k+1) in logit coordinates: (k+1)/(n+2).
    k, n = BERNOULLI_Y.sum(), BERNOULLI_Y.size
    model = model_for(bernoulli)
    constrained = pmfisher.find_mode(model=model, terms="posterior", space="constrained")
    unconstrained = pmfisher.find_mode(model=model, terms="posterior", space="unconstrained")
    np.testing.assert_allclose(constrained.point["p"], k / n, rtol=1e-8)
    np.testing.assert_allclose(unconstrained.point["p"], (k + 1) / (n + 2), rtol=1e-8)
    np.testing.assert_allclose(unconstrained.x, np.log((k + 1) / (n - k + 1)), rtol=1e-8)


def test_poisson_posterior_mode_with_gamma_prior():
    # Gamma(2, 1) prior, constrained MAP = (Σy + 1) / (n + 1).
    mode = pmfisher.find_mode(model=model_for(poisson), terms="posterior", space="constrained")
    np.testing.assert_allclose(
        mode.point["lam"], (POISSON_Y.sum() + 1) / (POISSON_Y.size + 1), rtol=1e-8
    )
    assert mode.grad_norm < 1e-6


def test_unbounded_density_is_flagged_not_silently_returned():
    # Normal likelihood with one observation: sigma -> 0 at mu = y sends the density to +inf.
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 10)
        sigma = pm.HalfNormal("sigma", 1)
        pm.Normal("y", mu, sigma, observed=[0.3])
    with pytest.warns(UserWarning, match="did not converge"):
        mode = pmfisher.find_mode(model=model, terms="likelihood", random_seed=0)
    assert not mode.converged
    with (
        pytest.warns(UserWarning, match="did not converge"),
        pytest.raises(pmfisher.PMFisherError, match="no mode of the likelihood"),
    ):
        pmfisher.observed_information(model=model)


def test_a_saddle_start_is_left_for_a_true_mode():
    # log p = -(x² - 1)²: the default start x = 0 is stationary but a minimum of log p, so
    # the Newton search stops there at once; the restarts find a mode at ±1.
    with pm.Model() as model:
        x = pm.Flat("x")
        pm.Potential("double_well", -((x**2 - 1) ** 2))
    mode = pmfisher.find_mode(model=model, random_seed=0)
    assert mode.converged
    np.testing.assert_allclose(np.abs(mode.x), [1.0], rtol=1e-8)


def test_unbounded_hierarchical_density_names_the_runaway_scale():
    from tests.closed_forms import eight_schools_centred

    with pytest.warns(UserWarning, match="increases without bound"):
        mode = pmfisher.find_mode(model=model_for(eight_schools_centred), random_seed=0)
    assert not mode.converged
    assert "tau_log__ →" in mode.message
    assert "no mode exists" in mode.message
    with pytest.raises(pmfisher.PMFisherError, match="tau_log__"):
        require_converged(mode)


def test_truncated_newton_above_the_dense_limit():
    # Independent N(0, 1) priors and one N(mu_i, 1) observation each: the mode is y / 2.
    size = DENSE_HESSIAN_LIMIT + 50
    y = np.random.default_rng(3).normal(size=size)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0, shape=size)
        pm.Normal("y", mu, 1.0, observed=y)
    mode = pmfisher.find_mode(model=model)
    assert mode.converged
    np.testing.assert_allclose(mode.x, y / 2, rtol=1e-8, atol=1e-10)
