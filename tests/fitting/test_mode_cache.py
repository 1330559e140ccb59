"""The mode found once per model and data: reused by calls without a point, searched again
after ``pm.set_data``."""

import numpy as np
import pymc as pm
import pytest

from pmfisher import information_matrix_test, laplace, observed_information, sandwich_covariance
from pmfisher.fitting import mode_cache
from pmfisher.fitting.mode_cache import current_mode


@pytest.fixture
def counted(monkeypatch):
    """How many mode searches ran."""
    calls = []
    search = mode_cache.find_mode

    def counting(**options):
        calls.append(options)
        return search(**options)

    monkeypatch.setattr(mode_cache, "find_mode", counting)
    return calls


def _exponential_model(y):
    # Exponential rate λ with a Gamma(2, 1) prior: the MLE is 1/ȳ, the posterior mode in the
    # constrained space (1 + n) / (1 + Σy); a data container so that pm.set_data applies.
    with pm.Model() as model:
        data = pm.Data("y_data", np.asarray(y, dtype="float64"))
        lam = pm.Gamma("lam", 2.0, 1.0)
        pm.Exponential("y", lam, observed=data)
    return model


def test_calls_without_a_point_share_one_search(counted):
    y = np.array([0.5, 1.5, 0.8, 2.2, 0.3, 1.1, 0.9, 1.7])
    model = _exponential_model(y)
    information = observed_information(model=model)
    sandwich = sandwich_covariance(model=model)
    information_matrix_test(model=model, progressbar=False)
    assert len(counted) == 1  # one MLE search for all three
    # The reused mode is the MLE: J(λ̂) = n / λ̂² at λ̂ = 1 / ȳ.
    mle = 1 / y.mean()
    np.testing.assert_allclose(information.values, [[y.size / mle**2]], rtol=1e-6)
    assert sandwich.shape == (1, 1)
    laplace(model=model, draws=1000, random_seed=1)
    laplace(model=model, draws=1000, random_seed=2)
    assert len(counted) == 2  # one more: the posterior mode, once


def test_new_data_means_a_new_search_never_the_old_mode(counted):
    first, second = np.array([0.5, 1.5, 0.8, 2.2]), np.array([3.0, 4.0, 2.5, 5.5])
    model = _exponential_model(first)
    before = current_mode(model, terms="likelihood", space="constrained")
    np.testing.assert_allclose(before.point["lam"], 1 / first.mean(), rtol=1e-6)
    with model:
        pm.set_data({"y_data": second})
    after = current_mode(model, terms="likelihood", space="constrained")
    np.testing.assert_allclose(after.point["lam"], 1 / second.mean(), rtol=1e-6)
    np.testing.assert_allclose(
        observed_information(model=model).values, [[second.size * second.mean() ** 2]], rtol=1e-6
    )
    assert len(counted) == 2
    # The same values written again into the container: the digest, not the object, decides.
    with model:
        pm.set_data({"y_data": second.copy()})
    assert current_mode(model, terms="likelihood", space="constrained") is after
    assert len(counted) == 2


def test_a_failed_search_is_remembered_too(counted):
    # A centred hierarchical model: the posterior has no mode (τ → 0).
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        theta = pm.Normal("theta", mu, tau, shape=4)
        pm.Normal("y", theta, 10.0, observed=[8.0, -3.0, 7.0, 1.0])
    with pytest.warns(UserWarning, match="did not converge"):
        first = current_mode(model, terms="posterior", space="unconstrained")
    assert not first.converged
    with pytest.raises(ValueError, match="no mode of the posterior"):
        laplace(model=model, draws=25)
    assert len(counted) == 1


def test_the_latent_mode_is_searched_once_with_its_own_seed(counted):
    """Once ``laplace(latent=...)`` and ``observed_information(latent=...)`` each searched the
    marginal mode themselves, the first with restarts drawn from the caller's generator."""
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(4), 3)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfNormal("tau", 2.0)
        b = pm.Normal("b", 0.0, tau, shape=4)
        pm.Normal("y", mu + b[group], 1.0, observed=rng.normal(size=group.size))
    generator = np.random.default_rng(11)
    result = laplace(model=model, latent=["b"], draws=100, random_seed=generator)
    again = laplace(model=model, latent="b", draws=100, random_seed=np.random.default_rng(11))
    assert [call["latent"] for call in counted] == [["b"]]
    assert counted[0]["random_seed"] == mode_cache.RESTART_SEED
    np.testing.assert_array_equal(result.posterior["mu"].values, again.posterior["mu"].values)
    observed_information(model=model, terms="posterior", space="unconstrained", latent=["b"])
    assert len(counted) == 1
