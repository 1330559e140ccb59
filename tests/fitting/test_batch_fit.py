"""The MLE of many data sets at once: each replicate's closed-form MLE, and ``find_mode`` on
each data set where there is none."""

import numpy as np
import pymc as pm

from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.data.simulation import simulate_data
from pmfisher.fitting.batch_fit import fit_batch
from pmfisher.fitting.mode import find_mode
from tests.closed_forms import logistic, model_for, normal, poisson


def test_fit_batch_finds_each_replicates_mle():
    model = model_for(poisson)
    data = simulate_data(model, {"lam": 3.0}, 50, random_seed=9)
    fit = fit_batch(model, data, {"lam": 1.0})
    assert fit.converged.all()
    np.testing.assert_allclose(fit.constrained[:, 0], data["y"].mean(axis=1), rtol=1e-8)
    np.testing.assert_allclose(fit.x[:, 0], np.log(data["y"].mean(axis=1)), rtol=1e-8)


def test_fit_batch_logistic_matches_find_mode():
    model = model_for(logistic)
    like = data_likelihood(model, space="constrained")
    fit = fit_batch(model, like.observed_batch(2), np.zeros(3))
    mode = find_mode(model=model, terms="likelihood", space="constrained")
    np.testing.assert_allclose(fit.constrained, np.tile(mode.x, (2, 1)), rtol=1e-6)


def test_normal_replicates_have_the_closed_form_mle():
    """μ̂ = ȳ and σ̂² = mean (y − ȳ)² per data set, started away from both; the search runs in
    (μ, log σ) and reports both spaces."""
    model = model_for(normal)
    data = simulate_data(model, {"mu": 1.0, "sigma": 2.0}, 7, random_seed=3)
    fit = fit_batch(model, data, {"mu": -3.0, "sigma": 10.0})
    assert fit.converged.all()
    y = data["y"]
    sigma_hat = np.sqrt(((y - y.mean(axis=1, keepdims=True)) ** 2).mean(axis=1))
    # Newton stops at a gradient of 1e-9·|log L| (≈ 1e-7 here) over a curvature n/σ² ≈ 15.
    np.testing.assert_allclose(fit.constrained[:, 0], y.mean(axis=1), rtol=1e-8)
    np.testing.assert_allclose(fit.constrained[:, 1], sigma_hat, rtol=1e-8)
    np.testing.assert_allclose(fit.x[:, 1], np.log(sigma_hat), rtol=1e-8)
    n = y.shape[1]
    expected = -n * np.log(sigma_hat) - n / 2 * (1 + np.log(2 * np.pi))
    np.testing.assert_allclose(fit.logp, expected, rtol=1e-12)
    assert np.all(fit.grad_norm < 1e-6)


def test_each_replicate_is_the_mode_find_mode_finds_on_its_data_set():
    """A Gamma regression with a log link (no closed form): fit_batch on three simulated data
    sets against find_mode on each, set into the model's data container."""
    x = np.linspace(-1.0, 1.0, 12)
    with pm.Model(coords={"obs": range(12)}) as model:
        covariate = pm.Data("x", x, dims="obs")
        y_data = pm.Data("y_data", np.exp(0.5 + 0.8 * x), dims="obs")
        a = pm.Normal("a", 0.0, 5.0)
        b = pm.Normal("b", 0.0, 5.0)
        shape = pm.Gamma("shape", 2.0, 0.5)
        mean = pm.math.exp(a + b * covariate)
        pm.Gamma("y", alpha=shape, beta=shape / mean, observed=y_data, dims="obs")
    data = simulate_data(model, {"a": 0.5, "b": 0.8, "shape": 3.0}, 3, random_seed=21)
    fit = fit_batch(model, data, {"a": 0.0, "b": 0.0, "shape": 1.0})
    assert fit.converged.all()
    for replicate, found in zip(data["y"], fit.constrained, strict=True):
        with model:
            pm.set_data({"y_data": replicate})
        mode = find_mode(model=model, terms="likelihood", space="constrained")
        np.testing.assert_allclose(found, mode.x, rtol=1e-6)
    assert not np.allclose(fit.constrained[0], fit.constrained[1], rtol=1e-3)
