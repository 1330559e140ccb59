"""The sandwich (Huber–White) covariance of the maximum likelihood estimator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.linalg.definiteness import positive_definite
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.target import NO_MARGINAL_SCORES, refuse_latent, refuse_sparse
from pmfisher._core.options import Space, Structure
from pmfisher._core.progress import progress_switch
from pmfisher.fitting.mode_cache import point_on

__all__ = ["sandwich_covariance"]


@progress_switch
def sandwich_covariance(
    point=None,
    *,
    model: pm.Model | None = None,
    space: Space = "constrained",
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    progressbar: bool = True,
) -> xr.DataArray:
    r"""The sandwich covariance :math:`J^{-1} K J^{-1}` of the MLE (Huber–White, HC0).

    .. math::

        J = -\sum_i \nabla^2_\theta \ell_i(\hat\theta), \qquad
        K = \sum_i s_i s_i^\top, \quad s_i = \nabla_\theta \ell_i(\hat\theta),

    the observed information and the outer product of the per-observation scores. Under a
    correctly specified model :math:`J \approx K` and the sandwich reduces to :math:`J^{-1}`;
    under misspecification it remains a consistent estimate of the MLE's covariance
    (Huber 1967; White 1982), with no small-sample correction (HC0).

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` (the default) is the
        MLE at the current data (``find_mode(terms="likelihood")``, found once and kept).
    model : pm.Model, optional
    space : {"constrained", "unconstrained"}
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the Laplace marginal does not split into
        per-observation terms, so it has no per-observation scores.
    structure : {"auto", "dense"}
        The result is dense: so is the score outer product K = SᵀS it holds. ``"sparse"`` raises an
        :class:`~pmfisher.errors.ArgumentError`.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    xarray.DataArray
        Square, dims ``param_i`` × ``param_j``.

    Raises
    ------
    NotPositiveDefiniteError
        If :math:`J` is not positive definite at the point, with its smallest eigenvalues.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import sandwich_covariance
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> cov = sandwich_covariance(model=model)  # λ̂ = 3: Σ(y-3)² / n² = 2 / 9
    >>> round(float(cov.squeeze()), 10)
    0.2222222222
    """
    refuse_latent(latent, "sandwich_covariance", NO_MARGINAL_SCORES)
    refuse_sparse(
        structure, "sandwich_covariance", "K = SᵀS of the per-observation scores is dense."
    )
    graph = model_graph(model, space=space, terms="likelihood")
    x = point_on(graph, point)
    information = -np.asarray(graph.hessian_fn(x))
    scores = data_likelihood(graph.model, space=space).observed_scores(x)
    bread = positive_definite(information, graph.labels, what="observed information").inverse()
    covariance = bread @ (scores.T @ scores) @ bread
    return labelled.square(
        0.5 * (covariance + covariance.T), graph.labels, name="sandwich_covariance", space=space
    )
