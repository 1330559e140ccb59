"""The push-forward of Laplace draws: log p equal to PyMC's own log-density at each draw, every
free variable in both spaces and the deterministics, −inf (not an error) outside the support;
``draw``'s log q the Gaussian density of each draw, the same in chunks as in one batch."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from pmfisher._core.linalg.definiteness import positive_definite
from pmfisher._core.model.model_graph import model_graph
from pmfisher.approximation import laplace_draws
from pmfisher.approximation.laplace_draws import pushforward, values_pushforward

# Draws in the unconstrained space: mu, sigma_log__, w_simplex__ (2 free coordinates).
THETAS = np.array(
    [
        [0.3, np.log(1.2), 0.1, -0.4],
        [-1.0, np.log(0.4), 1.5, 0.2],
        [2.2, np.log(2.5), -0.7, -0.9],
    ]
)


@pytest.fixture(scope="module")
def model():
    with pm.Model(coords={"component": ["a", "b", "c"]}) as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        sigma = pm.HalfNormal("sigma", 1.5)
        w = pm.Dirichlet("w", np.array([2.0, 1.0, 3.0]), dims="component")
        pm.Deterministic("location", mu + pm.math.dot(w, [0.0, 1.0, 3.0]))
        pm.Normal("y", mu + w[2], sigma, observed=[0.4, 1.9, -0.3, 1.2])
    return model


def test_log_p_and_values_are_pymcs_at_every_draw(model):
    graph = model_graph(model, space="unconstrained", terms="posterior")
    pushed = pushforward(graph)(THETAS)
    logp = model.compile_logp(jacobian=True)
    # PyMC's own constrained values of the value variables (what its samplers store).
    outputs = model.unobserved_value_vars
    names = [output.name for output in outputs]
    to_values = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    for draw, theta in enumerate(THETAS):
        point = {"mu": theta[0], "sigma_log__": theta[1], "w_simplex__": theta[2:]}
        assert pushed["log_p"][draw] == pytest.approx(float(logp(point)), rel=1e-12)
        values = dict(zip(names, to_values(point), strict=True))
        for name in ("mu", "sigma", "w", "location"):
            np.testing.assert_allclose(pushed[name][draw], values[name], rtol=1e-12)
    assert pushed["w"].shape == (3, 3)
    np.testing.assert_allclose(pushed["w"].sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(pushed["unconstrained/sigma_log__"], THETAS[:, 1])
    np.testing.assert_array_equal(pushed["unconstrained/w_simplex__"], THETAS[:, 2:])
    values_only = values_pushforward(graph)(THETAS)
    assert "log_p" not in values_only
    np.testing.assert_array_equal(values_only["location"], pushed["location"])


def test_a_draw_outside_the_support_has_log_p_minus_infinity(model):
    graph = model_graph(model, space="constrained", terms="posterior")
    inside = graph.flatten({"mu": 0.3, "sigma": 1.2, "w": [0.2, 0.3, 0.5]})
    outside = inside.copy()
    outside[1] = -0.5  # sigma < 0
    pushed = pushforward(graph)(np.stack([inside, outside]))
    assert np.isfinite(pushed["log_p"][0])
    assert pushed["log_p"][1] == -np.inf


def test_log_q_is_the_gaussian_density_and_chunks_change_nothing(model, monkeypatch):
    graph = model_graph(model, space="unconstrained", terms="posterior")
    mean = np.array([0.2, -0.1, 0.3, 0.0])
    precision_matrix = np.array(
        [[4.0, 0.5, 0.0, 0.3], [0.5, 3.0, -0.4, 0.0], [0.0, -0.4, 2.0, 0.6], [0.3, 0.0, 0.6, 1.5]]
    )
    precision = positive_definite(precision_matrix, graph.labels, what="precision")
    push = pushforward(graph)
    whole, log_q = push.draw(mean, precision, 13, np.random.default_rng(4))
    thetas = np.column_stack(
        [whole["mu"], whole["unconstrained/sigma_log__"], whole["unconstrained/w_simplex__"]]
    )
    reference = stats.multivariate_normal(mean, np.linalg.inv(precision_matrix)).logpdf(thetas)
    np.testing.assert_allclose(log_q, reference, rtol=1e-12)
    # Chunks of 3 draws (13 = 1 + 3 + 3 + 3 + 3): the same numbers.
    floats = 2 * graph.size + sum(value[0].size for value in whole.values()) + 8 * 4
    monkeypatch.setattr(laplace_draws, "PUSHFORWARD_BYTES", 8 * floats * 3)
    assert push.chunk_size(13, floats - 2 * graph.size - 8 * 4) == 3
    chunked, chunked_log_q = push.draw(mean, precision, 13, np.random.default_rng(4))
    np.testing.assert_array_equal(chunked_log_q, log_q)
    for name, value in whole.items():
        np.testing.assert_array_equal(chunked[name], value)
