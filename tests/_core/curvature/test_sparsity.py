"""The Hessian pattern read from the graph: a superset of the true nonzeros, and tight."""

import numpy as np
import pymc as pm
import pytensor.scalar.basic as ps
import pytest
from pytensor.tensor.subtensor import AdvancedSubtensor

from pmfisher._core.curvature import sparsity
from pmfisher._core.curvature.sparse_hessian import hessian_pattern
from pmfisher._core.model.model_graph import model_graph
from tests.closed_forms import CASES
from tests.structured_models import STRUCTURED, random_point, structured_model
from tests.structured_models import hierarchical as hierarchical_factory

# Both spaces and both term sets, in two settings (each costs two compiled Hessians).
SETTINGS = [("constrained", "likelihood"), ("unconstrained", "posterior")]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_pattern_covers_the_closed_form_information(case):
    graph = model_graph(case.model, space=case.space, terms=case.terms)
    pattern = hessian_pattern(graph).toarray()
    missed = (case.information != 0) & ~pattern
    assert not missed.any(), f"pattern misses entries {np.argwhere(missed).tolist()}"


@pytest.mark.parametrize(("space", "terms"), SETTINGS)
@pytest.mark.parametrize("name", STRUCTURED)
def test_pattern_is_exactly_the_nonzeros_of_the_dense_hessian(name, space, terms):
    """Superset (no nonzero missed) and tight: on these models no entry of the pattern is
    zero at a generic point, so the pattern must equal the dense Hessian's nonzeros."""
    graph = model_graph(structured_model(name), space=space, terms=terms)
    dense = graph.hessian_fn(random_point(graph)) != 0
    pattern = hessian_pattern(graph).toarray()
    assert not (dense & ~pattern).any(), "a nonzero of the Hessian is missing from the pattern"
    np.testing.assert_array_equal(pattern, dense | np.eye(graph.size, dtype=bool))


def test_pattern_is_symmetric_and_has_the_diagonal():
    graph = model_graph(structured_model("crossed"), space="unconstrained", terms="posterior")
    pattern = hessian_pattern(graph)
    assert (pattern != pattern.T).nnz == 0
    assert pattern.diagonal().all()


@pytest.mark.parametrize("groups", [50, 5000])
def test_hierarchical_pattern_has_seven_entries_per_group(groups):
    """Each group effect: its own diagonal and three shared parameters, both triangles; the
    three shared parameters form a dense 3 × 3 block: 7·J + 9 = 4·d + 3·J - 3."""
    graph = model_graph(hierarchical_factory(groups), space="unconstrained", terms="posterior")
    pattern = hessian_pattern(graph)
    assert pattern.nnz == 7 * groups + 9
    shared = [graph.labels.index(name) for name in ("mu", "tau_log__", "sigma_log__")]
    effects = np.setdiff1d(np.arange(graph.size), shared)
    block = pattern[effects][:, effects]
    assert block.nnz == groups  # group effects touch only themselves among each other


def test_random_walk_pattern_is_banded():
    graph = model_graph(structured_model("random-walk"), space="unconstrained", terms="posterior")
    block = graph.blocks[[b.rv_name for b in graph.blocks].index("states")]
    states = hessian_pattern(graph).toarray()[block.start : block.stop, block.start : block.stop]
    rows, columns = np.nonzero(states)
    assert np.abs(rows - columns).max() == 1


def _pow_is_linear(monkeypatch):
    monkeypatch.setattr(sparsity, "LINEAR", (*sparsity.LINEAR, ps.Pow))


def _indexing_reads_the_first_element(monkeypatch):
    moves = sparsity._Tracer._moves

    def broken(self, node, inputs):
        results = moves(self, node, inputs)
        if isinstance(node.op, AdvancedSubtensor):
            results = [dep[np.zeros(dep.shape[0], dtype=int)] for dep in results]
        return results

    monkeypatch.setattr(sparsity._Tracer, "_moves", broken)


@pytest.mark.parametrize("breakage", [_pow_is_linear, _indexing_reads_the_first_element])
def test_a_broken_rule_is_caught(monkeypatch, breakage):
    """A wrong rule (the square in the normal log-density taken as linear, or ``z[group]``
    read as ``z[0]``) drops true nonzeros: the superset check must see it. (Traced afresh:
    a pattern stored on disk would hide the broken rule.)"""
    monkeypatch.setenv("PMFISHER_FUNCTION_CACHE", "off")
    graph = model_graph(structured_model("hierarchical"), space="unconstrained", terms="posterior")
    dense = graph.hessian_fn(random_point(graph)) != 0
    assert not (dense & ~sparsity.hessian_sparsity(graph).pattern.toarray()).any()
    breakage(monkeypatch)
    broken = sparsity.hessian_sparsity(graph).pattern.toarray()
    assert (dense & ~broken).any()


def test_ops_without_a_rule_fall_back_to_every_pair():
    """An op the tracer has no rule for (here ``sort``) makes its inputs' parameters a dense
    block, never a missed pair."""
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        z = pm.Normal("z", shape=4)
        w = pm.Normal("w")
        pm.Potential("sorted", -(pt.sort(z)[:2].sum() ** 2) + w)
    graph = model_graph(model, space="constrained", terms="posterior")
    pattern = hessian_pattern(graph).toarray()
    assert pattern[:4, :4].all()
    assert not pattern[4, :4].any()


def test_products_of_two_parameter_blocks_and_scattered_increments():
    """``A @ b`` with both factors free (bilinear: row ``i`` of ``A`` pairs with ``b`` only)
    and ``inc_subtensor`` with a repeated index (``w[1]`` lands twice on ``z[2]``)."""
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        a = pm.Normal("A", shape=(2, 3))
        b = pm.Normal("b", shape=3)
        w = pm.Normal("w", shape=2)
        z = pm.Normal("z", shape=4)
        scattered = pt.inc_subtensor(z[[0, 2, 2]], w[[0, 1, 1]])
        pm.Potential("p", -((a @ b) ** 2).sum() - pt.exp(0.1 * scattered).sum())
    graph = model_graph(model, space="constrained", terms="posterior")
    dense = graph.hessian_fn(random_point(graph)) != 0
    pattern = hessian_pattern(graph).toarray()
    np.testing.assert_array_equal(pattern, dense | np.eye(graph.size, dtype=bool))
    assert not pattern[0, 3]  # A[0, 0] and A[1, 0] never meet


def test_a_pair_met_in_256_distinct_rows_is_kept():
    """A full 16 × 16 crossed design: (μ, log σ) meets in 256 distinct rows of the
    residual's product with 1/σ², a count that once wrapped to zero in int8 and was dropped."""
    rows, columns = np.divmod(np.arange(256), 16)
    with pm.Model() as model:
        mu = pm.Normal("mu")
        sigma = pm.HalfNormal("sigma")
        u = pm.Normal("u", shape=16)
        v = pm.Normal("v", shape=16)
        y = np.random.default_rng(0).normal(size=256)
        pm.Normal("y", mu + u[rows] + v[columns], sigma, observed=y)
    graph = model_graph(model, space="unconstrained", terms="likelihood")
    assert tuple(graph.labels[:2]) == ("mu", "sigma_log__")
    pattern = hessian_pattern(graph).toarray()
    assert pattern[0, 1]
    assert pattern[1, 0]
