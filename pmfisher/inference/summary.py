"""``pmfisher.summary``: the table a statistician reads — estimates, standard errors, z, p and
intervals — from the information pmfisher computes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.model.model_graph import model_graph, resolve_model
from pmfisher._core.options import Information, Interval, Structure, Terms, check_option
from pmfisher._core.progress import progress_switch
from pmfisher.errors import ArgumentError
from pmfisher.fitting.laplace_marginal import laplace_marginal
from pmfisher.inference.components import VARIANCE, natural_scales
from pmfisher.inference.derived import derived_rows
from pmfisher.inference.fits import Fit, joint_fit, marginal_fit
from pmfisher.inference.profile import Profiler, require_profilable
from pmfisher.inference.result import Summary
from pmfisher.inference.wald import normal_quantile, wald_columns

__all__ = ["Summary", "summary"]


NOT_CONVERGED, BOUNDARY, SINGULAR, EDGE, PROFILE_FAILED = "*", "b", "s", "e", "f"


@progress_switch
def summary(
    point=None,
    *,
    model: pm.Model | None = None,
    terms: Terms = "likelihood",
    latent: Sequence[str] | str | None = None,
    information: Information = "observed",
    ci: Interval = "wald",
    level: float = 0.95,
    var_names: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    random_seed=None,
    progressbar: bool = True,
) -> Summary:
    r"""Estimates, standard errors, z, p and intervals, one row per parameter.

    At the estimate :math:`\hat\theta` (the MLE for ``terms="likelihood"``, in the
    constrained space: the parameters as written) with covariance :math:`\Sigma`,

    .. math::

        \mathrm{se}_k = \sqrt{\Sigma_{kk}}, \quad z_k = \hat\theta_k / \mathrm{se}_k, \quad
        p_k = 2\Phi(-|z_k|), \quad \hat\theta_k \pm \Phi^{-1}\!\big(\tfrac{1+\text{level}}{2}
        \big)\,\mathrm{se}_k,

    where :math:`\Sigma` is :math:`J^{-1}` (``"observed"``), :math:`I(\hat\theta)^{-1}`
    (``"expected"``) or :math:`J^{-1} K J^{-1}` (``"sandwich"``, HC0). Deterministics named
    in ``var_names`` get :math:`g(\hat\theta)` and :math:`\nabla g^\top \Sigma \nabla g` (the
    delta method).

    Parameters
    ----------
    point : dict or Mode, optional
        Where to evaluate; ``None`` finds the mode of ``terms`` (with ``latent``, of the
        Laplace marginal).
    model : pm.Model, optional
    terms : {"likelihood", "posterior"}
    latent : list of str, optional
        Free variables integrated out by a Laplace approximation (TMB's ``random=``): the
        table is then lme4's — fixed effects, and variance components (the variables that
        enter a latent variable's distribution through its scale or covariance) as written
        in the model, with standard errors from the observed information of the Laplace
        marginal (with no z or p, ``NaN``: a test of a scale against 0 sits on the edge of
        its support); ``result.conditional_modes`` holds the latent effects' conditional modes
        and conditional standard errors (lme4's ``ranef(condVar=TRUE)``).
    information : {"observed", "expected", "sandwich"}
        ``"expected"`` is :func:`~pmfisher.fisher_information` (exact where a closed form
        exists, else Monte Carlo with ``random_seed``); ``"sandwich"`` is
        :func:`~pmfisher.sandwich_covariance`. Both need ``terms="likelihood"`` and no
        ``latent``.
    ci : {"wald", "profile"}
        ``"profile"``: profile-likelihood intervals (:mod:`pmfisher.inference.profile`),
        each profile kept in ``result.profiles``; deterministics keep Wald intervals.
    level : float
        Coverage of the intervals, in (0, 1).
    var_names : str or list of str, optional
        Deterministics to add by the delta method (none by default).
    structure : {"auto", "dense", "sparse"}
    random_seed : int, optional
        Seed of a Monte Carlo expected information.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    Summary
        ``.table`` (an ``xarray.Dataset`` over ``param``), ``.to_dataframe()``; prints as a
        table, and as HTML in a notebook. Where the mode search did not converge, an
        estimate lies at the edge of the support, or the information is singular, the table
        still prints: the affected rows are marked and the reason given once.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pmfisher
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> result = pmfisher.summary(model=model)  # λ̂ = 3, se = √(λ̂/n) = 1
    >>> float(result["estimate"].item()), round(float(result["se"].item()), 12)
    (3.0, 1.0)
    """
    check_option("terms", terms, Terms)
    check_option("information", information, Information)
    check_option("ci", ci, Interval)
    check_option("structure", structure, Structure)
    if not 0.0 < level < 1.0:
        raise ArgumentError(f"level={level!r} is not a coverage; pass a number in (0, 1).")
    model = resolve_model(model)
    latent = [latent] if isinstance(latent, str) else latent
    if latent is None:
        fit = joint_fit(
            point,
            model,
            terms=terms,
            information=information,
            structure=structure,
            random_seed=random_seed,
        )
    else:
        fit = marginal_fit(
            point, model, terms=terms, latent=latent, information=information, structure=structure
        )
    labels, roles = list(fit.labels), list(fit.roles)
    estimates = np.asarray(fit.estimates, dtype="float64")
    errors = np.sqrt(np.diag(fit.covariance.matrix))
    unidentified = fit.covariance.unidentified.copy()
    at_boundary = np.r_[fit.at_boundary]
    if var_names is not None:
        names, values, derived_errors, derived_unidentified, derived_roles = derived_rows(
            fit, model, terms, var_names
        )
        labels += names
        roles += derived_roles
        estimates = np.r_[estimates, values]
        errors = np.r_[errors, derived_errors]
        unidentified = np.r_[unidentified, derived_unidentified]
        at_boundary = np.r_[at_boundary, np.zeros(len(names), bool)]
    columns = wald_columns(estimates, errors, level)
    # A test of a scale against 0 sits on the edge of its support, where z is not normal:
    # lme4 prints none, and neither does the table.
    scales = np.array([role == VARIANCE for role in roles])
    columns["z"][scales] = np.nan
    columns["p"][scales] = np.nan
    marks = [[] for _ in labels]
    notes = {}
    if not fit.converged:
        notes[NOT_CONVERGED] = (
            "the mode search did not converge; every row is at the point where it stopped. "
            + fit.message
        ).strip()
        for row in marks:
            row.append(NOT_CONVERGED)
    _mark(marks, notes, at_boundary, BOUNDARY, _boundary_reason(labels, at_boundary))
    _mark(marks, notes, unidentified, SINGULAR, fit.covariance.reason)
    profiles = {}
    if ci == "profile":
        profiles = _profile_intervals(
            fit,
            model,
            terms,
            latent,
            structure,
            level,
            columns,
            marks,
            notes,
            unidentified | at_boundary,
        )
    if fit.marginal is not None:
        labels, roles, estimates, columns, marks = _on_natural_scales(
            fit, labels, roles, estimates, columns, marks, level
        )
    graph = model_graph(model, space="constrained", terms=terms)
    table = xr.Dataset(
        {
            "estimate": ("param", estimates),
            **{key: ("param", value) for key, value in columns.items()},
            "role": ("param", np.array(roles, dtype=object)),
            "note": ("param", np.array([",".join(row) for row in marks], dtype=object)),
        },
        coords={"param": labels},
        attrs={
            "density": _density(terms, latent),
            "estimator": _estimator(point, terms),
            "terms": terms,
            "latent": list(latent or []),
            "information": information,
            "ci": ci,
            "level": level,
            "n_obs": len(graph.observation_labels),
            "logp": fit.logp,
            "converged": int(fit.converged),
        },
    )
    return Summary(
        table=table, conditional_modes=fit.conditional_modes, profiles=profiles, notes=notes
    )


def _on_natural_scales(fit: Fit, labels, roles, estimates, columns, marks, level):
    """The rows of every ``LKJCholeskyCov`` factor replaced by its standard deviations and
    correlations (lme4's reading of a covariance), each carrying the marks of its factor;
    their intervals are Wald ones, without z or p (a scale's test sits on an edge)."""
    covariance = np.nan_to_num(fit.covariance.matrix)
    for scale in reversed(natural_scales(fit.marginal, fit.blocks, fit.estimates, covariance)):
        first, after = scale.rows[0], scale.rows[-1] + 1
        unidentified = fit.covariance.unidentified[scale.rows].any()
        errors = np.where(unidentified, np.nan, scale.errors)
        new = wald_columns(scale.estimates, errors, level)
        new["z"][:], new["p"][:] = np.nan, np.nan
        inherited = sorted({mark for row in marks[first:after] for mark in row})
        labels = labels[:first] + scale.labels + labels[after:]
        roles = roles[:first] + [VARIANCE] * len(scale.labels) + roles[after:]
        estimates = np.r_[estimates[:first], scale.estimates, estimates[after:]]
        columns = {
            key: np.r_[value[:first], new[key], value[after:]] for key, value in columns.items()
        }
        marks = marks[:first] + [list(inherited) for _ in scale.labels] + marks[after:]
    return labels, roles, estimates, columns, marks


def _mark(marks, notes, rows, mark: str, reason: str) -> None:
    if np.any(rows):
        notes[mark] = reason
        for k in np.flatnonzero(rows):
            marks[k].append(mark)


def _boundary_reason(labels, at_boundary) -> str:
    named = ", ".join(label for label, flag in zip(labels, at_boundary, strict=False) if flag)
    return (
        f"{named} at the edge of the support (a scale at 0, a probability at 0 or 1): the "
        "Wald standard error and interval there are not those of an interior maximum."
    )


def _estimator(point, terms: str) -> str:
    if point is not None and not hasattr(point, "converged"):
        return "the point given"
    return "maximum likelihood" if terms == "likelihood" else "posterior mode (MAP)"


def _density(terms: str, latent) -> str:
    density = "log-likelihood" if terms == "likelihood" else "log-posterior"
    if latent:
        density = f"Laplace marginal {density} ({', '.join(latent)} integrated out)"
    return density + ", constrained space"


def _profile_intervals(
    fit: Fit, model, terms, latent, structure, level, columns, marks, notes, skip
):
    """Replace the Wald ends of every free parameter's row by profile-likelihood ends."""
    require_profilable(model, {block.rv_name for block in fit.blocks})
    if latent is None:
        density = model_graph(model, space="unconstrained", terms=terms, jacobian=False)
        graph, positions = density, np.arange(density.size)
        x = density.flatten(fit.point)
    else:
        density = laplace_marginal(
            model, latent, space="unconstrained", terms=terms, jacobian=False, structure=structure
        )
        graph, positions = density.split.graph, density.split.phi_index
        x = density.flatten(fit.point)
    transformed = [
        model.rvs_to_transforms.get(model[block.rv_name]) is not None
        for block in density.blocks
        for _ in block.labels
    ]
    profiler = Profiler(density, graph, graph.flatten(fit.point), positions, x, transformed)
    quantile = normal_quantile(level)
    profiles = {}
    k = 0
    for block in fit.blocks:
        for element, label in enumerate(block.labels):
            if not skip[k]:
                ends = profiler.profile(k, quantile, (block.rv_name, element))
                profiles[label] = ends.dataset(label)
                columns["lower"][k], columns["upper"][k] = ends.lower, ends.upper
                edge = ends.lower_at_boundary or ends.upper_at_boundary
                if edge:
                    notes[EDGE] = (
                        "the profile stays within the quantile out to the edge of the support: "
                        "the interval ends there (its value is the edge's)."
                    )
                    marks[k].append(EDGE)
                if ends.reason:  # one note for all: each failure's own words, joined
                    earlier = notes.get(PROFILE_FAILED)
                    notes[PROFILE_FAILED] = f"{earlier} {ends.reason}" if earlier else ends.reason
                    marks[k].append(PROFILE_FAILED)
            k += 1
    return profiles
