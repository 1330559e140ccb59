"""What reads a Laplace fit works from a sparse one (the sparse precision alone, as above
DENSE_FIT_LIMIT parameters) exactly as from the dense covariance: marginal sds, covariance
blocks, the delta method, the report's Gaussian table and the standard figures."""

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import sparse

from pmfisher._core.linalg import sparse_cholesky
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph
from pmfisher.approximation import delta as delta_module
from pmfisher.approximation import laplace as laplace_module
from pmfisher.approximation.delta import delta_method
from pmfisher.approximation.fit_covariance import fit_covariance
from pmfisher.approximation.laplace import laplace
from pmfisher.reporting import plot_data, plots, sections

# The funnel of (τ, z) makes k̂ large; the tails are not what is tested here.
pytestmark = pytest.mark.filterwarnings("ignore:Pareto k̂")

GROUPS = 30
HEAT_MAPS = ["laplace_precision.png", "laplace_correlation.png"]
RNG = np.random.default_rng(12)
INDEX = np.sort(RNG.integers(0, GROUPS, size=150))
Y = RNG.normal(0.5 + 0.8 * RNG.normal(size=GROUPS)[INDEX], 1.0)


def hierarchy():
    with pm.Model(coords={"group": [f"g{j:02d}" for j in range(GROUPS)]}) as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        tau = pm.HalfNormal("tau", 2.0)
        z = pm.Normal("z", 0.0, 1.0, dims="group")
        effect = pm.Deterministic("effect", mu + tau * z, dims="group")
        pm.Deterministic("spread", tau * pm.math.sqrt(pm.math.sum(z**2)))
        pm.Normal("y", effect[INDEX], 1.0, observed=Y)
    return model


def as_sparse_fit(result: xr.DataTree) -> xr.DataTree:
    """The same result with its fit stored as the sparse route stores a large one."""
    fit = result["fit"].to_dataset()
    labels = [str(label) for label in fit["param"].values]
    stored = fit.drop_vars(["covariance_matrix", "precision_matrix"])
    stored["precision_matrix"] = labelled.sparse_square(
        sparse.csr_array(fit["precision_matrix"].values), labels, name="precision_matrix"
    )
    tree = result.copy()
    tree["fit"] = xr.DataTree(stored.drop_vars(["param_i", "param_j"], errors="ignore"))
    return tree


@pytest.fixture(scope="module")
def results():
    model = hierarchy()
    dense = laplace(model=model, draws=100, structure="dense", random_seed=3)
    return model, dense, as_sparse_fit(dense)


def test_sparse_fit_gives_the_dense_variances_blocks_and_quadratic_forms(results, monkeypatch):
    _, dense, stored_sparse = results
    assert "covariance_matrix" not in stored_sparse["fit"]
    covariance = dense["fit"]["covariance_matrix"].values
    # Chunks of 7 unit vectors: five chunks, the last one short.
    monkeypatch.setattr(sparse_cholesky, "SOLVE_BYTES", 8 * covariance.shape[0] * 7)
    from_sparse = fit_covariance(stored_sparse["fit"])
    assert from_sparse.dense is None
    np.testing.assert_allclose(from_sparse.variances(), np.diag(covariance), rtol=1e-10)
    chosen = [31, 0, 5, 2]
    np.testing.assert_allclose(
        from_sparse.block(chosen), covariance[np.ix_(chosen, chosen)], rtol=1e-10, atol=1e-14
    )
    rows = RNG.normal(size=(9, covariance.shape[0]))
    np.testing.assert_allclose(
        from_sparse.quadratic_forms(rows),
        np.einsum("ij,jk,ik->i", rows, covariance, rows),
        rtol=1e-10,
    )


def test_delta_method_from_a_sparse_fit_equals_the_dense_one(results):
    """On a sparse fit the Jacobians are sparse too: ``effect`` (one element per group, each
    of mu, tau and its own z) by a forward pass over three colours, not 32 unit tangents;
    ``spread`` (one element of every z) by one reverse pass."""
    model, dense, stored_sparse = results
    expected = delta_method(dense, model=model)
    found = delta_method(stored_sparse, model=model)
    for name in ("effect", "spread"):
        np.testing.assert_allclose(found[name].values, expected[name].values, rtol=1e-10)
    graph = model_graph(model, space="unconstrained", terms="posterior")
    compressed = graph.companion(delta_module._Compressed)
    effect_seed, spread_seed = compressed.seeds
    assert effect_seed.shape == (3, GROUPS + 2)
    assert spread_seed is None
    assert compressed.patterns[0].nnz == 3 * GROUPS  # mu, tau_log__ and one z per group


def test_laplace_fit_above_the_limit_feeds_the_delta_method(monkeypatch):
    """End to end: the sparse route with the fit stored sparse, as for a large model."""
    model = hierarchy()
    monkeypatch.setattr(laplace_module, "DENSE_FIT_LIMIT", GROUPS)
    result = laplace(model=model, draws=100, structure="sparse", random_seed=3)
    assert "covariance_matrix" not in result["fit"]
    propagated = delta_method(result, model=model)["effect"].sel(stat="sd").values
    precision = result["fit"]["precision_matrix"].data.todense()
    jacobian_of_effect = np.zeros((GROUPS, GROUPS + 2))  # (mu, tau_log__, z) → mu + tau z
    tau = float(np.exp(result["fit"]["mean_vector"].sel(param="tau_log__")))
    z = result["fit"]["mean_vector"].values[2:]
    jacobian_of_effect[:, 0] = 1.0
    jacobian_of_effect[:, 1] = tau * z
    jacobian_of_effect[:, 2:] = tau * np.eye(GROUPS)
    variances = np.einsum(
        "ij,jk,ik->i", jacobian_of_effect, np.linalg.inv(precision), jacobian_of_effect
    )
    np.testing.assert_allclose(propagated, np.sqrt(variances), rtol=1e-10)


def test_report_and_heat_maps_read_a_sparse_fit_as_the_dense_one(results):
    """The figures themselves are drawn by the many-groups case study's smoke test."""
    _, dense, stored_sparse = results
    drawn = []

    def figures(draw, name, caption):
        drawn.append(name)
        return ""

    tables = [sections.laplace_html(result, figures, plots) for result in (dense, stored_sparse)]
    assert tables[0] == tables[1]  # the same mode and sd, printed to the same digits
    assert drawn[:3] == drawn[3:] == ["laplace_khat.png", *HEAT_MAPS]
    # The pair plot's ellipses: the block of the covariance for the drawn parameters.
    draws = plot_data.draws_dataset(dense, ["mu", "tau_log__"], None, "approximation")
    labels, mean, covariance = plot_data.gaussian_fit(dense, draws)
    found = plot_data.gaussian_fit(stored_sparse, draws)
    assert found[0] == labels == ["mu", "tau_log__"]
    np.testing.assert_array_equal(found[1], mean)
    np.testing.assert_allclose(found[2], covariance, rtol=1e-10)
    # The heat maps of a sparse fit: a selection, each variable's first elements.
    precision, marginal = plot_data.heat_map_matrices(stored_sparse["fit"].to_dataset())
    labels = [str(label) for label in dense["fit"]["param"].values]
    chosen = [labels.index(label) for label in precision["param_i"].values]
    assert chosen == [0, 1, 2, 3, 4, 5]  # mu, tau_log__ and z's first four
    np.testing.assert_allclose(
        precision.values,
        dense["fit"]["precision_matrix"].values[np.ix_(chosen, chosen)],
        rtol=1e-12,
    )
    covariance = dense["fit"]["covariance_matrix"].values[np.ix_(chosen, chosen)]
    np.testing.assert_allclose(np.linalg.inv(marginal.values), covariance, rtol=1e-10)
