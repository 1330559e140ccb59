"""What makes a cached graph stale: a new variable, a data container's shape, a coordinate, the
values of an integer index — and what does not: new float data of the same shape."""

import numpy as np
import pymc as pm
import pytest

from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.model_signature import model_signature


@pytest.fixture
def grouped():
    """Five observations in two groups: float outcomes, an integer group index."""
    with pm.Model(coords={"group": ["a", "b"], "obs": range(5)}) as model:
        group_index = pm.Data("group_index", np.array([0, 0, 1, 1, 1]), dims="obs")
        y = pm.Data("y", np.array([0.3, -0.2, 1.1, 0.9, 1.4]), dims="obs")
        effect = pm.Normal("effect", 0.0, 1.0, dims="group")
        pm.Normal("outcome", effect[group_index], 1.0, observed=y, dims="obs")
    return model


def test_unchanged_and_new_float_data_of_the_same_shape_keep_the_signature(grouped):
    before = model_signature(grouped)
    assert model_signature(grouped) == before
    with grouped:
        pm.set_data({"y": np.array([1.0, 2.0, 3.0, 4.0, 5.0])})
    assert model_signature(grouped) == before


def test_new_index_values_of_the_same_shape_change_it(grouped):
    before = model_signature(grouped)
    with grouped:
        pm.set_data({"group_index": np.array([1, 0, 1, 0, 1])})
    assert model_signature(grouped) != before
    # Even the same values: a new array may hold new values, identity is what is compared.
    after = model_signature(grouped)
    with grouped:
        pm.set_data({"group_index": np.array([1, 0, 1, 0, 1])})
    assert model_signature(grouped) != after


def test_a_new_shape_and_new_coordinates_change_it(grouped):
    before = model_signature(grouped)
    with grouped:
        pm.set_data(
            {"y": np.array([0.1, 0.2, 0.3]), "group_index": np.array([0, 1, 1])},
            coords={"obs": range(3)},
        )
    assert model_signature(grouped) != before


def test_a_new_variable_changes_it(grouped):
    before = model_signature(grouped)
    with grouped:
        pm.Deterministic("total", grouped["effect"].sum())
    assert model_signature(grouped) != before


def test_the_cached_graph_is_rebuilt_when_the_index_changes(grouped):
    graph = model_graph(grouped, space="constrained", terms="likelihood")
    assert model_graph(grouped, space="constrained", terms="likelihood") is graph
    with grouped:
        pm.set_data({"y": np.array([1.0, 2.0, 3.0, 4.0, 5.0])})
    assert model_graph(grouped, space="constrained", terms="likelihood") is graph
    with grouped:
        pm.set_data({"group_index": np.array([1, 1, 1, 0, 0])})
    assert model_graph(grouped, space="constrained", terms="likelihood") is not graph
