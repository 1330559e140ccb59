"""``observed_information(structure=...)``: sparse results are labelled and equal the dense
ones; ``auto`` takes the sparse route when the dense one would not fit."""

import numpy as np
import pymc as pm
import pytest
import sparse

import pmfisher
from pmfisher._core.curvature import memory, structure
from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import InsufficientMemoryError, PMFisherError
from tests.closed_forms import CASES
from tests.structured_models import random_point, structured_model


def point_of(name, seed=3):
    model = structured_model(name)
    graph = model_graph(model, space="unconstrained", terms="posterior")
    return model, graph.constrained_point(random_point(graph, seed=seed))


@pytest.mark.parametrize("name", ["hierarchical", "random-walk"])
def test_sparse_information_is_labelled_and_equals_the_dense_one(name):
    model, point = point_of(name)
    options = {"model": model, "terms": "posterior", "space": "unconstrained"}
    dense = pmfisher.observed_information(point, structure="dense", **options)
    result = pmfisher.observed_information(point, structure="sparse", **options)
    assert isinstance(result.data, sparse.COO)
    assert result.attrs["structure"] == "sparse"
    assert dense.attrs["structure"] == "dense"
    assert result.dims == ("param_i", "param_j")
    assert list(result.param_i.values) == list(dense.param_i.values)
    np.testing.assert_allclose(result.data.todense(), dense.values, rtol=0, atol=1e-10)
    # The documented one-line conversion to SciPy.
    matrix = result.data.tocsc()
    np.testing.assert_allclose(matrix @ np.ones(matrix.shape[0]), dense.values.sum(axis=1))
    label = dense.param_i.values[-1]
    assert float(result.sel(param_i=label, param_j=label)) == pytest.approx(
        float(dense.sel(param_i=label, param_j=label)), rel=1e-12
    )


def test_auto_is_dense_for_small_models():
    case = CASES[0]
    info = pmfisher.observed_information(case.point, model=case.model)
    assert info.attrs["structure"] == "dense"
    assert isinstance(info.values, np.ndarray)


def test_auto_takes_the_sparse_route_when_dense_would_not_fit(monkeypatch):
    monkeypatch.setattr(structure, "AUTO_MIN_SIZE", 1)
    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
    monkeypatch.setattr(memory, "ALWAYS_FITS", 0)  # a machine this small
    model, point = point_of("hierarchical")
    info = pmfisher.observed_information(point, model=model, terms="posterior")
    assert info.attrs["structure"] == "sparse"
    with pytest.raises(InsufficientMemoryError, match="structure='sparse'"):
        pmfisher.observed_information(point, model=model, terms="posterior", structure="dense")


def test_structure_is_checked():
    case = CASES[0]
    with pytest.raises(PMFisherError, match="structure='banded' is not allowed"):
        pmfisher.observed_information(case.point, model=case.model, structure="banded")


def test_fisher_information_validates_structure():
    case = CASES[0]
    with pytest.raises(PMFisherError, match="structure='banded' is not allowed"):
        pmfisher.fisher_information(case.point, model=case.model, structure="banded")
    info = pmfisher.fisher_information(case.point, model=case.model, structure="dense")
    np.testing.assert_allclose(info.matrix.values, case.information, rtol=1e-8)
    info = pmfisher.fisher_information(case.point, model=case.model, structure="sparse")
    np.testing.assert_allclose(info.matrix.data.todense(), case.information, rtol=1e-8)


def latent_ar_model() -> tuple[pm.Model, dict]:
    """An 80-step ``pm.AR`` latent state observed with noise: 82 parameters whose Hessian is
    tridiagonal in the states, so ``structure="auto"`` takes the sparse route."""
    y = np.cumsum(np.random.default_rng(1).normal(size=80)) * 0.3
    with pm.Model() as model:
        rho = pm.Normal("rho", 0.0, 0.5)
        sigma = pm.HalfNormal("sigma", 1.0)
        states = pm.AR("x", rho=[rho], sigma=sigma, init_dist=pm.Normal.dist(0.0, 1.0), steps=79)
        pm.Normal("y", states, 0.5, observed=y)
    return model, {"rho": 0.6, "sigma": 0.8, "x": y}


def test_values_work_whichever_route_auto_took():
    """Once ``info.values`` raised pydata sparse's RuntimeError on this model: the result's
    type followed the route. Now it is dense below DENSE_RESULT_BYTES, the route recorded."""
    model, point = latent_ar_model()
    info = pmfisher.observed_information(point, model=model, terms="posterior")
    assert info.attrs["structure"] == "sparse"
    assert isinstance(info.values, np.ndarray)
    asked = pmfisher.observed_information(point, model=model, terms="posterior", structure="sparse")
    assert isinstance(asked.data, sparse.COO)
    np.testing.assert_array_equal(info.values, asked.data.todense())
    fisher = pmfisher.fisher_information(point, model=model)
    assert fisher.matrix.attrs["structure"] == "sparse"
    assert isinstance(fisher.matrix.values, np.ndarray)
    assert isinstance(fisher.mcse["matrix"].values, np.ndarray)
