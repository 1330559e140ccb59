"""The likelihood as a function of (θ, data): per-replicate log-likelihoods, gradients,
Hessians, scores and per-observation Hessians against closed forms and the model's own graph,
in both spaces, whatever the chunking or the route."""

import numpy as np
import pytest

from pmfisher._core.curvature import memory
from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.data.simulation import simulate_data
from pmfisher._core.model.model_graph import model_graph
from tests.closed_forms import NORMAL_Y, logistic, model_for, normal, poisson

BETA = np.array([0.3, -0.8, 0.1])


def test_unconstrained_scores_and_hessians_are_the_normal_closed_forms():
    """Replicate r at (μ_r, log σ_r) and its own data: ∂/∂μ = (y − μ)/σ²,
    ∂/∂log σ = (y − μ)²/σ² − 1, and the per-observation Hessian
    [[−1/σ², −2(y − μ)/σ²], [−2(y − μ)/σ², −2(y − μ)²/σ²]]."""
    model = model_for(normal)
    like = data_likelihood(model, space="unconstrained")
    data = {"y": NORMAL_Y + np.arange(3)[:, None] * 0.5}
    mu, sigma = np.array([0.5, 1.0, 2.0]), np.array([1.5, 2.0, 0.8])
    theta = np.column_stack([mu, np.log(sigma)])
    np.testing.assert_allclose(like.to_constrained(theta), np.column_stack([mu, sigma]), rtol=1e-15)
    assert like.n_elements == NORMAL_Y.size
    r = (data["y"] - mu[:, None]) / sigma[:, None]
    logp, grad, hessian = like.logp_grad_hessian(theta, data)
    expected = (-0.5 * r**2 - np.log(sigma[:, None]) - 0.5 * np.log(2 * np.pi)).sum(axis=1)
    np.testing.assert_allclose(logp, expected, rtol=1e-13)
    scores = like.observation_scores(theta, data)
    np.testing.assert_allclose(scores[..., 0], r / sigma[:, None], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(scores[..., 1], r**2 - 1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, scores.sum(axis=1), rtol=1e-12, atol=1e-12)
    hessians = like.observation_hessians(theta, data)
    np.testing.assert_allclose(hessians[..., 0, 0], -1 / sigma[:, None] ** 2 + 0 * r, rtol=1e-12)
    np.testing.assert_allclose(hessians[..., 0, 1], -2 * r / sigma[:, None], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hessians[..., 1, 0], hessians[..., 0, 1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hessians[..., 1, 1], -2 * r**2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hessian, hessians.sum(axis=1), rtol=1e-12, atol=1e-12)
    # The model's own data, without a batch.
    own = like.observed_scores(theta[0])
    np.testing.assert_allclose(own[:, 1], ((NORMAL_Y - 0.5) / 1.5) ** 2 - 1, rtol=1e-12)


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
