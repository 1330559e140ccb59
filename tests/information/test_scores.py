"""Per-observation scores and the empirical Fisher information."""

import numpy as np
import pytest

from pmfisher._core.curvature import memory
from pmfisher._core.model.model_graph import model_graph
from pmfisher.information.scores import empirical_fisher, scores
from tests.closed_forms import CASES, POISSON_Y, model_for, poisson
from tests.statsmodels_cases import CASES as SM_CASES
from tests.statsmodels_cases import point_of, statsmodels_fit

LIKELIHOOD_CASES = [case for case in CASES if case.terms == "likelihood"]


@pytest.mark.parametrize("case", LIKELIHOOD_CASES, ids=lambda case: case.id)
def test_scores_sum_to_the_gradient(case):
    graph = model_graph(case.model, space=case.space, terms="likelihood")
    matrix = scores(case.point, model=case.model, space=case.space)
    _, gradient = graph.logp_and_grad_fn(graph.flatten(case.point))
    np.testing.assert_allclose(matrix.sum("observation"), gradient, rtol=1e-10, atol=1e-10)
    assert matrix.dims == ("observation", "param")
    assert list(matrix.param.values) == list(case.labels)
    assert list(matrix.observation.values) == list(graph.observation_labels)


def test_poisson_scores_closed_form():
    matrix = scores({"lam": 2.0}, model=model_for(poisson))
    np.testing.assert_allclose(matrix.values[:, 0], POISSON_Y / 2.0 - 1, rtol=1e-12, atol=1e-15)
    assert matrix.observation.values[0] == "y[0]"


@pytest.mark.parametrize("name", list(SM_CASES))
def test_scores_and_opg_match_statsmodels(name):
    sm_model, results = statsmodels_fit(name)
    point = point_of(name, results.params)
    model = SM_CASES[name]()
    expected = sm_model.score_obs(results.params)
    matrix = scores(point, model=model)
    np.testing.assert_allclose(matrix.values, expected, rtol=1e-8, atol=1e-10)
    opg = empirical_fisher(point, model=model)
    np.testing.assert_allclose(opg.values, expected.T @ expected, rtol=1e-6)


def test_scores_chunked_over_directions(monkeypatch):
    name = "negative_binomial"
    _, results = statsmodels_fit(name)
    point = point_of(name, results.params)
    model = SM_CASES[name]()
    whole = scores(point, model=model).values
    monkeypatch.setattr(memory, "ELEMENT_BUDGET", 250)  # one direction per pass
    np.testing.assert_allclose(scores(point, model=model).values, whole, rtol=1e-13)
