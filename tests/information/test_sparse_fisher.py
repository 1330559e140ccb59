"""The exact Fisher information on the sparse route: compressed Jacobians from the graph's
pattern equal the dense route, the pattern covers every nonzero of the Jacobians, and the
colouring needs a few colours whatever the number of groups."""

import functools

import numpy as np
import pymc as pm
import pytest
import sparse

import pmfisher
from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import PMFisherError
from pmfisher.information.exact_fisher import distribution_parameters, fisher_sparsity

RNG = np.random.default_rng(20261130)
GROUPS = 25
SIZES = RNG.integers(2, 9, size=GROUPS)  # uneven groups


def _design(groups: int):
    sizes = np.resize(SIZES, groups)
    index = np.repeat(np.arange(groups), sizes)
    rng = np.random.default_rng(groups)
    return index, rng.normal(size=index.size), rng.normal(size=index.size)


def poisson_slopes(groups: int = GROUPS) -> pm.Model:
    """Poisson with a shared coefficient and per-group intercepts and slopes, all entering
    the log mean linearly: the canonical link, so the observed information equals the Fisher
    information exactly (a check independent of the closed-form table)."""
    index, x, w = _design(groups)
    rng = np.random.default_rng(1)
    with pm.Model() as model:
        gamma = pm.Normal("gamma", 0.0, 1.0)
        u = pm.Normal("u", 0.0, 1.0, shape=groups)
        v = pm.Normal("v", 0.0, 1.0, shape=groups)
        pm.Poisson(
            "y",
            pm.math.exp(gamma * w + u[index] + v[index] * x),
            observed=rng.poisson(2.0, size=index.size),
        )
    return model


@functools.cache
def poisson_model() -> pm.Model:
    return poisson_slopes()


@functools.cache
def two_families() -> pm.Model:
    """A Normal with per-group σ and a NegativeBinomial sharing the group effects, through
    non-centred scales (so the Jacobians are not linear in θ)."""
    groups = 12
    index, x, _ = _design(groups)
    rng = np.random.default_rng(2)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        tau = pm.HalfNormal("tau", 1.0)
        z = pm.Normal("z", 0.0, 1.0, shape=groups)
        sigma = pm.HalfNormal("sigma", 1.0, shape=groups)
        alpha = pm.Exponential("alpha", 1.0)
        pm.Normal("w", mu + tau * z[index], sigma[index], observed=rng.normal(size=index.size))
        pm.NegativeBinomial(
            "c",
            pm.math.exp(0.3 * x + tau * z[index]),
            alpha,
            observed=rng.poisson(3.0, size=index.size),
        )
    return model


def point_of(model, seed: int = 5) -> dict:
    graph = model_graph(model, space="unconstrained", terms="likelihood")
    start = graph.flatten(model.initial_point())
    moved = start + np.random.default_rng(seed).normal(scale=0.3, size=start.size)
    return graph.constrained_point(moved)


def assert_sparse_equals_dense(model, space):
    point = point_of(model)
    dense = pmfisher.fisher_information(point, model=model, space=space, structure="dense")
    result = pmfisher.fisher_information(point, model=model, space=space, structure="sparse")
    assert isinstance(result.matrix.data, sparse.COO)
    assert result.matrix.attrs["structure"] == "sparse"
    assert dense.matrix.attrs["structure"] == "dense"
    assert list(result.matrix.param_i.values) == list(dense.matrix.param_i.values)
    scale = np.abs(dense.matrix.values).max()
    np.testing.assert_allclose(
        result.matrix.data.todense(), dense.matrix.values, rtol=0, atol=1e-10 * scale
    )
    np.testing.assert_array_equal(
        result.negative_hessian.data.todense(), result.matrix.data.todense()
    )
    assert result.mcse["matrix"].data.nnz == 0
    return result, dense


def test_poisson_slopes_sparse_equals_dense_and_the_observed_information():
    model = poisson_model()
    result, dense = assert_sparse_equals_dense(model, "constrained")
    # Group blocks are 2 × 2 and groups do not meet: far from full.
    assert result.matrix.data.nnz < 0.2 * dense.matrix.size
    # Canonical link, linear predictor: -∇²ℓ does not depend on the data and equals I.
    observed = pmfisher.observed_information(
        point_of(model), model=model, space="constrained", structure="sparse"
    )
    np.testing.assert_allclose(
        result.matrix.data.todense(), observed.data.todense(), rtol=1e-10, atol=1e-10
    )


def test_two_families_sparse_equals_dense():
    assert_sparse_equals_dense(two_families(), "unconstrained")


def test_auto_takes_the_sparse_route_and_consumers_follow():
    model = poisson_model()
    point = point_of(model)
    auto = pmfisher.fisher_information(point, model=model)
    assert auto.matrix.attrs["structure"] == "sparse"
    dense = pmfisher.fisher_information(point, model=model, structure="dense").matrix.values
    bound = pmfisher.cramer_rao_bound(point, model=model)
    np.testing.assert_allclose(bound.values, np.linalg.inv(dense), rtol=1e-9, atol=1e-12)
    graph = model_graph(model, space="constrained", terms="likelihood")
    _, gradient = graph.logp_and_grad_fn(graph.flatten(point))
    step = pmfisher.natural_gradient(point, model=model)
    np.testing.assert_allclose(step.values, np.linalg.solve(dense, gradient), rtol=1e-9)


def test_monte_carlo_has_no_sparse_route():
    model = poisson_model()
    with pytest.raises(PMFisherError, match=r"monte_carlo.*method='exact' has a sparse route"):
        pmfisher.fisher_information(
            point_of(model), model=model, method="monte_carlo", structure="sparse"
        )


def test_colours_do_not_grow_with_the_groups():
    # γ, then the intercepts, then the slopes: three colours for 25 or 400 groups.
    for groups in (GROUPS, 400):
        graph = model_graph(poisson_slopes(groups), space="constrained", terms="likelihood")
        assert graph.companion(fisher_sparsity).n_colours == 3


@pytest.mark.parametrize("model", [poisson_model, two_families], ids=["poisson", "two-families"])
def test_jacobian_pattern_covers_finite_differences(model):
    """Every nonzero of the Jacobians by central differences is in the graph's pattern, and
    the pattern has no entry the differences do not see (tight on these models)."""
    graph = model_graph(model(), space="unconstrained", terms="likelihood")
    parameters = graph.companion(distribution_parameters)
    outputs = [
        parameters.params[index][position]
        for index in range(len(parameters.forms))
        for position in parameters.free(index)
    ]
    patterns = [
        p for per_variable in graph.companion(fisher_sparsity).jacobians for p in per_variable
    ]
    function = compile_function([graph.theta], outputs)
    x = graph.flatten(point_of(graph.model))
    step = 1e-6
    columns = []
    for j in range(graph.size):
        shift = np.zeros(graph.size)
        shift[j] = step
        upper, lower = function(x + shift), function(x - shift)
        columns.append(
            [
                (np.asarray(a) - np.asarray(b)) / (2 * step)
                for a, b in zip(upper, lower, strict=True)
            ]
        )
    for k, pattern in enumerate(patterns):
        jacobian = np.stack([column[k] for column in columns], axis=1)
        nonzero = np.abs(jacobian) > 1e-6 * max(np.abs(jacobian).max(), 1.0)
        assert not np.any(nonzero & ~pattern.toarray()), f"output {k}: a nonzero is missed"
        np.testing.assert_array_equal(pattern.toarray(), nonzero)
