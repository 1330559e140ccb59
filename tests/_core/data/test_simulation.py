"""The data side of the graph layer: simulation, data-replaced derivatives, batched MLE."""

import numpy as np
import pymc as pm
import pytest

from pmfisher._core.curvature import memory
from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.data.simulation import simulate_data
from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import UnsupportedModelError
from pmfisher.fitting.batch_fit import fit_batch
from tests.closed_forms import LOGIT_X, logistic, model_for, normal, poisson

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


@pytest.mark.parametrize("space", ["constrained", "unconstrained"])
def test_data_replaced_derivatives_match_the_model_on_its_own_data(space):
    model = model_for(normal)
    graph = model_graph(model, space=space, terms="likelihood")
    like = data_likelihood(model, space=space)
    x = graph.flatten({"mu": 0.2, "sigma": 1.3})
    logp, grad, hessian = like.logp_grad_hessian(np.tile(x, (3, 1)), like.observed_batch(3))
    expected_logp, expected_grad = graph.logp_and_grad_fn(x)
    np.testing.assert_allclose(logp, expected_logp, rtol=1e-12)
    np.testing.assert_allclose(grad, np.tile(expected_grad, (3, 1)), rtol=1e-10)
    np.testing.assert_allclose(hessian[1], graph.hessian_fn(x), rtol=1e-10)


def test_batched_derivatives_per_replicate():
    """Replicate r is evaluated at its own θ and its own data set (Poisson closed forms)."""
    model = model_for(poisson)
    data = simulate_data(model, {"lam": 3.0}, 6, random_seed=4)
    lam = np.linspace(1.0, 4.0, 6)
    like = data_likelihood(model, space="constrained")
    _, grad, hessian = like.logp_grad_hessian(lam[:, None], data)
    y = data["y"]
    np.testing.assert_allclose(grad[:, 0], y.sum(axis=1) / lam - y.shape[1], rtol=1e-12)
    np.testing.assert_allclose(hessian[:, 0, 0], -y.sum(axis=1) / lam**2, rtol=1e-12)
    scores = like.observation_scores(lam[:, None], data)
    np.testing.assert_allclose(scores[..., 0], y / lam[:, None] - 1, rtol=1e-12, atol=1e-14)
    hessians = like.observation_hessians(lam[:, None], data)
    np.testing.assert_allclose(hessians[..., 0, 0], -y / lam[:, None] ** 2, rtol=1e-12)


def test_chunking_does_not_change_the_numbers(monkeypatch):
    model = model_for(logistic)
    data = simulate_data(model, {"beta": BETA}, 7, random_seed=8)
    like = data_likelihood(model, space="constrained")
    theta = np.tile(BETA, (7, 1))
    whole = like.logp_grad_hessian(theta, data), like.observation_scores(theta, data)
    monkeypatch.setattr(memory, "ELEMENT_BUDGET", 100)  # 1 replicate, 1 direction per call
    chunked = like.logp_grad_hessian(theta, data), like.observation_scores(theta, data)
    for a, b in zip([*whole[0], whole[1]], [*chunked[0], chunked[1]], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_unbatched_route_gives_the_batched_numbers():
    """Where the batched graph fails at run time (OrderedLogistic), each replicate goes
    through the graph of one data set: same numbers, same axes."""
    model = model_for(logistic)
    data = simulate_data(model, {"beta": BETA}, 3, random_seed=8)
    like = data_likelihood(model, space="constrained")
    theta = BETA + np.arange(3)[:, None] * 0.1
    batched = like.observation_scores(theta, data), like.observation_hessians(theta, data)
    like._unbatchable.update({"_scores_fn", "_observation_hessians_fn"})
    try:
        single = like.observation_scores(theta, data), like.observation_hessians(theta, data)
    finally:
        like._unbatchable.clear()
    for a, b in zip(batched, single, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_fit_batch_finds_each_replicates_mle():
    model = model_for(poisson)
    data = simulate_data(model, {"lam": 3.0}, 50, random_seed=9)
    fit = fit_batch(model, data, {"lam": 1.0})
    assert fit.converged.all()
    np.testing.assert_allclose(fit.constrained[:, 0], data["y"].mean(axis=1), rtol=1e-8)
    np.testing.assert_allclose(fit.x[:, 0], np.log(data["y"].mean(axis=1)), rtol=1e-8)


def test_fit_batch_logistic_matches_find_mode():
    from pmfisher.fitting.mode import find_mode

    model = model_for(logistic)
    like = data_likelihood(model, space="constrained")
    fit = fit_batch(model, like.observed_batch(2), np.zeros(3))
    mode = find_mode(model=model, terms="likelihood", space="constrained")
    np.testing.assert_allclose(fit.constrained, np.tile(mode.x, (2, 1)), rtol=1e-6)


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
