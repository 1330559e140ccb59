"""criterion_spec, parameter_draws and evaluate: what the user's criterion and point become,
and the criterion with its gradient at one point and averaged over draws, against closed
forms of a straight line with an unknown noise scale."""

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from pmfisher._core.model.model_graph import model_graph
from pmfisher.design.design_graph import design_graph
from pmfisher.design.evaluation import CriterionSpec, criterion_spec, evaluate, parameter_draws
from pmfisher.errors import ArgumentError, NotPositiveDefiniteError, PointError

RUNS = np.array([-1.0, -0.2, 0.5, 1.0, 1.0])
SIGMAS = np.array([0.5, 2.0])


@pytest.fixture(scope="module")
def graph():
    with pm.Model() as model:
        x = pm.Data("x", np.zeros(4))
        a, b = pm.Normal("a"), pm.Normal("b")
        sigma = pm.HalfNormal("sigma")
        pm.Deterministic("mean_at_half", a + 0.5 * b)
        pm.Normal("y", a + b * x, sigma, observed=np.zeros(4), shape=x.shape)
    return model_graph(model, space="constrained", terms="likelihood")


@pytest.fixture(scope="module")
def line(graph):
    return design_graph(graph, ("x",))


def thetas(sigmas):
    return np.column_stack([np.full(len(sigmas), 0.3), np.full(len(sigmas), 1.2), sigmas])


def closed_form_information(x, sigma):
    rows = np.column_stack([np.ones_like(x), x])
    matrix = np.zeros((3, 3))
    matrix[:2, :2] = rows.T @ rows / sigma**2
    matrix[2, 2] = 2 * x.size / sigma**2
    return matrix


def test_d_value_and_gradient_at_one_point(line):
    spec = criterion_spec(line.graph, "D", None)
    result = evaluate(line, "total", spec, thetas([0.5]), [RUNS])
    expected = closed_form_information(RUNS, 0.5)
    assert result.value == pytest.approx(np.linalg.slogdet(expected)[1], rel=1e-13)
    np.testing.assert_allclose(result.matrices[0], expected, rtol=1e-13)
    inverse = np.linalg.inv(expected[:2, :2] * 0.5**2)  # σ cancels from ∂ log det
    np.testing.assert_allclose(
        result.gradients["x"], 2 * inverse[0, 1] + 2 * RUNS * inverse[1, 1], rtol=1e-12
    )


def test_a_criterion_averaged_over_draws_scales_with_the_mean_of_sigma_squared(line):
    """tr M⁻¹ = σ² (tr (X'X)⁻¹ + 1/(2n)) and its gradient σ² ∂ tr (X'X)⁻¹/∂x: the average
    over draws of σ is the mean of σ² times the unit-variance value."""
    spec = criterion_spec(line.graph, "A", None)
    result = evaluate(line, "total", spec, thetas(SIGMAS), [RUNS])
    rows = np.column_stack([np.ones_like(RUNS), RUNS])
    inverse = np.linalg.inv(rows.T @ rows)
    unit = np.trace(inverse) + 1 / (2 * RUNS.size)
    np.testing.assert_allclose(result.values, SIGMAS**2 * unit, rtol=1e-13)
    assert result.value == pytest.approx(np.mean(SIGMAS**2) * unit, rel=1e-13)
    # ∂ tr A⁻¹/∂x_r = −tr(A⁻¹ D_r A⁻¹), D_r = [[0, 1], [1, 2 x_r]]
    squared = inverse @ inverse
    unit_gradient = -(2 * squared[0, 1] + 2 * RUNS * squared[1, 1])
    np.testing.assert_allclose(
        result.gradients["x"], np.mean(SIGMAS**2) * unit_gradient, rtol=1e-12
    )


def test_a_singular_information_names_the_parameter_it_cannot_determine(line):
    spec = criterion_spec(line.graph, "D", None)
    with pytest.raises(NotPositiveDefiniteError, match="b"):
        evaluate(line, "total", spec, thetas([1.0]), [np.zeros(4)])


def test_criterion_spec_reads_the_parameters_of_interest(graph):
    assert criterion_spec(graph, "D", None) == CriterionSpec("D")
    assert criterion_spec(graph, "Ds", "b").nuisance == (0, 2)
    assert criterion_spec(graph, "Ds", ["a", "sigma"]).nuisance == (1,)
    assert criterion_spec(graph, "c", "mean_at_half").deterministic == "mean_at_half"
    contrast = criterion_spec(graph, "c", {"a": 1.0, "b": 0.5}).contrast
    np.testing.assert_array_equal(contrast, [1.0, 0.5, 0.0])
    assert criterion_spec(graph, "D", None).sign == 1.0
    assert criterion_spec(graph, "A", None).sign == -1.0


@pytest.mark.parametrize(
    ("criterion", "parameters", "message"),
    [
        ("Ds", None, "needs parameters"),
        ("Ds", "tau", "'tau', which is neither a free variable"),
        ("c", "tau", "'tau', which is not a deterministic"),
        ("c", 3.0, "a deterministic's name or a mapping"),
        ("c", {"tau": 1.0}, "'tau', which is not a parameter label"),
        ("D", "a", "applies to criterion='Ds' and criterion='c'"),
    ],
)
def test_criterion_spec_refusals(graph, criterion, parameters, message):
    with pytest.raises(ArgumentError, match=message):
        criterion_spec(graph, criterion, parameters)


def test_parameter_draws_from_a_point_and_from_draws(graph):
    rows, batched = parameter_draws(graph, {"a": 0.3, "b": 1.2, "sigma": 0.5})
    np.testing.assert_array_equal(rows, [[0.3, 1.2, 0.5]])
    assert not batched
    rows, batched = parameter_draws(graph, {"a": [0.3, 0.4], "b": [1.2, 1.1], "sigma": SIGMAS})
    np.testing.assert_array_equal(rows, [[0.3, 1.2, 0.5], [0.4, 1.1, 2.0]])
    assert batched
    posterior = xr.Dataset(
        {
            name: (("chain", "draw"), np.array([values]))
            for name, values in {"a": [0.3, 0.4], "b": [1.2, 1.1], "sigma": SIGMAS}.items()
        }
    )
    rows, batched = parameter_draws(graph, posterior)
    np.testing.assert_array_equal(rows, [[0.3, 1.2, 0.5], [0.4, 1.1, 2.0]])
    assert batched


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ([0.3, 1.2, 0.5], "must map free-variable names"),
        ({"a": [0.3, 0.4], "b": 1.2, "sigma": SIGMAS}, "b have none"),
        ({"a": [0.3, 0.4], "b": [1.2, 1.1], "sigma": [0.5]}, r"different numbers of draws"),
    ],
)
def test_parameter_draws_refusals(graph, point, message):
    with pytest.raises(PointError, match=message):
        parameter_draws(graph, point)
