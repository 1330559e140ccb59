"""The sections of a report, each as HTML: the model's variables, the maximum-likelihood
estimate with its observed information, the Laplace approximation, the deterministics by the
delta method, and the comparison with NUTS. Large models are summarized: shared parameters
drawn one by one, group effects all at once, the rest in tables that fold away."""

from __future__ import annotations

import html
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from pmfisher._core.model import labelled
from pmfisher.approximation.compare import compare
from pmfisher.approximation.fit_covariance import fit_covariance
from pmfisher.approximation.importance_sampling import khat_threshold
from pmfisher.errors import ConvergenceError, PMFisherError
from pmfisher.reporting.markup import GROUP_SIZE, failure_html, html_table, verdict_class
from pmfisher.reporting.plot_data import heat_map_matrices
from pmfisher.reporting.standard_errors import mle_summary
from pmfisher.reporting.verdicts import comparison_verdict, khat_verdict

__all__ = ["delta_html", "laplace_html", "mle_html", "nuts_html", "variables_html"]

# Pair plots with more parameters than this show only the first ones.
PAIR_PLOT_LIMIT = 6
# Models with at most this many scalar parameters have each drawn (marginals, forest); larger
# ones are summarized: variables of at most GROUP_SIZE elements (the shared parameters) drawn
# one by one, the larger ones (group effects) all at once.
DRAWN_SCALARS = 24
# Matrices up to this size are printed as tables; heat maps are drawn up to HEAT_MAP_LIMIT.
MATRIX_TABLE_LIMIT = 14
HEAT_MAP_LIMIT = 1000
# What to do when the likelihood alone identifies no MLE (the posterior may still be fine).
NO_MLE = (
    "The likelihood alone gives no standard errors here; the Laplace section describes the "
    "posterior, priors included."
)


def variables_html(model) -> str:
    shapes = model.eval_rv_shapes()
    rows = []
    for kind, variables in (
        ("free", model.free_RVs),
        ("observed", model.observed_RVs),
        ("deterministic", model.deterministics),
    ):
        for variable in variables:
            transform = model.rvs_to_transforms.get(variable) if kind == "free" else None
            shape = shapes.get(variable.name)
            if shape is None:
                shape = tuple(variable.shape.eval())
            rows.append(
                {
                    "variable": variable.name,
                    "kind": kind,
                    "shape": str(tuple(int(n) for n in shape)),
                    "dims": ", ".join(model.named_vars_to_dims.get(variable.name) or ()) or "–",
                    "distribution": labelled.distribution_name(variable)
                    if kind != "deterministic"
                    else "–",
                    "transform": type(transform).__name__ if transform is not None else "–",
                }
            )
    return html_table(pd.DataFrame(rows).set_index("variable"))


def mle_html(model, figures, plots) -> str:
    from pmfisher._core.linalg.definiteness import positive_definite
    from pmfisher.fitting.mode_cache import current_mode
    from pmfisher.information.observed import observed_information

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mode = current_mode(model, terms="likelihood", space="constrained")
    if not mode.converged:
        raise ConvergenceError(
            f"no maximum-likelihood estimate was found (gradient norm {mode.grad_norm:.3g} "
            f"after {mode.n_iter} iterations). {mode.message}"
        )
    # The figures show the dense matrix (the memory guard says so if it cannot be).
    information = observed_information(mode, model=model, structure="dense")
    positive_definite(
        information.values, mode.labels, what="observed information at the MLE", advice=NO_MLE
    )
    result = mle_summary(mode, model)
    intervals = (
        "profile-likelihood intervals (the others re-maximized along each profile)"
        if result.table.attrs["ci"] == "profile"
        else "Wald intervals"
    )
    text = (
        f"<p>Maximum-likelihood estimate (constrained space): log-likelihood "
        f"{mode.logp:.6g}, gradient norm {mode.grad_norm:.2g} after {mode.n_iter} Newton "
        "iterations. Standard errors are the square roots of the diagonal of the inverse "
        f"observed information <i>J</i>(θ̂)⁻¹; {intervals}.</p>"
    )
    size = len(mode.labels)
    if size <= MATRIX_TABLE_LIMIT:
        matrix = html_table(information.to_pandas())
    else:
        matrix = f"<p>{size} × {size}: too large for a table; the heat maps show it.</p>"
    return (
        text
        + result._repr_html_()
        + "<h3>Observed information</h3>"
        + matrix
        + _heat_maps(
            information,
            figures,
            plots,
            (
                "observed_information.png",
                "Observed information at the MLE (colour: scale-free I_ij/√(I_ii I_jj)).",
            ),
            (
                "observed_information_correlation.png",
                "Correlations of the inverse observed information (the asymptotic covariance "
                "of θ̂).",
            ),
        )
    )


def _heat_maps(matrix, figures, plots, information, correlation, *, inverted=None) -> str:
    """The matrix and the correlations of the inverse of ``inverted`` (by default the
    matrix itself) as heat maps; each of ``information`` and ``correlation`` is (file name,
    caption)."""
    inverted = matrix if inverted is None else inverted
    size = matrix.shape[0]
    if size > HEAT_MAP_LIMIT:
        return (
            f"<p>No heat maps: {size} parameters are more than {HEAT_MAP_LIMIT} pixels a side "
            "can show.</p>"
        )
    return figures(lambda path: plots.plot_information(matrix, path=path), *information) + figures(
        lambda path: plots.plot_information(inverted, view="correlation", path=path), *correlation
    )


def laplace_html(approx, figures, plots) -> str:
    pareto_k = float(approx["fit"]["pareto_k"])
    draws = approx["posterior"].sizes["draw"]
    verdict = khat_verdict(pareto_k, khat_threshold(draws))
    fit = approx["fit"]
    # Exact marginal sds without the dense covariance when the fit holds a sparse precision.
    sd = np.sqrt(fit_covariance(fit).variances())
    gaussian = pd.DataFrame(
        {"mode": fit["mean_vector"].values, "sd": sd},
        index=pd.Index([str(label) for label in fit["param"].values], name="parameter"),
    )
    summary = _draw_summary(approx["posterior"].to_dataset(), _free_names(approx))
    text = (
        f'<p class="verdict {verdict_class(verdict)}">{html.escape(verdict)}</p>'
        f"<p>The Gaussian N(θ̂, H⁻¹) of the log-posterior in the {approx.attrs['space']} space "
        f"(H its exact negative Hessian at the mode θ̂; log-posterior there "
        f"{approx.attrs['mode_logp']:.6g}).</p>"
    )
    pictures = figures(
        lambda path: plots.plot_khat({"Laplace": approx}, path=path),
        "laplace_khat.png",
        "Pareto k̂ of the importance ratios posterior / Laplace, against the reliability bands.",
    )
    # A sparse fit (a large model) is drawn as a selection of its parameters.
    precision, inverted = heat_map_matrices(fit.to_dataset())
    selection = "" if precision.shape == fit["precision_matrix"].shape else " (a selection)"
    pictures += _heat_maps(
        precision,
        figures,
        plots,
        (
            "laplace_precision.png",
            "Precision H of the Laplace approximation (the posterior's observed information)"
            f"{selection}.",
        ),
        ("laplace_correlation.png", f"Correlations of the Laplace approximation H⁻¹{selection}."),
        inverted=inverted,
    )
    return (
        text
        + "<h3>Gaussian (mode and sd)</h3>"
        + html_table(gaussian)
        + "<h3>Free variables from the Laplace draws (constrained space)</h3>"
        + html_table(summary)
        + pictures
    )


def delta_html(model, approx) -> str:
    if not model.deterministics:
        return "<p>The model has no deterministics.</p>"
    if approx is None:
        return "<p>No Laplace approximation, so no delta method.</p>"
    from pmfisher.approximation.delta import delta_method

    try:
        propagated = delta_method(approx, model=model)
    except PMFisherError as error:
        return failure_html(error)
    rows = {}
    for name, variable in propagated.data_vars.items():
        means = variable.sel(stat="mean")
        sds = variable.sel(stat="sd")
        for label, mean, sd in zip(
            _element_labels(name, means), np.ravel(means.values), np.ravel(sds.values), strict=True
        ):
            rows[label] = {"mean (delta)": mean, "sd (delta)": sd}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("deterministic")
    return (
        "<p>First-order propagation through the Laplace Gaussian: g(θ̂) and "
        "√(∇gᵀ H⁻¹ ∇g).</p>" + html_table(table)
    )


def nuts_html(approx, reference, figures, plots) -> str:
    divergences = int(reference["sample_stats"]["diverging"].sum())
    if divergences:
        text = (
            f'<p class="verdict failure">NUTS reference: {divergences} divergent transitions — '
            "the reference itself is biased where the sampler diverges, so read the comparison "
            "with care. Divergences usually mean a funnel or a sudden change of curvature (a "
            "centred hierarchical scale near zero); a non-centred parameterization, or more "
            "tuning (--draws sets both), usually removes them.</p>"
        )
    else:
        text = "<p>NUTS reference: no divergent transitions.</p>"
    if approx is None:
        posterior = reference["posterior"].to_dataset()
        # The model's own variables; the transformed copies kept for pair plots end in "__".
        summary = _draw_summary(posterior, [n for n in posterior.data_vars if not n.endswith("__")])
        return text + "<p>No Laplace approximation to compare.</p>" + html_table(summary)
    names = _free_names(approx)
    shared, groups = _shared_and_groups(approx["posterior"], names)
    table, coverage_note = _comparison(approx, reference, names, shared)
    verdict = comparison_verdict(table)
    per_parameter = table[
        [
            "mean_approx",
            "mean_reference",
            "sd_approx",
            "sd_reference",
            "z_gap",
            "sd_ratio",
            "wasserstein",
        ]
    ].to_dataframe()
    per_parameter["coverage 95%"] = table["coverage"].sel(interval_prob=0.95).values
    joint = (
        f"<p>Jointly over {_joint_names(table.attrs['joint_params'])}: Mahalanobis distance "
        f"of the means {float(table['mahalanobis']):.3g}, Gaussian KL(Laplace ‖ NUTS) "
        f"{float(table['gaussian_kl']):.3g}, NUTS mass inside the Laplace central 50% / 90% / "
        f"95% regions {' / '.join(f'{v:.2f}' for v in table['joint_coverage'].values)}.</p>"
    )
    value_names = list(approx["unconstrained_posterior"].data_vars)
    pair_names, pair_coords = _pair_selection(approx, value_names)
    names_pair = ("Laplace", "NUTS")
    drawn = _scalar_count(approx["posterior"], shared)
    pictures = ""
    if drawn > DRAWN_SCALARS:
        pictures += (
            f"<p>No marginal densities: the shared parameters have {drawn} scalars, more than "
            f"the {DRAWN_SCALARS} that can be drawn one by one; the forest and the table show "
            "them.</p>"
        )
    elif shared:
        pictures += figures(
            lambda path: plots.plot_marginals(
                approx, reference, var_names=shared, names=names_pair, path=path
            ),
            "marginals.png",
            "Marginal densities: Laplace (blue) and NUTS (orange)"
            + (" of the shared parameters." if groups else "."),
        )
    if shared:
        pictures += figures(
            lambda path: plots.plot_forest(
                approx, reference, var_names=shared, names=names_pair, path=path
            ),
            "forest.png",
            "Means with 50% and 94% intervals: Laplace and NUTS"
            + (" (shared parameters)." if groups else "."),
        )
    if groups:
        pictures += figures(
            lambda path: plots.plot_group_comparison(
                approx, reference, var_names=groups, names=names_pair, path=path
            ),
            "group_effects.png",
            f"Group effects ({', '.join(groups)}), every element at once: Laplace against NUTS "
            "means and sds; on the diagonal they agree.",
        )
    pictures += figures(
        lambda path: plots.plot_pair_ellipses(
            approx, reference, var_names=pair_names, coords=pair_coords, path=path
        ),
        "pair_ellipses.png",
        "NUTS draws with the Laplace 50% and 95% ellipses, in the unconstrained space "
        f"where the Laplace approximation is Gaussian (at most {PAIR_PLOT_LIMIT} parameters).",
    )
    return (
        f'<p class="verdict {verdict_class(verdict)}">{html.escape(verdict)}</p>'
        + text
        + coverage_note
        + html_table(per_parameter)
        + joint
        + pictures
    )


def _comparison(approx, reference, names, shared) -> tuple[xr.Dataset, str]:
    """:func:`~pmfisher.compare` over every shared variable and, when their draws cannot give a
    joint summary (fewer draws than parameters; a simplex, whose entries sum to one), over
    the shared parameters or in the unconstrained coordinates instead, with a note saying
    so. The first reason is raised when nothing can be compared."""
    try:
        return compare(approx, reference), ""
    except PMFisherError as error:
        first = error
    if shared and shared != names:
        try:
            table = compare(approx, reference, var_names=shared)
        except PMFisherError:
            pass
        else:
            draws = reference["posterior"].sizes["chain"] * reference["posterior"].sizes["draw"]
            return table, (
                f"<p>The table and the joint summaries cover the shared parameters "
                f"({', '.join(shared)}): the joint covariance of all "
                f"{approx['fit'].sizes['param']} parameters cannot be estimated from {draws} "
                "NUTS draws. The figure of group effects compares the rest; more draws "
                "(--draws) lift this.</p>"
            )
    unconstrained = approx["unconstrained_posterior"].to_dataset()
    value_names = [name for name in unconstrained.data_vars if name not in names]
    if value_names and all(name in reference["posterior"].data_vars for name in value_names):
        inner = xr.DataTree.from_dict(
            {"posterior": unconstrained, "fit": approx["fit"].to_dataset()}
        )
        try:
            table = compare(inner, reference, var_names=list(unconstrained.data_vars))
        except PMFisherError:
            pass
        else:
            return table, (
                "<p>Compared in the unconstrained coordinates, where the Laplace "
                "approximation is Gaussian: in the constrained ones the draws have no joint "
                "covariance (the entries of a simplex sum to one, or there are fewer draws "
                "than parameters).</p>"
            )
    raise first


def _joint_names(names) -> str:
    names = list(names)
    if len(names) <= 12:
        return ", ".join(names)
    return f"all {len(names)} parameters ({', '.join(names[:6])}, …)"


def _shared_and_groups(posterior, names) -> tuple[list[str], list[str]]:
    """Variables with at most ``GROUP_SIZE`` elements (the shared parameters) and the rest
    (group effects), when the model has more than ``DRAWN_SCALARS`` scalars; otherwise every
    variable counts as shared and is drawn."""
    if _scalar_count(posterior, names) <= DRAWN_SCALARS:
        return list(names), []
    shared = [name for name in names if _scalar_count(posterior, [name]) <= GROUP_SIZE]
    return shared, [name for name in names if name not in shared]


def _scalar_count(posterior, names) -> int:
    sample = {"chain", "draw"}
    return sum(
        int(np.prod([size for dim, size in posterior[name].sizes.items() if dim not in sample]))
        for name in names
    )


def _pair_selection(approx, value_names):
    """At most ``PAIR_PLOT_LIMIT`` parameters: whole variables first, then the first
    coordinates of the remaining dimension."""
    posterior = approx["unconstrained_posterior"]
    chosen, count, coords = [], 0, {}
    for name in value_names:
        variable = posterior[name]
        extra = [dim for dim in variable.dims if dim not in ("chain", "draw")]
        size = int(np.prod([variable.sizes[dim] for dim in extra])) if extra else 1
        room = PAIR_PLOT_LIMIT - count
        if room <= 0:
            break
        if size > room:
            if len(extra) != 1 or extra[0] not in variable.coords:
                continue
            coords[extra[0]] = variable[extra[0]].values[:room].tolist()
            size = room
        chosen.append(name)
        count += size
    return chosen, coords or None


def _free_names(approx) -> list[str]:
    """The free variables' names in the approximation's posterior (not the deterministics)."""
    bases = {str(label).partition("[")[0] for label in approx["fit"]["param"].values}
    return [
        name
        for name in approx["posterior"].data_vars
        if any(
            base == name or (base.startswith(f"{name}_") and base.endswith("__")) for base in bases
        )
    ]


def _draw_summary(posterior: xr.Dataset, names) -> pd.DataFrame:
    names = list(posterior.data_vars) if names is None else names
    rows = {}
    for name in names:
        variable = posterior[name]
        extra = [dim for dim in variable.dims if dim not in ("chain", "draw")]
        flat = variable.stack(sample=("chain", "draw")).transpose(*extra, "sample")
        values = flat.values.reshape(-1, flat.sizes["sample"])
        for label, row in zip(_element_labels(name, flat.isel(sample=0)), values, strict=True):
            low, high = np.quantile(row, [0.03, 0.97])
            rows[label] = {"mean": row.mean(), "sd": row.std(ddof=1), "3%": low, "97%": high}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("parameter")


def _element_labels(name, array: xr.DataArray) -> list[str]:
    from pmfisher._core.model.labelled import element_labels

    coords = {dim: array[dim].values for dim in array.dims if dim in array.coords}
    return list(element_labels(name, array.shape, list(array.dims), coords))
