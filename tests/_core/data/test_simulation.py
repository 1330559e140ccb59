"""Simulation: replicate data sets drawn from the model's forward graph at a point, with the
seed, the covariates held fixed, and the samplers that cannot be vectorized."""

import numpy as np
import pymc as pm
import pytest

from pmfisher._core.data.simulation import simulate_data
from pmfisher.errors import UnsupportedModelError
from tests.closed_forms import LOGIT_X, logistic, model_for, poisson

BETA = np.array([0.3, -0.8, 0.1])


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_shapes_and_seed():
    model = model_for(poisson)
    first = simulate_data(model, {"lam": 3.0}, 200, random_seed=5)
    again = simulate_data(model, {"lam": 3.0}, 200, random_seed=5)
    other = simulate_data(model, {"lam": 3.0}, 200, random_seed=6)
    assert set(first) == {"y"}
    assert first["y"].shape == (200, 40)
    np.testing.assert_array_equal(first["y"], again["y"])
    assert not np.array_equal(first["y"], other["y"])


def test_poisson_draws_have_the_right_mean():
    draws = simulate_data(model_for(poisson), {"lam": 3.0}, 500, random_seed=1)["y"]
    mcse = np.sqrt(3.0 / draws.size)
    assert abs(draws.mean() - 3.0) < 4 * mcse


def test_covariates_are_held_fixed():
    """Each observation's mean is its own sigmoid(xᵢᵀβ): the design matrix is not resampled."""
    draws = simulate_data(model_for(logistic), {"beta": BETA}, 4000, random_seed=2)["y"]
    p = _sigmoid(LOGIT_X @ BETA)
    z = (draws.mean(axis=0) - p) / np.sqrt(p * (1 - p) / len(draws))
    assert np.max(np.abs(z)) < 4.5  # 80 observations


def test_every_observed_variable_gets_the_replicate_axis():
    """A Binomial (first parameter free of θ), a chain of observed variables, and an
    observed variable that does not depend on θ at all."""
    x = np.linspace(-1, 1, 20)
    with pm.Model() as model:
        a = pm.Normal("a")
        pm.Binomial("counts", 7, logit_p=a + x, observed=np.full(20, 3))
        first = pm.Normal("first", a, 1.0, observed=np.zeros(3))
        pm.Normal("second", first, 0.01, observed=np.zeros(3))
        pm.Normal("noise", 0.0, 1.0, observed=np.zeros(2))
    data = simulate_data(model, {"a": 1.0}, 3000, random_seed=3)
    assert {name: value.shape for name, value in data.items()} == {
        "counts": (3000, 20),
        "first": (3000, 3),
        "second": (3000, 3),
        "noise": (3000, 2),
    }
    p = _sigmoid(1.0 + x)
    z = (data["counts"].mean(axis=0) - 7 * p) / np.sqrt(7 * p * (1 - p) / 3000)
    assert np.max(np.abs(z)) < 4.5
    # "second" follows the draw of "first", not the observed zeros
    assert np.max(np.abs(data["second"] - data["first"])) < 0.1
    assert abs(data["noise"].std() - 1.0) < 4 * np.sqrt(0.5 / data["noise"].size)


def test_custom_dist_without_random_is_named():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.CustomDist("y_custom", mu, logp=lambda value, mu: -((value - mu) ** 2), observed=[0.1])
    with pytest.raises(UnsupportedModelError, match=r"y_custom is a CustomDist without"):
        simulate_data(model, {"mu": 0.0}, 10)


def test_custom_dist_with_dist_is_simulated():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.CustomDist(
            "y_custom",
            mu,
            dist=lambda mu, size: pm.Normal.dist(mu, 1.0, size=size),
            observed=np.zeros(4),
        )
    draws = simulate_data(model, {"mu": 2.0}, 1000, random_seed=1)["y_custom"]
    assert draws.shape == (1000, 4)
    assert abs(draws.mean() - 2.0) < 4 / np.sqrt(draws.size)


def test_potential_likelihood_is_named():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.Potential("loglik", -((mu - 1.0) ** 2))
    with pytest.raises(UnsupportedModelError, match=r"Potential term.*loglik.*no forward sampler"):
        simulate_data(model, {"mu": 0.0}, 10)


def test_samplers_that_do_not_vectorize_draw_one_data_set_at_a_time():
    # A hurdle's truncated count is drawn by a rejection loop (a Scan) that PyTensor cannot
    # vectorize; the data sets still follow the point, differ, and repeat with the seed.
    with pm.Model() as model:
        psi = pm.Beta("psi", 2.0, 2.0)
        mu = pm.Gamma("mu", 2.0, 1.0)
        pm.HurdlePoisson("y", psi=psi, mu=mu, observed=np.array([0, 1, 3, 0, 2]))
    point = {"psi": 0.6, "mu": 2.5}
    first = simulate_data(model, point, 400, random_seed=11)["y"]
    again = simulate_data(model, point, 400, random_seed=11)["y"]
    np.testing.assert_array_equal(first, again)
    assert first.shape == (400, 5)
    assert not np.array_equal(first[0], first[1])
    # P(y > 0) = psi, and the positive part is a zero-truncated Poisson(mu).
    nonzero = first > 0
    assert abs(nonzero.mean() - 0.6) < 4 * np.sqrt(0.6 * 0.4 / first.size)
    truncated_mean = 2.5 / (1 - np.exp(-2.5))
    positive = first[nonzero]
    standard_error = positive.std() / np.sqrt(positive.size)
    assert abs(positive.mean() - truncated_mean) < 4 * standard_error
