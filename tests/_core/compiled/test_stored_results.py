"""Results read off a graph are stored on disk under a key of the graph and its data values."""

import numpy as np
import pymc as pm
import pytest

from pmfisher._core.curvature import sparsity
from pmfisher._core.model.model_graph import model_graph


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty cache directory of the test's own."""
    monkeypatch.setenv("PMFISHER_FUNCTION_CACHE", str(tmp_path))
    return tmp_path


def crossed(first) -> pm.Model:
    """``a[first] + b[i mod 3]``: the pattern of the a-b block is decided by ``first``'s
    values, a data array (not a container) of the model."""
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 1.0, shape=4)
        b = pm.Normal("b", 0.0, 1.0, shape=3)
        pm.Poisson("y", pm.math.exp(a[first] + b[np.arange(24) % 3]), observed=np.arange(24) % 4)
    return model


def _pattern(model) -> np.ndarray:
    graph = model_graph(model, space="unconstrained", terms="posterior")
    return sparsity.hessian_sparsity(graph).pattern.toarray()


NESTED = np.repeat(np.arange(4), 6)  # a_k meets every b_j: rows 6k..6k+5 cover i mod 3
BLOCKS = np.repeat(np.arange(4), 6) * (np.arange(24) % 3 == 0)  # only a_0 meets b_1, b_2


def _meetings(first) -> np.ndarray:
    """Which a_k and b_j share an observation."""
    met = np.zeros((4, 3), dtype=bool)
    met[first, np.arange(24) % 3] = True
    return met


def test_a_stored_pattern_is_loaded_by_the_next_process_without_tracing(store, monkeypatch):
    traced = _pattern(crossed(NESTED))
    assert list((store / "results").iterdir())

    def no_tracing(*args):
        raise AssertionError("traced again")

    monkeypatch.setattr(sparsity, "_trace", no_tracing)
    np.testing.assert_array_equal(_pattern(crossed(NESTED)), traced)  # a new model object


def test_new_index_values_are_traced_anew(store):
    """Same graph, same shapes, an index array with other values: another entry, the other
    pattern (the a-b block loses the pairs the new index no longer makes)."""
    first, other = _pattern(crossed(NESTED)), _pattern(crossed(BLOCKS))
    assert len(list((store / "results").iterdir())) == 2
    np.testing.assert_array_equal(first[:4, 4:], _meetings(NESTED))
    np.testing.assert_array_equal(other[:4, 4:], _meetings(BLOCKS))
    assert _meetings(NESTED).sum() == 12 > _meetings(BLOCKS).sum() == 6
