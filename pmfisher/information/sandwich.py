"""The sandwich (Huber–White) covariance of the maximum likelihood estimator."""

from __future__ import annotations

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core import labelled
from pmfisher._core.data_likelihood import data_likelihood
from pmfisher._core.definiteness import positive_definite
from pmfisher._core.model_graph import model_graph
from pmfisher._core.options import Space
from pmfisher.fitting.mode import require_converged
from pmfisher.fitting.mode_cache import current_mode

__all__ = ["sandwich_covariance"]


def sandwich_covariance(
    point=None, *, model: pm.Model | None = None, space: Space = "constrained"
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
        Where to evaluate; ``None`` finds the MLE (``find_mode(terms="likelihood")``).
    model : pm.Model, optional
    space : {"constrained", "unconstrained"}

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
    graph = model_graph(model, space=space, terms="likelihood")
    if point is None:
        point = require_converged(current_mode(graph.model, terms="likelihood", space=space))
    x = graph.flatten(point)
    graph.check_in_support(x)
    information = -np.asarray(graph.hessian_fn(x))
    scores = data_likelihood(graph.model, space=space).observed_scores(x)
    bread = positive_definite(information, graph.labels, what="observed information").inverse()
    covariance = bread @ (scores.T @ scores) @ bread
    return labelled.square(
        0.5 * (covariance + covariance.T), graph.labels, name="sandwich_covariance", space=space
    )
