"""Pictures of an approximate posterior beside a reference one, on ArviZ 1.x (arviz-plots).

Every function draws with the matplotlib backend, returns the ArviZ plot collection (or, where
ArviZ has no collection for the picture, the matplotlib figure) and, given ``path``, saves it
as a PNG. The approximation is drawn in colour ``C0`` and the reference in ``C1`` throughout,
so the pictures of one comparison read together.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import arviz_plots as azp
import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from scipy import stats

from pmfisher._core.options import InformationView, check_option
from pmfisher.approximation.importance_sampling import khat_threshold
from pmfisher.errors import ArgumentError
from pmfisher.reporting import plot_data

__all__ = [
    "khat_threshold",
    "plot_forest",
    "plot_group_comparison",
    "plot_information",
    "plot_khat",
    "plot_marginals",
    "plot_pair_ellipses",
    "plot_profile",
    "save_laplace_figures",
]

APPROX_COLOR, REFERENCE_COLOR = "C0", "C1"
DPI = 110
# Above this many parameters the heat map's cells are too small for printed values ...
ANNOTATE_LIMIT = 14
# ... and above this many for a label each: the variables are labelled instead.
TICK_LIMIT = 40


def plot_marginals(
    approx: xr.DataTree,
    reference: xr.DataTree,
    *,
    var_names=None,
    coords=None,
    names=("approximation", "reference"),
    path=None,
):
    """Marginal densities (KDE) of the approximation and the reference, overlaid per parameter,
    with each one's mean and 94% interval underneath.

    Returns the ``PlotCollection`` of :func:`arviz_plots.plot_dist`.
    """
    trees = {
        name: plot_data.indexed(tree) for name, tree in zip(names, (approx, reference), strict=True)
    }
    var_names = plot_data.common_names(approx, reference, var_names)
    panels = plot_data.draws_dataset(reference, var_names, coords, "reference")
    count = sum(plot_data.labels_of(panels)[name].size for name in panels.data_vars)
    columns = min(count, 4)
    rows = -(-count // columns)
    with _quiet_model_concat():
        collection = azp.plot_dist(
            trees,
            var_names=var_names,
            coords=coords,
            backend="matplotlib",
            kind="kde",
            visuals={"point_estimate_text": False},
            col_wrap=columns,
            figure_kwargs={"figsize": (3.2 * columns, 2.4 * rows), "layout": "constrained"},
        )
    collection.add_legend("model")
    return _save(collection, path)


def plot_forest(
    approx: xr.DataTree,
    reference: xr.DataTree,
    *,
    var_names=None,
    coords=None,
    names=("approximation", "reference"),
    path=None,
):
    """Forest plot of the approximation and the reference: per parameter, each one's mean with
    its 50% and 94% intervals, one above the other.

    Returns the ``PlotCollection`` of :func:`arviz_plots.plot_forest`.
    """
    trees = {
        name: plot_data.indexed(tree) for name, tree in zip(names, (approx, reference), strict=True)
    }
    with _quiet_model_concat():
        collection = azp.plot_forest(
            trees,
            var_names=plot_data.common_names(approx, reference, var_names),
            coords=coords,
            combined=True,
            backend="matplotlib",
        )
    collection.add_legend("model")
    return _save(collection, path)


def plot_pair_ellipses(
    approx: xr.DataTree,
    reference: xr.DataTree,
    *,
    var_names=None,
    coords=None,
    probs=(0.5, 0.95),
    path=None,
):
    r"""Pair plot of the reference's draws with the approximation's Gaussian ellipses.

    For a pair of parameters with approximate mean :math:`m` and covariance :math:`S` (2 × 2),
    the ellipse of probability :math:`p` is
    :math:`\{x : (x - m)^\top S^{-1} (x - m) = \chi^2_{2}(p)\}`, the boundary of the region
    holding probability :math:`p` under :math:`N(m, S)`. :math:`m` and :math:`S` come from
    the approximation's ``fit`` group when it holds both parameters (the Laplace fit itself),
    otherwise from the moments of its draws.

    Variables are looked up in each tree's ``posterior`` and then its
    ``unconstrained_posterior`` group, so unconstrained variables such as ``tau_log__`` — where
    a Laplace approximation is Gaussian — can be plotted when both trees carry them (sample
    NUTS with ``idata_kwargs={"include_transformed": True}``).

    At most ``SCATTER_LIMIT`` reference draws are scattered (evenly thinned).

    Returns the ``PlotMatrix`` of :func:`arviz_plots.plot_pair`.
    """
    reference_draws = plot_data.draws_dataset(reference, var_names, coords, "reference")
    approx_draws = plot_data.draws_dataset(
        approx, list(reference_draws.data_vars), coords, "approximation"
    )
    matrix = azp.plot_pair(
        xr.DataTree.from_dict({"posterior": plot_data.thinned(reference_draws)}),
        backend="matplotlib",
        visuals={
            "scatter": {"color": REFERENCE_COLOR, "alpha": 0.25, "size": 6},
            "dist": {"color": REFERENCE_COLOR},
        },
    )
    labels, mean, covariance = plot_data.gaussian_fit(approx, approx_draws)
    radii = np.sqrt(stats.chi2.ppf(np.asarray(probs), df=2))
    label_dataset = plot_data.label_dataset(approx_draws)

    def ellipses(label_x, label_y, target, **selection):
        index = [labels.index(str(label.values)) for label in (label_x, label_y)]
        centre = mean[index]
        cholesky = np.linalg.cholesky(covariance[np.ix_(index, index)])
        angle = np.linspace(0, 2 * np.pi, 200)
        circle = np.stack([np.cos(angle), np.sin(angle)])
        for radius, style in zip(radii, ("-", "--", ":"), strict=False):
            x, y = centre[:, None] + radius * cholesky @ circle
            target.plot(x, y, color=APPROX_COLOR, linestyle=style, linewidth=1.6, zorder=5)
        return None

    matrix.map_lower(
        ellipses,
        "approximation_ellipse",
        data=label_dataset,
        ignore_aes=matrix.aes_set,
        store_artist=False,
    )
    figure = matrix.viz["figure"].item()
    handles = [
        mpl.lines.Line2D([], [], color=APPROX_COLOR, linestyle=style, label=f"{p:.0%} ellipse")
        for p, style in zip(probs, ("-", "--", ":"), strict=False)
    ] + [mpl.lines.Line2D([], [], color=REFERENCE_COLOR, marker="o", ls="", label="draws")]
    figure.legend(handles=handles, loc="upper right", frameon=False)
    return _save(matrix, path)


def plot_information(
    matrix: xr.DataArray, *, view: InformationView = "information", path=None
) -> Figure:
    r"""A square information matrix (or any precision matrix) as a labelled heat map.

    ``view="information"`` colours each cell by the scale-free
    :math:`I_{ij} / \sqrt{I_{ii} I_{jj}}` and prints the raw :math:`I_{ij}`;
    ``view="correlation"`` shows the correlations of :math:`I^{-1}`, the covariance of the
    Gaussian (Laplace or Cramér–Rao) approximation. ArviZ has no heat-map collection, so this
    returns a matplotlib ``Figure``.
    """
    check_option("view", view, InformationView)
    values = np.asarray(matrix.values, dtype="float64")
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise ArgumentError(f"plot_information needs a square matrix, got shape {values.shape}.")
    labels = [str(label) for label in matrix[matrix.dims[0]].values]
    if view == "information":
        scale = np.sqrt(np.abs(np.diag(values)))
        colours, printed = values / np.outer(scale, scale), values
        title = "information (colour: $I_{ij}/\\sqrt{I_{ii}I_{jj}}$, printed: $I_{ij}$)"
    else:
        covariance = np.linalg.inv(values)
        scale = np.sqrt(np.diag(covariance))
        colours = printed = covariance / np.outer(scale, scale)
        title = "correlation of $I^{-1}$ (the Gaussian approximation)"
    size = len(labels)
    # Labelled cells need room; unlabelled ones (many parameters) are seen at a glance.
    side = min(2.0 + 0.55 * size, 14.0) if size <= TICK_LIMIT else 9.0
    figure = Figure(figsize=(side + 1.5, side), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(colours, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    if size <= TICK_LIMIT:
        axes.set_xticks(range(size), labels, rotation=90)
        axes.set_yticks(range(size), labels)
    else:
        _variable_ticks(axes, labels)
    axes.set_title(title, fontsize=10)
    if size <= ANNOTATE_LIMIT:
        for i in range(size):
            for j in range(size):
                axes.text(
                    j,
                    i,
                    f"{printed[i, j]:.3g}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if abs(colours[i, j]) > 0.6 else "black",
                )
    figure.colorbar(image, ax=axes, shrink=0.8)
    return _save(figure, path)


def _variable_ticks(axes, labels) -> None:
    """One tick per variable, at the middle of its block, with lines between the blocks."""
    names = [label.partition("[")[0] for label in labels]
    starts = [i for i, name in enumerate(names) if i == 0 or name != names[i - 1]]
    stops = [*starts[1:], len(names)]
    middles = [(start + stop - 1) / 2 for start, stop in zip(starts, stops, strict=True)]
    texts = [
        names[start] if stop - start == 1 else f"{names[start]} ({stop - start})"
        for start, stop in zip(starts, stops, strict=True)
    ]
    axes.set_xticks(middles, texts, rotation=90)
    axes.set_yticks(middles, texts)
    for boundary in starts[1:]:
        axes.axhline(boundary - 0.5, color="0.3", linewidth=0.5)
        axes.axvline(boundary - 0.5, color="0.3", linewidth=0.5)


def plot_group_comparison(
    approx: xr.DataTree,
    reference: xr.DataTree,
    *,
    var_names,
    names=("approximation", "reference"),
    path=None,
) -> Figure:
    """Every element of each group-effect variable at once: the approximation's posterior
    means and sds against the reference's, one point per element, with the diagonal where
    they agree (a model with thousands of group effects cannot be drawn one by one).

    ArviZ has no collection for this picture, so this returns a matplotlib ``Figure``.
    """
    var_names = [var_names] if isinstance(var_names, str) else list(var_names)
    figure = Figure(figsize=(8.0, 3.6 * len(var_names)), layout="constrained")
    panels = figure.subplots(len(var_names), 2, squeeze=False)
    for row, name in zip(panels, var_names, strict=True):
        moments = [
            plot_data.element_moments(tree, name, role)
            for tree, role in ((approx, "approximation"), (reference, "reference"))
        ]
        for axes, which, (approx_values, reference_values) in zip(
            row, ("mean", "sd"), zip(*moments, strict=True), strict=True
        ):
            axes.scatter(reference_values, approx_values, s=10, alpha=0.6, color=APPROX_COLOR)
            low = min(reference_values.min(), approx_values.min())
            high = max(reference_values.max(), approx_values.max())
            axes.plot([low, high], [low, high], color=REFERENCE_COLOR, linewidth=1)
            axes.set_xlabel(f"{names[1]} {which}")
            axes.set_ylabel(f"{names[0]} {which}")
            axes.set_title(f"{name}: {which}s of its {approx_values.size} elements", fontsize=10)
    return _save(figure, path)


def plot_khat(approximations, *, path=None) -> Figure:
    r"""Pareto :math:`\hat k` of one or several approximations against the reliability bands.

    ``approximations`` is a DataTree with ``fit/pareto_k`` or a mapping name → DataTree. Below
    the threshold (:func:`khat_threshold`, 0.7 for 4000 draws) the approximation is close
    enough to the posterior for importance sampling to correct it; above it the tails
    disagree and the approximation should not be trusted; above 1 the importance ratios
    have no finite mean. ArviZ's ``plot_khat`` draws per-observation LOO values, so this
    returns a matplotlib ``Figure``.
    """
    if isinstance(approximations, xr.DataTree):
        approximations = {"approximation": approximations}
    names, values, thresholds = [], [], []
    for name, tree in approximations.items():
        if "fit" not in tree.children or "pareto_k" not in tree["fit"].data_vars:
            raise ArgumentError(f"{name!r} carries no fit/pareto_k to plot.")
        names.append(str(name))
        values.append(float(tree["fit"]["pareto_k"]))
        thresholds.append(khat_threshold(plot_data.draw_count(tree)))
    figure = Figure(figsize=(7.0, 1.2 + 0.45 * len(names)), layout="constrained")
    axes = figure.add_subplot()
    threshold = min(thresholds)
    finite = [value for value in values if np.isfinite(value)] or [0.0]
    right = max(1.3, max(finite) + 0.15)
    left = min(-0.3, min(finite) - 0.1)
    # k̂ = −∞ (an exactly Gaussian density) is drawn at the left edge.
    shown = [max(value, left) for value in values]
    axes.axvspan(left, threshold, color="tab:green", alpha=0.15, label="reliable")
    axes.axvspan(threshold, 1.0, color="tab:orange", alpha=0.2, label="unreliable")
    axes.axvspan(1.0, right, color="tab:red", alpha=0.2, label="no finite mean")
    rows = np.arange(len(names))
    axes.scatter(shown, rows, color="black", zorder=3)
    for row, value, position in zip(rows, values, shown, strict=True):
        text = f"{value:.2f}" if np.isfinite(value) else "−∞"
        axes.annotate(text, (position, row), xytext=(6, 4), textcoords="offset points")
    axes.set_yticks(rows, names)
    axes.set_ylim(-0.7, len(names) - 0.3)
    axes.set_xlim(left, right)
    axes.set_xlabel(r"Pareto $\hat k$ of the importance ratios posterior / approximation")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, frameon=False)
    return _save(figure, path)


def plot_profile(result, *, var_names=None, path=None) -> Figure:
    r"""Profiles of a :func:`pmfisher.summary` computed with ``ci="profile"``: the signed
    root deviance :math:`r(b)` against each parameter (lme4's ``xyplot`` of a profile), the
    Wald line :math:`(b - \hat\theta)/\mathrm{se}` beside it, the quantiles :math:`\pm z`
    dotted, the profile interval's ends solid and the Wald ones dashed. Where the two lines
    part, the likelihood is not quadratic in the parameter and the intervals differ.

    ``var_names`` selects variables (every entry whose label starts with the name) or
    labels; by default all profiled parameters. Returns the matplotlib ``Figure``.
    """
    profiles = dict(result.profiles)
    if not profiles:
        raise ArgumentError("the summary holds no profiles: compute it with ci='profile'.")
    if var_names is not None:
        names = [var_names] if isinstance(var_names, str) else list(var_names)
        profiles = {
            label: profile
            for label, profile in profiles.items()
            if any(label == name or label.startswith(f"{name}[") for name in names)
        }
        if not profiles:
            raise ArgumentError(f"no profiled parameter is named {', '.join(names)}.")
    table = result.table
    quantile = float(stats.norm.ppf(0.5 + 0.5 * table.attrs["level"]))
    columns = min(3, len(profiles))
    rows = -(-len(profiles) // columns)
    figure = Figure(figsize=(3.6 * columns, 3.0 * rows), layout="constrained")
    for index, (label, profile) in enumerate(profiles.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        row = table.sel(param=label)
        values = profile["value"].values
        estimate, error = float(row["estimate"]), float(row["se"])
        axes.plot(
            values,
            profile["signed_root_deviance"].values,
            "o-",
            ms=3,
            color=APPROX_COLOR,
            label="profile",
        )
        axes.plot(values, (values - estimate) / error, "--", color=REFERENCE_COLOR, label="Wald")
        for level in (-quantile, quantile):
            axes.axhline(level, color="grey", lw=0.8, ls=":")
        for end in (float(row["lower"]), float(row["upper"])):
            if np.isfinite(end):
                axes.axvline(end, color=APPROX_COLOR, lw=0.8, alpha=0.6)
        for end in (estimate - quantile * error, estimate + quantile * error):
            axes.axvline(end, color=REFERENCE_COLOR, lw=0.8, ls="--", alpha=0.6)
        axes.set_xlabel(label)
        axes.set_ylabel("signed root deviance")
        if index == 0:
            axes.legend(frameon=False)
    return _save(figure, path)


# -- helpers ------------------------------------------------------------------------------


def save_laplace_figures(
    approx: xr.DataTree,
    reference: xr.DataTree,
    out_dir,
    prefix: str,
    *,
    label: str = "Laplace",
    marginal_vars=None,
    marginal_coords=None,
    forest_vars=None,
    pair_vars=None,
    pair_coords=None,
) -> list[Path]:
    r"""The standard figure set of a Laplace-vs-reference comparison, as PNGs in ``out_dir``:
    ``<prefix>_marginals``, ``_forest``, ``_pair_ellipses``, ``_precision``, ``_correlation``
    and ``_khat``. ``approx`` must carry a ``fit`` group (a :func:`pmfisher.laplace` result).
    When the fit holds a sparse precision (a large model) the heat maps show a selection of
    parameters (:func:`~pmfisher.reporting.plot_data.selected_precisions`): the block of
    :math:`H` and the correlations of the block of :math:`H^{-1}`.

    Returns the paths written.
    """
    out_dir = Path(out_dir)
    paths = [out_dir / f"{prefix}_{figure}.png" for figure in _LAPLACE_FIGURES]
    marginals, forest, pair, precision, correlation, khat = paths
    names = (label, "NUTS")
    plot_marginals(
        approx,
        reference,
        var_names=marginal_vars,
        coords=marginal_coords,
        names=names,
        path=marginals,
    )
    plot_forest(approx, reference, var_names=forest_vars, names=names, path=forest)
    plot_pair_ellipses(approx, reference, var_names=pair_vars, coords=pair_coords, path=pair)
    precision_matrix, marginal_precision = plot_data.heat_map_matrices(approx["fit"].to_dataset())
    plot_information(precision_matrix, path=precision)
    plot_information(marginal_precision, view="correlation", path=correlation)
    plot_khat({label: approx}, path=khat)
    return paths


_LAPLACE_FIGURES = ("marginals", "forest", "pair_ellipses", "precision", "correlation", "khat")


@contextlib.contextmanager
def _quiet_model_concat():
    """arviz-plots concatenates the two trees along a new ``model`` dimension; their draw
    counts differ by design, which makes xarray warn about a future change of its join."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "In a future version of xarray", FutureWarning)
        yield


def _save(plot, path):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        plot.savefig(path, dpi=DPI)
    return plot
