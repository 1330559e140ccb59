"""pmfisher.plots: what each picture draws, checked on the drawn artists, and saved PNGs."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from arviz_plots import PlotCollection
from matplotlib.figure import Figure
from scipy import stats

from pmfisher.errors import PMFisherError
from pmfisher.reporting import plots

RNG = np.random.default_rng(5)
MEAN = np.array([1.0, -0.5, 0.2])
COVARIANCE = np.array([[1.0, 0.5, 0.1], [0.5, 2.0, -0.3], [0.1, -0.3, 0.5]])
LABELS = ["mu[A]", "mu[B]", "log_s"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _tree(chains, draws, *, fit=False, pareto_k=0.3):
    x = RNG.multivariate_normal(MEAN, COVARIANCE, size=(chains, draws))
    posterior = xr.Dataset(
        {"mu": (("chain", "draw", "group"), x[..., :2]), "log_s": (("chain", "draw"), x[..., 2])},
        coords={"group": ["A", "B"]},
    )
    groups = {"posterior": posterior}
    if fit:
        groups["fit"] = xr.Dataset(
            {
                "mean_vector": ("param", MEAN),
                "covariance_matrix": (("param_i", "param_j"), COVARIANCE),
                "precision_matrix": (("param_i", "param_j"), np.linalg.inv(COVARIANCE)),
                "pareto_k": pareto_k,
            },
            coords={"param": LABELS, "param_i": LABELS, "param_j": LABELS},
        )
    return xr.DataTree.from_dict(groups)


@pytest.fixture(scope="module")
def trees():
    return _tree(1, 2000, fit=True), _tree(2, 500)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _is_png(path):
    return path.read_bytes()[:8] == PNG_MAGIC


def test_marginals_and_forest_overlay_both_posteriors(trees, tmp_path):
    approx, reference = trees
    for function, name in ((plots.plot_marginals, "dist"), (plots.plot_forest, "forest")):
        path = tmp_path / f"{name}.png"
        collection = function(approx, reference, names=("Laplace", "NUTS"), path=path)
        assert isinstance(collection, PlotCollection)
        assert collection.data["model"].values.tolist() == ["Laplace", "NUTS"]
        assert _is_png(path)
    # One KDE line per parameter and model: the approximation in C0, the reference in C1,
    # each over the range of its own draws (to within one step of the KDE grid).
    lines = plots.plot_marginals(approx, reference).viz["dist"]
    for model, tree, colour in (("approximation", approx, "C0"), ("reference", reference, "C1")):
        for group in ("A", "B"):
            line = lines["mu"].sel(model=model, group=group).item()
            assert matplotlib.colors.same_color(line.get_color(), colour)
            draws = tree["posterior"]["mu"].sel(group=group).values
            grid = line.get_xdata()
            np.testing.assert_allclose(
                grid[[0, -1]], [draws.min(), draws.max()], atol=grid[1] - grid[0]
            )


def test_pair_ellipses_are_the_fit_gaussians_contours(trees, tmp_path):
    approx, reference = trees
    path = tmp_path / "pair.png"
    matrix = plots.plot_pair_ellipses(approx, reference, probs=(0.5, 0.95), path=path)
    assert _is_png(path)
    panels = matrix.viz["plot"]
    # The lower panel in row 2, column 0 is (x = mu[A], y = log_s): its two ellipses lie at
    # the chi-square(2) radii of the fit's 2 x 2 marginal covariance.
    axes = panels.isel(row_index=2, col_index=0).item()
    ellipses = [line for line in axes.get_lines() if line.get_color() == plots.APPROX_COLOR]
    assert len(ellipses) == 2
    index = [0, 2]
    precision = np.linalg.inv(COVARIANCE[np.ix_(index, index)])
    for line, prob in zip(ellipses, (0.5, 0.95), strict=True):
        points = np.column_stack(line.get_data()) - MEAN[index]
        radius2 = np.einsum("si,ij,sj->s", points, precision, points)
        np.testing.assert_allclose(radius2, stats.chi2.ppf(prob, 2), rtol=1e-10)
    # No ellipses on the diagonal or in the upper triangle.
    for row, column in ((0, 0), (0, 2)):
        axes = panels.isel(row_index=row, col_index=column).item()
        assert not [line for line in axes.get_lines() if line.get_color() == plots.APPROX_COLOR]


def test_pair_ellipses_fall_back_to_the_moments_of_the_draws(trees):
    approx, reference = trees
    without_fit = xr.DataTree.from_dict({"posterior": approx["posterior"].to_dataset()})
    matrix = plots.plot_pair_ellipses(without_fit, reference, var_names=["mu"], probs=(0.5,))
    axes = matrix.viz["plot"].isel(row_index=1, col_index=0).item()
    [ellipse] = [line for line in axes.get_lines() if line.get_color() == plots.APPROX_COLOR]
    draws = approx["posterior"]["mu"].values.reshape(-1, 2)
    points = np.column_stack(ellipse.get_data()) - draws.mean(axis=0)
    radius2 = np.einsum("si,ij,sj->s", points, np.linalg.inv(np.cov(draws.T)), points)
    np.testing.assert_allclose(radius2, stats.chi2.ppf(0.5, 2), rtol=1e-10)


def test_information_heat_maps_show_scaled_information_and_correlations(trees, tmp_path):
    approx, _ = trees
    precision = approx["fit"]["precision_matrix"]
    values = precision.values
    scale = np.sqrt(np.diag(values))
    figure = plots.plot_information(precision, path=tmp_path / "information.png")
    assert isinstance(figure, Figure)
    assert _is_png(tmp_path / "information.png")
    [image] = figure.axes[0].get_images()
    np.testing.assert_allclose(image.get_array(), values / np.outer(scale, scale), rtol=1e-12)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == LABELS
    figure = plots.plot_information(precision, view="correlation")
    [image] = figure.axes[0].get_images()
    sd = np.sqrt(np.diag(COVARIANCE))
    np.testing.assert_allclose(image.get_array(), COVARIANCE / np.outer(sd, sd), rtol=1e-10)
    with pytest.raises(PMFisherError, match="view='pairs' is not allowed"):
        plots.plot_information(precision, view="pairs")


def test_khat_plot_places_each_approximation(tmp_path):
    good, bad = _tree(1, 100, fit=True, pareto_k=0.2), _tree(1, 100, fit=True, pareto_k=0.9)
    exact = _tree(1, 100, fit=True, pareto_k=-np.inf)
    figure = plots.plot_khat({"good": good, "bad": bad, "exact": exact}, path=tmp_path / "k.png")
    assert _is_png(tmp_path / "k.png")
    [points] = figure.axes[0].collections[-1:]
    x = points.get_offsets()[:, 0]
    np.testing.assert_allclose(x[:2], [0.2, 0.9])
    assert x[2] == figure.axes[0].get_xlim()[0]  # −∞ drawn at the left edge
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["good", "bad", "exact"]
    with pytest.raises(PMFisherError, match="'nuts' carries no fit/pareto_k"):
        plots.plot_khat({"nuts": _tree(1, 10)})


def test_group_comparison_puts_each_element_at_its_two_moments(tmp_path):
    draws = RNG.normal(size=(2, 300, 50)) * np.linspace(0.5, 2.0, 50) + np.arange(50)
    other = RNG.normal(size=(1, 400, 50)) * 1.5 - np.arange(50)

    def tree(values):
        posterior = xr.Dataset({"z": (("chain", "draw", "group"), values)})
        return xr.DataTree.from_dict({"posterior": posterior})

    path = tmp_path / "groups.png"
    figure = plots.plot_group_comparison(
        tree(draws), tree(other), var_names="z", names=("Laplace", "NUTS"), path=path
    )
    means, sds = figure.axes
    # x: the reference's moment, y: the approximation's, one point per element.
    np.testing.assert_allclose(
        means.collections[0].get_offsets(),
        np.column_stack([other.mean(axis=(0, 1)), draws.mean(axis=(0, 1))]),
    )
    pooled = draws.reshape(-1, 50)
    np.testing.assert_allclose(
        sds.collections[0].get_offsets()[:, 1], pooled.std(axis=0, ddof=1), rtol=1e-12
    )
    assert means.get_xlabel() == "NUTS mean"
    assert sds.get_ylabel() == "Laplace sd"
    assert path.read_bytes().startswith(PNG_MAGIC)
    plt.close(figure)


def test_a_large_heat_map_labels_its_variables_not_its_cells():
    labels = ["mu", "tau"] + [f"z[{i}]" for i in range(60)]
    matrix = xr.DataArray(
        np.eye(62) + 0.1,
        dims=("param_i", "param_j"),
        coords={"param_i": labels, "param_j": labels},
    )
    figure = plots.plot_information(matrix)
    axes = figure.axes[0]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["mu", "tau", "z (60)"]
    np.testing.assert_allclose(axes.get_xticks(), [0.0, 1.0, 31.5])  # middle of each block
    plt.close(figure)


def test_profile_plot_draws_the_profile_beside_the_wald_line(tmp_path):
    import pymc as pm

    import pmfisher

    with pm.Model() as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Poisson("y", lam, observed=[2, 4, 3])
    result = pmfisher.summary(model=model, ci="profile")
    figure = plots.plot_profile(result, path=tmp_path / "profile.png")
    [axes] = figure.axes
    profile, wald = axes.lines[:2]
    values = result.profiles["lam"]["value"].values
    np.testing.assert_allclose(profile.get_ydata(), result.profiles["lam"]["signed_root_deviance"])
    np.testing.assert_allclose(wald.get_ydata(), values - 3.0, atol=1e-8)  # (λ − λ̂)/se, se = 1
    assert (tmp_path / "profile.png").stat().st_size > 5_000
    with pytest.raises(PMFisherError, match="ci='profile'"):
        plots.plot_profile(pmfisher.summary(model=model))
    with pytest.raises(PMFisherError, match="no profiled parameter is named mu"):
        plots.plot_profile(result, var_names="mu")
