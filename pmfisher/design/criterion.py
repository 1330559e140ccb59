"""``design_criterion``: how good an experimental design is, and which way to move it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph, resolve_model
from pmfisher._core.options import Criterion, DesignInformation, check_option
from pmfisher._core.progress import progress_switch
from pmfisher.design.criteria import MAXIMIZED
from pmfisher.design.design_graph import design_graph
from pmfisher.design.evaluation import criterion_spec, evaluate, parameter_draws
from pmfisher.design.population import (
    criterion_mcse,
    population_criterion,
    population_information,
    population_spec,
)
from pmfisher.errors import ArgumentError

__all__ = ["DesignCriterion", "design_criterion"]


@dataclass(frozen=True)
class DesignCriterion:
    """A design's criterion, its exact gradient and its information.

    Attributes
    ----------
    value : float
        The criterion (averaged over the draws when ``point`` held draws).
    gradient : dict of str to numpy.ndarray, or None
        Container name → :math:`\\partial\\,\\text{value} / \\partial x`, shaped like the
        design's values; ``None`` with ``latent`` (:mod:`pmfisher.design.population`).
    information : xarray.DataArray
        The Fisher information of the whole data set at the design, over
        (``param_i``, ``param_j``), with a leading ``draw`` dim for draws.
    criterion : str
        Which criterion; ``goal`` says whether larger (``"maximize"``) or smaller is better.
    goal : str
    mcse : float or None
        Monte Carlo standard error of ``value`` over independent draws
        (:math:`\\mathrm{sd}/\\sqrt{S}`), or over the simulated data sets with ``latent``
        (delta method); ``None`` for one point.
    information_mcse : xarray.DataArray or None
        With ``latent``: the Monte Carlo standard error of each entry of ``information``.
    """

    value: float
    gradient: dict[str, np.ndarray]
    information: xr.DataArray
    criterion: str
    goal: str
    mcse: float | None = None
    information_mcse: xr.DataArray | None = None


@progress_switch
def design_criterion(
    design: Mapping,
    *,
    model: pm.Model | None = None,
    point,
    criterion: Criterion = "D",
    parameters=None,
    information: DesignInformation = "auto",
    latent: Sequence[str] | str | None = None,
    replicates: int = 200,
    random_seed=None,
    progressbar: bool = True,
) -> DesignCriterion:
    r"""The optimality criterion of an experimental design, with its exact gradient.

    The design gives new values to some of the model's ``pm.Data`` containers (times, doses,
    covariates: one value per run); the model's other data stay as they are, and observed
    values held in containers of the design's length follow its length (their values do
    not enter the expected information). With :math:`M(\theta, x)` the exact Fisher
    information of the whole data set at design :math:`x`,

    .. math::

        \Psi_D = \log\det M,\quad \Psi_A = \operatorname{tr} M^{-1},\quad
        \Psi_E = \lambda_{\min}(M),\quad
        \Psi_{D_s} = \log\det M - \log\det M_{nn},\quad \Psi_c = c^\top M^{-1} c,

    and :math:`\partial\Psi/\partial x` by reverse-mode autodiff through :math:`M` (the
    distributions' closed-form information and the Jacobians of their parameters) to the
    containers. The model is not changed.

    Parameters
    ----------
    design : dict
        Container name → values (floats; one entry per run, equal lengths).
    model : pm.Model, optional
        By default the model on PyMC's context stack.
    point : dict, Mode, or draws
        Free-variable name → value (a locally optimal design), or draws of the parameters:
        every variable with a leading draw axis, or an ``xarray`` posterior / prior (a
        ``DataTree`` with a ``posterior`` group, or a ``Dataset`` with ``chain``/``draw``);
        the criterion and its gradient are then averaged over the draws (PopED's "ED").
    criterion : {"D", "A", "E", "Ds", "c"}
        See :mod:`pmfisher.design.criteria`; D, E and Ds are maximized, A and c minimized.
    parameters : list of str, str or dict, optional
        ``"Ds"``: the variables (or labels) of interest, the others nuisance. ``"c"``: a
        scalar deterministic's name (:math:`c = \nabla_\theta g`, the delta method) or a
        mapping label → coefficient.
    information : {"auto", "exact", "quadrature"}
        ``"exact"``: the closed-form information of each observation's distribution;
        ``"quadrature"``: each observation's :math:`E[s s^\top]` by a sum over its discrete
        support (truncated where less than 1e-14 of the mass is left) or Gauss–Hermite on
        the probit scale (continuous), as a differentiable graph
        (:mod:`pmfisher.information.symbolic_quadrature`), for distributions with no closed
        form (zero-inflated, hurdle, truncated, custom); ``"auto"``: the closed form where
        one exists, quadrature elsewhere.
    latent : list of str, optional
        Random effects to integrate out: the criterion is then of the *population*
        information, that of the Laplace marginal likelihood, averaged over ``replicates``
        data sets simulated at ``point`` and the design (:mod:`pmfisher.design.population`).
        The design may then also change integer containers (a subject index) and name a
        dimension of the model with its new length or coordinates (``"subject": 24``);
        observed values must be in ``pm.Data`` containers. ``point`` is one point, and
        ``gradient`` is ``None``.
    replicates : int
        With ``latent``: the number of simulated data sets.
    random_seed : int, optional
        With ``latent``: seeds the random effects and the data sets.

    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    DesignCriterion

    Raises
    ------
    PMFisherError
        A design name that is not a ``pm.Data`` container, or whose values do not change
        the likelihood.
    NotPositiveDefiniteError
        The information is singular at the design; the message names the parameters it
        cannot determine.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pmfisher import design_criterion
    >>> with pm.Model() as model:
    ...     x = pm.Data("x", np.array([-1.0, 0.5, 1.0]))
    ...     a, b = pm.Normal("a"), pm.Normal("b")
    ...     y = pm.Normal("y", a + b * x, 1.0, observed=np.zeros(3), shape=x.shape)
    >>> result = design_criterion({"x": [-1.0, 1.0]}, model=model, point={"a": 0.0, "b": 1.0})
    >>> round(result.value, 6)  # log det diag(2, 2)
    1.386294
    """
    check_option("criterion", criterion, Criterion)
    check_option("information", information, DesignInformation)
    model = resolve_model(model)
    if latent is not None:
        return _population_criterion(
            model,
            design,
            point,
            criterion,
            parameters,
            information,
            latent,
            replicates,
            random_seed,
        )
    graph = model_graph(model, space="constrained", terms="likelihood")
    if not isinstance(design, Mapping) or not design:
        raise ArgumentError("design must map pm.Data container names to values.")
    names = tuple(design)
    values = [np.asarray(design[name], dtype="float64") for name in names]
    spec = criterion_spec(graph, criterion, parameters)
    thetas, is_draws = parameter_draws(graph, point)
    evaluation = evaluate(
        design_graph(graph, names, information=information), "total", spec, thetas, values
    )
    matrices = [
        labelled.square(matrix, graph.labels, name="fisher_information", space="constrained")
        for matrix in evaluation.matrices
    ]
    values_per_draw = evaluation.values
    return DesignCriterion(
        value=evaluation.value,
        gradient={
            name: evaluation.gradients[name].reshape(value.shape)
            for name, value in zip(names, values, strict=True)
        },
        information=xr.concat(matrices, dim="draw") if is_draws else matrices[0],
        criterion=criterion,
        goal="maximize" if criterion in MAXIMIZED else "minimize",
        mcse=float(values_per_draw.std(ddof=1) / np.sqrt(values_per_draw.size))
        if is_draws
        else None,
    )


def _population_criterion(
    model, design, point, criterion, parameters, information, latent, replicates, random_seed
) -> DesignCriterion:
    """The criterion of the population information (random effects integrated out)."""
    if information != "auto":
        raise ArgumentError(
            f"information={information!r} with latent variables: the population information "
            "is the Monte Carlo average of the Laplace marginal's negative Hessian; leave "
            "information='auto'."
        )
    if not isinstance(design, Mapping) or not design:
        raise ArgumentError("design must map pm.Data container names to values.")
    spec = population_spec(model, latent, criterion, parameters)
    result = population_information(
        model, latent, point, design, replicates=replicates, random_seed=random_seed
    )
    value, gradient = population_criterion(spec, result.matrix, result.labels)
    return DesignCriterion(
        value=value,
        gradient=None,
        information=labelled.square(
            result.matrix, result.labels, name="fisher_information", space="constrained"
        ),
        criterion=criterion,
        goal="maximize" if criterion in MAXIMIZED else "minimize",
        mcse=criterion_mcse(gradient, result),
        information_mcse=labelled.square(
            result.mcse, result.labels, name="information_mcse", space="constrained"
        ),
    )
