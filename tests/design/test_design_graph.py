"""design_graph: the information as a graph of θ and of the design, against X'X/σ² written by
hand, at another number of runs than the model's; and the designs it refuses."""

import numpy as np
import pymc as pm
import pytest

from pmfisher._core.model.model_graph import model_graph
from pmfisher.design.design_graph import data_containers, design_graph
from pmfisher.errors import ArgumentError, UnsupportedModelError
from tests.design.test_optimal import polynomial

SIGMA = 0.7  # polynomial()'s noise scale
THETA = np.array([0.3, 1.0])
RUNS = np.array([-1.0, -0.2, 0.5, 0.9, 1.0, 1.0, 0.1])  # seven runs; the model holds five


def regressors(x):
    return np.column_stack([np.ones_like(x), x])


@pytest.fixture(scope="module")
def line():
    graph = model_graph(polynomial(1), space="constrained", terms="likelihood")
    return design_graph(graph, ("x",))


def test_total_information_is_x_transpose_x_over_sigma_squared(line):
    value, matrix, tail, gradient = line.function("total", "D")(THETA, RUNS)
    expected = regressors(RUNS).T @ regressors(RUNS) / SIGMA**2
    np.testing.assert_allclose(matrix, expected, rtol=1e-14)
    assert value == pytest.approx(np.linalg.slogdet(expected)[1], rel=1e-14)
    assert tail == 0.0  # no discrete quadrature
    # ∂ log det M/∂x_r = tr(M⁻¹ ∂M/∂x_r), ∂M/∂x_r = [[0, 1], [1, 2 x_r]]/σ²
    inverse = np.linalg.inv(expected)
    np.testing.assert_allclose(
        gradient, (2 * inverse[0, 1] + 2 * RUNS * inverse[1, 1]) / SIGMA**2, rtol=1e-12
    )


def test_per_run_information_is_each_runs_outer_product(line):
    per_run, tail = line.per_run_function()(THETA, RUNS)
    rows = regressors(RUNS)
    np.testing.assert_allclose(per_run, rows[:, :, None] * rows[:, None, :] / SIGMA**2)
    assert tail == 0.0


def test_weighted_gradient_is_the_d_sensitivity(line):
    weights = np.array([0.3, 0.0, 0.1, 0.2, 0.1, 0.1, 0.2])
    value, matrix, _, gradient_x, gradient_w = line.function("weighted", "D")(THETA, RUNS, weights)
    rows = regressors(RUNS)
    expected = rows.T @ (weights[:, None] * rows) / SIGMA**2
    np.testing.assert_allclose(matrix, expected, rtol=1e-14)
    assert value == pytest.approx(np.linalg.slogdet(expected)[1], rel=1e-14)
    # ∂ log det M(ξ)/∂w_r = tr(M⁻¹ I_r) = f_r' M⁻¹ f_r / σ², the variance function
    variance = np.einsum("ri,ij,rj->r", rows, np.linalg.inv(expected), rows) / SIGMA**2
    np.testing.assert_allclose(gradient_w, variance, rtol=1e-12)
    assert weights @ gradient_w == pytest.approx(2.0, rel=1e-12)  # = p
    assert gradient_x.shape == RUNS.shape


def test_built_once_per_graph_and_names(line):
    assert design_graph(line.graph, ("x",)) is line
    assert line.function("total", "D") is line.function("total", "D")
    assert line.current() is line


def test_contrast_of_a_deterministic_is_its_gradient():
    with pm.Model() as model:
        x = pm.Data("x", np.zeros(3))
        a, b = pm.Normal("a"), pm.Normal("b")
        pm.Deterministic("ratio", a / b)
        pm.Normal("y", a + b * x, 1.0, observed=np.zeros(3), shape=x.shape)
    graph = model_graph(model, space="constrained", terms="likelihood")
    contrast = design_graph(graph, ("x",)).contrast("ratio")
    a_value, b_value = 0.6, 1.5
    np.testing.assert_allclose(
        contrast.eval({graph.theta: np.array([a_value, b_value])}),
        [1 / b_value, -a_value / b_value**2],
        rtol=1e-14,
    )


def refusal_model():
    with pm.Model() as model:
        x = pm.Data("x", np.zeros(3))
        z = pm.Data("z", np.ones(3))
        count = pm.Data("count", np.arange(3))
        short = pm.Data("short", np.zeros(2))
        scalar = pm.Data("scalar", 1.0)
        unused = pm.Data("unused", np.zeros(3))
        y_obs = pm.Data("y_obs", np.zeros(3))
        a, b = pm.Normal("a"), pm.Normal("b")
        mean = a + b * x + z + count + scalar
        pm.Normal("y", mean, 1.0, observed=y_obs, shape=x.shape)
        pm.Normal("w", a + short, 1.0, observed=np.zeros(2))
        pm.Deterministic("u", unused.sum())
    return model


@pytest.mark.parametrize(
    ("names", "error", "message"),
    [
        (("t",), ArgumentError, r"'t', which is not a pm\.Data container"),
        (("y_obs",), ArgumentError, "holds the observed values of y"),
        (("count",), ArgumentError, "holds integers"),
        (("scalar",), ArgumentError, "are scalars"),
        (("x", "short"), ArgumentError, "different numbers of runs"),
        (("unused",), ArgumentError, "unused do not enter the distribution"),
    ],
)
def test_a_design_that_is_not_one_is_refused(names, error, message):
    graph = model_graph(refusal_model(), space="constrained", terms="likelihood")
    with pytest.raises(error, match=message):
        design_graph(graph, names)


def test_containers_the_design_leaves_out_fix_its_length_and_its_runs():
    model = refusal_model()
    assert set(data_containers(model)) == {"x", "z", "count", "short", "scalar", "unused", "y_obs"}
    graph = model_graph(model, space="constrained", terms="likelihood")
    design = design_graph(graph, ("x",))
    assert design.fixed_of_design_length == ("z", "count")
    design.check_length(3)
    with pytest.raises(ArgumentError, match="z, count hold one value per run"):
        design.check_length(4)
    assert design.following == {"y": True, "w": False}
    with pytest.raises(UnsupportedModelError, match="w do not depend on the design"):
        design.per_run()
