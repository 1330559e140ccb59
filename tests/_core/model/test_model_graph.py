"""The graph layer: layout, labels in each space, observations, live data containers and the
option errors."""

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher._core.model.model_graph import model_graph
from tests.closed_forms import (
    MV_Y,
    NORMAL_Y,
    logistic,
    model_for,
    mv_normal,
    normal,
    poisson_regression_data,
)


def test_graphs_are_built_once_per_model_space_and_terms():
    model = model_for(normal)
    first = model_graph(model, space="constrained", terms="likelihood")
    assert model_graph(model, space="constrained", terms="likelihood") is first
    assert model_graph(model, space="unconstrained", terms="likelihood") is not first
    assert first.hessian_fn is first.hessian_fn


def test_labels_and_names_in_each_space():
    model = model_for(normal)
    assert model_graph(model, space="constrained", terms="likelihood").labels == ("mu", "sigma")
    unconstrained = model_graph(model, space="unconstrained", terms="likelihood")
    assert unconstrained.labels == ("mu", "sigma_log__")
    assert model_graph(model_for(logistic), space="constrained", terms="likelihood").labels == (
        "beta[x1]",
        "beta[x2]",
        "beta[x3]",
    )


def test_observations_are_elements_and_multivariate_rows():
    normal_graph = model_graph(model_for(normal), space="constrained", terms="likelihood")
    assert len(normal_graph.observation_labels) == NORMAL_Y.size
    mv_graph = model_graph(model_for(mv_normal), space="constrained", terms="likelihood")
    assert mv_graph.observation_labels[:2] == ("y[0]", "y[1]")
    assert len(mv_graph.observation_labels) == MV_Y.shape[0]
    logistic_graph = model_graph(model_for(logistic), space="constrained", terms="likelihood")
    assert logistic_graph.observation_labels[0] == "y[0]"


def test_data_containers_are_live_inputs():
    model = model_for(poisson_regression_data)
    graph = model_graph(model, space="constrained", terms="likelihood")
    x = graph.flatten({"a": 0.1, "b": 0.2})
    before = graph.logp_fn(x)
    original = model["x"].get_value()
    try:
        with model:
            pm.set_data({"x": original * 0.0})
        counts = model.rvs_to_values[model["y"]].data
        expected = (counts * 0.1 - np.exp(0.1)).sum() - sum(
            np.log(np.arange(1, k + 1)).sum() for k in counts
        )
        np.testing.assert_allclose(graph.logp_fn(x), expected, rtol=1e-12)
    finally:
        with model:
            pm.set_data({"x": original})
    assert graph.logp_fn(x) == before


# -- errors: clear, early, typed -------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("space", "natural", "'constrained', 'unconstrained'"),
        ("terms", "prior", "'likelihood', 'posterior'"),
    ],
)
def test_unknown_option_lists_the_allowed_values(option, value, allowed):
    with pytest.raises(
        pmfisher.PMFisherError, match=f"{option}='{value}' is not allowed; choose one of {allowed}"
    ):
        pmfisher.observed_information(
            {"mu": 0.0, "sigma": 1.0}, model=model_for(normal), **{option: value}
        )


def test_errors_are_value_errors():
    assert issubclass(pmfisher.PMFisherError, ValueError)
    for error in (
        pmfisher.PointError,
        pmfisher.UnsupportedModelError,
        pmfisher.NotPositiveDefiniteError,
    ):
        assert issubclass(error, pmfisher.PMFisherError)
