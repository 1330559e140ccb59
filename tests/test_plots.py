"""pmfisher/plots.py, the public home of the plots: its names are exactly the reporting
layer's plotting functions, the same objects, and each draws a small input to a PNG."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

import pmfisher.plots
from pmfisher.design.optimal import ApproximateDesign
from pmfisher.inference.profile import ProfileEnds
from pmfisher.inference.result import Summary
from pmfisher.reporting import design_plots
from pmfisher.reporting import plots as reporting_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LABELS = ["mu", "z[a]", "z[b]"]
MEAN = np.array([0.5, 1.0, -1.0])
COVARIANCE = np.array([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 0.8]])


def test_the_public_names_are_the_reporting_functions():
    sources = {
        name: module for module in (reporting_plots, design_plots) for name in module.__all__
    }
    assert sorted(pmfisher.plots.__all__) == sorted(sources)
    for name, module in sources.items():
        assert getattr(pmfisher.plots, name) is getattr(module, name)


@pytest.mark.parametrize(
    ("draws", "threshold"), [(1, 0.7), (10, 0.0), (100, 0.5), (1000, 2 / 3), (4000, 0.7)]
)
def test_the_khat_threshold(draws, threshold):
    """min(1 − 1/log₁₀ S, 0.7)."""
    assert pmfisher.plots.khat_threshold(draws) == pytest.approx(threshold, rel=1e-15)


def _tree(chains, draws, seed, *, fit=True):
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(MEAN, COVARIANCE, size=(chains, draws))
    posterior = xr.Dataset(
        {"mu": (("chain", "draw"), x[..., 0]), "z": (("chain", "draw", "g"), x[..., 1:])},
        coords={"g": ["a", "b"]},
    )
    groups = {"posterior": posterior}
    if fit:
        groups["unconstrained_posterior"] = posterior
        groups["fit"] = xr.Dataset(
            {
                "mean_vector": ("param", MEAN),
                "covariance_matrix": (("param_i", "param_j"), COVARIANCE),
                "precision_matrix": (("param_i", "param_j"), np.linalg.inv(COVARIANCE)),
                "pareto_k": 0.3,
            },
            coords={"param": LABELS, "param_i": LABELS, "param_j": LABELS},
        )
    return xr.DataTree.from_dict(groups)


def _profiled() -> Summary:
    """The summary of one Poisson rate (λ̂ = 3, se = 1) with a profile of five points."""
    values = np.array([1.5, 2.0, 3.0, 4.2, 5.0])
    ends = ProfileEnds(values, np.array([-2.3, -1.2, 0.0, 1.0, 1.6]), 1.7, 4.9, False, False)
    table = xr.Dataset(
        {"estimate": ("param", [3.0]), "se": ("param", [1.0])}
        | {"lower": ("param", [1.7]), "upper": ("param", [4.9])},
        coords={"param": ["lam"]},
        attrs={"level": 0.95},
    )
    return Summary(table=table, profiles={"lam": ends.dataset("lam")})


def _design() -> ApproximateDesign:
    candidates = np.linspace(-1.0, 1.0, 5)
    return ApproximateDesign(
        support={"x": np.array([-1.0, 1.0])},
        weights=np.array([0.5, 0.5]),
        sensitivity=xr.DataArray(
            1 + candidates**2, dims=["candidate"], coords={"x": ("candidate", candidates)}
        ),
        sensitivity_max=2.0,
        bound=2.0,
        efficiency_bound=1.0,
        criterion=0.0,
    )


DRAWINGS = {
    "plot_marginals": lambda a, r, path: pmfisher.plots.plot_marginals(a, r, path=path),
    "plot_forest": lambda a, r, path: pmfisher.plots.plot_forest(a, r, path=path),
    "plot_pair_ellipses": lambda a, r, path: pmfisher.plots.plot_pair_ellipses(a, r, path=path),
    "plot_group_comparison": lambda a, r, path: pmfisher.plots.plot_group_comparison(
        a, r, var_names="z", path=path
    ),
    "plot_information": lambda a, r, path: pmfisher.plots.plot_information(
        a["fit"]["precision_matrix"], path=path
    ),
    "plot_khat": lambda a, r, path: pmfisher.plots.plot_khat({"Laplace": a}, path=path),
    "plot_profile": lambda a, r, path: pmfisher.plots.plot_profile(_profiled(), path=path),
    "plot_design": lambda a, r, path: pmfisher.plots.plot_design(_design(), path=path),
}


@pytest.fixture(scope="module")
def trees():
    return _tree(1, 400, 1), _tree(2, 200, 2, fit=False)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_each_plot_draws_a_small_input(trees, tmp_path, name):
    path = tmp_path / f"{name}.png"
    DRAWINGS[name](*trees, path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_every_drawing_function_is_drawn_here():
    drawing = set(pmfisher.plots.__all__) - {"khat_threshold", "save_laplace_figures"}
    assert drawing == set(DRAWINGS)


def test_the_laplace_figure_set(trees, tmp_path):
    paths = pmfisher.plots.save_laplace_figures(*trees, tmp_path, "small")
    names = ["marginals", "forest", "pair_ellipses", "precision", "correlation", "khat"]
    assert paths == [tmp_path / f"small_{name}.png" for name in names]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_MAGIC
