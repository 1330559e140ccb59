"""exact_design: the best n runs in a box, against the closed-form optima of polynomial
regression with unit variance."""

import numpy as np
import pymc as pm
import pytest

from pmfisher._core.model.model_graph import model_graph
from pmfisher.design.design_graph import design_graph
from pmfisher.design.evaluation import CriterionSpec
from pmfisher.design.exact import STARTS, exact_design
from pmfisher.errors import ConvergenceError

BOX = [(-1.0, 1.0)]


def unit_variance_polynomial(degree):
    """:math:`y = \\sum_j \\beta_j x^j + \\varepsilon`, :math:`\\varepsilon \\sim N(0, 1)`:
    its information is :math:`X^\\top X`, whatever β."""
    with pm.Model() as model:
        x = pm.Data("x", np.zeros(4))
        beta = pm.Normal("beta", shape=degree + 1)
        mean = sum(beta[j] * x**j for j in range(degree + 1))
        pm.Normal("y", mean, 1.0, observed=np.zeros(4), shape=x.shape)
    graph = model_graph(model, space="constrained", terms="likelihood")
    return design_graph(graph, ("x",)), np.full((1, degree + 1), 0.4)


@pytest.fixture(scope="module")
def line():
    return unit_variance_polynomial(1)


@pytest.mark.parametrize("runs", [2, 4])
def test_an_even_number_of_runs_splits_between_the_ends(line, runs):
    """det X'X = n Σx² − (Σx)², largest at n/2 runs on each end: log det = 2 log n."""
    design, thetas = line
    solution = exact_design(design, CriterionSpec("D"), thetas, BOX, runs, np.random.default_rng(0))
    np.testing.assert_allclose(solution.support[0], np.repeat([-1.0, 1.0], runs // 2), atol=1e-9)
    assert solution.value == pytest.approx(2 * np.log(runs), rel=1e-12)
    assert solution.starts == STARTS


def test_five_runs_put_three_on_one_end_and_two_on_the_other(line):
    """With k runs on +1 and 5 − k on −1, det X'X = 25 − (2k − 5)², largest (24) at k = 2, 3."""
    design, thetas = line
    solution = exact_design(design, CriterionSpec("D"), thetas, BOX, 5, np.random.default_rng(1))
    support = solution.support[0]
    np.testing.assert_allclose(np.abs(support), 1.0, atol=1e-9)
    assert abs(np.sum(support > 0) - np.sum(support < 0)) == 1
    assert np.all(np.diff(support) >= 0)  # returned in order
    assert solution.value == pytest.approx(np.log(24.0), rel=1e-12)


def test_three_runs_of_a_quadratic_are_minus_one_zero_one():
    """X = [[1, −1, 1], [1, 0, 0], [1, 1, 1]] has det 2, so log det X'X = 2 log 2."""
    design, thetas = unit_variance_polynomial(2)
    solution = exact_design(design, CriterionSpec("D"), thetas, BOX, 3, np.random.default_rng(2))
    np.testing.assert_allclose(solution.support[0], [-1.0, 0.0, 1.0], atol=1e-7)
    assert solution.value == pytest.approx(2 * np.log(2.0), rel=1e-10)


def test_too_few_runs_to_determine_the_parameters_is_an_error(line):
    design, thetas = line
    with pytest.raises(ConvergenceError, match="more runs are needed"):
        exact_design(design, CriterionSpec("D"), thetas, BOX, 1, np.random.default_rng(0))
