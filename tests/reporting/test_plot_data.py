"""reporting/plot_data.py: the draws a picture shows (found by name in either posterior
group, thinned evenly, labelled per element) and the Gaussian it draws (the fit's own block
of its covariance, or the draws' moments); a large sparse fit's heat maps show a selection
whose correlations are those of the whole inverse."""

import numpy as np
import pytest
import xarray as xr
from scipy import sparse

from pmfisher._core.model.labelled import sparse_square, square, vector
from pmfisher.errors import ArgumentError
from pmfisher.reporting import plot_data

RNG = np.random.default_rng(3)
MU_DRAWS = RNG.normal(1.0, 2.0, (2, 50))
Z_DRAWS = RNG.normal([0.0, 5.0, -5.0], 1.0, (2, 50, 3))
LOG_TAU_DRAWS = RNG.normal(size=(2, 50))
LABELS = ["mu", "z[a]", "z[b]", "z[c]"]
PRECISION = np.array(
    [[4.0, 1.0, 1.0, 1.0], [1.0, 3.0, -1.0, 0.0], [1.0, -1.0, 3.0, -1.0], [1.0, 0.0, -1.0, 2.0]]
)
MEAN = np.array([1.0, 0.0, 5.0, -5.0])


def fit_group(stored: str) -> xr.Dataset:
    fit = xr.Dataset({"mean_vector": vector(MEAN, LABELS, name="mean_vector")})
    if stored == "dense":
        fit["covariance_matrix"] = square(
            np.linalg.inv(PRECISION), LABELS, name="covariance_matrix"
        )
        fit["precision_matrix"] = square(PRECISION, LABELS, name="precision_matrix")
    else:
        fit["precision_matrix"] = sparse_square(
            sparse.csr_array(PRECISION), LABELS, name="precision_matrix"
        )
    return fit


def tree(*, fit: str | None = None) -> xr.DataTree:
    groups = {
        "posterior": xr.Dataset(
            {
                "mu": (("chain", "draw"), MU_DRAWS),
                "z": (("chain", "draw", "group"), Z_DRAWS),
            },
            coords={"group": ["a", "b", "c"]},
        ),
        "unconstrained_posterior": xr.Dataset({"tau_log__": (("chain", "draw"), LOG_TAU_DRAWS)}),
    }
    if fit is not None:
        groups["fit"] = fit_group(fit)
    return xr.DataTree.from_dict(groups)


def test_element_moments_are_the_pooled_draws_mean_and_sd():
    mean, sd = plot_data.element_moments(tree(), "z", "approximation")
    pooled = Z_DRAWS.reshape(-1, 3)
    np.testing.assert_allclose(mean, pooled.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(sd, pooled.std(axis=0, ddof=1), rtol=1e-14)


@pytest.mark.parametrize(
    ("chains", "draws", "kept"),
    [(1, 2000, 2000), (2, 1000, 1000), (1, 2001, 1001), (4, 1000, 500), (1, 10_000, 2000)],
)
def test_thinning_keeps_at_most_the_scatter_limit_evenly(chains, draws, kept):
    dataset = xr.Dataset({"x": (("chain", "draw"), np.arange(chains * draws).reshape(chains, -1))})
    thinned = plot_data.thinned(dataset)
    assert thinned.sizes["draw"] == kept
    assert chains * kept <= plot_data.SCATTER_LIMIT
    steps = np.diff(thinned["x"].values[0])
    assert len(set(steps.tolist())) == 1  # evenly spaced


def test_indexed_gives_the_sample_dimensions_coordinates():
    posterior = tree()["posterior"].to_dataset().drop_vars(["chain", "draw"], errors="ignore")
    found = plot_data.indexed(xr.DataTree.from_dict({"posterior": posterior}))["posterior"]
    assert found["chain"].values.tolist() == [0, 1]
    assert found["draw"].values.tolist() == list(range(50))


@pytest.mark.parametrize(
    ("var_names", "names"),
    [(None, ["mu", "z"]), ("mu", ["mu"]), (["z", "mu"], ["z", "mu"])],
)
def test_common_names(var_names, names):
    other = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"z": tree()["posterior"]["z"], "mu": tree()["posterior"]["mu"]})}
    )
    assert plot_data.common_names(tree(), other, var_names) == names


def test_two_trees_that_share_nothing_are_refused():
    other = xr.DataTree.from_dict({"posterior": xr.Dataset({"w": (("chain", "draw"), MU_DRAWS)})})
    with pytest.raises(ArgumentError, match="share no posterior variable"):
        plot_data.common_names(tree(), other, None)


def test_draws_are_found_in_either_posterior_group_and_selected():
    found = plot_data.draws_dataset(tree(), ["mu", "tau_log__"], None, "reference")
    np.testing.assert_array_equal(found["mu"], MU_DRAWS)
    np.testing.assert_array_equal(found["tau_log__"], LOG_TAU_DRAWS)
    selected = plot_data.draws_dataset(tree(), "z", {"group": ["b"], "other": [0]}, "reference")
    np.testing.assert_array_equal(selected["z"].values[..., 0], Z_DRAWS[..., 1])
    assert list(plot_data.draws_dataset(tree(), None, None, "x").data_vars) == ["mu", "z"]
    with pytest.raises(ArgumentError, match="the reference has no variable 'sigma'"):
        plot_data.draws_dataset(tree(), ["sigma"], None, "reference")


def test_labels_are_per_element_with_coordinates():
    labels = plot_data.label_dataset(tree()["posterior"].to_dataset())
    assert labels["mu"].item() == "mu"
    assert labels["z"].values.tolist() == ["z[a]", "z[b]", "z[c]"]
    unnamed = xr.Dataset({"w": (("chain", "draw", "w_dim_0"), np.zeros((1, 2, 2)))})
    assert plot_data.labels_of(unnamed)["w"].values.tolist() == ["w[0]", "w[1]"]


@pytest.mark.parametrize("stored", ["dense", "sparse"])
def test_the_gaussian_of_a_fit_is_its_block_of_the_covariance(stored):
    approx = tree(fit=stored)
    draws = plot_data.draws_dataset(approx, ["z"], None, "approximation")
    labels, mean, covariance = plot_data.gaussian_fit(approx, draws)
    assert labels == ["z[a]", "z[b]", "z[c]"]
    np.testing.assert_allclose(mean, MEAN[1:], rtol=1e-15)
    np.testing.assert_allclose(covariance, np.linalg.inv(PRECISION)[1:, 1:], rtol=1e-12)


def test_without_a_fit_the_gaussian_is_the_draws_moments():
    draws = plot_data.draws_dataset(tree(), ["mu", "z"], None, "approximation")
    labels, mean, covariance = plot_data.gaussian_fit(tree(), draws)
    flat = np.column_stack([MU_DRAWS.reshape(-1), Z_DRAWS.reshape(-1, 3)])
    assert labels == LABELS
    np.testing.assert_allclose(mean, flat.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(covariance, np.cov(flat, rowvar=False), rtol=1e-12)


def test_a_dense_fit_draws_its_whole_precision():
    fit = fit_group("dense")
    precision, inverted = plot_data.heat_map_matrices(fit)
    np.testing.assert_array_equal(precision.values, PRECISION)
    np.testing.assert_array_equal(inverted.values, PRECISION)


def test_a_sparse_fit_draws_a_selection_whose_inverse_is_the_covariance_block(monkeypatch):
    """Two elements per variable: mu, z[a], z[b]; H_SS is the stored block, and the matrix
    whose inverse's correlations are drawn is (Σ_SS)⁻¹, not H_SS."""
    monkeypatch.setattr(plot_data, "SELECTED_PER_VARIABLE", 2)
    block, marginal = plot_data.heat_map_matrices(fit_group("sparse"))
    chosen = [0, 1, 2]
    assert block["param_i"].values.tolist() == ["mu", "z[a]", "z[b]"]
    np.testing.assert_allclose(block.values, PRECISION[np.ix_(chosen, chosen)], rtol=1e-15)
    covariance = np.linalg.inv(PRECISION)[np.ix_(chosen, chosen)]
    np.testing.assert_allclose(np.linalg.inv(marginal.values), covariance, rtol=1e-10)
    assert not np.allclose(marginal.values, block.values)


def test_draw_count():
    assert plot_data.draw_count(tree()) == 100
